"""`POST /webhooks/stripe`: verified deliveries of PaymentIntent outcomes, each settled exactly once by
shared.services.settlement (the one decision and transaction the reconciliation and refunds use too), and of
refunds and disputes (handed to shared.services.card_money_back).

Stripe delivers at least once, in any order, sometimes concurrently: a delivery is verified (its signature, within
the tolerance), parsed and checked for the object its type carries before anything is read or written; its
event id is the settlement's (`STRIPE#EVT#{id}`: the same event is processed once).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from shared.errors import BadRequest
from shared.responses.runs import WebhookOutcome
from shared.services.card_money_back import CardMoneyBackService
from shared.services.settlement import FAILED, SUCCEEDED, Settlement, id_of
from shared.settings import Settings
from shared.stripe_signature import SignatureError, verify

INTENT_EVENTS = frozenset({SUCCEEDED, FAILED})
# A refund's or a dispute's event only says when to look: its PaymentIntent's refunds or disputes are read from
# Stripe and applied (shared.services.card_money_back), so the events' order and repetition do not matter.
REFUND_EVENTS = frozenset({"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated",
                           "refund.failed"})
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.updated", "charge.dispute.funds_withdrawn",
                            "charge.dispute.funds_reinstated", "charge.dispute.closed"})
HANDLED = INTENT_EVENTS | REFUND_EVENTS | DISPUTE_EVENTS
MAX_BODY = 256 * 1024


class InvalidSignature(BadRequest):
    code = "invalid_signature"


def _require(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise BadRequest(f"The event has no valid {what}.", code="malformed_event")
    return value


class StripeWebhookService:
    def __init__(self, settings: Settings, settlement: Settlement, card_money: CardMoneyBackService,
                 clock: Callable[[], float] = time.time):
        self.settings, self.clock = settings, clock
        self._settlement, self._card_money = settlement, card_money  # called downward, typed

    # --- the delivery ---------------------------------------------------------------------------------
    def receive(self, signature: str | None, body: bytes) -> WebhookOutcome:
        """Verify, parse and process one delivery; raises ApiError (400) before anything is written."""
        if self.settings.stripe_webhook_secret is None:
            raise RuntimeError("STRIPE_WEBHOOK_SECRET is not set")  # 500: Stripe retries once it is
        if len(body) > MAX_BODY:
            raise InvalidSignature("The webhook body is too large.")
        try:
            verify(body, signature, self.settings.stripe_webhook_secret.get_secret_value(), now=int(self.clock()))
        except SignatureError as error:
            raise InvalidSignature(f"The Stripe-Signature header does not verify: {error.reason}.") from None
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: a signed body nested 100,000 deep
            raise BadRequest("The webhook body is not valid JSON.", code="malformed_json") from None
        _require(event, dict, "body")
        event_id = _require(event.get("id"), str, "id")
        event_type = _require(event.get("type"), str, "type")
        if event_type not in HANDLED:
            return WebhookOutcome(received=True, event=event_id, outcome="ignored_event_type")
        obj = _require(_require(event.get("data"), dict, "data").get("object"), dict, "data.object")
        if event_type in INTENT_EVENTS:
            if obj.get("object") != "payment_intent" or not id_of(obj.get("id")):
                raise BadRequest("The event carries no PaymentIntent.", code="malformed_event")
            outcome = self._settlement.settle_event(event, obj)
        else:
            expected = "dispute" if event_type in DISPUTE_EVENTS else (
                "charge" if event_type == "charge.refunded" else "refund")
            if obj.get("object") != expected:
                raise BadRequest(f"The event carries no {expected}.", code="malformed_event")
            intent_id = id_of(obj.get("payment_intent"))
            if intent_id is None:
                outcome = "not_ours"  # a charge made without a PaymentIntent is not this service's
            else:
                outcome = self._card_money.sync(intent_id, refunds=event_type in REFUND_EVENTS,
                                               disputes=event_type in DISPUTE_EVENTS)
        return WebhookOutcome(received=True, event=event_id, outcome=outcome)
