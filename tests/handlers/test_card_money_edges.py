"""Card money at its edges (issue 25), through the real handlers, the real Stripe SDK and the local Stripe:
Stripe's amount units and limits per currency, Stripe slower than Lambda or not answering, refusals that are not
declines, and idempotency keys that expire.

Invariants named here:
  CE1  what Stripe is asked to charge, read back from Stripe, is exactly what the wallet is credited (any currency);
  CE2  an amount Stripe could not charge is refused before Stripe is called, and nothing is written;
  CE3  a request Stripe did not answer is never a second refund or PaymentIntent when it is retried with its key;
  CE4  every refusal by Stripe of an automatic charge fails it at once with Stripe's reason;
  CE5  nothing is sent to Stripe with a key Stripe may have forgotten: such a charge is looked up, never resent.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from local.aws import TABLE_NAME
from local.stripe import FAULTS, IDEMPOTENCY
from shared.container import Container
from shared.domain.card_amounts import CARD_CURRENCIES, to_stripe
from shared.settings import get_settings
from shared.stripe_gateway import READ_SECONDS, PaymentProviderError, ProviderRefused, StripeGateway
from tests.conftest import new_partner
from tests.handlers.conftest import NO_KEY, admin, balance, create_org
from tests.handlers.stripe_support import (
    business_state,
    card_customer,
    card_payment,
    deliver,
    intent_of,
    pay,
    refund,
    refunds_listed,
    run_worker,
    stripe_event,
)
from tests.handlers.test_reconciliation import reconcile, waiting_ids
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE, stripe_client


@pytest.fixture(autouse=True)
def _stripe_behaves_again():
    FAULTS.reset()
    yield
    FAULTS.reset()


def top_up(lambdas, partner, org_id, amount, *, trigger=0, auto=False, key=None):
    body = {"amount": amount, "trigger_amount": trigger, "limit_threshold": 0, "auto_trigger": auto}
    return lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body=body,
                            headers={"idempotency-key": key}, **admin(partner))


def intents_of_customer(lambdas, customer_id: str) -> list[dict]:
    return [i.to_dict() for i in stripe_client(lambdas.stripe.endpoint).v1.payment_intents.list(
        {"customer": customer_id, "limit": 100}).data]


def org_item_set(lambdas, org_id: str, expression: str, values: dict) -> None:
    """Change the organization's item as a past release, or Stripe's Dashboard, left it."""
    lambdas.ddb.update_item(TableName=TABLE_NAME, Key={"pk": {"S": f"ORG#{org_id}"}, "sk": {"S": "META"}},
                            UpdateExpression=expression, ExpressionAttributeValues=values)


def org_item(lambdas, org_id: str) -> dict:
    return lambdas.ddb.get_item(TableName=TABLE_NAME, Key={"pk": {"S": f"ORG#{org_id}"}, "sk": {"S": "META"}},
                                ConsistentRead=True)["Item"]


def in_a_day(hours: float = 25) -> Container:
    """The functions' own code and settings, `hours` from now (a redriven message, a late event)."""
    return Container(get_settings(), overrides={"clock": lambda: time.time() + hours * 3600})


# --- CE1, CE2: Stripe's amount units and limits ------------------------------------------------------------------

