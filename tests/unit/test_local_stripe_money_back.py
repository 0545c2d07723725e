"""The local Stripe's refunds, disputes, webhook controls and latency/failure controls (local/stripe.py), through the
real stripe SDK, shaped
as Stripe's API reference shows them: https://docs.stripe.com/api/refunds/object,
https://docs.stripe.com/api/disputes/object, https://docs.stripe.com/testing#disputes and #refunds.

localstripe's state is per process and shared with other test files: every test pays its own PaymentIntent and
reads only the events about it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import stripe
from localstripe import webhooks as localstripe_webhooks

from local.stripe import (
    CARD_DISPUTED,
    CARD_REFUND_FAILS,
    DEFAULT_API_KEY,
    DISPUTE_EVIDENCE,
    FAULTS,
    WEBHOOKS,
    LocalStripe,
    fail_refund,
    fail_refunds_automatically,
)
from tests.stripe_console import CARD_OK, pay, stripe_client

SECRET = "whsec_money_back_tests"
ENVELOPE = {"id", "object", "api_version", "created", "data", "livemode", "pending_webhooks", "request", "type"}
DISPUTE_FIELDS = {"id", "object", "amount", "balance_transactions", "charge", "created", "currency", "evidence",
                  "evidence_details", "is_charge_refundable", "livemode", "metadata", "payment_intent", "reason",
                  "status"}


@pytest.fixture(autouse=True)
def normal_delivery() -> Iterator[None]:
    WEBHOOKS.reset()
    FAULTS.reset()
    fail_refunds_automatically(None)
    yield
    WEBHOOKS.reset()
    FAULTS.reset()
    fail_refunds_automatically(None)


class Receiver:
    """A webhook endpoint: every POST it gets, in order."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/stripe"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()  # a quick shutdown()

    def events(self, payment_intent: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(body) for _, body in list(self.posts)]
        return [e for e in found if payment_intent is None or payment_intent in (
            e["data"]["object"].get("payment_intent"), e["data"]["object"].get("id"))]

    def wait_for(self, found: Callable[[], bool], timeout: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while not found():
            assert time.monotonic() < deadline, "nothing delivered in time"
            time.sleep(0.02)


@pytest.fixture
def receiver(endpoint: str) -> Iterator[Receiver]:
    rec = Receiver()
    localstripe_webhooks.register_webhook("money-back-tests", rec.url, SECRET, None)
    yield rec
    localstripe_webhooks._webhooks.pop("money-back-tests", None)
    rec.server.shutdown()


def paid(endpoint: str, card: str = CARD_OK, amount: int = 5000) -> str:
    """A new customer's PaymentIntent, paid with `card` as the console pays it: its id."""
    client = stripe_client(endpoint)
    customer = client.v1.customers.create({"email": f"{secrets.token_hex(4)}@example.com"})
    intent = client.v1.payment_intents.create({"amount": amount, "currency": "sgd", "customer": customer.id})
    assert pay(endpoint, intent.id, intent.client_secret, card)["status"] == "succeeded"
    return intent.id


def types_about(intent: str, since: str | None = None) -> list[str]:
    return [e["type"] for e in WEBHOOKS.events(payment_intent=intent, since=since)]


def last_event(intent: str) -> str:
    return WEBHOOKS.events(payment_intent=intent)[-1]["id"]


def refused(create: Callable[[], Any]) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create()
    assert caught.value.http_status == 400
    assert caught.value.error is not None and caught.value.error.type == "invalid_request_error"
    return caught.value


# Refunds


def test_a_partial_then_the_rest_refund_counts_up_and_stripe_announces_each(endpoint: str, client: Any) -> None:
    # Given a paid PaymentIntent of S$50.00
    intent = paid(endpoint)
    charge = client.v1.payment_intents.retrieve(intent).latest_charge.id
    paid_at = last_event(intent)
    # When S$20.00 is refunded by PaymentIntent, then the rest by charge, without an amount
    first = client.v1.refunds.create({"payment_intent": intent, "amount": 2000, "reason": "requested_by_customer"})
    rest = client.v1.refunds.create({"charge": charge})
    # Then each Refund names both the charge and the PaymentIntent, echoes its reason, and the rest is S$30.00
    assert (first.amount, first.charge, first.payment_intent, first.reason, first.status, first.currency) == (
        2000, charge, intent, "requested_by_customer", "succeeded", "sgd")
    assert (rest.amount, rest.charge, rest.payment_intent, rest.reason, rest.status) == (
        3000, charge, intent, None, "succeeded")
    # And Stripe's events followed each refund: the Refund, then the Charge with its cumulative amount
    events = WEBHOOKS.events(payment_intent=intent, since=paid_at)
    assert [e["type"] for e in events] == ["refund.created", "charge.refunded"] * 2
    assert [events[0]["data"]["object"]["id"], events[2]["data"]["object"]["id"]] == [first.id, rest.id]
    charges = [events[1]["data"], events[3]["data"]]
    assert [(c["object"]["amount_refunded"], c["object"]["refunded"]) for c in charges] == [(2000, False),
                                                                                            (5000, True)]
    assert [c["previous_attributes"] for c in charges] == [{"amount_refunded": 0},
                                                           {"amount_refunded": 2000, "refunded": False}]
    for c in charges:
        assert (c["object"]["id"], c["object"]["payment_intent"], c["object"]["amount_captured"],
                c["object"]["disputed"]) == (charge, intent, 5000, False)
        assert "refunds" not in c["object"]  # not included since API version 2022-11-15
    # And the Charge shows its refunds only when expanded, newest first
    assert "refunds" not in client.v1.charges.retrieve(charge)
    expanded = client.v1.charges.retrieve(charge, {"expand": ["refunds"]})
    assert (expanded.amount_refunded, expanded.refunded) == (5000, True)
    assert [r.id for r in expanded.refunds.data] == [rest.id, first.id]
    via_intent = client.v1.payment_intents.retrieve(intent, {"expand": ["latest_charge.refunds"]})
    assert [r.id for r in via_intent.latest_charge.refunds.data] == [rest.id, first.id]


def test_the_refunds_of_a_payment_intent_are_listed_newest_first_in_pages(endpoint: str, client: Any) -> None:
    # Given three refunds of one PaymentIntent, one of them made with `charge=`, and another PaymentIntent's
    intent, other = paid(endpoint), paid(endpoint)
    charge = client.v1.payment_intents.retrieve(intent).latest_charge.id
    made = [client.v1.refunds.create({"payment_intent": intent, "amount": 1000}).id,
            client.v1.refunds.create({"charge": charge, "amount": 1000}).id,
            client.v1.refunds.create({"payment_intent": intent, "amount": 1000}).id]
    client.v1.refunds.create({"payment_intent": other, "amount": 1000})
    # When they are listed by PaymentIntent, in pages of two
    page = client.v1.refunds.list({"payment_intent": intent, "limit": 2})
    after = client.v1.refunds.list({"payment_intent": intent, "limit": 2, "starting_after": page.data[-1].id})
    # Then all three come, newest first, and only they
    assert ([r.id for r in page.data], page.has_more) == (made[:0:-1], True)
    assert ([r.id for r in after.data], after.has_more) == ([made[0]], False)
    assert [r.id for r in client.v1.refunds.list({"charge": charge}).data] == made[::-1]
    assert [r.id for r in client.v1.refunds.list({"payment_intent": intent}).auto_paging_iter()] == made[::-1]


def test_a_refund_above_what_is_left_is_refused_as_stripe_words_it(endpoint: str, client: Any) -> None:
    # Given a S$50.00 payment of which S$20.00 is refunded
    intent = paid(endpoint)
    client.v1.refunds.create({"payment_intent": intent, "amount": 2000})
    before = WEBHOOKS.events(payment_intent=intent)
    # When one cent more than is left is asked back
    error = refused(lambda: client.v1.refunds.create({"payment_intent": intent, "amount": 3001}))
    # Then Stripe's message and parameter, and no code
    assert (error.param, error.code) == ("amount", None)
    assert error.user_message == "Refund amount (S$30.01) is greater than unrefunded amount on charge (S$30.00)"
    # And once all of it is refunded, any refund is charge_already_refunded
    client.v1.refunds.create({"payment_intent": intent, "amount": 3000})
    charge = client.v1.payment_intents.retrieve(intent).latest_charge.id
    assert refused(lambda: client.v1.refunds.create({"payment_intent": intent, "amount": 1})).code == (
        "charge_already_refunded")
    assert refused(lambda: client.v1.refunds.create({"charge": charge})).user_message == (
        f"Charge {charge} has already been refunded.")
    # And an amount of zero or below is no amount
    for amount in (0, -5):
        def nothing(amount: int = amount) -> Any:
            return client.v1.refunds.create({"payment_intent": intent, "amount": amount})
        error = refused(nothing)
        assert (error.param, error.code) == ("amount", "parameter_invalid_integer")
    # And the refused ones made no refund and sent nothing
    assert len(client.v1.refunds.list({"payment_intent": intent}).data) == 2
    assert types_about(intent, since=before[-1]["id"]) == ["refund.created", "charge.refunded"]


def test_only_stripes_refund_reasons_are_accepted_and_echoed(endpoint: str, client: Any) -> None:
    # Given a paid PaymentIntent
    intent = paid(endpoint)
    # When a reason Stripe does not know is given
    error = refused(lambda: client.v1.refunds.create({"payment_intent": intent, "amount": 100,
                                                      "reason": "changed_mind"}))
    # Then it is refused on `reason` and nothing is refunded
    assert error.param == "reason"
    assert error.user_message == "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer"
    assert client.v1.refunds.list({"payment_intent": intent}).data == []
    # And each of Stripe's reasons is kept on its Refund
    for reason in ("duplicate", "fraudulent", "requested_by_customer"):
        made = client.v1.refunds.create({"payment_intent": intent, "amount": 100, "reason": reason})
        assert client.v1.refunds.retrieve(made.id).reason == reason


def test_a_charged_back_charge_cannot_be_refunded(endpoint: str, client: Any) -> None:
    # Given a payment with the card Stripe disputes as fraudulent
    intent = paid(endpoint, CARD_DISPUTED)
    charge = client.v1.payment_intents.retrieve(intent).latest_charge.id
    # When it is refunded, by PaymentIntent or by charge
    by_intent = refused(lambda: client.v1.refunds.create({"payment_intent": intent, "amount": 100}))
    by_charge = refused(lambda: client.v1.refunds.create({"charge": charge}))
    # Then Stripe's charge_disputed refusal, and no refund
    for error in (by_intent, by_charge):
        assert error.code == "charge_disputed"
        assert error.user_message == f"Charge {charge} has been charged back; cannot issue a refund."
    assert client.v1.refunds.list({"payment_intent": intent}).data == []


def test_the_failing_card_refund_succeeds_then_fails_and_the_money_comes_back(endpoint: str, client: Any) -> None:
    # Given a payment with the card whose refunds fail later, fully refunded
    intent = paid(endpoint, CARD_REFUND_FAILS)
    refund = client.v1.refunds.create({"payment_intent": intent, "metadata": {"refund_id": "rf_1"}})
    charge = client.v1.charges.retrieve(refund.charge)
    assert (refund.status, charge.amount_refunded, charge.refunded) == ("succeeded", 5000, True)
    refunded_at = last_event(intent)
    # When Stripe fails it
    failed = fail_refund(refund.id)
    # Then the Refund is failed with Stripe's reason, and its money back in the balance
    again = client.v1.refunds.retrieve(refund.id)
    assert (failed["status"], again.status, again.failure_reason, again.metadata.to_dict()) == (
        "failed", "failed", "expired_or_canceled_card", {"refund_id": "rf_1"})
    back = client.v1.balance_transactions.retrieve(again.failure_balance_transaction)
    assert (back.amount, back.type, back.reporting_category, back.source) == (
        5000, "refund_failure", "refund_failure", refund.id)
    # And the charge's amount_refunded goes back down
    charge = client.v1.charges.retrieve(refund.charge)
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    # And Stripe's events say so, caused by no API request
    events = WEBHOOKS.events(payment_intent=intent, since=refunded_at)
    assert [e["type"] for e in events] == ["refund.failed", "charge.refund.updated"]
    assert all(e["data"]["object"]["status"] == "failed" and e["request"] == {"id": None, "idempotency_key": None}
               for e in events)
    assert events[1]["data"]["previous_attributes"] == {"status": "succeeded", "failure_reason": None,
                                                        "failure_balance_transaction": None}
    # And it fails only once
    with pytest.raises(ValueError, match="is failed"):
        fail_refund(refund.id)


def test_refunds_of_other_cards_do_not_fail(endpoint: str, client: Any) -> None:
    # Given a refund of a card whose refunds succeed
    refund = client.v1.refunds.create({"payment_intent": paid(endpoint), "amount": 100})
    # When it is failed by hand, Then it is refused and the refund stays succeeded
    with pytest.raises(ValueError, match=CARD_REFUND_FAILS):
        fail_refund(refund.id)
    assert client.v1.refunds.retrieve(refund.id).status == "succeeded"
    with pytest.raises(ValueError, match="No such refund"):
        fail_refund("re_missing")


def test_the_failing_card_refunds_fail_by_themselves_only_when_asked(endpoint: str, client: Any) -> None:
    # Given refunds failing by themselves 50 ms after they are made
    fail_refunds_automatically(0.05)
    intent = paid(endpoint, CARD_REFUND_FAILS)
    # When one is made
    refund = client.v1.refunds.create({"payment_intent": intent, "amount": 1000})
    # Then it first answers succeeded, then fails
    assert refund.status == "succeeded"
    deadline = time.monotonic() + 2
    while client.v1.refunds.retrieve(refund.id).status != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert "refund.failed" in types_about(intent)
    # And once that is turned off, a new one stays succeeded
    fail_refunds_automatically(None)
    later = client.v1.refunds.create({"payment_intent": intent, "amount": 1000})
    time.sleep(0.1)
    assert client.v1.refunds.retrieve(later.id).status == "succeeded"


# Disputes


def test_the_disputed_card_opens_a_fraudulent_dispute_of_the_whole_amount(endpoint: str, client: Any) -> None:
    # When a payment is made with the card Stripe disputes as fraudulent
    intent = paid(endpoint, CARD_DISPUTED, amount=4200)
    charge = client.v1.payment_intents.retrieve(intent).latest_charge
    # Then the payment succeeds, then a dispute opens and takes its funds, as Stripe's events say
    assert types_about(intent) == ["payment_intent.succeeded", "charge.dispute.created",
                                   "charge.dispute.funds_withdrawn"]
    [dispute] = client.v1.disputes.list({"payment_intent": intent}).data
    assert [d.id for d in client.v1.disputes.list({"charge": charge.id}).data] == [dispute.id]
    shown = client.v1.disputes.retrieve(dispute.id).to_dict()
    # And it is shaped as Stripe's Dispute: the whole amount, fraudulent, waiting for an answer
    assert set(shown) == DISPUTE_FIELDS
    assert (shown["id"][:3], shown["object"], shown["amount"], shown["currency"], shown["charge"],
            shown["payment_intent"], shown["reason"], shown["status"], shown["is_charge_refundable"],
            shown["livemode"], shown["metadata"]) == ("du_", "dispute", 4200, "sgd", charge.id, intent, "fraudulent",
                                                      "needs_response", False, False, {})
    assert shown["evidence"] == dict.fromkeys(DISPUTE_EVIDENCE)
    assert (shown["evidence_details"]["has_evidence"], shown["evidence_details"]["submission_count"]) == (False, 0)
    # And one balance transaction took the amount and Stripe's dispute fee
    [txn] = shown["balance_transactions"]
    assert (txn["amount"], txn["fee"], txn["net"], txn["currency"], txn["reporting_category"], txn["type"],
            txn["source"]) == (-4200, 1500, -5700, "sgd", "dispute", "adjustment", dispute.id)
    assert client.v1.balance_transactions.retrieve(txn["id"]).net == -5700
    # And the events carry the Dispute, and the Charge shows it disputed
    for event in WEBHOOKS.events(payment_intent=intent, types=["charge.dispute.created",
                                                                "charge.dispute.funds_withdrawn"]):
        assert (event["data"]["object"]["id"], event["data"]["object"]["status"]) == (dispute.id, "needs_response")
        assert event["request"] == {"id": None, "idempotency_key": None}
    assert client.v1.charges.retrieve(charge.id).disputed is True


def test_a_card_stripe_does_not_dispute_opens_no_dispute(endpoint: str, client: Any) -> None:
    intent = paid(endpoint)
    assert client.v1.disputes.list({"payment_intent": intent}).data == []
    assert client.v1.payment_intents.retrieve(intent).latest_charge.disputed is False


def _opened(endpoint: str, client: Any, amount: int = 5000) -> tuple[str, Any, str]:
    intent = paid(endpoint, CARD_DISPUTED, amount)
    [dispute] = client.v1.disputes.list({"payment_intent": intent}).data
    return intent, dispute, last_event(intent)


def test_winning_evidence_wins_the_dispute_and_reinstates_its_funds(endpoint: str, client: Any) -> None:
    # Given an open dispute
    intent, dispute, opened_at = _opened(endpoint, client)
    # When Stripe's winning test evidence is submitted
    won = client.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "winning_evidence",
                                                              "customer_name": "Ada"}})
    # Then the dispute is won and a second balance transaction gives the amount and the fee back
    assert (won.status, won.evidence.uncategorized_text, won.evidence.customer_name) == (
        "won", "winning_evidence", "Ada")
    assert (won.evidence_details.has_evidence, won.evidence_details.submission_count) == (True, 1)
    assert [(t.amount, t.fee, t.net, t.reporting_category) for t in won.balance_transactions] == [
        (-5000, 1500, -6500, "dispute"), (5000, -1500, 6500, "dispute_reversal")]
    # And Stripe's events: under review with the evidence, the funds back, closed as won
    events = WEBHOOKS.events(payment_intent=intent, since=opened_at)
    assert [(e["type"], e["data"]["object"]["status"], len(e["data"]["object"]["balance_transactions"]))
            for e in events] == [("charge.dispute.updated", "under_review", 1),
                                 ("charge.dispute.funds_reinstated", "won", 2), ("charge.dispute.closed", "won", 2)]
    assert events[0]["data"]["previous_attributes"]["status"] == "needs_response"
    assert events[0]["data"]["previous_attributes"]["evidence"] == {"uncategorized_text": None, "customer_name": None}
    assert events[0]["request"]["id"] == won.last_response.request_id
    # And a closed dispute takes no more evidence
    error = refused(lambda: client.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "more"}}))
    assert "won" in error.user_message


