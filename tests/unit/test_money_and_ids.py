"""Money is integer minor units in a known ISO-4217 currency; ids are prefixed and time-sortable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shared.ids import is_id, new_id
from shared.money import MAX_AMOUNT, MINOR_UNITS, Currency, PositiveAmount, format_amount

amount = TypeAdapter(PositiveAmount)
currency = TypeAdapter(Currency)


@given(st.integers(min_value=1, max_value=MAX_AMOUNT))
def test_every_positive_integer_up_to_the_cap_is_an_amount(value):
    assert amount.validate_python(value) == value


@pytest.mark.parametrize("bad", [0, -1, MAX_AMOUNT + 1, 10**18, 1.0, 12.5, "100", True, None, float("nan")])
def test_zero_negative_absurd_float_string_and_bool_amounts_are_refused(bad):
    with pytest.raises(ValidationError):
        amount.validate_python(bad)


def test_json_float_is_refused_even_when_whole():
    # Invariant: no float ever enters the money path, not even 100.0.
    with pytest.raises(ValidationError):
        amount.validate_json("100.0")
    assert amount.validate_json("100") == 100


@pytest.mark.parametrize("code", ["sgd", "Sgd", "XYZ", "SG", "SGDD", "", "12$"])
def test_wrong_case_or_unknown_currency_is_refused(code):
    with pytest.raises(ValidationError):
        currency.validate_python(code)


@pytest.mark.parametrize(("value", "code", "text"), [
    (12_550, "SGD", "SGD 125.50"), (5, "USD", "USD 0.05"), (-1_234, "EUR", "EUR -12.34"),
    (1_000, "JPY", "JPY 1000"), (1_234_567, "BHD", "BHD 1234.567"), (0, "KWD", "KWD 0.000"),
])
def test_format_uses_each_currencys_minor_units(value, code, text):
    assert format_amount(value, code) == text


@given(st.sampled_from(sorted(MINOR_UNITS)), st.integers(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT))
def test_formatting_loses_no_minor_unit(code, value):
    # Invariant: the formatted text parses back to exactly the same integer amount.
    text = format_amount(value, code).split(" ", 1)[1]
    assert int(text.replace(".", "")) == value


@given(st.lists(st.integers(min_value=0, max_value=2**47), min_size=2, max_size=20, unique=True))
def test_ids_sort_by_creation_time(times):
    ids = [new_id("pay", now_ms=t) for t in times]
    assert [i for _, i in sorted(zip(times, ids, strict=True))] == sorted(ids)
    assert all(is_id(i, "pay") and not is_id(i, "org") for i in ids)


def test_unknown_prefix_is_refused():
    with pytest.raises(ValueError):
        new_id("xyz")
