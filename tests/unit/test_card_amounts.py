"""Card amounts at Stripe (shared.domain.card_amounts), held against the local Stripe's own reading of Stripe's
currencies page (local.stripe.STRIPE_CURRENCY_RULES: written apart, so that a mismatch between the two fails here).

Invariants:
  CA1  every amount this service accepts for a card, sent to Stripe in Stripe's units, is one Stripe takes (its
       decimals, its minimum, its multiple, its 8 digits), and read back from Stripe it is exactly the amount
       asked for: what Stripe charges is what the wallet is credited, in every supported currency;
  CA2  an amount Stripe could not take is refused with the contract's detail, never rounded.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.stripe import STRIPE_CURRENCY_RULES, STRIPE_MAX_AMOUNT
from shared.domain.card_amounts import (
    CARD_CURRENCIES,
    STRIPE_MAX,
    check_chargeable,
    check_refundable,
    from_stripe,
    to_stripe,
)
from shared.errors import Unprocessable
from shared.money import MINOR_UNITS


def test_every_supported_currency_has_its_card_rules_and_the_local_stripe_knows_it():
    assert set(CARD_CURRENCIES) == set(MINOR_UNITS) <= set(STRIPE_CURRENCY_RULES)
    assert STRIPE_MAX == STRIPE_MAX_AMOUNT


@pytest.mark.parametrize("code", sorted(MINOR_UNITS))
def test_the_local_stripe_takes_this_services_smallest_and_largest_charge(code):
    # Given the currency's rules here and at the local Stripe
    rules, (decimals, stripe_minimum, stripe_multiple) = CARD_CURRENCIES[code], STRIPE_CURRENCY_RULES[code]
    # Then both count the same decimals at Stripe, and the bounds here fall inside Stripe's
    assert rules.stripe_decimals == decimals
    assert to_stripe(rules.minimum, code) >= stripe_minimum
    assert to_stripe(rules.maximum, code) <= STRIPE_MAX_AMOUNT
    assert to_stripe(rules.multiple_of, code) % stripe_multiple == 0
    # And the maximum is the largest such amount (one multiple more is beyond Stripe's 8 digits)
    assert to_stripe(rules.maximum + rules.multiple_of, code) > STRIPE_MAX_AMOUNT


@st.composite
def chargeable(draw: st.DrawFn) -> tuple[str, int]:
    code = draw(st.sampled_from(sorted(CARD_CURRENCIES)))
    rules = CARD_CURRENCIES[code]
    steps = draw(st.integers(rules.minimum // rules.multiple_of + (rules.minimum % rules.multiple_of > 0),
                             rules.maximum // rules.multiple_of))
    return code, steps * rules.multiple_of


@settings(max_examples=500, deadline=None)
@given(case=chargeable())
def test_ca1_what_stripe_is_asked_for_converted_back_is_exactly_the_amount(case):
    code, amount = case
    check_chargeable({"amount": amount}, code)  # accepted here
    sent = to_stripe(amount, code)
    _, stripe_minimum, stripe_multiple = STRIPE_CURRENCY_RULES[code]
    # Then Stripe takes it (CA1)...
    assert stripe_minimum <= sent <= STRIPE_MAX_AMOUNT and sent % stripe_multiple == 0
    # ...and what it then shows (amount_received, in either case of the currency) reads back as the amount
    assert from_stripe(sent, code.lower()) == from_stripe(sent, code) == amount


@pytest.mark.parametrize(("code", "amount", "minimum", "maximum", "multiple"), [
    ("SGD", 30, 50, 99_999_999, 1),  # SGD 0.30, below Stripe's SGD 0.50
    ("ISK", 149, 150, 999_999, 1),  # ISK is two-decimal at Stripe: ISK 999,999 is its 8 digits
    ("ISK", 1_000_000, 150, 999_999, 1),
    ("KWD", 1_005, 310, 99_999_990, 10),  # three-decimal: must end in 0
    ("JPY", 49, 50, 99_999_999, 1),
])
def test_ca2_what_stripe_cannot_charge_is_refused_with_its_bounds(code, amount, minimum, maximum, multiple):
    with pytest.raises(Unprocessable) as refused:
        check_chargeable({"amount": 10**9, "trigger_amount": amount}, code)
    assert refused.value.code == "card_amount_not_allowed"
    details = [{k: v for k, v in d.items() if k != "message"} for d in refused.value.details]
    assert details == [
        {"field": "amount", "currency": code, "minimum": minimum, "maximum": maximum, "multiple_of": multiple},
        {"field": "trigger_amount", "currency": code, "minimum": minimum, "maximum": maximum, "multiple_of": multiple}]


def test_a_refund_has_no_minimum_but_stripes_multiple():
    check_refundable(1, "SGD")
    check_refundable(10, "KWD")
    with pytest.raises(Unprocessable) as refused:
        check_refundable(15, "KWD")
    assert refused.value.details[0]["minimum"] == 10 and refused.value.details[0]["multiple_of"] == 10


def test_isk_is_a_hundred_stripe_units_a_krona_and_a_fraction_is_never_rounded():
    assert (to_stripe(500, "ISK"), from_stripe(50_000, "isk")) == (50_000, 500)
    with pytest.raises(ValueError, match="not a whole number"):
        from_stripe(50_050, "ISK")