def test_losing_evidence_loses_the_dispute(endpoint: str, client: Any) -> None:
    # Given an open dispute
    intent, dispute, opened_at = _opened(endpoint, client)
    # When Stripe's losing test evidence is submitted
    lost = client.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "losing_evidence"}})
    # Then it is lost, its funds stay withdrawn, and it closes
    assert (lost.status, len(lost.balance_transactions)) == ("lost", 1)
    assert [(t, s) for t, s in ((e["type"], e["data"]["object"]["status"])
                                for e in WEBHOOKS.events(payment_intent=intent, since=opened_at))] == [
        ("charge.dispute.updated", "under_review"), ("charge.dispute.closed", "lost")]


def test_other_evidence_keeps_the_dispute_under_review_and_staged_evidence_is_not_submitted(
        endpoint: str, client: Any) -> None:
    # Given an open dispute
    intent, dispute, opened_at = _opened(endpoint, client)
    # When evidence is staged, not submitted
    staged = client.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "winning_evidence"},
                                                    "submit": False, "metadata": {"case": "c-1"}})
    # Then it still needs a response, and only says it was updated
    assert (staged.status, staged.evidence_details.has_evidence, staged.evidence_details.submission_count,
            staged.metadata.to_dict()) == ("needs_response", True, 0, {"case": "c-1"})
    # And evidence Stripe does not decide on leaves it under review
    reviewed = client.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "our receipt"}})
    assert (reviewed.status, reviewed.evidence_details.submission_count) == ("under_review", 1)
    assert types_about(intent, since=opened_at) == ["charge.dispute.updated"] * 2
    # And evidence Stripe does not know is refused
    error = refused(lambda: client.v1.disputes.update(dispute.id, {"evidence": {"hunch": "x"}}))
    assert (error.code, error.param) == ("parameter_unknown", "evidence[hunch]")


