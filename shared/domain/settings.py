"""Payment settings rules (contract: PUT /organizations/{org_id}/payment-settings, and the automatic top-up's
guardrails: docs/auto-top-up.md)."""

from __future__ import annotations

from typing import TypedDict, Unpack

from shared.domain.organization import OnlineTopUp, PaymentSettings
from shared.errors import Conflict, Forbidden, Unprocessable
from shared.vocabulary import SettingsMethod, TopUpMode


class Guardrails(TypedDict, total=False):
    """The guardrail fields a PUT (or an online top-up) gives; one left out keeps its current value."""

    top_up_mode: TopUpMode
    target_balance: int | None
    monthly_cap: int | None
    max_consecutive_failures: int


# What a person sets (the audit's diff lists these, and the two the system keeps, when they change)
CHOSEN = ("method", "trigger_amount", "limit_threshold", "auto_trigger", "top_up_mode", "target_balance",
          "monthly_cap", "max_consecutive_failures")
AUDITED = (*CHOSEN, "consecutive_failures", "disabled_reason")
LOCKED_FOR_STRIPE = ("trigger_amount", "limit_threshold", "top_up_mode", "target_balance")


def default_settings(at: str) -> PaymentSettings:
    return PaymentSettings(method="cheque_or_tt", trigger_amount=0, limit_threshold=0, auto_trigger=False,
                           updated_at=at)


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable("The request has invalid fields.",
                         details=[{"field": field, "message": message, "type": "value_error"}])


def _applied(current: PaymentSettings, at: str, **fields: object) -> PaymentSettings:
    """`current` with `fields` applied, checked as a whole (422), and a person switching auto_trigger on clears
    what the system recorded when it switched it off."""
    after = current.model_copy(update={**fields, "updated_at": at})
    if after.top_up_mode == "target":
        if after.target_balance is None or after.target_balance <= after.limit_threshold:
            raise _invalid("target_balance", "target_balance must exceed limit_threshold in target mode")
    elif after.auto_trigger and after.trigger_amount <= 0:
        raise _invalid("trigger_amount", "trigger_amount must be greater than 0 when auto_trigger is true")
    if after.auto_trigger and not current.auto_trigger:
        after = after.model_copy(update={"consecutive_failures": 0, "disabled_reason": None})
    return after


def change_settings(current: PaymentSettings, *, method: SettingsMethod, trigger_amount: int,
                    limit_threshold: int, auto_trigger: bool, at: str,
                    **guardrails: Unpack[Guardrails]) -> PaymentSettings:
    """The settings after a finance user's PUT, or the rule that refuses it.

    `stripe` is only ever set by a successful online top-up; while it is the method, its trigger amount,
    threshold, top-up mode and target balance (chosen during that top-up) are locked, but auto-trigger, the
    monthly cap and the failures allowed can be changed, and the method changed to another one. A guardrail left
    out keeps its current value.
    """
    if method == "stripe" and current.method != "stripe":
        raise Conflict("stripe_set_by_online_top_up",
                       "The Stripe method is set by a successful online top-up, not here.")
    wanted: dict[str, object] = {"method": method, "trigger_amount": trigger_amount,
                                 "limit_threshold": limit_threshold, "auto_trigger": auto_trigger, **guardrails}
    locked = [f for f in LOCKED_FOR_STRIPE if f in wanted and wanted[f] != getattr(current, f)]
    if method == "stripe" and locked:
        what = ("Trigger amount and limit threshold" if set(locked) <= {"trigger_amount", "limit_threshold"}
                else "Trigger amount, limit threshold, top-up mode and target balance")
        raise Conflict("stripe_settings_locked",
                       f"{what} of a Stripe customer are set during the online top-up and cannot be changed here.")
    return _applied(current, at, **wanted)


def customer_switch_only(current: PaymentSettings, method: SettingsMethod, trigger_amount: int,
                         limit_threshold: int, **guardrails: Unpack[Guardrails]) -> None:
    """What a customer's own admin may change here: the automatic top-up on or off, while the method is `stripe`
    (the amounts were chosen during its online top-up); anything else is the partner's to change (403)."""
    if current.method != "stripe":
        raise Forbidden("Your organization's automatic top-up is set by your provider until you top up by card.")
    asked: dict[str, object] = {"method": method, "trigger_amount": trigger_amount,
                                "limit_threshold": limit_threshold, **guardrails}
    if any(value != getattr(current, f) for f, value in asked.items()):
        raise Forbidden("You may switch the automatic top-up on or off; its amounts are chosen when you top up by "
                        "card.")


def stripe_settings(trigger_amount: int, limit_threshold: int, auto_trigger: bool, at: str, *,
                    current: PaymentSettings | None = None, top_up_mode: TopUpMode = "fixed",
                    target_balance: int | None = None) -> PaymentSettings:
    """What a successful online top-up sets: the `stripe` method with the values chosen during it. With `current`,
    the organization's guardrails (monthly cap, failures allowed, the failure count) are kept, and choosing
    auto_trigger on after the system switched it off clears the count (prefer `online_top_up_settings`)."""
    chosen: dict[str, object] = {"method": "stripe", "trigger_amount": trigger_amount,
                                 "limit_threshold": limit_threshold, "auto_trigger": auto_trigger,
                                 "top_up_mode": top_up_mode, "target_balance": target_balance}
    base = current if current is not None else PaymentSettings(updated_at=at)
    after = base.model_copy(update={**chosen, "updated_at": at})
    if auto_trigger and not base.auto_trigger:
        after = after.model_copy(update={"consecutive_failures": 0, "disabled_reason": None})
    return after


def online_top_up_settings(current: PaymentSettings, record: OnlineTopUp, at: str) -> PaymentSettings:
    """The settings a succeeded online top-up leaves: `stripe` with what was chosen in it (amounts, top-up mode and
    target balance from the OnlineTopUp record), the organization's own guardrails kept."""
    return stripe_settings(record.trigger_amount, record.limit_threshold, record.auto_trigger, at, current=current,
                           top_up_mode=record.top_up_mode, target_balance=record.target_balance)


def settings_changed(before: PaymentSettings, after: PaymentSettings) -> dict[str, dict[str, object]]:
    return {f: {"from": getattr(before, f), "to": getattr(after, f)} for f in AUDITED
            if getattr(before, f) != getattr(after, f)}
