"""`POST /webhooks/stripe`: verified deliveries of PaymentIntent outcomes, each acted on exactly once.

Stripe delivers at least once, in any order, sometimes concurrently. Every delivery is decided on one
consistent read (BatchGetItem of: the event's marker, the PaymentIntent's marker, the top-up record
it completes and the organization) and acted on in one TransactWriteItems that also creates
  - the event's marker (`STRIPE#EVT#{id}`): the same event is processed once;
  - on a credit, the PaymentIntent's marker (`STRIPE#PI#{id}`): whichever event, retry or path
    carries a PaymentIntent, its money reaches a wallet once;
and moves the record it completes by its version. A delivery that loses a race re-reads and finds
the work done. Outcomes are order-independent: `succeeded` is final (a later or earlier
`payment_failed` of the same PaymentIntent never undoes or blocks it), so every order of a payment's
events ends in the state of the in-order delivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.domain.wallet import Posting, post
from shared.errors import ApiError, BadRequest
from shared.ids import new_id
from shared.repositories.dynamo import Dynamo
from shared.repositories.entities import (
    META,
    Allocation,
    AutoTopUpAttempt,
    OnlineTopUp,
    Organization,
    Payment,
    PaymentSettings,
    StripeMarker,
)
from shared.repositories.unit_of_work import UnitOfWork
from shared.services.common import audit, with_retries
from shared.settings import Settings
from shared.stripe_gateway import decline_reason
from shared.stripe_signature import SignatureError, verify

STRIPE = Principal(sub="system:stripe", partner_id=None, groups=frozenset())
HANDLED = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})
EVENT_MARKER_DAYS = 30  # Stripe retries a delivery for up to 3 days
MAX_BODY = 256 * 1024


class InvalidSignature(ApiError):
    status, code = 400, "invalid_signature"


def _require(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise BadRequest(f"The event has no valid {what}.", code="malformed_event")
    return value


def _id_of(value: Any) -> str | None:
    """A Stripe reference: an id, or the object when it was expanded."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _settled(status: str, recorded_reason: str | None, reason: str) -> str | None:
    """Why a failure changes nothing: the payment succeeded (before or after a failed try: success is
    final), or this failure is already recorded."""
    if status in ("succeeded", "credited"):
        return "already_credited"
    if status == "failed" and recorded_reason == reason:
        return "already_failed"
    return None


