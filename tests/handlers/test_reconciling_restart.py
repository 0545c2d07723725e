"""Issue 25, finding 5, through the reconciliation (ReconcileFunction's service and the pending index it reads,
against the local Stripe and DynamoDB Local): a payment whose refund waited, was looked at several times and
settled keeps no schedule for its next refund.

Invariant R1 (see tests/unit/test_reconciling_schedule.py): a new wait is first due 15 minutes after it began, and
its first look that finds it still waiting puts the next one 15 minutes later.
"""

from __future__ import annotations

from datetime import timedelta

from shared.auth import Principal
from shared.models import RefundIn
from shared.stripe_gateway import PaymentProviderError
from tests.handlers.conftest import admin, balance
from tests.handlers.stripe_support import card_payment
from tests.handlers.test_reconciliation import reconcile, stripe_down, waiting_ids


def run_down(down, after: timedelta) -> dict:
    """One run of the reconciliation `after` from now, while Stripe does not answer."""
    from datetime import UTC, datetime

    return down.reconciliation.run((datetime.now(UTC) + after).isoformat(timespec="seconds").replace("+00:00",
                                                                                                    "Z")).model_dump()


def refund_while_stripe_is_down(lambdas, down, partner: str, payment_id: str, key: str) -> None:
    """A refund of SGD 10.00 asked for while Stripe does not answer: it waits `pending`, its amount held (answered
    202 pending, or 503 when Stripe was not reached at all)."""
    finance = Principal(sub="admin@example.com", partner_id=partner, groups=frozenset({"finance-admin"}))
    try:
        down.card_money_back.request_refund(finance, payment_id, RefundIn(amount=1_000), key)
    except PaymentProviderError:
        pass
    status, refunds = lambdas.allocation("list_refunds", path={"payment_id": payment_id}, **admin(partner))
    assert status == 200 and refunds["items"][-1]["status"] == "pending", refunds


def test_r1_a_second_refund_is_first_due_15_minutes_after_it_began_whatever_the_first_ones_looks(lambdas, partner):
    # Given a card payment of SGD 50.00, and a refund of SGD 10.00 asked for while Stripe was down (pending)
    org, payment = card_payment(lambdas, partner)
    down = stripe_down()
    refund_while_stripe_is_down(lambdas, down, partner, payment["id"], "refund-1")
    # And the reconciliation looked at it four times while Stripe stayed down (its next look then 2 hours off)
    for minutes in (16, 32, 63, 124):
        assert run_down(down, timedelta(minutes=minutes))["outcomes"].get("stripe_unavailable", 0) >= 1
    assert payment["id"] not in waiting_ids(timedelta(minutes=240))
    assert payment["id"] in waiting_ids(timedelta(minutes=245))
    # And then a run with Stripe up settled it: the payment waits for nothing
    reconcile(lambdas, after=timedelta(minutes=245))
    assert payment["id"] not in waiting_ids(timedelta(days=30))
    assert balance(lambdas, partner, org) == 4_000
    # When a second refund is asked for (Stripe down again), long after the first began
    refund_while_stripe_is_down(lambdas, down, partner, payment["id"], "refund-2")
    # Then it is first due 15 minutes after it began (before the fix: only at the first refund's next look, 4 hours
    # after that one began)
    assert payment["id"] not in waiting_ids(timedelta(minutes=14))
    assert payment["id"] in waiting_ids(timedelta(minutes=16))
    # When that first look finds it still waiting
    assert run_down(down, timedelta(minutes=16))["outcomes"].get("stripe_unavailable", 0) >= 1
    # Then its next look is 15 minutes later (a fresh count), not 4 or 6 hours
    assert payment["id"] not in waiting_ids(timedelta(minutes=30))
    assert payment["id"] in waiting_ids(timedelta(minutes=32))
    # And the run then, with Stripe up, settles it
    reconcile(lambdas, after=timedelta(minutes=32))
    assert payment["id"] not in waiting_ids(timedelta(days=30))
    assert balance(lambdas, partner, org) == 3_000