def test_ce1_an_isk_top_up_charges_at_stripe_what_it_credits_and_refunds_likewise(lambdas, partner):
    # Given an ISK organization (no minor unit in ISO 4217; two-decimal at Stripe)
    org = create_org(lambdas, partner, "Reykjavik Telecom", currency="ISK")
    # When it tops up ISK 500 by card, paid, its webhook delivered
    status, started = top_up(lambdas, partner, org["id"], 500)
    assert status == 201, started
    intent = pay(lambdas, started)
    # Then Stripe was asked for ISK 500 in its own units (50000), and the wallet credited ISK 500
    assert (intent["amount"], intent["amount_received"], intent["currency"]) == (50_000, 50_000, "isk")
    assert deliver(lambdas, stripe_event("payment_intent.succeeded", intent))[1]["outcome"] == "credited"
    assert balance(lambdas, partner, org) == 500
    # When ISK 200 of it is refunded
    [payment] = lambdas.payments("list_payments", query={"org_id": org["id"]}, **admin(partner))[1]["items"]
    status, answered = refund(lambdas, partner, payment["id"], 200)
    # Then Stripe refunded ISK 200 (20000) and the wallet lost ISK 200
    assert (status, answered["status"]) == (202, "succeeded"), answered
    [made] = stripe_client(lambdas.stripe.endpoint).v1.refunds.list({"payment_intent": intent["id"]}).data
    assert made.amount == 20_000 and balance(lambdas, partner, org) == 300


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(code=st.sampled_from(sorted(CARD_CURRENCIES)), steps=st.integers(0, 10_000))
@example(code="ISK", steps=3)  # the special cases always, whatever else is drawn
@example(code="KWD", steps=7)
@example(code="JPY", steps=0)
def test_ce1_in_any_currency_the_wallet_is_credited_exactly_what_stripe_received(lambdas, code, steps):
    # Given an organization in any supported currency, and an amount Stripe can charge in it
    rules = CARD_CURRENCIES[code]
    amount = (-(-rules.minimum // rules.multiple_of) + steps) * rules.multiple_of
    partner = new_partner()
    org = create_org(lambdas, partner, f"{code} Co", currency=code)
    # When it is paid by card and its webhook delivered
    status, started = top_up(lambdas, partner, org["id"], amount)
    assert status == 201, started
    intent = pay(lambdas, started)
    assert deliver(lambdas, stripe_event("payment_intent.succeeded", intent))[1]["outcome"] == "credited"
    # Then Stripe received the amount in its units, and the wallet holds exactly the amount (CE1)
    assert intent["amount_received"] == to_stripe(amount, code)
    assert balance(lambdas, partner, org) == amount


@pytest.mark.parametrize("code", sorted(CARD_CURRENCIES))
def test_ce2_each_currency_charges_from_its_minimum_and_refuses_below_it_before_stripe_is_asked(lambdas, code):
    # Given an organization in the currency
    partner = new_partner()
    org = create_org(lambdas, partner, f"{code} Minimum Co", currency=code)
    rules = CARD_CURRENCIES[code]
    # When an online top-up asks for the minimum: the local Stripe (its own reading of Stripe's page) takes it
    status, started = top_up(lambdas, partner, org["id"], rules.minimum)
    assert status == 201, started
    # When one asks for less (or one that is not a multiple), nothing is written and Stripe is not asked (CE2)
    before = lambdas.snapshot()
    too_little = rules.minimum - rules.multiple_of if rules.multiple_of > 1 else rules.minimum - 1
    status, refused = top_up(lambdas, partner, org["id"], too_little)
    assert (status, refused["error"]["code"]) == (422, "card_amount_not_allowed"), refused
    assert [{k: v for k, v in d.items() if k != "message"} for d in refused["error"]["details"]] == [
        {"field": "amount", "currency": code, "minimum": rules.minimum, "maximum": rules.maximum,
         "multiple_of": rules.multiple_of}]
    assert lambdas.snapshot() == before
    assert len(intents_of_customer(lambdas, intent_of(lambdas, started["payment_intent_id"])["customer"])) == 1


def test_ce2_sgd_0_30_and_a_trigger_below_stripes_minimum_are_refused_and_nothing_is_written(lambdas, partner):
    # Given an SGD organization
    org = create_org(lambdas, partner, "Small Change Pte")
    before = lambdas.snapshot()
    # When an online top-up asks for SGD 0.30 (Stripe's minimum is SGD 0.50), or a trigger of SGD 0.49
    status, small = top_up(lambdas, partner, org["id"], 30)
    status_t, trigger = top_up(lambdas, partner, org["id"], 5_000, trigger=49, auto=True)
    # Then both are 422 card_amount_not_allowed naming the field, and nothing was written (no Stripe customer either)
    assert (status, small["error"]["code"], small["error"]["details"][0]["field"]) == (
        422, "card_amount_not_allowed", "amount")
    assert (status_t, trigger["error"]["code"], [d["field"] for d in trigger["error"]["details"]]) == (
        422, "card_amount_not_allowed", ["trigger_amount"])
    assert small["error"]["details"][0]["minimum"] == 50
    assert lambdas.snapshot() == before


# --- CE3: Stripe slower than Lambda, or not answering -------------------------------------------------------------

def test_ce3_a_refund_needs_an_idempotency_key_and_without_one_nothing_is_written(lambdas, partner):
    # Given a card payment
    _, payment = card_payment(lambdas, partner)
    before = lambdas.snapshot()
    # When a refund is asked for without an Idempotency-Key
    status, body = refund(lambdas, partner, payment["id"], 1_000, key=None)
    # Then it is refused, and nothing was written or refunded
    assert (status, body["error"]["code"]) == (422, "idempotency_key_required")
    assert lambdas.snapshot() == before and refunds_listed(lambdas, partner, payment["id"]) == []


def test_a_viewer_asking_for_a_refund_is_403_with_or_without_a_key(lambdas, partner):
    # Given a card payment
    _, payment = card_payment(lambdas, partner)
    from tests.handlers.conftest import viewer

    # When a finance-viewer asks for a refund, without and with an Idempotency-Key
    answers = [refund(lambdas, partner, payment["id"], 100, key=k, who=viewer(partner)) for k in (None, "viewer-1")]
    # Then the role is checked first: 403 both times
    assert [(s, b["error"]["code"]) for s, b in answers] == [(403, "forbidden")] * 2


def test_ce3_a_refund_stripe_answers_after_the_try_timed_out_is_202_pending_and_settled_once(lambdas, partner):
    # Given a card payment, and Stripe answering refunds later than a try waits (it still makes them)
    org, payment = card_payment(lambdas, partner)
    FAULTS.delay(READ_SECONDS + 1.5, path_prefix="/v1/refunds")
    # When a refund of SGD 20.00 is asked for
    started = time.monotonic()
    status, answered = refund(lambdas, partner, payment["id"], 2_000, key="slow-refund")
    took = time.monotonic() - started
    FAULTS.reset()
    # Then the function answered in time (no 5xx from a killed function): 202 pending, its amount held
    assert (status, answered["status"]) == (202, "pending"), answered
    assert took < 10  # the function's timeout
    wallet = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **admin(partner))[1]
    assert (wallet["balance"], wallet["refund_held"]) == (5_000, 2_000)
    # When the same request is retried with its key, and the reconciliation runs
    assert refund(lambdas, partner, payment["id"], 2_000, key="slow-refund")[1]["id"] == answered["id"]
    reconcile(lambdas)
    # Then Stripe holds one refund of it, and the wallet was debited once (CE3)
    made = stripe_client(lambdas.stripe.endpoint).v1.refunds.list({"payment_intent": payment["reference"]}).data
    assert [r.amount for r in made] == [2_000]
    assert balance(lambdas, partner, org) == 3_000
    assert [r["status"] for r in refunds_listed(lambdas, partner, payment["id"])] == ["succeeded"]


def test_ce3_stripe_unavailable_is_503_with_retry_after_and_the_same_key_resumes_the_same_refund(lambdas, partner):
    # Given a card payment, and Stripe answering 503 to every try of a refund
    org, payment = card_payment(lambdas, partner)
    FAULTS.fail(503, times=3, path_prefix="/v1/refunds")
    # When a refund is asked for
    status, body = refund(lambdas, partner, payment["id"], 1_500, key="refund-while-down")
    # Then it is 503 payment_provider_unavailable; the refund waits, pending and held
    assert (status, body["error"]["code"]) == (503, "payment_provider_unavailable"), body
    [waiting] = refunds_listed(lambdas, partner, payment["id"])
    assert (waiting["status"], waiting["stripe_refund_id"]) == ("pending", None)
    # When Stripe is back and the request is retried with the same key
    status, resumed = refund(lambdas, partner, payment["id"], 1_500, key="refund-while-down")
    # Then it is the same refund, made once at Stripe, debited once
    assert (status, resumed["id"], resumed["status"]) == (202, waiting["id"], "succeeded")
    made = stripe_client(lambdas.stripe.endpoint).v1.refunds.list({"payment_intent": payment["reference"]}).data
    assert [r.amount for r in made] == [1_500] and balance(lambdas, partner, org) == 3_500


def test_ce3_the_retry_after_header_reaches_the_caller(lambdas, partner):
    _, payment = card_payment(lambdas, partner)
    FAULTS.fail(429, times=3, path_prefix="/v1/refunds")
    from tests.conftest import load_event

    event = load_event("allocation/refund_payment.json", path={"payment_id": payment["id"]}, body={"amount": 100},
                       claims=admin(partner)["claims"])
    answer = lambdas.host.invoke("AllocationFunction", event)
    assert (answer["statusCode"], answer["headers"].get("Retry-After")) == (503, "5")


def test_ce3_stripe_refusing_a_refund_is_422_with_its_code_and_the_hold_released(lambdas, partner):
    # Given a card payment refunded whole in Stripe's Dashboard, its webhook not yet here
    org, payment = card_payment(lambdas, partner)
    stripe_client(lambdas.stripe.endpoint).v1.refunds.create({"payment_intent": payment["reference"]})
    # When a refund is asked for here
    status, body = refund(lambdas, partner, payment["id"], 1_000, key="too-late")
    # Then Stripe's refusal is 422 payment_provider_refused with its code; the refund failed, its hold released
    assert (status, body["error"]["code"]) == (422, "payment_provider_refused"), body
    assert body["error"]["details"][0]["code"] == "charge_already_refunded"
    [failed] = [r for r in refunds_listed(lambdas, partner, payment["id"]) if r["origin"] == "api"]
    assert (failed["status"], failed["failure_reason"]) == ("failed", "charge_already_refunded")
    wallet = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **admin(partner))[1]
    assert wallet["refund_held"] == 0
    # And the same request again gets the same answer
    again = refund(lambdas, partner, payment["id"], 1_000, key="too-late")
    assert (again[0], again[1]["error"]) == (status, body["error"])


