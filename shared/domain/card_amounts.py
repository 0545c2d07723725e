"""Card amounts as Stripe takes them (pure): this service's ISO 4217 minor units <-> Stripe's amount, and the
amounts Stripe can charge in each currency.

Stripe takes an amount in the currency's smallest unit, with the special cases of its currencies page
(docs.stripe.com/currencies), read for every currency this service supports (shared.money.MINOR_UNITS):
  - ISK has no minor unit in ISO 4217 but is two-decimal at Stripe, whole krónur only: ISK 5 is Stripe's 500;
  - zero-decimal at Stripe as in ISO (CLP, JPY, KRW, UGX, VND, XAF, XOF): the same integer;
  - three-decimal (BHD, JOD, KWD, OMR, TND): the same integer, but it must end in 0 (a multiple of 10 fils);
  - HUF and TWD charge as two-decimal (only their payouts are whole units): the same integer;
  - every other currency is two-decimal, as in ISO: the same integer.
Stripe's amount is at most 8 digits (99,999,999 in its units), and each currency has a minimum charge: Stripe's
table where it lists the currency (USD 0.50, GBP 0.30, HKD 4.00, JPY 50, ...); elsewhere Stripe asks for the
equivalent of USD 0.50 at the day's rate, and this service asks for about USD 1.00 (a round amount), so that a
move of the rate never makes Stripe refuse what was accepted here (docs/decisions.md).

An amount is never rounded: one Stripe cannot take is refused before Stripe is called (422
`card_amount_not_allowed`), and an amount read back from Stripe that is not a whole number of this service's
minor units is an error, never a rounded credit.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import Unprocessable
from shared.money import MINOR_UNITS, STRIPE_MAX_AMOUNT, format_amount

STRIPE_MAX = STRIPE_MAX_AMOUNT  # Stripe's amounts have at most 8 digits, in its own units


@dataclass(frozen=True)
class CardCurrency:
    """One currency at Stripe: its decimals there, and the chargeable amounts in this service's minor units."""

    code: str
    stripe_decimals: int
    minimum: int  # the smallest charge, in ISO minor units
    multiple_of: int = 1  # in ISO minor units

    @property
    def factor(self) -> int:
        """Stripe's units per ISO minor unit (ISK: 100)."""
        return int(10 ** (self.stripe_decimals - MINOR_UNITS[self.code]))

    @property
    def maximum(self) -> int:
        """The largest charge, in ISO minor units: Stripe's 8 digits, whole in both units and a multiple."""
        most = STRIPE_MAX // self.factor
        return most - most % self.multiple_of


# Stripe's minimum charge in ISO minor units. Stripe's own table: AED 2.00, AUD 0.50, BRL 0.50, CAD 0.50, CHF 0.50,
# CZK 15.00, DKK 2.50, EUR 0.50, GBP 0.30, HKD 4.00, HUF 175.00, INR 0.50, JPY 50, MXN 10.00, MYR 2.00, NOK 3.00,
# NZD 0.50, PLN 2.00, RON 2.00, SEK 3.00, SGD 0.50, THB 10.00, USD 0.50. The others: about USD 1.00, rounded up.
_MINIMUM: dict[str, int] = {
    "AED": 200, "AUD": 50, "BDT": 12_000, "BHD": 400, "BRL": 50, "CAD": 50, "CHF": 50, "CLP": 1_000, "CNY": 800,
    "CZK": 1_500, "DKK": 250, "EGP": 5_000, "EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17_500, "IDR": 1_600_000,
    "ILS": 400, "INR": 50, "ISK": 150, "JOD": 750, "JPY": 50, "KES": 13_000, "KRW": 1_500, "KWD": 310,
    "LKR": 30_000, "MXN": 1_000, "MYR": 200, "NGN": 160_000, "NOK": 300, "NZD": 50, "OMR": 400, "PHP": 6_000,
    "PKR": 28_000, "PLN": 200, "QAR": 400, "RON": 200, "SAR": 400, "SEK": 300, "SGD": 50, "THB": 1_000,
    "TND": 3_000, "TRY": 6_000, "TWD": 3_200, "UGX": 3_700, "USD": 50, "VND": 26_000, "XAF": 600, "XOF": 600,
    "ZAR": 2_000,
}  # fmt: skip
_STRIPE_DECIMALS = {"ISK": 2}  # Stripe's special case; every other currency has its ISO decimals at Stripe
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})  # must end in 0 at Stripe

CARD_CURRENCIES: dict[str, CardCurrency] = {
    code: CardCurrency(code=code, stripe_decimals=_STRIPE_DECIMALS.get(code, digits), minimum=_MINIMUM[code],
                       multiple_of=10 if code in _THREE_DECIMAL else 1)
    for code, digits in MINOR_UNITS.items()
}


def card_currency(currency: str) -> CardCurrency:
    return CARD_CURRENCIES[currency]


def to_stripe(amount: int, currency: str) -> int:
    """The amount to send Stripe for `amount` minor units of `currency`."""
    return amount * card_currency(currency).factor


def from_stripe(stripe_amount: int, currency: str) -> int:
    """This service's minor units of an amount Stripe shows (`currency` in either case). Raises ValueError for
    what is not a whole number of minor units (never rounded)."""
    whole, rest = divmod(stripe_amount, card_currency(currency.upper()).factor)
    if rest:
        raise ValueError(f"Stripe's amount {stripe_amount} {currency} is not a whole number of minor units")
    return whole


def not_chargeable(field: str, amount: int, currency: str, *, minimum: int | None = None) -> dict[str, object] | None:
    """The contract's detail for an amount Stripe could not charge (None when it can): below the minimum, above
    the maximum or not a multiple. `minimum` replaces the charge minimum (a refund has none but the multiple)."""
    rules = card_currency(currency)
    least = rules.minimum if minimum is None else minimum
    if least <= amount <= rules.maximum and amount % rules.multiple_of == 0:
        return None
    return {"field": field, "currency": currency, "minimum": least, "maximum": rules.maximum,
            "multiple_of": rules.multiple_of,
            "message": f"{format_amount(amount, currency)} cannot be charged by card: from "
                       f"{format_amount(least, currency)} to {format_amount(rules.maximum, currency)}"
                       + (f", in multiples of {format_amount(rules.multiple_of, currency)}"
                          if rules.multiple_of > 1 else "") + "."}


def check_chargeable(amounts: dict[str, int], currency: str) -> None:
    """422 `card_amount_not_allowed` naming every amount (field -> minor units) Stripe could not charge."""
    details = [d for field, amount in amounts.items() if (d := not_chargeable(field, amount, currency))]
    if details:
        raise Unprocessable(f"Stripe cannot charge {'these amounts' if len(details) > 1 else 'this amount'} in "
                            f"{currency}.", code="card_amount_not_allowed", details=details)


def check_refundable(amount: int, currency: str) -> None:
    """422 `card_amount_not_allowed` for a refund Stripe could not take (a three-decimal amount not ending in 0)."""
    rules = card_currency(currency)
    detail = not_chargeable("amount", amount, currency, minimum=rules.multiple_of)
    if detail:
        raise Unprocessable(f"Stripe cannot refund this amount in {currency}.", code="card_amount_not_allowed",
                            details=[detail])
