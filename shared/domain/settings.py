"""Payment settings rules (contract: PUT /organizations/{org_id}/payment-settings)."""

from __future__ import annotations

from shared.domain.organization import PaymentSettings
from shared.errors import Conflict, Forbidden
from shared.vocabulary import SettingsMethod


def default_settings(at: str) -> PaymentSettings:
    return PaymentSettings(method="cheque_or_tt", trigger_amount=0, limit_threshold=0, auto_trigger=False,
                           updated_at=at)


def change_settings(current: PaymentSettings, *, method: SettingsMethod, trigger_amount: int,
                    limit_threshold: int, auto_trigger: bool, at: str) -> PaymentSettings:
    """The settings after a finance user's PUT, or the rule that refuses it.

    `stripe` is only ever set by a successful online top-up; while it is the method, its trigger
    amount and threshold (chosen during that top-up) are locked, but auto-trigger can be switched
    and the method changed to another one.
    """
    if method == "stripe" and current.method != "stripe":
        raise Conflict("stripe_set_by_online_top_up",
                       "The Stripe method is set by a successful online top-up, not here.")
    if method == "stripe" and (trigger_amount, limit_threshold) != (current.trigger_amount,
                                                                    current.limit_threshold):
        raise Conflict("stripe_settings_locked",
                       "Trigger amount and limit threshold of a Stripe customer are set during the online "
                       "top-up and cannot be changed here.")
    return PaymentSettings(method=method, trigger_amount=trigger_amount, limit_threshold=limit_threshold,
                           auto_trigger=auto_trigger, updated_at=at)


def customer_switch_only(current: PaymentSettings, method: SettingsMethod, trigger_amount: int,
                         limit_threshold: int) -> None:
    """What a customer's own admin may change here: the automatic top-up on or off, while the method is `stripe`
    (the amounts were chosen during its online top-up); anything else is the partner's to change (403)."""
    if current.method != "stripe":
        raise Forbidden("Your organization's automatic top-up is set by your provider until you top up by card.")
    if (method, trigger_amount, limit_threshold) != (current.method, current.trigger_amount, current.limit_threshold):
        raise Forbidden("You may switch the automatic top-up on or off; its amounts are chosen when you top up by "
                        "card.")


def stripe_settings(trigger_amount: int, limit_threshold: int, auto_trigger: bool, at: str) -> PaymentSettings:
    """What a successful online top-up sets: the `stripe` method with the values chosen during it."""
    return PaymentSettings(method="stripe", trigger_amount=trigger_amount, limit_threshold=limit_threshold,
                           auto_trigger=auto_trigger, updated_at=at)


def settings_changed(before: PaymentSettings, after: PaymentSettings) -> dict[str, dict[str, object]]:
    fields = ("method", "trigger_amount", "limit_threshold", "auto_trigger")
    return {f: {"from": getattr(before, f), "to": getattr(after, f)} for f in fields
            if getattr(before, f) != getattr(after, f)}