def test_ce3_an_online_top_up_stripe_made_but_never_answered_is_resumed_by_its_key_not_made_twice(lambdas, partner):
    # Given Stripe making PaymentIntents but every answer lost
    org = create_org(lambdas, partner, "Lost Answers Pte")
    FAULTS.drop(times=3, path_prefix="/v1/payment_intents", method="POST")
    # When an online top-up starts with an Idempotency-Key
    status, body = top_up(lambdas, partner, org["id"], 5_000, key="start-1")
    # Then it is 503 with nothing recorded
    assert (status, body["error"]["code"]) == (503, "payment_provider_unavailable"), body
    assert lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **admin(partner))[1]["balance"] == 0
    # When it is retried with the same key
    status, started = top_up(lambdas, partner, org["id"], 5_000, key="start-1")
    # Then it is the PaymentIntent Stripe made the first time: the customer has one (CE3)
    assert status == 201, started
    [only] = intents_of_customer(lambdas, intent_of(lambdas, started["payment_intent_id"])["customer"])
    assert only["id"] == started["payment_intent_id"]


# --- CE4: refusals that are not declines ----------------------------------------------------------------------------

def due_card_customer(lambdas, partner, card: str | None = None) -> str:
    """A card customer (trigger SGD 20.00 at SGD 10.00) whose wallet fell to SGD 5.00."""
    org_id, _ = card_customer(lambdas, partner, **({"card": card} if card else {}))
    assert lambdas.accounts("debit_wallet", path={"org_id": org_id}, body={"amount": 4_500, "reference": "usage"},
                            headers=NO_KEY, **admin(partner))[0] == 201
    return org_id


