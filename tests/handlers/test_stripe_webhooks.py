"""POST /webhooks/stripe through the real handler: abuse refused with nothing written, and every handled
event acting exactly once however often, concurrently or in whatever order Stripe delivers it.

Invariant W1 (exactly once): for any number of deliveries of a payment's events, in any order and
concurrency, the organization's state equals the state after delivering each distinct event once, in
order: one payment and one ledger credit per succeeded PaymentIntent, none for a failed one.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.lambdas import LambdaContext
from tests.conftest import EVENTS
from tests.handlers.conftest import admin, balance
from tests.handlers.stripe_support import (
    WEBHOOK,
    business_state,
    card_customer,
    card_org,
    deliver,
    delivery,
    intent_of,
    pay,
    run_worker,
    start_top_up,
    stripe_event,
    worker_event,
)
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE, stripe_client

REPORT: dict[str, Counter[str]] = {}


@pytest.fixture(scope="module", autouse=True)
def report():
    """Prints the delivery counts after the module (run with -s to see them)."""
    yield
    for name, counts in REPORT.items():
        print(f"  {name}: {dict(counts)}")


def debit(lambdas, partner, org_id, amount):
    status, res = lambdas.accounts("debit_wallet", path={"org_id": org_id}, headers={"idempotency-key": None},
                                   body={"amount": amount, "reference": "usage"}, **admin(partner))
    assert status == 201, res


# --- abuse: 400, nothing written ---------------------------------------------------------------------
@pytest.fixture
def succeeded_event(lambdas, partner):
    org_id = card_org(lambdas, partner)
    intent = pay(lambdas, start_top_up(lambdas, partner, org_id))
    return stripe_event("payment_intent.succeeded", intent)


ABUSE = {
    "no header": dict(signature=None),
    "a bad signature": dict(signature="t={now},v1=" + "0" * 64),
    "no v1 signature": dict(signature="t={now},v0=abc"),
    "a garbled header": dict(signature="garbage"),
    "the wrong secret": dict(secret="whsec_someone_else"),
    "a timestamp older than 300 s": dict(timestamp_shift=-301),
    "a timestamp far in the future": dict(timestamp_shift=+301),
    "Unicode digits in t= (issue 19: was a 500)": dict(signature="t=\u00b2\u00b3,v1=" + "0" * 64),
    "Arabic-Indic digits in t=": dict(signature="t=\u0661\u0662,v1=" + "0" * 64),
}


@pytest.mark.parametrize("case", [*ABUSE, "a tampered body"])
def test_an_unverifiable_delivery_gets_400_and_writes_nothing(lambdas, partner, succeeded_event, case):
    # Given a real succeeded PaymentIntent's event, and the table before
    before = lambdas.snapshot()
    now = int(time.time())
    # When it is delivered with the abuse
    if case == "a tampered body":
        body = json.dumps(succeeded_event, separators=(",", ":")).encode()
        signed = delivery(body)
        signed["body"] = signed["body"].replace('"amount_received":5000', '"amount_received":9000')
        assert signed["body"] != body.decode()
        res = lambdas.host.invoke(WEBHOOK, signed)
        status, answer = res["statusCode"], json.loads(res["body"])
    else:
        kw = dict(ABUSE[case])
        shift = kw.pop("timestamp_shift", None)
        if shift is not None:
            kw["timestamp"] = now + shift
        if isinstance(kw.get("signature"), str):
            kw["signature"] = kw["signature"].format(now=now)
        status, answer = deliver(lambdas, succeeded_event, **kw)
    # Then 400 invalid_signature, and nothing was written
    assert (status, answer["error"]["code"]) == (400, "invalid_signature")
    assert lambdas.snapshot() == before


def test_the_edges_of_the_tolerance_are_accepted(lambdas, partner, succeeded_event):
    # Given a delivery signed 299 s ago (Stripe's clock may lag or lead ours)
    status, res = deliver(lambdas, succeeded_event, timestamp=int(time.time()) - 299)
    # Then it is processed
    assert (status, res["outcome"]) == (200, "credited")


def test_malformed_but_signed_bodies_get_400_and_unhandled_types_200(lambdas, partner):
    before = lambdas.snapshot()
    assert deliver(lambdas, b"not json")[1]["error"]["code"] == "malformed_json"
    assert deliver(lambdas, b'{"id": 1}')[1]["error"]["code"] == "malformed_event"
    no_object = stripe_event("payment_intent.succeeded", {"object": "charge", "id": "ch_1"})
    assert deliver(lambdas, no_object)[0] == 400
    assert lambdas.snapshot() == before
    unhandled = json.loads(json.loads((EVENTS / "stripe_webhooks/customer_updated_unhandled.json").read_text())["body"])
    assert deliver(lambdas, unhandled) == (200, {"event": unhandled["id"], "outcome": "ignored_event_type",
                                                 "received": True})
    # a refund of a charge made without a PaymentIntent (not this service's), and one with no charge at all
    legacy = stripe_event("charge.refunded", {"object": "charge", "id": "ch_legacy", "payment_intent": None})
    assert deliver(lambdas, legacy)[1]["outcome"] == "not_ours"
    assert deliver(lambdas, stripe_event("charge.dispute.created", {"object": "charge", "id": "ch_x"}))[1]["error"][
        "code"] == "malformed_event"
    not_ours = stripe_event("payment_intent.succeeded", {"object": "payment_intent", "id": "pi_other", "metadata": {}})
    assert deliver(lambdas, not_ours)[1]["outcome"] == "not_ours"
    assert lambdas.snapshot() == before


# --- exactly once ------------------------------------------------------------------------------------
def _scenario(lambdas, partner, kind):
    """An organization and one handled event of `kind`; returns (org_id, event)."""
    if kind == "online succeeded":
        org_id = card_org(lambdas, partner)
        return org_id, stripe_event("payment_intent.succeeded", pay(lambdas, start_top_up(lambdas, partner, org_id)))
    if kind == "online failed":  # the customer fails 3-D Secure
        org_id = card_org(lambdas, partner)
        top_up = start_top_up(lambdas, partner, org_id)
        intent = pay(lambdas, top_up, CARD_ALWAYS_AUTHENTICATE, authenticate=False)
        assert intent["status"] == "requires_payment_method"
        return org_id, stripe_event("payment_intent.payment_failed", intent)
    card = CARD_ALWAYS_AUTHENTICATE if kind == "auto failed" else "4242424242424242"
    org_id, _ = card_customer(lambdas, partner, card)
    debit(lambdas, partner, org_id, 4_500)
    assert run_worker(lambdas, org_id, "2026-11-21") == {"batchItemFailures": []}
    attempt = lambdas.ddb.get_item(TableName="payments-local", Key={"pk": {"S": f"ORG#{org_id}"},
                                                                     "sk": {"S": "ATTEMPT#2026-11-21"}})["Item"]
    intent = intent_of(lambdas, attempt["payment_intent_id"]["S"])
    kind_of = "payment_intent.succeeded" if kind == "auto succeeded" else "payment_intent.payment_failed"
    return org_id, stripe_event(kind_of, intent)


KINDS = ["online succeeded", "online failed", "auto succeeded", "auto failed"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_event_delivered_5_times_then_8_times_at_once_acts_once(lambdas, partner, kind):
    # Given the event, delivered once in order: the reference state
    org_id, event = _scenario(lambdas, partner, kind)
    outcomes = Counter([deliver(lambdas, event)[1]["outcome"]])
    once = business_state(lambdas, org_id)
    # When it is delivered 4 more times in a row
    outcomes.update(deliver(lambdas, event)[1]["outcome"] for _ in range(4))
    # Then nothing changed
    assert business_state(lambdas, org_id) == once
    # And on another organization, the same kind of event delivered 8 times at once...
    other_id, other_event = _scenario(lambdas, partner, kind)
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(8)

    def hit():
        barrier.wait()
        status, res = deliver(lambdas, other_event)
        results.append((status, res["outcome"]))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # ...ends in the same state as one delivery
    assert all(status == 200 for status, _ in results)
    assert business_state(lambdas, other_id) == once
    concurrent = Counter(outcome for _, outcome in results)
    if kind == "auto failed":  # the worker recorded Stripe's decline at once; the webhook agrees
        assert outcomes == Counter({"already_failed": 5}) and concurrent == Counter({"already_failed": 8})
        assert once["attempts"][0]["status"] == "failed" and once["attempts"][0]["reason"] == "card_declined"
        assert once["attempts"][0]["failure_code"] == "authentication_required"
    else:
        effect = "credited" if "succeeded" in kind else "failed"
        assert outcomes[effect] == 1 and concurrent[effect] == 1
    REPORT[f"{kind}: 5 in a row"] = outcomes
    REPORT[f"{kind}: 8 at once"] = concurrent


def test_every_order_of_a_payments_events_ends_as_the_in_order_delivery(lambdas, partner):
    # Given an online top-up whose first try fails 3-D Secure and whose second card succeeds:
    # its events are payment_failed, then succeeded (plus an event type we do not handle)
    def one_payment():
        org_id = card_org(lambdas, partner)
        top_up = start_top_up(lambdas, partner, org_id)
        failed = stripe_event("payment_intent.payment_failed",
                              pay(lambdas, top_up, CARD_ALWAYS_AUTHENTICATE, authenticate=False))
        succeeded = stripe_event("payment_intent.succeeded", pay(lambdas, top_up))
        charge = stripe_event("charge.succeeded", {"object": "charge", "id": "ch_x", "payment_intent": top_up["id"]})
        return org_id, [failed, succeeded, charge]

    reference_org, events = one_payment()
    for event in events:
        deliver(lambdas, event)
    expected = business_state(lambdas, reference_org)
    assert expected["online_top_ups"][0]["status"] == "succeeded" and expected["wallet"] == (5_000, 1)
    # When each order of them is delivered (each event twice: a redelivery follows somewhere)
    orders = set(itertools.permutations([0, 1, 2, 0, 1]))
    outcomes: Counter[str] = Counter()
    for order in sorted(orders):
        org_id, events = one_payment()
        for index in order:
            outcomes[deliver(lambdas, events[index])[1]["outcome"]] += 1
        # Then the organization ends as the in-order delivery left the reference one
        assert business_state(lambdas, org_id) == expected, order
    assert outcomes["credited"] == len(orders)
    REPORT[f"every order ({len(orders)} orders of 5 deliveries)"] = outcomes


def test_a_crashed_worker_retrying_its_charge_charges_once(lambdas, partner):
    # Given a due card customer whose worker recorded charge_pending, then crashed around the call
    org_id, _ = card_customer(lambdas, partner)
    debit(lambdas, partner, org_id, 4_500)
    worker = lambdas.host.load_module("WorkerFunction")
    gateway = worker.deps.stripe  # the worker's Stripe boundary: the fault is injected there
    real_charge = gateway.charge_off_session

    def charge_then_crash(**kw):
        real_charge(**kw)
        raise ConnectionError("the answer was lost")

    gateway.charge_off_session = charge_then_crash
    event = worker_event(org_id, "2026-11-22")
    with pytest.raises(BatchProcessingError):
        worker.lambda_handler(event, LambdaContext("WorkerFunction", 512, 30, "r1"))
    item = lambdas.ddb.get_item(TableName="payments-local", Key={"pk": {"S": f"ORG#{org_id}"},
                                                                "sk": {"S": "ATTEMPT#2026-11-22"}})["Item"]
    assert item["status"]["S"] == "charge_pending" and "payment_intent_id" not in item
    # When SQS redelivers it three times
    gateway.charge_off_session = real_charge
    for _ in range(3):
        assert worker.lambda_handler(event, LambdaContext("WorkerFunction", 512, 30, "r2")) == {
            "batchItemFailures": []}
    # Then Stripe holds one PaymentIntent for the day (the same idempotency key), and its webhook credits once
    listed = stripe_client(lambdas.stripe.endpoint).v1.payment_intents.list({"limit": 100}).data
    intents = [pi.to_dict() for pi in listed]
    charges = [pi for pi in intents if pi["metadata"] == {"purpose": "auto_top_up", "org_id": org_id,
                                                          "partner_id": partner, "business_date": "2026-11-22"}]
    assert len(charges) == 1
    for _ in range(2):
        deliver(lambdas, stripe_event("payment_intent.succeeded", charges[0], event_id=f"evt_{org_id}"))
    assert balance(lambdas, partner, {"id": org_id}) == 500 + 2_000
