"""Recording, listing, editing and deleting payments."""

from __future__ import annotations

from shared.auth import Principal
from shared.clock import now, rfc3339
from shared.domain.organization import Organization
from shared.domain.payment import Payment
from shared.domain.payments import (
    apply_patch,
    check_assignable_currency,
    check_date_range,
    check_deletable,
    check_received_date,
    check_version,
    parse_if_match,
)
from shared.errors import NotFound, Unprocessable
from shared.idempotency import Completion, Idempotency
from shared.ids import new_id
from shared.models import PaymentCreate, PaymentPatch
from shared.repositories.payments import PaymentFilters, PaymentRepository
from shared.repositories.store import Store
from shared.responses.payments import PaymentOut, PaymentPage
from shared.services.common import audit, held, list_scope, once, with_retries


class PaymentService:
    def __init__(self, store: Store, payments: PaymentRepository, idempotency: Idempotency):
        self.store = store
        self.payments = payments
        self.idempotency = idempotency

    def _own(self, principal: Principal, payment_id: str) -> Payment:
        payment = self.store.get(Payment, payment_id)
        if payment is None:
            raise NotFound("Payment not found.")
        principal.check_read_owned(payment.partner_id, payment.org_id, "Payment")
        return payment

    def create(self, principal: Principal, body: PaymentCreate, idempotency_key: str | None) -> PaymentOut:
        partner_id = principal.require_writer()
        moment = now()
        check_received_date(body.received_date, moment.date())
        if body.org_id is not None:
            org = self.store.get(Organization, body.org_id)
            if org is None or org.partner_id != partner_id:
                raise Unprocessable("The organization does not exist.", code="organization_not_found",
                                    details=[{"field": "org_id", "message": "unknown organization"}])
            check_assignable_currency(body.currency, org.currency)

        def create(complete: Completion | None) -> PaymentOut:
            at = rfc3339(moment)
            payment = Payment(id=new_id("pay"), partner_id=partner_id, org_id=body.org_id, amount=body.amount,
                              currency=body.currency, received_date=body.received_date, method=body.method,
                              reference=body.reference, invoice_number=body.invoice_number, remark=body.remark,
                              assignment_edits=1 if body.org_id else 0, created_at=at, created_by=principal.sub,
                              updated_at=at)
            result = PaymentOut.of_record(payment)
            record = audit(principal, partner_id=partner_id, entity_type="payment", entity_id=payment.id,
                           action="payment.created", at=at, changes=body.model_dump(mode="json"))
            uow = self.store.unit_of_work().create(payment).create(record)
            return uow.commit_returning(result, complete)

        return once(self.idempotency, principal, "payment.create", idempotency_key, body, PaymentOut, create)

    def get(self, principal: Principal, payment_id: str) -> PaymentOut:
        return PaymentOut.of_record(self._own(principal, payment_id))

    def list(self, principal: Principal, filters: PaymentFilters, limit: int,
             cursor: str | None) -> PaymentPage:
        check_date_range(filters.received_from, filters.received_to, "received")
        partner_id, filters = held(principal, filters)
        scope = list_scope(principal, "payments", **vars(filters))
        items, next_cursor = self.payments.search(partner_id, filters, limit=limit, cursor=cursor, scope=scope)
        return PaymentPage(items=[PaymentOut.of_record(p) for p in items], next_cursor=next_cursor)

    def patch(self, principal: Principal, payment_id: str, body: PaymentPatch,
              if_match: str | None) -> PaymentOut:
        expected = parse_if_match(if_match)
        changes = body.changes()

        def attempt() -> PaymentOut:
            payment = self._own(principal, payment_id)
            principal.check_write(payment.partner_id, "Payment")
            check_version(payment, expected)  # after a lost race the re-read version answers 412
            moment = now()
            if "received_date" in changes:
                check_received_date(changes["received_date"], moment.date())
            updated, diff = apply_patch(payment, changes, rfc3339(moment))
            if not diff:
                return PaymentOut.of_record(payment)
            record = audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                           action="payment.updated", at=updated.updated_at, changes=diff)
            self.store.unit_of_work().save(updated, payment.version).create(record).commit()
            return PaymentOut.of_record(updated)

        return with_retries(attempt)

    def delete(self, principal: Principal, payment_id: str, if_match: str | None) -> None:
        expected = parse_if_match(if_match)

        def attempt() -> None:
            payment = self._own(principal, payment_id)
            principal.check_write(payment.partner_id, "Payment")
            check_version(payment, expected)
            check_deletable(payment)
            record = audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                           action="payment.deleted", at=rfc3339(now()),
                           changes={"payment": PaymentOut.of_record(payment).model_dump(mode="json")})
            self.store.unit_of_work().delete(payment, payment.version, "allocated_amount = :zero").create(
                record).commit()

        with_retries(attempt)