def charge_unanswered(lambdas, partner, business_date: str, *, made: bool) -> str:
    """A card customer due whose automatic charge of `business_date` got no answer: Stripe made it (`made`: every
    answer lost) or never saw it (503 to every try); the attempt waits `charge_pending` without a PaymentIntent."""
    org_id = due_card_customer(lambdas, partner)
    if made:
        FAULTS.drop(times=3, path_prefix="/v1/payment_intents", method="POST")
    else:
        FAULTS.fail(503, times=3, path_prefix="/v1/payment_intents", method="POST")
    with pytest.raises(PaymentProviderError):
        Container(get_settings()).auto_top_up.top_up(org_id, business_date)
    FAULTS.reset()
    return org_id


def the_attempt(lambdas, org_id: str) -> dict:
    [attempt] = business_state(lambdas, org_id)["attempts"]
    return attempt


@pytest.mark.parametrize(("what", "change", "code"), [
    ("a card deleted in Stripe", ("SET stripe_payment_method_id = :v", {":v": {"S": "pm_deleted0000"}}),
     "resource_missing"),
    ("a trigger below Stripe's minimum, set before it was checked",
     ("SET settings.trigger_amount = :v", {":v": {"N": "30"}}), "amount_too_small"),
])
def test_ce4_a_refusal_that_is_not_a_decline_fails_the_attempt_at_once_with_stripes_reason(lambdas, partner, what,
                                                                                          change, code):
    # Given a card customer due for its automatic top-up, and `what`
    org_id = due_card_customer(lambdas, partner)
    org_item_set(lambdas, org_id, *change)
    # When the worker runs
    result = run_worker(lambdas, org_id, "2031-06-01")
    # Then the delivery succeeded (no retry, nothing for the dead-letter queue) and the attempt failed at once
    assert result == {"batchItemFailures": []}, what
    attempt = the_attempt(lambdas, org_id)
    assert (attempt["status"], attempt["reason"], attempt["failure_code"]) == ("failed", "provider_refused", code)
    assert attempt["failure_message"]
    # And the API shows Stripe's reason
    [shown] = lambdas.accounts("list_auto_top_ups", path={"org_id": org_id}, **admin(partner))[1]["items"]
    assert (shown["reason"], shown["failure_code"]) == ("provider_refused", code)