def test_closing_a_dispute_accepts_it_as_lost(endpoint: str, client: Any) -> None:
    # Given an open dispute
    intent, dispute, opened_at = _opened(endpoint, client)
    # When it is closed (accepted)
    closed = client.v1.disputes.close(dispute.id)
    # Then it is lost, closed once, and cannot be closed again
    assert (closed.status, len(closed.balance_transactions)) == ("lost", 1)
    assert types_about(intent, since=opened_at) == ["charge.dispute.closed"]
    refused(lambda: client.v1.disputes.close(dispute.id))
    # And a dispute that does not exist is Stripe's resource_missing
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.disputes.retrieve("du_missing")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


# Webhook recording and control


def test_recorded_events_are_the_envelopes_stripe_posts(endpoint: str, client: Any, receiver: Receiver) -> None:
    # Given a paid PaymentIntent, with one webhook endpoint registered
    intent = paid(endpoint)
    # When it is refunded with an idempotency key, and the same request is sent again
    key = f"refund:{secrets.token_hex(6)}"  # the middleware's keys are per process
    refund = client.v1.refunds.create({"payment_intent": intent, "amount": 100}, {"idempotency_key": key})
    replay = client.v1.refunds.create({"payment_intent": intent, "amount": 100}, {"idempotency_key": key})
    # Then each recorded event has exactly Stripe's envelope, names the request and the key that caused it
    events = WEBHOOKS.events(payment_intent=intent, types=["refund.created", "charge.refunded"])
    assert replay.id == refund.id and len(events) == 2  # a replay causes nothing
    for event in events:
        assert set(event) == ENVELOPE
        assert (event["id"][:4], event["object"], event["api_version"], event["livemode"]) == (
            "evt_", "event", stripe.api_version, False)
        assert event["request"] == {"id": refund.last_response.request_id, "idempotency_key": key}
        assert event["pending_webhooks"] == len(localstripe_webhooks._webhooks) >= 1
        assert isinstance(event["created"], int)
    assert events[0]["data"] == {"object": client.v1.refunds.retrieve(refund.id).to_dict()}


