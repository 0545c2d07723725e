"""Card money that comes back (pure rules, no storage): refunds asked for here, and the refunds and disputes
Stripe shows for a `stripe` payment's PaymentIntent.

Money is counted per Stripe object and direction, never per event or from a cumulative amount:
  - a refund's money leaves the wallet when its status first becomes `succeeded` (a `reversal` of its amount)
    and comes back if Stripe later fails it (a `reinstatement`); the payment's refund part, moved by the
    payment's version, is the proof either happened;
  - a dispute's money leaves when Stripe first shows its funds withdrawn (a `reversal`) and comes back when it
    shows them reinstated (a `reinstatement`); its part's `withdrawn` / `reinstated` flags are the proof.
What Stripe shows is read from Stripe itself (an event only says *when* to look), so every order and every
repetition of deliveries ends in the state Stripe is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.domain.allocation import bump
from shared.domain.card_amounts import CARD_CURRENCIES, from_stripe
from shared.domain.organization import LedgerEntry, Organization
from shared.domain.payment import Dispute, Payment, Refund
from shared.domain.wallet import Posting, post
from shared.errors import Conflict
from shared.ids import new_id
from shared.money import format_amount
from shared.vocabulary import RefundReason, RefundStatus

MAX_REFUNDS_PER_PAYMENT = 50  # asked for here; those made in Stripe's Dashboard are always recorded
FINAL_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed"})
_REFUND_STATUS: dict[str, RefundStatus] = {"pending": "pending", "requires_action": "pending",
                                           "succeeded": "succeeded", "failed": "failed", "canceled": "failed"}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _amount(obj: dict[str, Any]) -> int | None:
    """A Stripe object's `amount`, in this service's minor units of its `currency` (ISK: Stripe's 500 is 5); None
    when it has none or a currency this service does not know (not ours). Never rounded: shared.domain.card_amounts."""
    amount, currency = _int(obj.get("amount")), _text(obj.get("currency"))
    if amount is None or currency is None or currency.upper() not in CARD_CURRENCIES:
        return None
    return from_stripe(amount, currency)


@dataclass(frozen=True)
class SeenRefund:
    """A Stripe Refund, as Stripe answered it."""

    id: str
    amount: int
    status: RefundStatus
    refund_id: str | None  # ours, from its metadata: a refund asked for here
    reason: str | None = None
    failure_reason: str | None = None

    @classmethod
    def from_stripe(cls, obj: Any) -> SeenRefund | None:
        """None for what is not a Refund Stripe could have sent (it is then left alone)."""
        if not isinstance(obj, dict) or obj.get("object") != "refund":
            return None
        rid, amount, status = _text(obj.get("id")), _amount(obj), _REFUND_STATUS.get(str(obj.get("status")))
        if rid is None or amount is None or status is None:
            return None
        metadata = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        return cls(id=rid, amount=amount, status=status, refund_id=_text(metadata.get("refund_id")),
                   reason=_text(obj.get("reason")), failure_reason=_text(obj.get("failure_reason")))


@dataclass(frozen=True)
class SeenDispute:
    """A Stripe Dispute, as Stripe answered it: its funds are withdrawn once a balance transaction took them
    (`reporting_category: dispute`) and reinstated once one gave them back (`dispute_reversal`)."""

    id: str
    amount: int
    status: str
    reason: str | None
    withdrawn: bool
    reinstated: bool

    @classmethod
    def from_stripe(cls, obj: Any) -> SeenDispute | None:
        if not isinstance(obj, dict) or obj.get("object") != "dispute":
            return None
        did, amount, status = _text(obj.get("id")), _amount(obj), _text(obj.get("status"))
        if did is None or amount is None or status is None:
            return None
        moves = [t for t in obj.get("balance_transactions") or [] if isinstance(t, dict)]
        categories = {t.get("reporting_category") for t in moves}
        reinstated = "dispute_reversal" in categories
        return cls(id=did, amount=amount, status=status, reason=_text(obj.get("reason")),
                   withdrawn=reinstated or "dispute" in categories, reinstated=reinstated)


@dataclass(frozen=True)
class Change:
    """What one refund or dispute does: the payment's next version, the wallet's postings and the change of its
    held amount, and what the audit record says."""

    payment: Payment
    action: str
    details: dict[str, Any]
    postings: list[Posting] = field(default_factory=list)
    hold: int = 0  # signed: + when a refund is asked for, - when Stripe answers it

    def apply(self, org: Organization, *, actor: str, at: str) -> tuple[Organization, list[LedgerEntry]]:
        """The organization after the postings and the hold (the same object when neither moves)."""
        if not self.postings and not self.hold:
            return org, []
        updated, entries = post(org, self.postings, actor=actor, at=at) if self.postings else (
            org.model_copy(update={"version": org.version + 1}), [])
        return updated.model_copy(update={"refund_held": org.refund_held + self.hold}), entries


def check_card_payment(payment: Payment) -> None:
    """Only a `stripe` payment (always assigned to the organization it credited) goes back to its card."""
    if payment.method != "stripe" or payment.org_id is None:
        raise Conflict("not_a_card_payment", "Only a payment taken by card through Stripe can be refunded to the card.")


def request_refund(payment: Payment, org: Organization, *, amount: int, reason: RefundReason | None,
                   refund_id: str, request_key: str | None, actor: str, at: str) -> Change:
    """A refund to the card asked for here: `pending`, its amount held in the wallet until Stripe answers."""
    check_card_payment(payment)
    if payment.org_id != org.id:
        raise ValueError("a payment is refunded from the wallet it credited")
    if sum(r.origin == "api" for r in payment.refunds) >= MAX_REFUNDS_PER_PAYMENT:
        raise Conflict("refund_limit_reached", f"A payment takes at most {MAX_REFUNDS_PER_PAYMENT} refunds.")
    if amount > payment.refundable_amount:
        raise Conflict("refund_exceeds_payment",
                       f"{format_amount(payment.refundable_amount, payment.currency)} of this payment can still be "
                       f"refunded (refunded {format_amount(payment.refunded_amount, payment.currency)}, pending "
                       f"{format_amount(payment.refund_pending_amount, payment.currency)}, disputed "
                       f"{format_amount(payment.disputed_amount, payment.currency)}).")
    if amount > org.available:
        raise Conflict("insufficient_balance",
                       f"The wallet can give back {format_amount(max(org.available, 0), org.currency)}: credit "
                       "already used cannot be refunded.")
    refund = Refund(id=refund_id, amount=amount, reason=reason, status="pending", origin="api", held=True,
                    request_key=request_key, created_at=at, created_by=actor, updated_at=at)
    return Change(bump(payment, at, refunds=[*payment.refunds, refund]), "payment.refund_requested",
                  {"refund_id": refund_id, "amount": amount, "reason": reason}, hold=amount)


def _find_refund(payment: Payment, seen: SeenRefund) -> Refund | None:
    for refund in payment.refunds:
        if refund.stripe_refund_id == seen.id:
            return refund
    for refund in payment.refunds:  # asked for here, and not yet linked to its Stripe refund
        if refund.id == seen.refund_id and refund.origin == "api" and refund.stripe_refund_id is None:
            return refund
    return None


def apply_refund(payment: Payment, seen: SeenRefund, *, actor: str, at: str) -> Change | None:
    """The payment after Stripe shows `seen`, or None when it shows nothing new."""
    current = _find_refund(payment, seen)
    if current is None:  # made in Stripe (its Dashboard): recorded as Stripe shows it
        refund = Refund(id=new_id("rfd"), stripe_refund_id=seen.id, amount=seen.amount, reason=seen.reason,
                        status=seen.status, origin="stripe", failure_reason=seen.failure_reason, created_at=at,
                        created_by=actor, updated_at=at)
        postings = [Posting("reversal", -seen.amount, refund.id)] if seen.status == "succeeded" else []
        return Change(bump(payment, at, refunds=[*payment.refunds, refund]), "payment.refund_recorded",
                      _details(refund), postings)
    if current.status == "failed" or (current.status, current.stripe_refund_id) == (seen.status, seen.id):
        return None  # failed is final; the rest was already applied
    if current.status == "succeeded" and seen.status == "pending":
        return None  # Stripe never takes a refund back to pending
    refund = current.model_copy(update={"status": seen.status, "stripe_refund_id": seen.id, "updated_at": at,
                                        "failure_reason": seen.failure_reason, "held": seen.status == "pending"
                                        and current.held})
    postings, action = [], "payment.refund_updated"
    if current.status == "pending" and seen.status == "succeeded":
        postings, action = [Posting("reversal", -current.amount, current.id)], "payment.refunded"
    elif current.status == "succeeded" and seen.status == "failed":  # Stripe could not return it after all
        postings, action = [Posting("reinstatement", current.amount, current.id)], "payment.refund_failed"
    elif seen.status == "failed":
        action = "payment.refund_failed"
    hold = -current.amount if current.held and not refund.held else 0
    refunds = [refund if r.id == current.id else r for r in payment.refunds]
    return Change(bump(payment, at, refunds=refunds), action, _details(refund), postings, hold)


def refuse_refund(payment: Payment, refund_id: str, failure_reason: str, *, at: str,
                  message: str | None = None) -> Change | None:
    """Stripe refused the refund asked for here (400: e.g. already refunded, disputed), or it was never sent:
    failed, its hold released. `message`: Stripe's, when Stripe refused it (the request is answered 422 again)."""
    current = next((r for r in payment.refunds if r.id == refund_id), None)
    if current is None or current.status != "pending" or current.stripe_refund_id is not None:
        return None
    refund = current.model_copy(update={"status": "failed", "failure_reason": failure_reason, "held": False,
                                        "refused_code": failure_reason if message is not None else None,
                                        "failure_message": message, "updated_at": at})
    refunds = [refund if r.id == refund_id else r for r in payment.refunds]
    return Change(bump(payment, at, refunds=refunds), "payment.refund_failed", _details(refund),
                  hold=-current.amount if current.held else 0)


def apply_dispute(payment: Payment, seen: SeenDispute, *, at: str) -> Change | None:
    """The payment after Stripe shows the dispute `seen`, or None when it shows nothing new. A final status
    (won, lost, closed) is never replaced."""
    current = next((d for d in payment.disputes if d.id == seen.id), None)
    base = current or Dispute(id=seen.id, amount=seen.amount, status=seen.status, reason=seen.reason,
                              created_at=at, updated_at=at)
    status = base.status if current is not None and current.status in FINAL_DISPUTE_STATUSES else seen.status
    dispute = base.model_copy(update={"status": status, "withdrawn": base.withdrawn or seen.withdrawn,
                                      "reinstated": base.reinstated or seen.reinstated})
    if current is not None and dispute == current:
        return None
    postings = []
    if dispute.withdrawn and not base.withdrawn:
        postings.append(Posting("reversal", -base.amount, base.id))
    if dispute.reinstated and not base.reinstated:
        postings.append(Posting("reinstatement", base.amount, base.id))
    dispute = dispute.model_copy(update={"updated_at": at})
    disputes = [dispute if d.id == seen.id else d for d in payment.disputes] if current else [*payment.disputes,
                                                                                              dispute]
    moves = [p.type for p in postings]
    action = ("payment.dispute_updated" if not moves else "payment.dispute_funds_withdrawn" if moves == ["reversal"]
              else "payment.dispute_funds_reinstated")
    return Change(bump(payment, at, disputes=disputes), action,
                  {"dispute_id": dispute.id, "amount": dispute.amount, "status": dispute.status,
                   "withdrawn": dispute.withdrawn, "reinstated": dispute.reinstated}, postings)


def _details(refund: Refund) -> dict[str, Any]:
    return {"refund_id": refund.id, "stripe_refund_id": refund.stripe_refund_id, "amount": refund.amount,
            "status": refund.status, "origin": refund.origin, "failure_reason": refund.failure_reason}