def test_ce4_a_decline_is_card_declined_with_the_decline_code_and_stripes_message(lambdas, partner):
    # Given a card customer whose card always asks for authentication (declined off-session)
    org_id, _ = card_customer(lambdas, partner, card=CARD_ALWAYS_AUTHENTICATE)
    assert lambdas.accounts("debit_wallet", path={"org_id": org_id}, body={"amount": 4_500, "reference": "usage"},
                            headers=NO_KEY, **admin(partner))[0] == 201
    # When the worker runs
    assert run_worker(lambdas, org_id, "2031-06-02") == {"batchItemFailures": []}
    # Then the attempt failed card_declined, with the decline code and Stripe's message
    attempt = the_attempt(lambdas, org_id)
    assert (attempt["status"], attempt["reason"], attempt["failure_code"]) == (
        "failed", "card_declined", "authentication_required")
    assert attempt["failure_message"]


# --- CE5: keys that expire ------------------------------------------------------------------------------------------

def test_ce5_a_charge_redriven_after_its_keys_lifetime_is_looked_up_never_sent_again(lambdas, partner):
    # Given a card customer due, and Stripe making the off-session charge while every answer is lost
    org_id = due_card_customer(lambdas, partner)
    FAULTS.drop(times=3, path_prefix="/v1/payment_intents", method="POST")
    down = Container(get_settings())
    with pytest.raises(PaymentProviderError):
        down.auto_top_up.top_up(org_id, "2031-06-03")
    FAULTS.reset()
    customer = org_item(lambdas, org_id)["stripe_customer_id"]["S"]
    charges = [i for i in intents_of_customer(lambdas, customer) if i["metadata"].get("purpose") == "auto_top_up"]
    assert len(charges) == 1 and the_attempt(lambdas, org_id)["status"] == "charge_pending"
    # When the message is redriven from the dead-letter queue 25 hours later (Stripe has forgotten the key)
    IDEMPOTENCY.advance(25 * 3600)
    outcome = in_a_day().auto_top_up.top_up(org_id, "2031-06-03")
    # Then the charge Stripe made was found by its metadata, not made again (CE5)
    charges = [i for i in intents_of_customer(lambdas, customer) if i["metadata"].get("purpose") == "auto_top_up"]
    assert len(charges) == 1 and outcome == "charge_pending"
    # And the reconciliation credits it, once
    reconcile(lambdas, after=timedelta(hours=25))
    assert the_attempt(lambdas, org_id)["status"] == "credited"
    assert balance(lambdas, partner, {"id": org_id}) == 2_500