def test_held_events_wait_for_their_release_and_dropped_ones_never_come(endpoint: str, client: Any,
                                                                        receiver: Receiver) -> None:
    # Given refund.created held back and charge.refunded dropped
    WEBHOOKS.hold("refund.created")
    WEBHOOKS.drop("charge.refunded")
    # When a payment is refunded, and a customer made after it
    intent = paid(endpoint)
    refund = client.v1.refunds.create({"payment_intent": intent, "amount": 100})
    customer = client.v1.customers.create({"email": "last@example.com"})
    # Then by the time the customer's event came (1 s later), the payment's came but neither refund event
    receiver.wait_for(lambda: any(e["data"]["object"]["id"] == customer.id for e in receiver.events()))
    time.sleep(0.1)
    assert [e["type"] for e in receiver.events(intent)] == ["payment_intent.succeeded"]
    # And what came is the recorded envelope, signed with the endpoint's secret, as localstripe delivers it
    [recorded] = WEBHOOKS.events(payment_intent=intent, types="payment_intent.succeeded")
    [(headers, body)] = [(h, b) for h, b in receiver.posts if json.loads(b)["id"] == recorded["id"]]
    assert json.loads(body) == recorded
    assert stripe.Webhook.construct_event(body.decode(), headers["Stripe-Signature"], SECRET).id == recorded["id"]
    # And the held one waits, and the dropped one is recorded all the same
    [held] = [e for e in WEBHOOKS.held() if e["data"]["object"]["id"] == refund.id]
    assert held["type"] == "refund.created"
    assert types_about(intent)[-2:] == ["refund.created", "charge.refunded"]
    # When it is released
    deliveries = WEBHOOKS.release(held["id"])
    # Then it is delivered at once, signed, and no longer held
    assert deliveries == [{"event": held["id"], "type": "refund.created", "url": receiver.url, "status": 200}]
    assert [e["type"] for e in receiver.events(intent)] == ["payment_intent.succeeded", "refund.created"]
    headers, body = receiver.posts[-1]
    assert stripe.Webhook.construct_event(body.decode(), headers["Stripe-Signature"], SECRET).id == held["id"]
    assert held["id"] not in WEBHOOKS.state()["held"]


