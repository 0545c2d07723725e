"""Invoices, assignment, allocation, release and wallet top-ups from payments.

Every money move is: consistent reads, a pure decision (shared.domain.allocation), and one
TransactWriteItems guarded by the versions read. A lost race re-reads and decides again, so the
rules hold under concurrency; the write path never trusts an index read.
"""

from __future__ import annotations

from functools import partial

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.domain import allocation as rules
from shared.domain.invoice import Invoice, InvoiceCounter, number_key
from shared.domain.organization import Organization
from shared.domain.payment import Payment
from shared.domain.payments import check_assignable_currency, check_date_range
from shared.domain.wallet import Posting, post
from shared.errors import NotFound, Unprocessable
from shared.idempotency import Completion, Idempotency
from shared.models import AllocationsIn, AssignmentIn, InvoiceCreate, TopUpIn
from shared.repositories.invoices import InvoiceFilters, InvoiceRepository
from shared.repositories.store import Store
from shared.repositories.unit_of_work import UnitOfWork
from shared.responses.invoices import InvoiceOut, InvoicePage
from shared.responses.payments import PaymentOut
from shared.services.common import audit, held, list_scope, once, with_retries
from shared.services.invoicing import with_free_number, write_invoice


class AllocationService:
    def __init__(self, store: Store, invoices: InvoiceRepository, idempotency: Idempotency):
        self.store = store
        self.invoices = invoices
        self.idempotency = idempotency

    # --- reads ---------------------------------------------------------------------------------------
    def _payment(self, principal: Principal, payment: Payment | None) -> Payment:
        if payment is None:
            raise NotFound("Payment not found.")
        principal.check_write(payment.partner_id, "Payment")
        return payment

    def _payment_by_id(self, principal: Principal, payment_id: str) -> Payment:
        return self._payment(principal, self.store.get(Payment, payment_id))

    # --- invoices ------------------------------------------------------------------------------------
    def create_invoice(self, principal: Principal, body: InvoiceCreate, key: str | None) -> InvoiceOut:
        partner_id = principal.require_writer()

        def attempt(complete: Completion | None, after: int) -> InvoiceOut:
            found = self.store.batch().add(Organization, body.org_id).add(InvoiceCounter, partner_id).fetch()
            org = rules.check_organization(found.get(Organization, body.org_id), partner_id)
            check_assignable_currency(body.currency, org.currency)
            at = utc_now_str()
            uow = self.store.unit_of_work()
            invoice = write_invoice(uow, org=org, counter=found.get(InvoiceCounter, partner_id), number=body.number,
                                    after=after, type_=body.type, amount=body.amount, issued_date=body.issued_date,
                                    due_date=body.due_date, actor=principal.sub, at=at)
            uow.create(audit(principal, partner_id=partner_id, entity_type="invoice", entity_id=invoice.id,
                             action="invoice.created", at=at, changes=body.model_dump(mode="json")))
            return uow.commit_returning(InvoiceOut.of_record(invoice), complete)

        return once(self.idempotency, principal, "invoice.create", key, body, InvoiceOut,
                    lambda complete: with_free_number(partial(attempt, complete), number_given=body.number is not None))

    def get_invoice(self, principal: Principal, invoice_id: str) -> InvoiceOut:
        invoice = self.store.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFound("Invoice not found.")
        principal.check_read_owned(invoice.partner_id, invoice.org_id, "Invoice")
        return InvoiceOut.of_record(invoice)

    def list_invoices(self, principal: Principal, filters: InvoiceFilters, limit: int,
                      cursor: str | None) -> InvoicePage:
        check_date_range(filters.issued_from, filters.issued_to, "issued")
        partner_id, filters = held(principal, filters)
        if filters.sort == "due_date" and filters.org_id is None:  # it reads all it selects, for each page
            raise Unprocessable("sort=due_date orders one organization's invoices: give its org_id (a partner's "
                                "whole book by how overdue: GET /reports/aged-receivables).",
                                details=[{"field": "org_id", "message": "is required with sort=due_date"}])
        scope = list_scope(principal, "invoices", **vars(filters))
        items, next_cursor = self.invoices.search(partner_id, filters, limit=limit, cursor=cursor, scope=scope)
        return InvoicePage(items=[InvoiceOut.of_record(i) for i in items], next_cursor=next_cursor)

    # --- assignment ----------------------------------------------------------------------------------
    def assign(self, principal: Principal, payment_id: str, body: AssignmentIn) -> PaymentOut:
        def attempt() -> PaymentOut:
            found = self.store.batch().add(Payment, payment_id).add(Organization, body.org_id).fetch()
            payment = self._payment(principal, found.get(Payment, payment_id))
            at = utc_now_str()
            updated = rules.assign(payment, found.get(Organization, body.org_id), at)
            if updated is None:
                return PaymentOut.of_record(payment)
            record = audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                           action="payment.assigned", at=at,
                           changes={"org_id": {"from": None, "to": body.org_id},
                                    "assignment_edits": updated.assignment_edits})
            self.store.unit_of_work().save(updated, payment.version).create(record).commit()
            return PaymentOut.of_record(updated)

        return with_retries(attempt)

    def unassign(self, principal: Principal, payment_id: str) -> PaymentOut:
        def attempt() -> PaymentOut:
            payment = self._payment_by_id(principal, payment_id)
            invoices = self.store.get_many(Invoice, [a.invoice_id for a in payment.allocations if a.invoice_id])
            at = utc_now_str()
            updated, released = rules.unassign(payment, invoices, at)
            uow = self.store.unit_of_work().save(updated, payment.version)
            for change in released:
                uow.raw(self.invoices.change(change, at))
            uow.create(audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                             action="payment.unassigned", at=at,
                             changes={"org_id": {"from": payment.org_id, "to": None},
                                      "assignment_edits": updated.assignment_edits,
                                      "released": [{"invoice_id": a.invoice_id, "amount": a.amount}
                                                   for a in payment.allocations]}))
            uow.commit()
            return PaymentOut.of_record(updated)

        return with_retries(attempt)

    # --- allocation ----------------------------------------------------------------------------------
    def _requested(self, principal: Principal, payment_id: str, body: AllocationsIn) -> list[tuple[str, int]]:
        """The lines as (invoice id, amount): a number is looked up among the payment's partner's invoices (a number
        names one invoice for good: its lock is never moved), 422 invoice_not_found for one that names none."""
        numbers = [line.invoice_number for line in body.allocations if line.invoice_number is not None]
        if not numbers:
            return [(line.invoice_id or "", line.amount) for line in body.allocations]
        payment = self._payment_by_id(principal, payment_id)
        ids = self.invoices.ids_by_number(payment.partner_id, numbers)
        unknown = [{"invoice_number": n, "code": "invoice_not_found"} for n in numbers if number_key(n) not in ids]
        if unknown:
            raise Unprocessable("An invoice number names no invoice.", code="invoice_not_found", details=unknown)
        requested = [(line.invoice_id or ids[number_key(line.invoice_number or "")], line.amount)
                     for line in body.allocations]
        if len({i for i, _ in requested}) != len(requested):
            raise Unprocessable("The request has invalid fields.", code="validation_error", details=[
                {"field": "allocations", "message": "each invoice may appear once per request (by id or number)"}])
        return requested

    def allocate(self, principal: Principal, payment_id: str, body: AllocationsIn,
                 key: str | None) -> PaymentOut:
        requested = self._requested(principal, payment_id, body)

        def attempt(complete: Completion | None) -> PaymentOut:
            found = self.store.batch().add(Payment, payment_id).add_all(Invoice, (i for i, _ in requested)).fetch()
            payment = self._payment(principal, found.get(Payment, payment_id))
            invoices = {i: found.get(Invoice, i) for i, _ in requested}
            at = utc_now_str()
            outcome = rules.allocate(payment, invoices, requested, at)
            uow = self.store.unit_of_work().save(outcome.payment, payment.version)
            for change in outcome.changes:
                uow.raw(self.invoices.change(change, at))
            uow.create(audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                             action="payment.allocated", at=at,
                             changes={"allocations": [{"invoice_id": i, "amount": a} for i, a in requested]}))
            if outcome.provisioned:
                self._provision(principal, uow, outcome.provisioned, at)
            return uow.commit_returning(PaymentOut.of_record(outcome.payment), complete)

        return once(self.idempotency, principal, f"payment.allocate:{payment_id}", key, body, PaymentOut, attempt)

    def _provision(self, principal: Principal, uow: UnitOfWork, invoices: list[Invoice], at: str) -> None:
        """Credit the wallet with each fully paid top-up invoice: one `provision` entry each, in the
        same transaction that marks the invoice provisioned (so exactly once)."""
        org = self.store.get(Organization, invoices[0].org_id)
        assert org is not None
        credited, entries = post(org, [Posting("provision", i.amount, i.id) for i in invoices], actor=principal.sub,
                                 at=at)
        uow.save(credited, org.version)
        for entry in entries:
            uow.create(entry)
        uow.create(audit(principal, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                         action="wallet.provisioned", at=at,
                         changes={"invoices": [{"invoice_id": i.id, "amount": i.amount} for i in invoices],
                                  "balance": {"from": org.balance, "to": credited.balance}}))

    def release(self, principal: Principal, payment_id: str, invoice_id: str) -> PaymentOut:
        def attempt() -> PaymentOut:
            found = self.store.batch().add(Payment, payment_id).add(Invoice, invoice_id).fetch()
            payment = self._payment(principal, found.get(Payment, payment_id))
            invoice = found.get(Invoice, invoice_id)
            at = utc_now_str()
            updated, released = rules.release(payment, invoice, invoice_id, at)
            amount = next(a.amount for a in payment.allocations if a.invoice_id == invoice_id)
            self.store.unit_of_work().save(updated, payment.version).raw(self.invoices.change(released, at)).create(
                audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                      action="payment.allocation_released", at=at,
                      changes={"invoice_id": invoice_id, "amount": amount})).commit()
            return PaymentOut.of_record(updated)

        return with_retries(attempt)

    def top_up(self, principal: Principal, payment_id: str, body: TopUpIn, key: str | None) -> PaymentOut:
        def attempt(complete: Completion | None) -> PaymentOut:
            payment = self._payment_by_id(principal, payment_id)
            at = utc_now_str()
            updated = rules.top_up(payment, body.amount, at)
            org = self.store.get(Organization, payment.org_id or "")
            assert org is not None
            credited, entries = post(org, [Posting("top_up", body.amount, payment.id)], actor=principal.sub, at=at)
            uow = self.store.unit_of_work().save(updated, payment.version).save(credited, org.version)
            uow.create(entries[0])
            uow.create(audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                             action="payment.wallet_top_up", at=at,
                             changes={"amount": body.amount, "ledger_entry": entries[0].id}))
            return uow.commit_returning(PaymentOut.of_record(updated), complete)

        return once(self.idempotency, principal, f"payment.top_up:{payment_id}", key, body, PaymentOut, attempt)