def test_ce5_a_charge_stripe_never_made_is_failed_unconfirmed_after_its_keys_lifetime(lambdas, partner):
    # Given a card customer due, whose charge never reached Stripe
    org_id = charge_unanswered(lambdas, partner, "2031-06-04", made=False)
    # When the message is redriven 25 hours later
    outcome = in_a_day().auto_top_up.top_up(org_id, "2031-06-04")
    # Then nothing was sent: Stripe has no charge of it, and it is failed charge_unconfirmed
    assert outcome == "failed"
    attempt = the_attempt(lambdas, org_id)
    assert (attempt["reason"], "payment_intent_id" in attempt) == ("charge_unconfirmed", False)


def test_ce3_an_online_top_up_key_used_again_after_its_answer_is_forgotten_makes_no_second_payment_intent(
        lambdas, partner):
    # Given an online top-up started with a key, whose remembered answer has expired (24 h)
    org = create_org(lambdas, partner, "Old Key Pte")
    status, first = top_up(lambdas, partner, org["id"], 5_000, key="old-key")
    assert status == 201, first
    forget_idempotency_records(lambdas)
    # When the same key comes again
    status, again = top_up(lambdas, partner, org["id"], 5_000, key="old-key")
    # Then it is refused (the key named a top-up already), and Stripe was not asked for a second PaymentIntent
    assert (status, again["error"]["code"]) == (409, "idempotency_key_reused"), again
    customer = intent_of(lambdas, first["payment_intent_id"])["customer"]
    assert [i["id"] for i in intents_of_customer(lambdas, customer)] == [first["payment_intent_id"]]


def forget_idempotency_records(lambdas) -> None:
    """As if every remembered Idempotency-Key answer had expired (the records on the shared table, one partition per
    key since issue 31: `IDEMPOTENCY#{hash}`; the format before it, `IDEMPOTENCY`, too)."""
    for item in lambdas.snapshot():
        if item["pk"]["S"].startswith("IDEMPOTENCY"):
            lambdas.ddb.delete_item(TableName=TABLE_NAME, Key={"pk": item["pk"], "sk": item["sk"]})


# --- the review's edges -------------------------------------------------------------------------------------------

def test_a_refund_asked_again_after_stripes_key_expired_is_never_sent_again(lambdas, partner):
    # Given a card payment and a refund Stripe made while its answers were lost (202 pending, not linked)
    _, payment = card_payment(lambdas, partner)
    FAULTS.drop(times=3, path_prefix="/v1/refunds", method="POST")
    status, answered = refund(lambdas, partner, payment["id"], 1_500, key="lost-answers")
    FAULTS.reset()
    assert (status, answered["status"]) == (202, "pending"), answered
    # When the same request comes again a day later (its remembered answer and Stripe's key both gone)
    IDEMPOTENCY.advance(25 * 3600)
    forget_idempotency_records(lambdas)
    from shared.auth import Principal
    from shared.models import RefundIn

    finance = Principal(sub="admin@example.com", partner_id=partner, groups=frozenset({"finance-admin"}))
    again = in_a_day().card_money_back.request_refund(finance, payment["id"], RefundIn(amount=1_500), "lost-answers")
    # Then it is the same refund, still pending, and Stripe holds one refund of it: not sent again
    assert (again.id, again.status) == (answered["id"], "pending")
    made = stripe_client(lambdas.stripe.endpoint).v1.refunds.list({"payment_intent": payment["reference"]}).data
    assert [r.amount for r in made] == [1_500]


def test_a_late_reconciliation_event_ages_keys_by_the_clock_and_never_resends(lambdas, partner):
    # Given a card customer due, whose charge Stripe made while every answer was lost
    org_id = charge_unanswered(lambdas, partner, "2031-06-05", made=True)
    customer = org_item(lambdas, org_id)["stripe_customer_id"]["S"]
    # When a reconciliation runs 25 hours later with an event whose time is only 16 minutes after the charge (a late
    # or retried event)
    IDEMPOTENCY.advance(25 * 3600)
    when = (datetime.now(UTC) + timedelta(minutes=16)).isoformat(timespec="seconds").replace("+00:00", "Z")
    in_a_day().reconciliation.run(when)
    # Then the charge was looked up, not sent again with a key Stripe forgot: one PaymentIntent, credited once
    charges = [i for i in intents_of_customer(lambdas, customer) if i["metadata"].get("purpose") == "auto_top_up"]
    assert len(charges) == 1
    assert the_attempt(lambdas, org_id)["status"] == "credited" and balance(lambdas, partner, {"id": org_id}) == 2_500