def test_held_events_are_released_in_any_order_and_the_rest_discarded(endpoint: str, client: Any,
                                                                      receiver: Receiver) -> None:
    # Given every event held, and a payment refunded twice
    WEBHOOKS.hold()
    intent = paid(endpoint)
    client.v1.refunds.create({"payment_intent": intent, "amount": 100})
    client.v1.refunds.create({"payment_intent": intent, "amount": 200})
    held = [e for e in WEBHOOKS.held() if e["id"] in {x["id"] for x in WEBHOOKS.events(payment_intent=intent)}]
    assert [e["type"] for e in held] == ["payment_intent.succeeded"] + ["refund.created", "charge.refunded"] * 2
    # When the second charge.refunded is released before the first, and the others discarded
    WEBHOOKS.release(held[4]["id"])
    WEBHOOKS.release(held[2]["id"])
    discarded = WEBHOOKS.discard()
    # Then the endpoint got those two, in that order, and nothing else
    got = receiver.events(intent)
    assert [(e["id"], e["data"]["object"]["amount_refunded"]) for e in got] == [(held[4]["id"], 300),
                                                                                (held[2]["id"], 100)]
    assert {held[0]["id"], held[1]["id"], held[3]["id"]} <= set(discarded)
    assert WEBHOOKS.state() == {"holding": "all", "dropping": [], "held": []}
    with pytest.raises(LookupError):
        WEBHOOKS.release(held[0]["id"])


