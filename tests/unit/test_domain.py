"""Pure rules: payment settings, payment edits and deletes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.organization import PaymentSettings
from shared.domain.payment import Allocation, Payment
from shared.domain.payments import (
    apply_patch,
    check_deletable,
    check_received_date,
    check_version,
    parse_if_match,
)
from shared.domain.settings import change_settings, default_settings
from shared.errors import Conflict, PreconditionFailed, Unprocessable

AT = "2026-11-21T00:00:00.000Z"


def settings(method="cheque_or_tt", trigger=0, threshold=0, auto=False):
    return PaymentSettings(method=method, trigger_amount=trigger, limit_threshold=threshold, auto_trigger=auto,
                           updated_at=AT)


def change(current, method, trigger, threshold, auto):
    return change_settings(current, method=method, trigger_amount=trigger, limit_threshold=threshold,
                           auto_trigger=auto, at=AT)


def test_new_organization_defaults():
    assert default_settings(AT).model_dump(exclude={"updated_at"}) == {
        "method": "cheque_or_tt", "trigger_amount": 0, "limit_threshold": 0, "auto_trigger": False,
        "top_up_mode": "fixed", "target_balance": None, "monthly_cap": None, "max_consecutive_failures": 3,
        "consecutive_failures": 0, "disabled_reason": None}


@pytest.mark.parametrize("current", ["cheque_or_tt", "master_account"])
def test_stripe_cannot_be_chosen_by_hand(current):
    with pytest.raises(Conflict) as err:
        change(settings(current), "stripe", 100, 10, True)
    assert err.value.code == "stripe_set_by_online_top_up"


def test_stripe_values_are_locked_but_switch_and_method_change_are_allowed():
    stripe = settings("stripe", 20_000, 5_000, True)
    for trigger, threshold in ((20_001, 5_000), (20_000, 4_999)):
        with pytest.raises(Conflict) as err:
            change(stripe, "stripe", trigger, threshold, True)
        assert err.value.code == "stripe_settings_locked"
    assert change(stripe, "stripe", 20_000, 5_000, False).auto_trigger is False
    moved = change(stripe, "master_account", 1, 0, True)
    assert (moved.method, moved.trigger_amount, moved.limit_threshold) == ("master_account", 1, 0)


def payment(amount=10_000, allocated=0, version=3):
    allocations = [Allocation(invoice_id="inv_x", kind="invoice", amount=allocated, allocated_at=AT)
                   ] if allocated else []
    return Payment(id="pay_x", partner_id="ptn_a", org_id="org_x", amount=amount, currency="SGD",
                   received_date="2026-11-01", method="cheque", allocations=allocations, created_at=AT,
                   created_by="a", updated_at=AT, version=version)


@given(st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6))
def test_amount_never_goes_below_allocated(amount, allocated, new_amount):
    # Invariant: after any accepted edit, allocated <= amount.
    if allocated > amount:
        return
    p = payment(amount, allocated)
    try:
        edited, diff = apply_patch(p, {"amount": new_amount}, AT)
    except Conflict as err:
        assert err.code == "amount_below_allocated" and new_amount < allocated
        return
    assert edited.allocated_amount <= edited.amount
    assert (edited.version == p.version + 1) == bool(diff)


def test_unchanged_patch_is_a_no_op():
    p = payment()
    edited, diff = apply_patch(p, {"amount": p.amount, "method": "cheque"}, AT)
    assert edited is p and diff == {}


@pytest.mark.parametrize(("header", "expected"), [(None, None), ("3", 3), ('"3"', 3), ('W/"3"', 3)])
def test_if_match_forms(header, expected):
    assert parse_if_match(header) == expected


@pytest.mark.parametrize("header", ["abc", "", '"-1"', "1.0", "9" * 20])
def test_unreadable_if_match_is_a_failed_precondition(header):
    with pytest.raises(PreconditionFailed):
        parse_if_match(header)


def test_stale_version_is_refused():
    check_version(payment(version=3), 3)
    check_version(payment(version=3), None)
    with pytest.raises(PreconditionFailed):
        check_version(payment(version=3), 2)


def test_allocated_payment_cannot_be_deleted():
    check_deletable(payment())
    with pytest.raises(Conflict) as err:
        check_deletable(payment(allocated=1))
    assert err.value.code == "payment_has_allocations"


def test_received_date_may_not_be_in_the_future():
    today = date(2026, 11, 21)
    check_received_date("2026-11-22", today)  # a partner one time zone ahead
    with pytest.raises(Unprocessable):
        check_received_date("2026-11-23", today)


def test_date_ranges_may_not_run_backwards():
    from shared.domain.payments import check_date_range

    check_date_range("2026-11-01", "2026-11-01", "issued")
    check_date_range(None, "2026-11-01", "issued")
    with pytest.raises(Unprocessable) as err:
        check_date_range("2026-11-02", "2026-11-01", "received")
    assert err.value.code == "invalid_date_range"


def test_business_date_is_the_utc_date_of_the_event_time():
    from shared.domain.attempt import business_date_of

    assert business_date_of("2026-11-21T23:59:59Z") == "2026-11-21"
    assert business_date_of("2026-11-22T07:30:00+08:00") == "2026-11-21"
    with pytest.raises(ValueError):
        business_date_of("2026-11-21T01:00:00")