class StripeWebhookService:
    def __init__(self, settings: Settings, db: Dynamo, clock: Callable[[], float] = time.time):
        self.settings, self.db, self.clock = settings, db, clock

    # --- the delivery ---------------------------------------------------------------------------------
    def receive(self, signature: str | None, body: bytes) -> dict[str, Any]:
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
        except ValueError:
            raise BadRequest("The webhook body is not valid JSON.", code="malformed_json") from None
        _require(event, dict, "body")
        event_id = _require(event.get("id"), str, "id")
        event_type = _require(event.get("type"), str, "type")
        if event_type not in HANDLED:
            return {"received": True, "event": event_id, "outcome": "ignored_event_type"}
        intent = _require(_require(event.get("data"), dict, "data").get("object"), dict, "data.object")
        if intent.get("object") != "payment_intent" or not _id_of(intent.get("id")):
            raise BadRequest("The event carries no PaymentIntent.", code="malformed_event")
        metadata = intent.get("metadata") if isinstance(intent.get("metadata"), dict) else {}
        purpose = metadata.get("purpose")
        if purpose == "online_top_up":
            outcome = with_retries(lambda: self._online_top_up(event, intent, metadata))
        elif purpose == "auto_top_up":
            outcome = with_retries(lambda: self._auto_top_up(event, intent, metadata))
        else:
            outcome = "not_ours"  # another integration's PaymentIntent on the same Stripe account
        return {"received": True, "event": event_id, "outcome": outcome}

    # --- online top-up --------------------------------------------------------------------------------
    def _online_top_up(self, event: dict[str, Any], intent: dict[str, Any], metadata: dict[str, Any]) -> str:
        org_id, top_up_id = str(metadata.get("org_id") or ""), str(metadata.get("online_top_up_id") or "")
        record_key = OnlineTopUp.key(org_id, top_up_id)
        read = self._read(event, intent, record_key, org_id)
        if read is None:
            return "duplicate_event"
        item, org, credited = read
        if item is None or org is None:
            return "unknown_online_top_up"
        record = OnlineTopUp.from_item(item)
        if record.payment_intent_id != intent["id"]:
            return "payment_intent_mismatch"
        at = utc_now_str()
        uow = UnitOfWork(self.db)
        if event["type"] == "payment_intent.succeeded":
            if credited or record.status == "succeeded":
                return "already_credited"
            if not self._amount_matches(intent, record.amount, record.currency):
                return "amount_mismatch"
            settings = PaymentSettings(method="stripe", trigger_amount=record.trigger_amount,
                                       limit_threshold=record.limit_threshold, auto_trigger=record.auto_trigger,
                                       updated_at=at)
            payment = self._credit(uow, event, intent, org, "top_up", at, settings=settings,
                                   action="wallet.topped_up_online")
            uow.save(record.model_copy(update={"status": "succeeded", "reason": None, "payment_id": payment.id,
                                               "updated_at": at, "version": record.version + 1}), record.version)
            outcome = "credited"
        else:
            reason = decline_reason(intent.get("last_payment_error"))
            settled = _settled(record.status, record.reason, reason)
            if settled:
                return settled
            uow.save(record.model_copy(update={"status": "failed", "reason": reason, "updated_at": at,
                                               "version": record.version + 1}), record.version)
            outcome = "failed"
        uow.create(self._event_marker(event, org_id, at))
        uow.commit()
        return outcome

    # --- the daily automatic top-up's off-session charge -------------------------------------------------
    def _auto_top_up(self, event: dict[str, Any], intent: dict[str, Any], metadata: dict[str, Any]) -> str:
        org_id, business_date = str(metadata.get("org_id") or ""), str(metadata.get("business_date") or "")
        read = self._read(event, intent, AutoTopUpAttempt.key(org_id, business_date), org_id)
        if read is None:
            return "duplicate_event"
        item, org, credited = read
        if item is None or org is None:
            return "unknown_attempt"
        attempt = AutoTopUpAttempt.from_item(item)
        at = utc_now_str()
        uow = UnitOfWork(self.db)
        if event["type"] == "payment_intent.succeeded":
            if credited or attempt.status == "credited":
                return "already_credited"
            if not self._amount_matches(intent, attempt.amount, attempt.currency):
                return "amount_mismatch"
            payment = self._credit(uow, event, intent, org, "auto_credit", at, settings=None,
                                   action="wallet.auto_charged")
            final = attempt.model_copy(update={"status": "credited", "reason": None, "payment_id": payment.id,
                                               "payment_intent_id": intent["id"], "updated_at": at,
                                               "version": attempt.version + 1})
            outcome = "credited"
        else:
            reason = decline_reason(intent.get("last_payment_error"))
            settled = _settled(attempt.status, attempt.reason, reason)
            if settled:
                return settled
            final = attempt.model_copy(update={"status": "failed", "reason": reason, "payment_intent_id": intent["id"],
                                               "updated_at": at, "version": attempt.version + 1})
            outcome = "failed"
        uow.save(final, attempt.version).create(self._event_marker(event, org_id, at))
        uow.commit()
        return outcome

    # --- shared steps ---------------------------------------------------------------------------------
    def _read(self, event: dict[str, Any], intent: dict[str, Any], record_key: dict[str, str],
              org_id: str) -> tuple[dict[str, Any] | None, Organization | None, bool] | None:
        """One consistent read; None when this event was processed already."""
        keys = [StripeMarker.key("event", event["id"]), StripeMarker.key("payment_intent", intent["id"]),
                record_key, Organization.key(org_id)]
        found = {(i["pk"], i["sk"]): i for i in self.db.batch_get(keys)}
        if (keys[0]["pk"], keys[0]["sk"]) in found:
            return None
        org_item = found.get((f"ORG#{org_id}", META))
        return (found.get((record_key["pk"], record_key["sk"])), Organization.from_item(org_item) if org_item else None,
                (keys[1]["pk"], keys[1]["sk"]) in found)

    @staticmethod
    def _amount_matches(intent: dict[str, Any], amount: int, currency: str) -> bool:
        received, code = intent.get("amount_received"), intent.get("currency")
        return isinstance(received, int) and received == amount and isinstance(code, str) and code.upper() == currency

    def _event_marker(self, event: dict[str, Any], org_id: str, at: str) -> StripeMarker:
        expires = int(self.clock()) + EVENT_MARKER_DAYS * 86_400
        return StripeMarker(kind="event", stripe_id=event["id"], org_id=org_id, at=at, expiration=expires)

    def _credit(self, uow: UnitOfWork, event: dict[str, Any], intent: dict[str, Any], org: Organization,
                ledger_type: str, at: str, *, settings: PaymentSettings | None, action: str) -> Payment:
        """The card payment received: a `stripe` payment assigned to the organization and delivered whole
        to its wallet (a `wallet_top_up` allocation and its ledger entry), the PaymentIntent's marker,
        and (online top-up) the settings chosen with it."""
        amount = int(intent["amount_received"])
        created = event.get("created")
        received = datetime.fromtimestamp(created, UTC).date().isoformat() if isinstance(created, int) else at[:10]
        payment = Payment(id=new_id("pay"), partner_id=org.partner_id, org_id=org.id, amount=amount,
                          currency=org.currency, received_date=received, method="stripe", reference=intent["id"],
                          allocations=[Allocation(kind="wallet_top_up", amount=amount, allocated_at=at)],
                          assignment_edits=1, created_at=at, created_by=STRIPE.sub, updated_at=at)
        credited, entries = post(org, [Posting(ledger_type, amount, payment.id)], actor=STRIPE.sub,  # type: ignore[arg-type]
                                 at=at)
        changes: dict[str, Any] = {"amount": amount, "payment_intent": intent["id"], "payment_id": payment.id,
                                   "balance": {"from": org.balance, "to": credited.balance}}
        if settings is not None:
            card = _id_of(intent.get("payment_method")) or org.stripe_payment_method_id
            customer = _id_of(intent.get("customer")) or org.stripe_customer_id
            credited = credited.model_copy(update={"settings": settings, "stripe_payment_method_id": card,
                                                   "stripe_customer_id": customer})
            changes["payment_settings"] = {f: {"from": getattr(org.settings, f), "to": getattr(settings, f)}
                                           for f in ("method", "trigger_amount", "limit_threshold", "auto_trigger")
                                           if getattr(org.settings, f) != getattr(settings, f)}
        uow.create(payment).save(credited, org.version).create(entries[0])
        uow.create(StripeMarker(kind="payment_intent", stripe_id=intent["id"], org_id=org.id, at=at))
        uow.create(audit(STRIPE, partner_id=org.partner_id, entity_type="payment", entity_id=payment.id,
                         action="payment.received_by_stripe", at=at,
                         changes={"amount": amount, "currency": org.currency, "payment_intent": intent["id"],
                                  "ledger_entry": entries[0].id}))
        uow.create(audit(STRIPE, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                         action=action, at=at, changes=changes))
        return payment