def test_the_controls_over_http(endpoint: str, client: Any, receiver: Receiver) -> None:
    # Given refund.created and charge.refunded held over HTTP (a form)
    state = requests.post(f"{endpoint}/_config/webhooks/hold", data={"types": "refund.created,charge.refunded"},
                          timeout=5).json()
    assert state["holding"] == ["charge.refunded", "refund.created"]
    assert "hold" not in localstripe_webhooks._webhooks  # not localstripe's /_config/webhooks/{id}
    # When a payment is refunded
    intent = paid(endpoint)
    refund = client.v1.refunds.create({"payment_intent": intent, "amount": 100})
    # Then its events are listed over HTTP as in Python, and the two are held
    listed = requests.get(f"{endpoint}/_config/events", params={"payment_intent": intent}, timeout=5).json()
    assert listed["data"] == WEBHOOKS.events(payment_intent=intent)
    only = requests.get(f"{endpoint}/_config/events", params={"payment_intent": intent, "types": "refund.created"},
                        timeout=5).json()["data"]
    assert [e["data"]["object"]["id"] for e in only] == [refund.id]
    held = [e for e in requests.get(f"{endpoint}/_config/webhooks", timeout=5).json()["held_events"]
            if e["data"]["object"].get("payment_intent") == intent]
    assert [e["type"] for e in held] == ["refund.created", "charge.refunded"]
    # When charge.refunded is released (JSON) and refund.created dropped
    released = requests.post(f"{endpoint}/_config/webhooks/release", json={"event_id": held[1]["id"]},
                             timeout=5).json()
    dropped = requests.post(f"{endpoint}/_config/webhooks/drop", json={"types": ["refund.created"]}, timeout=5).json()
    # Then charge.refunded was delivered before the answer, and refund.created is no longer held
    assert [(d["event"], d["status"]) for d in released["released"]] == [(held[1]["id"], 200)]
    assert [e["type"] for e in receiver.events(intent)] == ["charge.refunded"]
    assert held[0]["id"] not in dropped["held"] and dropped["dropping"] == ["refund.created"]
    assert requests.post(f"{endpoint}/_config/webhooks/release", json={"event_id": held[0]["id"]},
                         timeout=5).status_code == 404
    # And reset is back to normal delivery
    assert requests.post(f"{endpoint}/_config/webhooks/reset", timeout=5).json() == {
        "holding": [], "dropping": [], "held": []}


