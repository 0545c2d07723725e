"""Integer money in minor units, one ISO-4217 currency per record. No floats anywhere."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, ValidationInfo
from pydantic_core import PydanticCustomError

# ISO 4217 currencies accepted by the service, with their minor-unit digits (exponent).
MINOR_UNITS: dict[str, int] = {
    "AED": 2, "AUD": 2, "BDT": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2,
    "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0,
    "JOD": 3, "JPY": 0, "KES": 2, "KRW": 0, "KWD": 3, "LKR": 2, "MXN": 2, "MYR": 2, "NGN": 2, "NOK": 2,
    "NZD": 2, "OMR": 3, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2,
    "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UGX": 0, "USD": 2, "VND": 0, "XAF": 0, "XOF": 0, "ZAR": 2,
}  # fmt: skip

# No single amount may exceed 10^15 minor units: far above any real payment, and well inside
# the 2^53 integers that JSON clients (JavaScript) represent exactly.
MAX_AMOUNT = 10**15


def _known_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError("must be an upper-case ISO-4217 code this service supports, for example 'SGD'")
    return code


def _minor_units(value: object, info: ValidationInfo) -> object:
    """Every money field: a decimal or a string is refused with a word of minor units (issue 26), not pydantic's
    bare "Input should be a valid integer"; an integer goes on to StrictInt and its bounds."""
    if isinstance(value, float | str):
        raise PydanticCustomError(
            "minor_units", "{field} must be an integer number of minor units (cents), not {value}: "
                           "125.50 SGD is 12550", {"field": info.field_name or "amount", "value": repr(value)})
    return value


MinorUnits = BeforeValidator(_minor_units)
Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["SGD"],
                                json_schema_extra={"enum": sorted(MINOR_UNITS)}), AfterValidator(_known_currency)]
# (the validator after the bounds: their JSON Schema stays standard, `exclusiveMinimum`, not pydantic's raw `gt`)
PositiveAmount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT, description="Minor units, > 0"), MinorUnits]
NonNegativeAmount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT, description="Minor units, >= 0"), MinorUnits]


# Stripe's largest amount (8 digits); what the service asks Stripe to charge stays within it.
STRIPE_MAX_AMOUNT = 99_999_999
StripeAmount = Annotated[StrictInt, Field(gt=0, le=STRIPE_MAX_AMOUNT, description="Minor units, > 0, Stripe's maximum"),
                         MinorUnits]
StripeTrigger = Annotated[StrictInt, Field(ge=0, le=STRIPE_MAX_AMOUNT, description="Minor units charged off-session"),
                          MinorUnits]


def format_amount(amount: int, currency: str) -> str:
    """Human form for messages and audit text: format_amount(12550, 'SGD') == 'SGD 125.50'."""
    digits = MINOR_UNITS[currency]
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**digits)
    return f"{currency} {sign}{whole}" + (f".{frac:0{digits}d}" if digits else "")