def test_a_charge_found_after_the_reconciliation_stopped_looking_is_looked_at_again_and_credited(lambdas, partner):
    # Given a charge Stripe made while its answers were lost, and the reconciliation looking at it for 3 days while
    # Stripe's list was down (it stops looking after that)
    org_id = charge_unanswered(lambdas, partner, "2031-06-06", made=True)
    FAULTS.fail(503, times=10**6, path_prefix="/v1/payment_intents", method="GET")
    assert reconcile(lambdas, after=timedelta(hours=73))["outcomes"].get("stripe_unavailable", 0) >= 1
    FAULTS.reset()
    attempt = f"{org_id}/2031-06-06"
    assert attempt not in waiting_ids(timedelta(days=30))  # stopped
    # When its message is redriven 4 days later and the charge is found
    IDEMPOTENCY.advance(97 * 3600)
    assert in_a_day(97).auto_top_up.top_up(org_id, "2031-06-06") == "charge_pending"
    # Then it is due again at once, and the next run credits it
    assert attempt in waiting_ids(timedelta(hours=1))
    reconcile(lambdas, after=timedelta(hours=98))
    assert the_attempt(lambdas, org_id)["status"] == "credited" and balance(lambdas, partner, {"id": org_id}) == 2_500


class _RefusedList(StripeGateway):
    def payment_intents_of(self, customer_id: str, created_from: int) -> list[dict]:
        raise ProviderRefused("resource_missing", f"No such customer: '{customer_id}'")


def test_a_lookup_stripe_refuses_fails_the_attempt_with_its_reason(lambdas, partner):
    # Given a charge that never reached Stripe, and, a day later, a customer Stripe no longer has
    org_id = charge_unanswered(lambdas, partner, "2031-06-07", made=False)
    # When the message is redriven
    deps = Container(get_settings(), overrides={"clock": lambda: time.time() + 25 * 3600,
                                                "stripe": _RefusedList(get_settings())})
    # Then the attempt failed at once with Stripe's reason (not left pending for good)
    assert deps.auto_top_up.top_up(org_id, "2031-06-07") == "failed"
    attempt = the_attempt(lambdas, org_id)
    assert (attempt["reason"], attempt["failure_code"]) == ("provider_refused", "resource_missing")


class _OneOddRefund(StripeGateway):
    def refunds_of(self, intent_id: str) -> list[dict]:
        odd = {"object": "refund", "id": "re_odd", "amount": 5_050, "currency": "isk", "status": "succeeded"}
        return [*super().refunds_of(intent_id), odd]


def test_an_amount_stripe_shows_in_no_whole_minor_unit_fails_loudly_and_the_others_are_applied(lambdas, partner):
    # Given an ISK card payment of ISK 500 with a Dashboard refund of ISK 100, and Stripe also showing a refund of
    # ISK 50.50 (no whole krona: never rounded)
    org = create_org(lambdas, partner, "Odd Krona ehf", currency="ISK")
    intent = pay(lambdas, top_up(lambdas, partner, org["id"], 500)[1])
    assert deliver(lambdas, stripe_event("payment_intent.succeeded", intent))[1]["outcome"] == "credited"
    stripe_client(lambdas.stripe.endpoint).v1.refunds.create({"payment_intent": intent["id"], "amount": 10_000})
    deps = Container(get_settings(), overrides={"stripe": _OneOddRefund(get_settings())})
    # When the refunds are read
    with pytest.raises(ValueError, match="not a whole number"):
        deps.card_money_back.sync(intent["id"], refunds=True, disputes=False)
    # Then the readable refund was applied, and the odd one was not
    assert balance(lambdas, partner, org) == 400
