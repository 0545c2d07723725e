"""Card money that comes back: refunds asked for here, and the refunds and disputes Stripe shows.

  ask      `POST /payments/{id}/refunds`: a `pending` refund, its amount held in the wallet (one transaction),
           then the Stripe refund with the key `refund:{refund id}`, then what Stripe answered (below).
  sync     a PaymentIntent's refunds or disputes, read from Stripe (the webhook's events and the reconciliation
           only say when): each one is applied by the pure rules of shared.domain.card_money_back, on one read of
           the payment and its organization, in one transaction guarded by both versions. A refund or dispute
           already applied changes nothing, so every order and repetition of deliveries ends in one state.

A PaymentIntent whose success was not yet credited (its event is late) is first settled from Stripe, exactly as
its webhook would (shared.services.settlement), so that a refund never arrives before the money it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.domain import card_money_back as rules
from shared.domain.card_amounts import check_refundable
from shared.domain.organization import Organization
from shared.domain.payment import Payment, Refund
from shared.domain.reconciling import key_expired
from shared.errors import Conflict, NotFound, Unprocessable
from shared.idempotency import Completion, Idempotency
from shared.ids import new_id
from shared.models import RefundIn
from shared.repositories.keys import hashed
from shared.repositories.store import Store
from shared.repositories.stripe_markers import StripeMarker
from shared.responses.payments import RefundListOut, RefundOut
from shared.services.common import audit, once, with_retries
from shared.services.settlement import Settlement
from shared.stripe_gateway import PaymentProviderError, ProviderRefused, StripeGateway

STRIPE_SUB = "system:stripe"
CHANGES_PER_TRANSACTION = 20  # each change writes at most 4 items beside the payment and the organization

type Decide = Callable[[Payment, Organization], rules.Change | None]
type Finish = Callable[[Payment], dict[str, Any]]  # a last item for the transaction, made from the payment after it


class CardMoneyBackService:
    def __init__(self, store: Store, idempotency: Idempotency, gateway: StripeGateway, settlement: Settlement,
                 clock: Callable[[], float]):
        self.store, self.idempotency, self._gateway, self._clock = store, idempotency, gateway, clock
        self._settlement = settlement  # the webhook's own decision and transaction

    # --- the API --------------------------------------------------------------------------------------
    def request_refund(self, principal: Principal, payment_id: str, body: RefundIn, key: str | None) -> RefundOut:
        """202: the refund as Stripe answered it, or `pending` when Stripe was asked but did not answer (its amount
        stays held; the reconciliation asks again). Stripe not reached is 503 (the refund waits, held: the same
        `Idempotency-Key` resumes it, else the reconciliation asks), Stripe's refusal 422 (the refund failed, its
        hold released). The key is required: a refund retried without one could become a second refund."""
        principal.require_writer()  # the role first: a viewer is 403 wherever its write points, key or none
        if key is None:
            raise Unprocessable("Refunds need an Idempotency-Key header, so that a retried request can never "
                                "refund twice.", code="idempotency_key_required")
        request_key = hashed(f"{principal.home_partner()}|{payment_id}|{key}")

        def attempt(complete: Completion | None) -> RefundOut:
            payment = self._own(principal, payment_id, write=True)
            rules.check_card_payment(payment)
            check_refundable(body.amount, payment.currency)
            refund = next((r for r in payment.refunds if r.request_key == request_key), None)
            if refund is not None and (refund.amount, refund.reason) != (body.amount, body.reason):
                raise Conflict("idempotency_key_reused",
                               "This Idempotency-Key was already used with a different request body.")
            if refund is None:  # not a retry of a request that got this far
                refund_id, at = new_id("rfd"), utc_now_str()
                payment = self._change(payment.id, payment.org_id, principal.sub, lambda p, org: rules.request_refund(
                    p, org, amount=body.amount, reason=body.reason, refund_id=refund_id, request_key=request_key,
                    actor=principal.sub, at=at))
                refund = _refund(payment, refund_id)
            elif refund.status == "failed" and refund.refused_code:
                raise ProviderRefused(refund.refused_code, refund.failure_message or "Stripe refused the refund.")
            rid = refund.id
            # the idempotency record's completion rides in the transaction of Stripe's answer
            finish = (lambda p: complete(RefundOut.of_record(p, _refund(p, rid)))) if complete else None
            # never resent once Stripe may have forgotten its key: the reconciliation reads Stripe for it instead
            now = datetime.fromtimestamp(self._clock(), UTC)
            if refund.status == "pending" and refund.stripe_refund_id is None and not key_expired(refund.created_at,
                                                                                               now):
                try:
                    payment = self._send(payment, refund, finish)
                except PaymentProviderError as unanswered:
                    if not unanswered.sent:
                        raise  # 503: Stripe was not reached; the refund waits, held, for this key or the reconciliation
                    # sent, no answer: 202 `pending`, held; the reconciliation reads Stripe and settles it
                else:
                    return RefundOut.of_record(payment, _refund(payment, rid))
            result = RefundOut.of_record(payment, _refund(payment, rid))
            return self.store.unit_of_work().commit_returning(result, complete) if complete else result

        return once(self.idempotency, principal, f"payment.refund:{payment_id}", key, body, RefundOut, attempt)

    def list_refunds(self, principal: Principal, payment_id: str) -> RefundListOut:
        return RefundListOut.of_record(self._own(principal, payment_id))

    # --- Stripe's side ---------------------------------------------------------------------------------
    def sync(self, intent_id: str, *, refunds: bool, disputes: bool) -> str:
        """Apply the PaymentIntent's refunds and/or disputes as Stripe shows them now."""
        marker = self._credited(intent_id)
        if isinstance(marker, str):
            return marker
        if marker.payment_id is None:
            return "payment_unknown"  # credited before payments were linked to their PaymentIntent
        seen: list[Decide] = []
        unreadable: list[str] = []  # an amount that is no whole number of minor units: never rounded, never applied
        if refunds:
            found = (_read(rules.SeenRefund.from_stripe, obj, unreadable)
                     for obj in self._gateway.refunds_of(intent_id))
            seen += [_refund_seen(r) for r in found if r is not None]
        if disputes:
            found_d = (_read(rules.SeenDispute.from_stripe, obj, unreadable)
                       for obj in self._gateway.disputes_of(intent_id))
            seen += [_dispute_seen(d) for d in found_d if d is not None]
        changed = self._change_all(marker.payment_id, marker.org_id, STRIPE_SUB, seen)[0]
        if unreadable:  # the others are applied; this one fails loudly (500 to Stripe, an error in the run's count)
            raise ValueError("; ".join(unreadable))
        return "applied" if changed else "already_applied"

    def reconcile_refunds(self, payment: Payment, now: datetime) -> str:
        """The reconciliation's part, for a payment with a pending refund: its refunds as Stripe shows them (a
        refund Stripe made is linked by our id in its metadata), then each refund asked for here that Stripe does not
        have is asked again, the identical request, while Stripe still holds its key; after that it is failed
        `not_sent` and its hold released (resending could then refund twice)."""
        if not payment.reference:
            return "payment_unknown"
        outcome = self.sync(payment.reference, refunds=True, disputes=False)
        current = self.store.get(Payment, payment.id) or payment
        for refund in current.refunds:
            if refund.status != "pending" or refund.stripe_refund_id is not None or refund.origin != "api":
                continue
            if key_expired(refund.created_at, now):
                current = self._change(current.id, current.org_id, STRIPE_SUB, _refused(refund.id, "not_sent"))
                outcome = "not_sent"
            else:
                try:
                    current = self._send(current, refund)
                    outcome = "resent"
                except ProviderRefused:
                    current = self.store.get(Payment, current.id) or current
                    outcome = "refused"
        return outcome

    # --- steps -------------------------------------------------------------------------------------------
    def _send(self, payment: Payment, refund: Refund, finish: Finish | None = None) -> Payment:
        """Ask Stripe (the identical request each time), then apply its answer (with `finish`'s item)."""
        try:
            answer = self._gateway.refund(refund_id=refund.id, payment_id=payment.id, org_id=payment.org_id or "",
                                            intent_id=payment.reference or "", amount=refund.amount,
                                            currency=payment.currency, reason=refund.reason)
        except ProviderRefused as refused:  # (400: already refunded, disputed...): failed, its hold released
            self._change(payment.id, payment.org_id, STRIPE_SUB,
                         _refused(refund.id, refused.stripe_code, refused.stripe_message))
            raise
        seen = rules.SeenRefund.from_stripe(answer)
        if seen is None:
            raise ValueError(f"Stripe answered the refund {refund.id} with no Refund")
        return self._change(payment.id, payment.org_id, STRIPE_SUB, _refund_seen(seen), finish)

    def _credited(self, intent_id: str) -> StripeMarker | str:
        """The PaymentIntent's marker, after settling its success from Stripe if its event is late; else
        what settling it said (`not_ours`, `still_pending`, ...)."""
        marker = self.store.get(StripeMarker, "payment_intent", intent_id)
        if marker is not None:
            return marker
        outcome = self._settlement.settle(self._gateway.payment_intent(intent_id), "refund_or_dispute")
        return self.store.get(StripeMarker, "payment_intent", intent_id) or outcome

    def _change(self, payment_id: str, org_id: str | None, actor: str, decide: Decide,
                finish: Finish | None = None) -> Payment:
        return self._change_all(payment_id, org_id, actor, [decide], finish)[1]

    def _change_all(self, payment_id: str, org_id: str | None, actor: str, decisions: list[Decide],
                    finish: Finish | None = None) -> tuple[bool, Payment]:
        """Apply `decisions` in order on one read of the payment and its organization, in transactions of at most
        CHANGES_PER_TRANSACTION changes, each guarded by both versions (re-read and decided again on a lost race).
        Whether anything changed, and the payment after."""
        changed = False
        while True:
            batch, decisions = decisions[:CHANGES_PER_TRANSACTION], decisions[CHANGES_PER_TRANSACTION:]
            last = finish if not decisions else None
            moved, payment = with_retries(partial(self._commit, payment_id, org_id, actor, batch, last))
            changed = changed or moved
            if not decisions:
                return changed, payment

    def _commit(self, payment_id: str, org_id: str | None, actor: str, decisions: list[Decide],
                finish: Finish | None = None) -> tuple[bool, Payment]:
        found = self.store.batch().add(Payment, payment_id).add(Organization, org_id or "").fetch()
        payment, org = found.get(Payment, payment_id), found.get(Organization, org_id or "")
        if payment is None or org is None:
            raise NotFound("Payment not found.")
        read_payment, read_org, at = payment, org, utc_now_str()
        principal = Principal(sub=actor, partner_id=None, groups=frozenset())
        uow = self.store.unit_of_work()
        for decide in decisions:
            change = decide(payment, org)
            if change is None:
                continue
            before = org
            payment = change.payment
            org, entries = change.apply(org, actor=actor, at=at)
            for entry in entries:
                uow.create(entry)
            uow.create(audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                             action=change.action, at=at,
                             changes={**change.details, "ledger_entries": [e.id for e in entries]}))
            if entries:
                signs = {e.amount < 0 for e in entries}
                action = ("wallet.reversed" if signs == {True} else "wallet.reinstated" if signs == {False}
                          else "wallet.reversed_and_reinstated")
                uow.create(audit(principal, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                                 action=action, at=at,
                                 changes={"payment_id": payment.id, "amounts": [e.amount for e in entries],
                                          "reference": entries[0].reference,
                                          "balance": {"from": before.balance, "to": org.balance}}))
        if finish is not None:
            uow.raw(finish(payment))  # committed even when nothing else changed (Stripe's answer was applied)
        elif payment is read_payment:
            return False, payment
        if payment is not read_payment:
            uow.save(payment, read_payment.version)
        if org is not read_org:
            uow.save(org, read_org.version)
        uow.commit()
        return payment is not read_payment, payment

    def _own(self, principal: Principal, payment_id: str, *, write: bool = False) -> Payment:
        payment = self.store.get(Payment, payment_id)
        if payment is None or not principal.can_read(payment.partner_id):
            raise NotFound("Payment not found.")
        if write:
            principal.check_write(payment.partner_id, "Payment")
        return payment


def _read[T](parse: Callable[[Any], T | None], obj: Any, unreadable: list[str]) -> T | None:
    try:
        return parse(obj)
    except ValueError as error:
        unreadable.append(str(error))
        return None


def _refund(payment: Payment, refund_id: str) -> Refund:
    return next(r for r in payment.refunds if r.id == refund_id)


def _refund_seen(seen: rules.SeenRefund) -> Decide:
    def decide(payment: Payment, _: Organization) -> rules.Change | None:
        return rules.apply_refund(payment, seen, actor=STRIPE_SUB, at=utc_now_str())

    return decide


def _dispute_seen(seen: rules.SeenDispute) -> Decide:
    def decide(payment: Payment, _: Organization) -> rules.Change | None:
        return rules.apply_dispute(payment, seen, at=utc_now_str())

    return decide


def _refused(refund_id: str, reason: str, message: str | None = None) -> Decide:
    def decide(payment: Payment, _: Organization) -> rules.Change | None:
        return rules.refuse_refund(payment, refund_id, reason, message=message, at=utc_now_str())

    return decide