def test_a_refund_fails_over_http(endpoint: str, client: Any) -> None:
    # Given refunds of the failing card and of a card whose refunds succeed
    failing = client.v1.refunds.create({"payment_intent": paid(endpoint, CARD_REFUND_FAILS), "amount": 100})
    fine = client.v1.refunds.create({"payment_intent": paid(endpoint), "amount": 100})
    # When each is failed over HTTP
    answer = requests.post(f"{endpoint}/_config/refunds/{failing.id}/fail", timeout=5)
    refusal = requests.post(f"{endpoint}/_config/refunds/{fine.id}/fail", timeout=5)
    # Then only the first fails
    assert (answer.status_code, answer.json()["status"], answer.json()["failure_reason"]) == (
        200, "failed", "expired_or_canceled_card")
    assert (refusal.status_code, refusal.json()["error"]["type"]) == (400, "invalid_request_error")
    assert client.v1.refunds.retrieve(fine.id).status == "succeeded"
    # And automatic failures are turned on and off over HTTP
    assert requests.post(f"{endpoint}/_config/refunds/fail_automatically", data={"after": "0.5"},
                         timeout=5).json() == {"after": 0.5}
    assert requests.post(f"{endpoint}/_config/refunds/fail_automatically", timeout=5).json() == {"after": None}


# Stripe slower than Lambda, or failing


def intents_made(endpoint: str, key: str) -> int:
    """How many PaymentIntents carry this test's marker in their metadata."""
    client = stripe_client(endpoint)
    return sum(i.metadata.to_dict().get("marker") == key for i in client.v1.payment_intents.list({"limit": 100}).data)


def test_a_delay_answers_late_what_it_did_at_once(endpoint: str, client: Any) -> None:
    # Given PaymentIntents answered 0.6 s late
    FAULTS.delay(0.6, "/v1/payment_intents")
    marker = secrets.token_hex(4)
    # When one is created by a client that waits only 0.2 s
    with pytest.raises(requests.Timeout):
        requests.post(f"{endpoint}/v1/payment_intents", timeout=0.2, headers={
            "Authorization": f"Bearer {DEFAULT_API_KEY}"}, data={"amount": "5000", "currency": "sgd",
                                                                 "metadata[marker]": marker})
    # Then Stripe made it all the same, and another path is answered at once
    started = time.monotonic()
    client.v1.customers.create({"email": "x@example.com"})
    assert time.monotonic() - started < 0.5
    time.sleep(0.5)
    FAULTS.reset()
    assert intents_made(endpoint, marker) == 1
    # And a patient client gets its answer, late
    FAULTS.delay(0.3)
    started = time.monotonic()
    assert client.v1.payment_intents.create({"amount": 5000, "currency": "sgd"}).status == "requires_payment_method"
    assert time.monotonic() - started >= 0.3


def test_failures_answer_stripes_error_without_doing_anything(endpoint: str, client: Any) -> None:
    # Given the next two POSTs to /v1/payment_intents fail with 503, then one with 429
    FAULTS.fail(503, times=2, path_prefix="/v1/payment_intents", method="POST")
    FAULTS.fail(429, path_prefix="/v1/payment_intents", method="POST")
    marker = secrets.token_hex(4)
    params = {"amount": 5000, "currency": "sgd", "metadata": {"marker": marker}}
    # When a PaymentIntent is created four times with one Idempotency-Key, a customer read in between
    errors: list[stripe.StripeError] = []
    for _ in range(3):
        with pytest.raises(stripe.StripeError) as caught:
            client.v1.payment_intents.create(params, {"idempotency_key": marker})
        errors.append(caught.value)
    assert client.v1.customers.create({"email": "y@example.com"}).object == "customer"  # not a matching request
    made = client.v1.payment_intents.create(params, {"idempotency_key": marker})
    # Then Stripe's 503 api_error twice and its 429 rate_limit, none of them performed nor remembered
    assert [(type(e), e.http_status) for e in errors] == [(stripe.APIError, 503), (stripe.APIError, 503),
                                                         (stripe.RateLimitError, 429)]
    assert [e.json_body["error"]["type"] for e in errors] == ["api_error", "api_error", "invalid_request_error"]
    assert errors[2].json_body["error"]["code"] == "rate_limit" and all(e.request_id for e in errors)
    assert made.status == "requires_payment_method" and intents_made(endpoint, marker) == 1
    assert FAULTS.state() == {"delays": {}, "faults": []}


