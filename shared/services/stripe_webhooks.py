"""`POST /webhooks/stripe`: verified deliveries of PaymentIntent outcomes, each acted on exactly once, and of
refunds and disputes (handed to shared.services.card_money_back).

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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.domain.attempt import AutoTopUpAttempt, card_failure
from shared.domain.card_amounts import from_stripe, to_stripe
from shared.domain.organization import OnlineTopUp, Organization, PaymentSettings
from shared.domain.payment import Allocation, Payment
from shared.domain.settings import settings_changed, stripe_settings
from shared.domain.wallet import Posting, post
from shared.errors import BadRequest
from shared.ids import new_id
from shared.repositories.store import Store
from shared.repositories.stripe_markers import StripeMarker
from shared.repositories.unit_of_work import UnitOfWork
from shared.responses.runs import WebhookOutcome
from shared.services.common import audit, with_retries
from shared.settings import Settings
from shared.stripe_gateway import declined_top_up
from shared.stripe_signature import SignatureError, verify
from shared.vocabulary import LedgerType

STRIPE = Principal(sub="system:stripe", partner_id=None, groups=frozenset())
INTENT_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})
# A refund's or a dispute's event only says when to look: its PaymentIntent's refunds or disputes are read from
# Stripe and applied (shared.services.card_money_back), so the events' order and repetition do not matter.
REFUND_EVENTS = frozenset({"charge.refunded", "charge.refund.updated", "refund.created", "refund.updated",
                           "refund.failed"})
DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.updated", "charge.dispute.funds_withdrawn",
                            "charge.dispute.funds_reinstated", "charge.dispute.closed"})
HANDLED = INTENT_EVENTS | REFUND_EVENTS | DISPUTE_EVENTS
EVENT_MARKER_DAYS = 30  # Stripe retries a delivery for up to 3 days
MAX_BODY = 256 * 1024


class InvalidSignature(BadRequest):
    code = "invalid_signature"


def _require(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise BadRequest(f"The event has no valid {what}.", code="malformed_event")
    return value


def _id_of(value: Any) -> str | None:
    """A Stripe reference: an id, or the object when it was expanded."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class _Target:
    """The record a PaymentIntent of one purpose (its metadata) completes, and how its credit is booked."""

    entity: type[OnlineTopUp] | type[AutoTopUpAttempt]
    ids: Callable[[dict[str, Any]], tuple[str, str]]  # the record's ids, from the PaymentIntent's metadata
    unknown: str  # the outcome when that record does not exist
    credited: str  # the record's status once its money is in the wallet
    ledger: LedgerType
    action: str  # the organization's audit action


def _meta(metadata: dict[str, Any], name: str) -> str:
    return str(metadata.get(name) or "")


TARGETS = {
    "online_top_up": _Target(OnlineTopUp, lambda m: (_meta(m, "org_id"), _meta(m, "online_top_up_id")),
                             "unknown_online_top_up", "succeeded", "top_up", "wallet.topped_up_online"),
    "auto_top_up": _Target(AutoTopUpAttempt, lambda m: (_meta(m, "org_id"), _meta(m, "business_date")),
                           "unknown_attempt", "credited", "auto_credit", "wallet.auto_charged"),
}


