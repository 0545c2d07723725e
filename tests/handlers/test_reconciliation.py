"""The reconciliation (issue 11; contract "Card refunds and disputes (Stripe)": a card charge whose webhook never
arrives is not left pending): ReconcileFunction invoked as its schedule invokes it, against the local Stripe and
DynamoDB Local. The local Stripe records its events and delivers none (these tests deliver them, or drop them).

Invariants named here:
  RC1  what waited over 15 minutes for its webhook is settled by one run, exactly as the webhook would have; the
       late webhook then credits nothing.
  RC2  two runs at once settle it once.
  RC3  Stripe not answering leaves it waiting, and the next run settles it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.process import free_port
from shared.auth import Principal
from shared.container import Container
from shared.models import RefundIn
from shared.repositories.stripe_pending import ids_of
from shared.settings import get_settings
from shared.stripe_gateway import PaymentProviderError
from tests.conftest import load_event
from tests.handlers.conftest import NO_KEY, admin, balance, create_org
from tests.handlers.stripe_support import (
    business_state,
    card_customer,
    deliver,
    pay,
    run_worker,
    start_top_up,
    stripe_events,
    the_payment,
)

RECONCILE = "ReconcileFunction"


def reconcile(lambdas, after: timedelta = timedelta(minutes=16)) -> dict[str, Any]:
    """One scheduled run, `after` from now (its event's time decides what is old enough)."""
    when = (datetime.now(UTC) + after).isoformat(timespec="seconds").replace("+00:00", "Z")
    return lambdas.host.invoke(RECONCILE, load_event("reconcile/scheduled.json") | {"time": when})


def waiting_ids(after: timedelta = timedelta(minutes=16)) -> set[str]:
    """The ids of what the pending index has due for a look `after` from now (what a run then would look at)."""
    until = (datetime.now(UTC) + after).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    records = Container(get_settings()).stripe_pending.due(until=until, limit=10_000)
    return {"/".join(ids_of(r)) if not hasattr(r, "id") else r.id for r in records}


def a_paid_top_up_without_its_webhook(lambdas, partner) -> tuple[dict, dict]:
    """An online top-up of SGD 50.00 the customer paid by card; its webhook never arrived."""
    org = create_org(lambdas, partner, f"Quiet Co {datetime.now(UTC).timestamp()}")
    top_up = start_top_up(lambdas, partner, org["id"], amount=5_000)
    intent = pay(lambdas, top_up)
    assert intent["status"] == "succeeded"
    return org, top_up


def top_up_status(lambdas, partner, org_id: str) -> str:
    [record] = business_state(lambdas, org_id)["online_top_ups"]
    return str(record["status"])


def test_rc1_a_top_up_whose_webhook_never_came_is_settled_by_one_run_and_the_late_webhook_credits_nothing(
        lambdas, partner):
    # Given a paid online top-up whose webhook was lost
    org, top_up = a_paid_top_up_without_its_webhook(lambdas, partner)
    # When the reconciliation runs before it is 15 minutes old
    reconcile(lambdas, after=timedelta(minutes=5))
    # Then it is left for its webhook
    assert (balance(lambdas, partner, org), top_up_status(lambdas, partner, org["id"])) == (0, "requires_payment")
    assert top_up["id"] in waiting_ids()
    # When a run comes after 15 minutes
    result = reconcile(lambdas)
    # Then it is settled, as its webhook would have: the payment, the wallet credit, the settings chosen
    assert result["outcomes"].get("credited", 0) >= 1, result
    assert balance(lambdas, partner, org) == 5_000
    assert top_up_status(lambdas, partner, org["id"]) == "succeeded"
    payment = the_payment(lambdas, partner, org["id"])
    assert (payment["method"], payment["reference"], payment["amount"]) == ("stripe", top_up["payment_intent_id"],
                                                                            5_000)
    settings = lambdas.accounts("get_payment_settings", path={"org_id": org["id"]}, **admin(partner))[1]
    assert (settings["method"], settings["trigger_amount"]) == ("stripe", 2_000)
    settled = business_state(lambdas, org["id"])
    assert top_up["id"] not in waiting_ids()  # settled, it left the pending index
    # When the late webhook arrives after all, twice
    [late] = stripe_events(top_up["payment_intent_id"], "payment_intent.succeeded")
    assert [deliver(lambdas, late)[1]["outcome"] for _ in range(2)] == ["already_credited"] * 2
    # Then it credited nothing, and the next run finds nothing left to do for it
    reconcile(lambdas)
    assert business_state(lambdas, org["id"]) == settled


def test_rc1_an_automatic_card_charge_whose_webhook_never_came_is_settled_once(lambdas, partner):
    # Given a customer with a saved card (stripe, trigger SGD 20.00 at threshold SGD 10.00), its wallet spent to 5.00
    org_id, _ = card_customer(lambdas, partner)
    assert lambdas.accounts("debit_wallet", path={"org_id": org_id}, body={"amount": 4_500, "reference": "usage"},
                            headers=NO_KEY, **admin(partner))[0] == 201
    # And the daily top-up charged the card, and the charge's webhook never came
    assert run_worker(lambdas, org_id, "2031-05-01")["batchItemFailures"] == []
    [attempt] = business_state(lambdas, org_id)["attempts"]
    assert attempt["status"] == "charge_pending"
    assert f"{org_id}/2031-05-01" in waiting_ids()
    # When the reconciliation runs 16 minutes later
    reconcile(lambdas)
    # Then the attempt is credited once and the wallet holds its SGD 20.00
    state = business_state(lambdas, org_id)
    assert [a["status"] for a in state["attempts"]] == ["credited"]
    assert balance(lambdas, partner, {"id": org_id}) == 2_500
    assert f"{org_id}/2031-05-01" not in waiting_ids()
    # And the late webhook credits nothing
    payments = lambdas.payments("list_payments", query={"org_id": org_id}, **admin(partner))[1]["items"]
    charge = next(p for p in payments if p["amount"] == 2_000)["reference"]
    [late] = stripe_events(charge, "payment_intent.succeeded")
    assert deliver(lambdas, late)[1]["outcome"] == "already_credited"
    assert business_state(lambdas, org_id) == state


def test_rc2_two_runs_at_once_settle_once(lambdas, partner):
    # Given two paid online top-ups whose webhooks were lost
    orgs = [a_paid_top_up_without_its_webhook(lambdas, partner)[0] for _ in range(2)]
    # When three runs of the reconciliation start at the same moment
    results: list[dict] = []
    runs = [threading.Thread(target=lambda: results.append(reconcile(lambdas))) for _ in range(3)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    # Then each top-up was credited exactly once
    for org in orgs:
        state = business_state(lambdas, org["id"])
        assert state["wallet"] == (5_000, 1)
        assert (len(state["payments"]), state["credited_payment_intents"]) == (1, 1)
    assert sum(r["outcomes"].get("credited", 0) for r in results) >= 2


def stripe_down() -> Container:
    """The functions' own code and settings, with Stripe unreachable (nothing listens on its port)."""
    return Container(get_settings().model_copy(update={"stripe_api_base": f"http://127.0.0.1:{free_port()}"}))


def test_rc3_stripe_down_leaves_the_work_waiting_and_the_next_run_does_it(lambdas, partner):
    # Given a paid online top-up whose webhook was lost, and an automatic charge whose call never reached Stripe
    org, top_up = a_paid_top_up_without_its_webhook(lambdas, partner)
    card_org, _ = card_customer(lambdas, partner)
    assert lambdas.accounts("debit_wallet", path={"org_id": card_org}, body={"amount": 4_500, "reference": "usage"},
                            headers=NO_KEY, **admin(partner))[0] == 201
    down = stripe_down()
    with pytest.raises(PaymentProviderError):  # the worker's delivery fails; SQS would retry it
        down.auto_top_up.top_up(card_org, "2031-05-02")
    [attempt] = business_state(lambdas, card_org)["attempts"]
    assert (attempt["status"], "payment_intent_id" in attempt) == ("charge_pending", False)
    # When the reconciliation runs while Stripe does not answer
    when = (datetime.now(UTC) + timedelta(minutes=16)).isoformat(timespec="seconds").replace("+00:00", "Z")
    result = down.reconciliation.run(when).model_dump()
    # Then nothing was settled: both wait, counted as Stripe being unavailable
    assert result["outcomes"].get("stripe_unavailable", 0) >= 2, result
    assert (balance(lambdas, partner, org), top_up_status(lambdas, partner, org["id"])) == (0, "requires_payment")
    assert [a["status"] for a in business_state(lambdas, card_org)["attempts"]] == ["charge_pending"]
    # And their next look is put off 15 minutes
    assert top_up["id"] not in waiting_ids(timedelta(minutes=16)) and top_up["id"] in waiting_ids(timedelta(minutes=32))
    # When the run of that next look finds Stripe up
    reconcile(lambdas, after=timedelta(minutes=32))
    # Then the top-up is credited, and the charge was made (the identical request) and credited, once each
    assert balance(lambdas, partner, org) == 5_000
    state = business_state(lambdas, card_org)
    assert [a["status"] for a in state["attempts"]] == ["credited"]
    assert balance(lambdas, partner, {"id": card_org}) == 2_500
    assert state["credited_payment_intents"] == 2  # the online top-up's and the automatic charge's


def test_a_refund_whose_answer_never_came_is_asked_again_identically_and_settled(lambdas, partner):
    # Given a card payment, and a refund of SGD 20.00 whose call to Stripe never got through
    from tests.handlers.stripe_support import card_payment
    from tests.stripe_console import stripe_client

    org, payment = card_payment(lambdas, partner)
    down = stripe_down()
    finance = Principal(sub="admin@example.com", partner_id=partner, groups=frozenset({"finance-admin"}))
    with pytest.raises(PaymentProviderError) as unavailable:
        down.card_money_back.request_refund(finance, payment["id"], RefundIn(amount=2_000), "refund-1")
    # Then it is answered 503 (Stripe not reached), and the refund waits pending, its amount held: no other debit
    # may spend it (the same key, or the reconciliation, asks Stripe again)
    assert (unavailable.value.code, unavailable.value.sent) == ("payment_provider_unavailable", False)
    wallet = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **admin(partner))[1]
    assert (wallet["balance"], wallet["refund_held"]) == (5_000, 2_000)
    [pending] = lambdas.allocation("list_refunds", path={"payment_id": payment["id"]}, **admin(partner))[1]["items"]
    assert (pending["status"], pending["stripe_refund_id"]) == ("pending", None)
    spend = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, body={"amount": 3_001, "reference": "u"},
                             headers=NO_KEY, **admin(partner))
    assert (spend[0], spend[1]["error"]["code"]) == (409, "insufficient_balance")
    # When the reconciliation runs
    reconcile(lambdas)
    # Then Stripe was asked once, with our refund id, and the wallet debited once
    made = stripe_client(lambdas.stripe.endpoint).v1.refunds.list({"payment_intent": payment["reference"]}).data
    assert [(r.amount, r.metadata["refund_id"]) for r in made] == [(2_000, pending["id"])]
    [done] = lambdas.allocation("list_refunds", path={"payment_id": payment["id"]}, **admin(partner))[1]["items"]
    assert (done["status"], done["stripe_refund_id"]) == ("succeeded", made[0].id)
    assert balance(lambdas, partner, org) == 3_000
    # And its webhook, arriving now, changes nothing
    for event in stripe_events(payment["reference"], "charge.refunded"):
        assert deliver(lambdas, event)[1]["outcome"] == "already_applied"
    assert balance(lambdas, partner, org) == 3_000


