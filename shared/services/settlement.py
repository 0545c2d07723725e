"""The settlement of a Stripe PaymentIntent: its money reaches a wallet once, or its failure is recorded once.

One service, called downward by the three paths that learn of a PaymentIntent's outcome:
  - the webhook (shared.services.stripe_webhooks): `settle_event`, under the event Stripe delivered;
  - a refund or a dispute whose payment's success was not yet credited (shared.services.card_money_back), and
  - the reconciliation (shared.services.reconciliation): `settle`, the PaymentIntent as Stripe shows it now,
    under an event id of its own (`{source}:{pi}:{status}:{charge}`).
It imports none of them. Stripe delivers at least once, in any order, sometimes concurrently, and the three paths
race each other, so every settlement is decided on one consistent read (BatchGetItem of: the event's marker, the
PaymentIntent's marker, the top-up record it completes and the organization) and acted on in one
TransactWriteItems that also creates
  - the event's marker (`STRIPE#EVT#{id}`): the same event is processed once;
  - on a credit, the PaymentIntent's marker (`STRIPE#PI#{id}`): whichever event, retry or path
    carries a PaymentIntent, its money reaches a wallet once;
and moves the record it completes by its version. A settlement that loses a race re-reads and finds
the work done. Outcomes are order-independent: `succeeded` is final (a later or earlier
`payment_failed` of the same PaymentIntent never undoes or blocks it), so every order of a payment's
events ends in the state of the in-order delivery.
"""

from __future__ import annotations

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
from shared.domain.settings import online_top_up_settings, settings_changed
from shared.domain.wallet import Posting, post
from shared.ids import new_id
from shared.repositories.store import Store
from shared.repositories.stripe_markers import StripeMarker
from shared.repositories.unit_of_work import UnitOfWork
from shared.services.common import audit, with_retries
from shared.services.guardrails import Guardrails
from shared.stripe_gateway import declined_top_up
from shared.vocabulary import LedgerType

STRIPE = Principal(sub="system:stripe", partner_id=None, groups=frozenset())
SUCCEEDED, FAILED = "payment_intent.succeeded", "payment_intent.payment_failed"
EVENT_MARKER_DAYS = 30  # Stripe retries a delivery for up to 3 days


def id_of(value: Any) -> str | None:
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