def test_a_dropped_answer_was_done_and_its_retry_replays_it(endpoint: str, client: Any) -> None:
    # Given the next POST's answer dropped, and the one after held 1 s then dropped
    FAULTS.drop(path_prefix="/v1/payment_intents", method="POST")
    FAULTS.drop(path_prefix="/v1/payment_intents", method="POST", hold=1.0)
    marker = secrets.token_hex(4)
    params = {"amount": 5000, "currency": "sgd", "metadata": {"marker": marker}}
    # When a PaymentIntent is created: the connection is closed unanswered
    with pytest.raises(stripe.APIConnectionError):
        client.v1.payment_intents.create(params, {"idempotency_key": marker})
    # And retried with the same key by a client that waits 0.3 s: it times out
    with pytest.raises(requests.Timeout):
        requests.post(f"{endpoint}/v1/payment_intents", timeout=0.3, headers={
            "Authorization": f"Bearer {DEFAULT_API_KEY}", "Idempotency-Key": marker},
            data={"amount": "5000", "currency": "sgd", "metadata[marker]": marker})
    # Then Stripe made it once, and the next retry gets the first answer
    again = client.v1.payment_intents.create(params, {"idempotency_key": marker})
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert intents_made(endpoint, marker) == 1


def test_the_latency_and_failure_controls_over_http(endpoint: str, client: Any) -> None:
    # Given a delay, a failure and a drop set over HTTP (forms and JSON)
    delayed = requests.post(f"{endpoint}/_config/faults/delay", data={"seconds": "0.25",
                                                                      "path_prefix": "/v1/refunds"}, timeout=5).json()
    failing = requests.post(f"{endpoint}/_config/faults/fail", json={"status": 500, "times": 1,
                                                                     "path_prefix": "/v1/customers"}, timeout=5)
    dropping = requests.post(f"{endpoint}/_config/faults/drop", json={"times": 2, "method": "get"}, timeout=5)
    # Then the state says so
    assert delayed == {"delays": {"/v1/refunds": 0.25}, "faults": []} and dropping.status_code == 200
    assert failing.json()["faults"] == [{"kind": "fail", "remaining": 1, "path_prefix": "/v1/customers",
                                         "method": None, "status": 500}]
    assert requests.get(f"{endpoint}/_config/faults", timeout=5).json()["faults"][1] == {
        "kind": "drop", "remaining": 2, "path_prefix": "/v1/", "method": "GET", "hold": 0.0}
    # And a customer is refused once with Stripe's 500
    with pytest.raises(stripe.APIError) as caught:
        client.v1.customers.create({"email": "z@example.com"})
    assert (caught.value.http_status, caught.value.json_body["error"]["type"]) == (500, "api_error")
    # And nonsense is refused, the controls themselves are never delayed, failed nor dropped
    refused_ = requests.post(f"{endpoint}/_config/faults/fail", data={"status": "404"}, timeout=5)
    assert (refused_.status_code, refused_.json()["error"]["type"]) == (400, "invalid_request_error")
    # And reset clears them all
    assert requests.post(f"{endpoint}/_config/faults/reset", timeout=5).json() == {"delays": {}, "faults": []}
    assert client.v1.customers.create({"email": "z@example.com"}).object == "customer"


def test_the_controls_on_the_local_stripe_object_are_the_modules() -> None:
    # Given a LocalStripe (its state is the process's)
    local = LocalStripe(port=0)
    # When each control is set through it
    local.delay_responses(0.1, "/v1/charges")
    local.fail_requests(429, times=2)
    local.drop_responses(hold=2.5, method="post")
    # Then FAULTS holds them, and reset_faults clears them
    assert FAULTS.state() == {"delays": {"/v1/charges": 0.1}, "faults": [
        {"kind": "fail", "remaining": 2, "path_prefix": "/v1/", "method": None, "status": 429},
        {"kind": "drop", "remaining": 1, "path_prefix": "/v1/", "method": "POST", "hold": 2.5}]}
    local.reset_faults()
    assert FAULTS.state() == {"delays": {}, "faults": []}