class StripeWebhookService:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], float] = time.time,
                 card_money: Callable[[], Any] | None = None):
        self.settings, self.store, self.clock = settings, store, clock
        self._card_money = card_money  # () -> CardMoneyBackService, built on the first refund or dispute

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
            if obj.get("object") != "payment_intent" or not _id_of(obj.get("id")):
                raise BadRequest("The event carries no PaymentIntent.", code="malformed_event")
            outcome = self._intent(event, obj)
        else:
            expected = "dispute" if event_type in DISPUTE_EVENTS else (
                "charge" if event_type == "charge.refunded" else "refund")
            if obj.get("object") != expected:
                raise BadRequest(f"The event carries no {expected}.", code="malformed_event")
            intent_id = _id_of(obj.get("payment_intent"))
            if self._card_money is None:
                raise RuntimeError("refund and dispute events need the card money service")  # 500: Stripe retries
            if intent_id is None:
                outcome = "not_ours"  # a charge made without a PaymentIntent is not this service's
            else:
                outcome = self._card_money().sync(intent_id, refunds=event_type in REFUND_EVENTS,
                                                  disputes=event_type in DISPUTE_EVENTS)
        return WebhookOutcome(received=True, event=event_id, outcome=outcome)

    def settle_intent(self, intent: dict[str, Any], source: str) -> str:
        """A PaymentIntent as Stripe shows it now (read by the reconciliation, or before a refund), settled exactly as
        its webhook would settle it: the same decision and transaction, under an event id of its own."""
        status = intent.get("status")
        if status == "succeeded":
            type_ = "payment_intent.succeeded"
        elif status == "requires_payment_method" and intent.get("last_payment_error"):
            type_ = "payment_intent.payment_failed"
        else:
            return "still_pending"  # processing, waiting for the customer, or never confirmed
        charge = intent.get("latest_charge")
        created = charge.get("created") if isinstance(charge, dict) else intent.get("created")
        intent_id = _id_of(intent.get("id"))
        if intent_id is None:
            raise ValueError("a PaymentIntent without an id")
        attempt = _id_of(charge) or "none"  # each try of the PaymentIntent (a second card) is decided again
        event = {"id": f"{source}:{intent_id}:{status}:{attempt}", "type": type_, "created": created}
        return self._intent(event, intent)

    def _intent(self, event: dict[str, Any], intent: dict[str, Any]) -> str:
        metadata: dict[str, Any] = intent["metadata"] if isinstance(intent.get("metadata"), dict) else {}
        target = TARGETS.get(str(metadata.get("purpose")))
        if target is None:
            return "not_ours"  # another integration's PaymentIntent on the same Stripe account
        return with_retries(lambda: self._process(event, intent, metadata, target))

    def _process(self, event: dict[str, Any], intent: dict[str, Any], metadata: dict[str, Any],
                 target: _Target) -> str:
        """Decide on one consistent read, act in one transaction (see the module's docstring)."""
        org_id = _meta(metadata, "org_id")
        record_ids = target.ids(metadata)
        found = (self.store.batch().add(StripeMarker, "event", event["id"])
                 .add(StripeMarker, "payment_intent", intent["id"]).add(target.entity, *record_ids)
                 .add(Organization, org_id).fetch())
        if found.get(StripeMarker, "event", event["id"]):
            return "duplicate_event"
        credited = found.get(StripeMarker, "payment_intent", intent["id"])
        record, org = found.get(target.entity, *record_ids), found.get(Organization, org_id)
        if record is None or org is None:
            return target.unknown
        if record.payment_intent_id not in (None, intent["id"]):
            return "payment_intent_mismatch"
        if credited:  # success is final: a redelivery, or a failed try arriving after it
            return "already_credited"
        at = utc_now_str()
        uow = self.store.unit_of_work()
        if event["type"] == "payment_intent.succeeded":
            if not self._amount_matches(intent, record.amount, record.currency):
                return "amount_mismatch"
            chosen = (stripe_settings(record.trigger_amount, record.limit_threshold, record.auto_trigger, at)
                      if isinstance(record, OnlineTopUp) else None)
            payment = self._credit(uow, event, intent, org, target, at, settings=chosen)
            # success is final and clears an earlier try's failure, so every order of the events ends alike
            cleared = ({"failure_code": None, "failure_message": None} if isinstance(record, AutoTopUpAttempt)
                       else {"decline_code": None, "failure_message": None})
            update: dict[str, Any] = {"status": target.credited, "reason": None, "payment_id": payment.id, **cleared}
            outcome = "credited"
        else:
            error = intent.get("last_payment_error")
            failure: dict[str, Any] = (card_failure(error) if isinstance(record, AutoTopUpAttempt)
                                       else declined_top_up(error))
            if record.status == "failed" and all(getattr(record, k) == v for k, v in failure.items()):
                return "already_failed"
            update, outcome = {"status": "failed", **failure}, "failed"
        update |= {"payment_intent_id": intent["id"], "updated_at": at, "version": record.version + 1}
        uow.save(record.model_copy(update=update), record.version).create(self._event_marker(event, org_id, at))
        uow.commit()
        return outcome

    @staticmethod
    def _amount_matches(intent: dict[str, Any], amount: int, currency: str) -> bool:
        """Stripe received exactly what was asked, in this service's minor units (ISK: Stripe's 500 is 5)."""
        received, code = intent.get("amount_received"), intent.get("currency")
        if not (isinstance(received, int) and isinstance(code, str) and code.upper() == currency):
            return False
        return received == to_stripe(amount, currency)

    def _event_marker(self, event: dict[str, Any], org_id: str, at: str) -> StripeMarker:
        expires = int(self.clock()) + EVENT_MARKER_DAYS * 86_400
        return StripeMarker(kind="event", stripe_id=event["id"], org_id=org_id, at=at, expiration=expires)

    def _credit(self, uow: UnitOfWork, event: dict[str, Any], intent: dict[str, Any], org: Organization,
                target: _Target, at: str, *, settings: PaymentSettings | None) -> Payment:
        """The card payment received: a `stripe` payment assigned to the organization and delivered whole
        to its wallet (a `wallet_top_up` allocation and its ledger entry), the PaymentIntent's marker,
        and (online top-up) the settings chosen with it."""
        amount = from_stripe(int(intent["amount_received"]), org.currency)  # checked: exactly what was asked
        created = event.get("created")
        received = datetime.fromtimestamp(created, UTC).date().isoformat() if isinstance(created, int) else at[:10]
        payment = Payment(id=new_id("pay"), partner_id=org.partner_id, org_id=org.id, amount=amount,
                          currency=org.currency, received_date=received, method="stripe", reference=intent["id"],
                          allocations=[Allocation(kind="wallet_top_up", amount=amount, allocated_at=at)],
                          assignment_edits=1, created_at=at, created_by=STRIPE.sub, updated_at=at)
        credited, entries = post(org, [Posting(target.ledger, amount, payment.id)], actor=STRIPE.sub, at=at)
        changes: dict[str, Any] = {"amount": amount, "payment_intent": intent["id"], "payment_id": payment.id,
                                   "balance": {"from": org.balance, "to": credited.balance}}
        if settings is not None:
            card = _id_of(intent.get("payment_method")) or org.stripe_payment_method_id
            customer = _id_of(intent.get("customer")) or org.stripe_customer_id
            credited = credited.model_copy(update={"settings": settings, "stripe_payment_method_id": card,
                                                   "stripe_customer_id": customer})
            changes["payment_settings"] = settings_changed(org.settings, settings)
        uow.create(payment).save(credited, org.version).create(entries[0])
        uow.create(StripeMarker(kind="payment_intent", stripe_id=intent["id"], org_id=org.id, at=at,
                                payment_id=payment.id))
        uow.create(audit(STRIPE, partner_id=org.partner_id, entity_type="payment", entity_id=payment.id,
                         action="payment.received_by_stripe", at=at,
                         changes={"amount": amount, "currency": org.currency, "payment_intent": intent["id"],
                                  "ledger_entry": entries[0].id}))
        uow.create(audit(STRIPE, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                         action=target.action, at=at, changes=changes))
        return payment