def test_a_top_up_never_paid_is_looked_at_later_and_later_and_crowds_out_nothing(lambdas, partner):
    # Given an online top-up the customer never paid
    org = create_org(lambdas, partner, f"Abandoned Co {datetime.now(UTC).timestamp()}")
    top_up = start_top_up(lambdas, partner, org["id"], amount=1_000)
    assert top_up["id"] in waiting_ids()
    # When a run looks at it
    assert reconcile(lambdas)["outcomes"].get("still_pending", 0) >= 1
    # Then its next look is later: not due again at once, but within the next half hour
    assert top_up["id"] not in waiting_ids(timedelta(minutes=16))
    assert top_up["id"] in waiting_ids(timedelta(minutes=32))
    # And after 3 days of looks it is no longer looked at (finance sees it as it is)
    for hours in (1, 3, 8, 20, 40, 73):
        reconcile(lambdas, after=timedelta(hours=hours))
    assert top_up["id"] not in waiting_ids(timedelta(days=30))
    assert top_up_status(lambdas, partner, org["id"]) == "requires_payment"


def test_what_never_reached_stripe_is_not_resent_once_stripes_key_may_be_gone(lambdas, partner):
    # Given a card payment, a refund asked for while Stripe was down, and an automatic charge that never got through
    from tests.handlers.stripe_support import card_payment
    from tests.stripe_console import stripe_client

    org, payment = card_payment(lambdas, partner)
    down = stripe_down()
    finance = Principal(sub="admin@example.com", partner_id=partner, groups=frozenset({"finance-admin"}))
    with pytest.raises(PaymentProviderError):
        down.card_money_back.request_refund(finance, payment["id"], RefundIn(amount=1_500), "refund-1")
    card_org, _ = card_customer(lambdas, partner)
    assert lambdas.accounts("debit_wallet", path={"org_id": card_org}, body={"amount": 4_500, "reference": "usage"},
                            headers=NO_KEY, **admin(partner))[0] == 201
    with pytest.raises(PaymentProviderError):
        down.auto_top_up.top_up(card_org, "2031-05-03")
    # When the first run that looks at them comes a day later (Stripe keeps idempotency keys 24 hours)
    reconcile(lambdas, after=timedelta(hours=24))
    # Then neither is sent again: the refund failed `not_sent`, its hold released, the wallet untouched
    [refund_] = lambdas.allocation("list_refunds", path={"payment_id": payment["id"]}, **admin(partner))[1]["items"]
    assert (refund_["status"], refund_["failure_reason"]) == ("failed", "not_sent")
    wallet = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **admin(partner))[1]
    assert (wallet["balance"], wallet["refund_held"]) == (5_000, 0)
    client = stripe_client(lambdas.stripe.endpoint)
    assert client.v1.refunds.list({"payment_intent": payment["reference"]}).data == []
    # And the charge failed `charge_unconfirmed`, with no PaymentIntent made for it
    [attempt] = business_state(lambdas, card_org)["attempts"]
    assert (attempt["status"], attempt["reason"]) == ("failed", "charge_unconfirmed")
    assert balance(lambdas, partner, {"id": card_org}) == 500
