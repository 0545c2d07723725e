"""API models of the payment settings, the online top-up and a partner's auto-credit limits: what those routes
accept (strict, unknown fields refused), with the automatic top-up's guardrails (docs/auto-top-up.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator
from pydantic.json_schema import JsonDict

from shared.models import Strict, _never_null
from shared.money import NonNegativeAmount, PositiveAmount, StripeAmount, StripeTrigger
from shared.vocabulary import SettingsMethod, TopUpMode


def _trigger_when_auto[M: BaseModel](model: M) -> M:
    """With auto_trigger on, a trigger above 0 unless in target mode (left out: shared.domain.settings checks)."""
    if model.auto_trigger and model.trigger_amount <= 0 and model.top_up_mode == "fixed":  # type: ignore[attr-defined]
        raise ValueError("trigger_amount must be greater than 0 when auto_trigger is true")
    return model


# The document states the rule of _trigger_when_auto: with auto_trigger on (not in target mode), a trigger above 0.
TRIGGER_WHEN_AUTO: JsonDict = {"if": {"properties": {"auto_trigger": {"const": True}, "top_up_mode": {
    "not": {"const": "target"}}}, "required": ["auto_trigger"]}, "then": {"properties": {"trigger_amount": {
        "exclusiveMinimum": 0}}}}


def _no_default(schema: dict[str, Any]) -> None:  # left out: the current value is kept (not a default)
    schema.pop("default", None)


GUARDRAILS = ("top_up_mode", "target_balance", "monthly_cap", "max_consecutive_failures")


class PaymentSettingsIn(Strict):  # a guardrail left out keeps its current value (model_fields_set tells)
    model_config = ConfigDict(json_schema_extra=TRIGGER_WHEN_AUTO)

    method: SettingsMethod
    trigger_amount: NonNegativeAmount
    limit_threshold: NonNegativeAmount
    auto_trigger: StrictBool
    top_up_mode: TopUpMode | None = Field(default=None, json_schema_extra=_never_null)
    target_balance: NonNegativeAmount | None = Field(default=None, json_schema_extra=_no_default)
    monthly_cap: PositiveAmount | None = Field(default=None, json_schema_extra=_no_default)  # null: no cap
    max_consecutive_failures: Annotated[StrictInt, Field(ge=1, le=10)] | None = Field(default=None,
                                                                                      json_schema_extra=_never_null)

    @field_validator("top_up_mode", "max_consecutive_failures")
    @classmethod
    def _not_null(cls, value: object) -> object:  # runs only on a field given
        if value is None:
            raise ValueError("may be left out, but not null")
        return value

    @model_validator(mode="after")
    def _trigger_when_auto(self) -> PaymentSettingsIn:
        return _trigger_when_auto(self)

    def guardrails(self) -> dict[str, Any]:  # those given (a null target_balance / monthly_cap removes it)
        return {f: getattr(self, f) for f in GUARDRAILS if f in self.model_fields_set}


class OnlineTopUpIn(Strict):
    """An online top-up by card; the card is saved and, on success, becomes the `stripe` method with these
    settings (trigger amount, threshold, top-up mode and target balance locked afterwards)."""

    model_config = ConfigDict(json_schema_extra=TRIGGER_WHEN_AUTO)

    amount: StripeAmount
    trigger_amount: StripeTrigger
    limit_threshold: NonNegativeAmount
    auto_trigger: StrictBool
    top_up_mode: TopUpMode = "fixed"
    target_balance: NonNegativeAmount | None = None  # `target` mode: above limit_threshold

    @model_validator(mode="after")
    def _trigger_when_auto(self) -> OnlineTopUpIn:
        return _trigger_when_auto(self)


class AutoCreditLimitIn(Strict):
    daily_limit: NonNegativeAmount
