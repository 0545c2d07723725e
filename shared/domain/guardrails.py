"""The automatic top-up's guardrails, pure (docs/auto-top-up.md, "Guardrails"): the amount an attempt asks for
(fixed or target mode), what the organization's monthly cap leaves of it, the failure count that switches the
automatic top-up off, and the partner's daily limit on what its master wallet gives automatically.

What counts toward an organization's month (by business date): an `invoice_issued` attempt (its invoice's amount,
whether or not it is paid later), a `credited` one, and a `charge_pending` one (reserved: released if the card
fails, kept when it succeeds). `skipped` and `failed` attempts count nothing.
"""

from __future__ import annotations

from shared.domain.base import Record
from shared.domain.card_amounts import card_currency
from shared.domain.organization import PaymentSettings
from shared.errors import Unprocessable
from shared.money import format_amount

COUNTED = frozenset({"invoice_issued", "credited", "charge_pending"})  # what the month's sum holds
SUCCEEDED = frozenset({"invoice_issued", "credited"})  # what clears the failure count
DAY_SUM_DAYS = 60  # a partner's day sums are kept this long after their day (TTL), then expire


class MonthlyAutoTopUps(Record):
    """The sum of one organization's automatic top-ups in one calendar month (`YYYY-MM` of the business date);
    changed only in the transaction of the attempt that counts (or releases) its amount."""

    org_id: str
    partner_id: str
    month: str
    currency: str
    total: int = 0


class AutoCreditLimit(Record):
    """A partner's daily limit on the `master_account` top-ups of all its organizations in one currency."""

    partner_id: str
    currency: str
    daily_limit: int
    created_at: str
    updated_at: str
    updated_by: str
    version: int = 1


class AutoCreditDay(Record):
    """What a partner's master wallet gave automatically in one currency on one business date."""

    partner_id: str
    currency: str
    business_date: str
    total: int = 0


def month_of(business_date: str) -> str:
    return business_date[:7]


def requested_amount(settings: PaymentSettings, balance: int, currency: str, *, card: bool) -> int:
    """What the top-up mode asks for: the trigger amount, or up to the target balance from the balance read now.
    A card's target amount is made chargeable: rounded up to Stripe's multiple (never below the target), at most
    Stripe's maximum (the online top-up made the smallest one, from the threshold, at least Stripe's minimum)."""
    if settings.top_up_mode == "fixed":
        return settings.trigger_amount
    wanted = (settings.target_balance or 0) - balance
    if not card or wanted <= 0:
        return max(wanted, 0)
    rules = card_currency(currency)
    wanted += -wanted % rules.multiple_of
    return min(wanted, rules.maximum)


def capped_amount(requested: int, cap: int | None, used: int, currency: str, *, card: bool) -> int:
    """What the monthly cap leaves of `requested` (0: the attempt is skipped `monthly_cap_reached`). A card's amount
    is rounded down to Stripe's multiple and is 0 below Stripe's minimum charge."""
    if cap is None:
        return requested
    amount = max(0, min(requested, cap - used))
    if card:
        rules = card_currency(currency)
        amount -= amount % rules.multiple_of
        if amount < rules.minimum:
            return 0
    return amount


def cap_room_needed(currency: str, *, card: bool) -> int:
    """The least room a month must have left for an attempt not to be skipped."""
    return card_currency(currency).minimum if card else 1


def after_success(settings: PaymentSettings) -> PaymentSettings:
    """A `credited` or `invoice_issued` attempt: the failure count starts again."""
    if settings.consecutive_failures == 0:
        return settings
    return settings.model_copy(update={"consecutive_failures": 0})


def after_failure(settings: PaymentSettings, at: str) -> tuple[PaymentSettings, bool]:
    """A `failed` attempt: counted; reaching `max_consecutive_failures` switches auto_trigger off (True)."""
    count = settings.consecutive_failures + 1
    if settings.auto_trigger and count >= settings.max_consecutive_failures:
        return settings.model_copy(update={"consecutive_failures": count, "auto_trigger": False,
                                           "disabled_reason": "consecutive_failures", "updated_at": at}), True
    return settings.model_copy(update={"consecutive_failures": count}), False


def within_daily_limit(limit: AutoCreditLimit | None, day: AutoCreditDay | None, amount: int) -> bool:
    return limit is None or (day.total if day else 0) + amount <= limit.daily_limit


def check_target_for_card(top_up_mode: str, target_balance: int | None, limit_threshold: int, currency: str) -> None:
    """An online top-up choosing `target` mode: a target above the threshold (422 `validation_error`), and one from
    which every charge Stripe can make (the smallest tops up from the threshold: 422 `card_amount_not_allowed`)."""
    if top_up_mode != "target":
        return
    if target_balance is None or target_balance <= limit_threshold:
        raise Unprocessable("The request has invalid fields.", details=[{
            "field": "target_balance", "message": "target_balance must exceed limit_threshold in target mode",
            "type": "value_error"}])
    rules = card_currency(currency)
    least, most = limit_threshold + rules.minimum, limit_threshold + rules.maximum
    if not least <= target_balance <= most:
        raise Unprocessable(f"Stripe cannot charge this amount in {currency}.", code="card_amount_not_allowed",
                            details=[{"field": "target_balance", "currency": currency, "minimum": least,
                                      "maximum": most, "multiple_of": 1,
                                      "message": f"A target balance of {format_amount(target_balance, currency)} "
                                                 f"would charge less than Stripe's minimum or more than its maximum "
                                                 f"from the threshold: from {format_amount(least, currency)} to "
                                                 f"{format_amount(most, currency)}."}])