class Settlement:
    def __init__(self, store: Store, clock: Callable[[], float], guardrails: Guardrails):
        self.store, self.clock = store, clock  # the clock: the event markers' expiry
        self.guardrails = guardrails  # an automatic charge's outcome: the failure count, the month's reservation

    def settle(self, intent: dict[str, Any], source: str) -> str:
        """A PaymentIntent as Stripe shows it now (read by the reconciliation, or before a refund), settled exactly as
        its webhook would settle it: the same decision and transaction, under an event id of its own."""
        status = intent.get("status")
        if status == "succeeded":
            type_ = SUCCEEDED
        elif status == "requires_payment_method" and intent.get("last_payment_error"):
            type_ = FAILED
        else:
            return "still_pending"  # processing, waiting for the customer, or never confirmed
        charge = intent.get("latest_charge")
        created = charge.get("created") if isinstance(charge, dict) else intent.get("created")
        intent_id = id_of(intent.get("id"))
        if intent_id is None:
            raise ValueError("a PaymentIntent without an id")
        attempt = id_of(charge) or "none"  # each try of the PaymentIntent (a second card) is decided again
        event = {"id": f"{source}:{intent_id}:{status}:{attempt}", "type": type_, "created": created}
        return self.settle_event(event, intent)

    def settle_event(self, event: dict[str, Any], intent: dict[str, Any]) -> str:
        """A PaymentIntent's outcome under `event` (an `id`, a `type` of SUCCEEDED or FAILED, Stripe's `created`):
        `credited`, `failed`, or why nothing was written (`not_ours`, `duplicate_event`, `already_credited`...)."""
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
        if isinstance(record, AutoTopUpAttempt):
            return self._attempt_outcome(event, intent, record, org, target)
        return self._online_top_up_outcome(event, intent, record, org, target)

    def _attempt_outcome(self, event: dict[str, Any], intent: dict[str, Any], attempt: AutoTopUpAttempt,
                         org: Organization, target: _Target) -> str:
        """An automatic top-up attempt's charge settled: `credited` (the payment in the wallet) or `failed` (the
        card's decline or Stripe's refusal), in one transaction with the event's marker."""
        at, uow = utc_now_str(), self.store.unit_of_work()
        if event["type"] == SUCCEEDED:
            if not _amount_matches(intent, attempt.amount, attempt.currency):
                return "amount_mismatch"
            payment = self._credit(uow, event, intent, org, target, at, settings=None, attempt=attempt)
            # success is final and clears an earlier try's failure, so every order of the events ends alike
            update: dict[str, Any] = {"status": target.credited, "reason": None, "payment_id": payment.id,
                                      "failure_code": None, "failure_message": None}
            outcome = "credited"
        else:
            failure = card_failure(intent.get("last_payment_error"))
            if _failed_alike(attempt, failure):
                return "already_failed"
            # the month's reservation released, the failure counted (switched off at the max), in this transaction
            self.guardrails.card_attempt_failed(uow, org, attempt, at)
            update, outcome = {"status": "failed", **failure}, "failed"
        self._commit(uow, event, intent, attempt, org, update, at)
        return outcome

    def _online_top_up_outcome(self, event: dict[str, Any], intent: dict[str, Any], top_up: OnlineTopUp,
                               org: Organization, target: _Target) -> str:
        """An online top-up paid (its money in the wallet, the settings chosen with it saved) or declined."""
        at, uow = utc_now_str(), self.store.unit_of_work()
        if event["type"] == SUCCEEDED:
            if not _amount_matches(intent, top_up.amount, top_up.currency):
                return "amount_mismatch"
            chosen = online_top_up_settings(org.settings, top_up, at)  # the organization's guardrails kept
            payment = self._credit(uow, event, intent, org, target, at, settings=chosen)
            update: dict[str, Any] = {"status": target.credited, "reason": None, "payment_id": payment.id,
                                      "decline_code": None, "failure_message": None}  # as for an attempt
            outcome = "credited"
        else:
            failure = declined_top_up(intent.get("last_payment_error"))
            if _failed_alike(top_up, failure):
                return "already_failed"
            update, outcome = {"status": "failed", **failure}, "failed"
        self._commit(uow, event, intent, top_up, org, update, at)
        return outcome

    def _commit(self, uow: UnitOfWork, event: dict[str, Any], intent: dict[str, Any],
                record: OnlineTopUp | AutoTopUpAttempt, org: Organization, update: dict[str, Any], at: str) -> None:
        """The record moved by its version, and the event's marker, with what `uow` already holds."""
        update |= {"payment_intent_id": intent["id"], "updated_at": at, "version": record.version + 1}
        expires = int(self.clock()) + EVENT_MARKER_DAYS * 86_400
        marker = StripeMarker(kind="event", stripe_id=event["id"], org_id=org.id, at=at, expiration=expires)
        uow.save(record.model_copy(update=update), record.version).create(marker)
        uow.commit()

    def _credit(self, uow: UnitOfWork, event: dict[str, Any], intent: dict[str, Any], org: Organization,
                target: _Target, at: str, *, settings: PaymentSettings | None,
                attempt: AutoTopUpAttempt | None = None) -> Payment:
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
            card = id_of(intent.get("payment_method")) or org.stripe_payment_method_id
            customer = id_of(intent.get("customer")) or org.stripe_customer_id
            credited = credited.model_copy(update={"settings": settings, "stripe_payment_method_id": card,
                                                   "stripe_customer_id": customer})
            changes["payment_settings"] = settings_changed(org.settings, settings)
        if attempt is not None:  # an automatic charge: the failure count cleared, its month keeps the amount
            credited = self.guardrails.card_attempt_credited(uow, credited, attempt, at)
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


def _amount_matches(intent: dict[str, Any], amount: int, currency: str) -> bool:
    """Stripe received exactly what was asked, in this service's minor units (ISK: Stripe's 500 is 5)."""
    received, code = intent.get("amount_received"), intent.get("currency")
    if not (isinstance(received, int) and isinstance(code, str) and code.upper() == currency):
        return False
    return received == to_stripe(amount, currency)


def _failed_alike(record: OnlineTopUp | AutoTopUpAttempt, failure: dict[str, Any]) -> bool:
    """Already failed with this very failure: a redelivery, nothing to write."""
    return record.status == "failed" and all(getattr(record, k) == v for k, v in failure.items())
