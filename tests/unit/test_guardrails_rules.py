"""The automatic top-up's guardrails, pure (shared.domain.guardrails, shared.domain.settings): the amount a mode
asks for, what a monthly cap leaves of it, the failure count and its switch-off, and the PUT's rules for the new
fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.card_amounts import card_currency
from shared.domain.guardrails import (
    AutoCreditDay,
    AutoCreditLimit,
    after_failure,
    after_success,
    capped_amount,
    check_target_for_card,
    requested_amount,
    within_daily_limit,
)
from shared.domain.organization import OnlineTopUp, PaymentSettings
from shared.domain.settings import change_settings, customer_switch_only, online_top_up_settings, stripe_settings
from shared.errors import Conflict, Forbidden, Unprocessable
from shared.money import MINOR_UNITS

AT, T0 = "2026-11-21T00:00:00.000Z", "2026-11-01T00:00:00.000Z"
CURRENCIES = st.sampled_from(sorted(MINOR_UNITS))


def put(current: PaymentSettings, **fields):
    base = {"method": current.method, "trigger_amount": current.trigger_amount,
            "limit_threshold": current.limit_threshold, "auto_trigger": current.auto_trigger}
    return change_settings(current, at=AT, **(base | fields))


@given(st.integers(0, 10**9), st.integers(-10**9, 10**9), CURRENCIES)
def test_target_mode_asks_for_exactly_what_reaches_the_target_and_a_card_never_less(target, balance, currency):
    # Invariant: target mode asks for target - balance (never below 0); for a card, the smallest chargeable amount at
    # or above it (Stripe's multiple), within Stripe's maximum.
    settings = PaymentSettings(top_up_mode="target", target_balance=target, updated_at=T0)
    plain = requested_amount(settings, balance, currency, card=False)
    assert plain == max(target - balance, 0)
    card = requested_amount(settings, balance, currency, card=True)
    rules = card_currency(currency)
    if plain == 0:
        assert card == 0
    else:
        assert card % rules.multiple_of == 0 and card <= rules.maximum
        assert card >= plain or card == rules.maximum
        assert card - plain < rules.multiple_of or card == rules.maximum


def test_fixed_mode_asks_for_the_trigger_amount_whatever_the_balance():
    assert requested_amount(PaymentSettings(trigger_amount=5_000, updated_at=T0), -70, "SGD", card=True) == 5_000


@given(st.integers(1, 10**7), st.one_of(st.none(), st.integers(1, 10**7)), st.integers(0, 10**7), CURRENCIES,
       st.booleans())
def test_the_cap_leaves_at_most_what_is_left_and_a_card_nothing_below_stripes_minimum(requested, cap, used, currency,
                                                                                     card):
    # Invariant: used + amount never exceeds the cap; the amount is never above what was asked; a card's amount is
    # 0 or chargeable (at least Stripe's minimum, a multiple of its unit).
    amount = capped_amount(requested, cap, used, currency, card=card)
    assert 0 <= amount <= requested
    if cap is None:
        assert amount == requested
        return
    assert amount == 0 or used + amount <= cap
    rules = card_currency(currency)
    if card and amount:
        assert amount >= rules.minimum and amount % rules.multiple_of == 0
    if not card:
        assert amount == max(0, min(requested, cap - used))  # reduced to exactly what the cap leaves


def test_the_caps_last_cent_is_given_and_then_nothing():
    assert capped_amount(10_000, 29_999, 20_000, "SGD", card=False) == 9_999
    assert capped_amount(10_000, 29_999, 29_999, "SGD", card=False) == 0
    assert capped_amount(10_000, 30_040, 30_000, "SGD", card=True) == 0  # SGD 0.40 left: below Stripe's 0.50
    assert capped_amount(10_000, 30_050, 30_000, "SGD", card=True) == 50


@given(st.integers(1, 10), st.lists(st.booleans(), max_size=25))
def test_failures_in_a_row_switch_the_automatic_top_up_off_at_the_max(most, outcomes):
    # Invariant: auto_trigger goes off exactly when `most` failures come in a row; a success clears the count.
    settings = PaymentSettings(auto_trigger=True, trigger_amount=1, max_consecutive_failures=most, updated_at=T0)
    in_a_row = 0
    for failed in outcomes:
        if not settings.auto_trigger:
            break
        if failed:
            settings, switched = after_failure(settings, AT)
            in_a_row += 1
            assert switched == (in_a_row == most)
        else:
            settings, in_a_row = after_success(settings), 0
        assert settings.consecutive_failures == in_a_row
        assert settings.auto_trigger == (in_a_row < most)
        assert settings.disabled_reason == (None if in_a_row < most else "consecutive_failures")


def test_the_partners_day_holds_its_limit():
    limit = AutoCreditLimit(partner_id="p", currency="SGD", daily_limit=10_000, created_at=AT, updated_at=AT,
                            updated_by="a")
    day = AutoCreditDay(partner_id="p", currency="SGD", business_date="2026-11-21", total=6_000)
    assert within_daily_limit(None, day, 10**9) and within_daily_limit(limit, day, 4_000)
    assert not within_daily_limit(limit, day, 4_001) and within_daily_limit(limit, None, 10_000)


# --- the PUT's rules ------------------------------------------------------------------------------------------
def test_a_guardrail_left_out_keeps_its_value_and_null_removes_a_cap():
    current = PaymentSettings(method="master_account", trigger_amount=1_000, auto_trigger=True, monthly_cap=50_000,
                              max_consecutive_failures=5, updated_at=T0)
    kept = put(current, trigger_amount=2_000)
    assert (kept.trigger_amount, kept.monthly_cap, kept.max_consecutive_failures) == (2_000, 50_000, 5)
    assert put(current, monthly_cap=None).monthly_cap is None


@pytest.mark.parametrize("fields", [{"top_up_mode": "target"}, {"top_up_mode": "target", "target_balance": 1_000},
                                    {"top_up_mode": "target", "target_balance": 999}])
def test_target_mode_needs_a_target_above_the_threshold(fields):
    current = PaymentSettings(method="master_account", limit_threshold=1_000, updated_at=T0)
    with pytest.raises(Unprocessable) as refused:
        put(current, **fields)
    assert refused.value.code == "validation_error" and refused.value.details[0]["field"] == "target_balance"
    # and a trigger of 0 is fine in target mode, with auto_trigger on
    after = put(current, top_up_mode="target", target_balance=1_001, auto_trigger=True, trigger_amount=0)
    assert (after.top_up_mode, after.target_balance, after.trigger_amount) == ("target", 1_001, 0)


def test_a_fixed_mode_left_out_still_needs_a_trigger_when_auto():
    with pytest.raises(Unprocessable) as refused:
        put(PaymentSettings(method="master_account", updated_at=T0), auto_trigger=True)
    assert refused.value.details[0]["field"] == "trigger_amount"


def test_switching_auto_trigger_on_clears_what_the_system_recorded_and_nothing_else_does():
    off = PaymentSettings(method="master_account", trigger_amount=1_000, consecutive_failures=3,
                          disabled_reason="consecutive_failures", updated_at=T0)
    assert put(off, monthly_cap=9_000).disabled_reason == "consecutive_failures"  # still off: kept
    on = put(off, auto_trigger=True)
    assert (on.auto_trigger, on.consecutive_failures, on.disabled_reason) == (True, 0, None)
    counted = on.model_copy(update={"consecutive_failures": 2})
    assert put(counted, trigger_amount=3_000).consecutive_failures == 2  # staying on keeps the count


def test_stripes_mode_and_target_are_locked_like_its_amounts_but_its_cap_is_not():
    stripe = stripe_settings(2_000, 1_000, True, T0)
    for fields in ({"top_up_mode": "target", "target_balance": 5_000}, {"target_balance": 5_000}):
        with pytest.raises(Conflict) as refused:
            put(stripe, **fields)
        assert refused.value.code == "stripe_settings_locked"
    assert put(stripe, monthly_cap=10_000, max_consecutive_failures=1).monthly_cap == 10_000
    # a customer's own admin may only switch: any guardrail is the partner's (403)
    with pytest.raises(Forbidden):
        customer_switch_only(stripe, "stripe", 2_000, 1_000, monthly_cap=10_000)
    customer_switch_only(stripe, "stripe", 2_000, 1_000, max_consecutive_failures=3)  # unchanged: allowed


def test_an_online_top_ups_success_keeps_the_organizations_guardrails():
    current = PaymentSettings(method="master_account", trigger_amount=1, monthly_cap=40_000,
                              max_consecutive_failures=2, consecutive_failures=2,
                              disabled_reason="consecutive_failures", updated_at=T0)
    record = OnlineTopUp(id="otu_1", org_id="org_1", partner_id="p", amount=5_000, currency="SGD", trigger_amount=0,
                         limit_threshold=1_000, auto_trigger=True, top_up_mode="target", target_balance=8_000,
                         customer_id="cus_1", payment_intent_id="pi_1", created_at=AT, created_by="a", updated_at=AT)
    after = online_top_up_settings(current, record, AT)
    assert after.model_dump() == {
        "method": "stripe", "trigger_amount": 0, "limit_threshold": 1_000, "auto_trigger": True,
        "top_up_mode": "target", "target_balance": 8_000, "monthly_cap": 40_000, "max_consecutive_failures": 2,
        "consecutive_failures": 0, "disabled_reason": None, "updated_at": AT}
    # the old call still compiles and answers what it did
    assert stripe_settings(2_000, 1_000, True, T0) == PaymentSettings(
        method="stripe", trigger_amount=2_000, limit_threshold=1_000, auto_trigger=True, updated_at=T0)


@pytest.mark.parametrize(("target", "code"), [(None, "validation_error"), (1_000, "validation_error"),
                                              (1_049, "card_amount_not_allowed"),
                                              (1_000 + 100_000_000, "card_amount_not_allowed")])
def test_an_online_top_ups_target_must_be_chargeable_from_the_threshold(target, code):
    with pytest.raises(Unprocessable) as refused:
        check_target_for_card("target", target, 1_000, "SGD")
    assert refused.value.code == code and refused.value.details[0]["field"] == "target_balance"
    check_target_for_card("target", 1_050, 1_000, "SGD")  # SGD 0.50 from the threshold: Stripe's minimum
