"""Money that comes back: credit notes, void invoices, bounced payments and withdrawals.

Each write is, as in shared.services.allocation: consistent reads, a pure decision (shared.domain.money_back),
and one TransactWriteItems guarded by what was read, retried on a lost race and done once per Idempotency-Key.
"""

from __future__ import annotations

from shared.auth import Principal
from shared.clock import now, rfc3339
from shared.cursor import Owner
from shared.domain import money_back as rules
from shared.domain.invoice import CreditNote, CreditNoteCounter, Invoice, credit_note_number
from shared.domain.organization import Organization, Withdrawal
from shared.domain.payment import Payment
from shared.domain.payments import check_not_future
from shared.domain.wallet import Posting, post
from shared.errors import NotFound
from shared.idempotency import Completion, Idempotency
from shared.ids import new_id
from shared.models import BounceIn, CreditNoteIn, VoidIn, WithdrawalIn
from shared.repositories.credit_notes import CreditNoteFilters, CreditNoteRepository
from shared.repositories.invoices import InvoiceRepository
from shared.repositories.organizations import OrganizationRepository
from shared.repositories.store import Store
from shared.responses.accounts import WithdrawalOut, WithdrawalPage
from shared.responses.invoices import CreditNoteOut, CreditNotePage, InvoiceOut
from shared.responses.payments import PaymentOut
from shared.services.common import (
    FIRST_PAGE,
    audit,
    cursor_scope,
    held,
    issued,
    list_scope,
    once,
    organization_for,
)


class MoneyBackService:
    def __init__(self, store: Store, invoices: InvoiceRepository, credit_notes: CreditNoteRepository,
                 organizations: OrganizationRepository, idempotency: Idempotency):
        self.store = store
        self.invoices = invoices
        self.credit_notes = credit_notes
        self.organizations = organizations
        self.idempotency = idempotency

    def _invoice(self, principal: Principal, invoice: Invoice | None) -> Invoice:
        if invoice is None:
            raise NotFound("Invoice not found.")
        principal.check_write(invoice.partner_id, "Invoice")
        return invoice

    # --- credit notes --------------------------------------------------------------------------------
    def create_credit_note(self, principal: Principal, invoice_id: str, body: CreditNoteIn,
                           key: str | None) -> CreditNoteOut:
        partner_id = principal.require_writer()

        def attempt(complete: Completion | None) -> CreditNoteOut:
            found = self.store.batch().add(Invoice, invoice_id).add(CreditNoteCounter, partner_id).fetch()
            invoice = self._invoice(principal, found.get(Invoice, invoice_id))
            counter = found.get(CreditNoteCounter, partner_id) or CreditNoteCounter(partner_id=partner_id)
            bumped = counter.model_copy(update={"last": counter.last + 1, "version": counter.version + 1})
            at = rfc3339(now())
            after, note = rules.credit(invoice, credit_note_id=new_id("crn"), number=credit_note_number(bumped.last),
                                       amount=body.amount, reason=body.reason, memo=body.memo, actor=principal.sub,
                                       at=at)
            uow = self.store.unit_of_work().save(after, invoice.version)
            uow.create(bumped) if counter.version == 0 else uow.save(bumped, counter.version)
            if note.wallet_credited:
                org = self.store.get(Organization, invoice.org_id)
                assert org is not None  # organizations are never deleted
                credited, entries = post(org, [Posting("credit_note", note.wallet_credited, note.id)],
                                         actor=principal.sub, at=at)
                uow.save(credited, org.version).create(entries[0])
                note = note.model_copy(update={"ledger_entry_id": entries[0].id})
            uow.create(note)
            uow.create(audit(principal, partner_id=invoice.partner_id, entity_type="invoice", entity_id=invoice.id,
                             action="invoice.credited", at=at,
                             changes={"credit_note": note.id, "number": note.number, "amount": note.amount,
                                      "reason": note.reason, "due_reduced": note.due_reduced,
                                      "wallet_credited": note.wallet_credited,
                                      "ledger_entry": note.ledger_entry_id}))
            return uow.commit_returning(CreditNoteOut.mirror(note), complete)

        return once(self.idempotency, principal, f"credit_note.create:{invoice_id}", key, body, CreditNoteOut, attempt)

    def get_credit_note(self, principal: Principal, credit_note_id: str) -> CreditNoteOut:
        note = self.store.get(CreditNote, credit_note_id)
        if note is None:
            raise NotFound("Credit note not found.")
        principal.check_read(note.partner_id, "Credit note")
        return CreditNoteOut.mirror(note)

    def list_credit_notes(self, principal: Principal, filters: CreditNoteFilters, limit: int,
                          cursor: str | None) -> CreditNotePage:
        partner_id, filters = held(principal, filters)
        scope = list_scope(principal, "credit_notes", **vars(filters))
        notes, next_cursor = self.credit_notes.search(partner_id, filters, limit=limit, cursor=cursor, scope=scope)
        return CreditNotePage(items=[CreditNoteOut.mirror(n) for n in notes], next_cursor=next_cursor)

    # --- void invoices ------------------------------------------------------------------------------
    def void_invoice(self, principal: Principal, invoice_id: str, body: VoidIn, key: str | None) -> InvoiceOut:
        def attempt(complete: Completion | None) -> InvoiceOut:
            invoice = self._invoice(principal, self.store.get(Invoice, invoice_id))
            at = rfc3339(now())
            voided = rules.void(invoice, body.reason, at)
            uow = self.store.unit_of_work().save(voided, invoice.version)
            uow.create(audit(principal, partner_id=invoice.partner_id, entity_type="invoice", entity_id=invoice.id,
                             action="invoice.voided", at=at, changes={"reason": body.reason}))
            return uow.commit_returning(InvoiceOut.of_record(voided), complete)

        return once(self.idempotency, principal, f"invoice.void:{invoice_id}", key, body, InvoiceOut, attempt)

    # --- bounced payments ---------------------------------------------------------------------------
    def bounce(self, principal: Principal, payment_id: str, body: BounceIn, key: str | None) -> PaymentOut:
        def attempt(complete: Completion | None) -> PaymentOut:
            payment = self.store.get(Payment, payment_id)
            if payment is None:
                raise NotFound("Payment not found.")
            principal.check_write(payment.partner_id, "Payment")
            moment = now()
            check_not_future(body.bounced_date, moment.date(), "bounced_date")
            batch = self.store.batch().add_all(Invoice, (a.invoice_id for a in payment.allocations if a.invoice_id))
            found = (batch.add(Organization, payment.org_id) if payment.org_id else batch).fetch()
            invoices = {a.invoice_id: found.get(Invoice, a.invoice_id) for a in payment.allocations if a.invoice_id}
            at = rfc3339(moment)
            outcome = rules.bounce(payment, invoices, bounced_date=body.bounced_date,  # type: ignore[arg-type]
                                   reason=body.reason, at=at)
            uow = self.store.unit_of_work().save(outcome.payment, payment.version)
            for change in outcome.changes:
                uow.raw(self.invoices.change(change, at))
            entry_id = None
            if outcome.reversal:
                org = found.get(Organization, payment.org_id or "")
                assert org is not None  # an allocated payment is assigned; organizations are never deleted
                reversed_, entries = post(org, [Posting("reversal", -outcome.reversal, payment.id)],
                                          actor=principal.sub, at=at)
                entry_id = entries[0].id
                uow.save(reversed_, org.version).create(entries[0])
                uow.create(audit(principal, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                                 action="wallet.reversed", at=at,
                                 changes={"payment_id": payment.id, "amount": outcome.reversal,
                                          "reversed": outcome.reversed,
                                          "balance": {"from": org.balance, "to": reversed_.balance}}))
            uow.create(audit(principal, partner_id=payment.partner_id, entity_type="payment", entity_id=payment.id,
                             action="payment.bounced", at=at,
                             changes={"bounced_date": body.bounced_date, "reason": body.reason,
                                      "released": [{"invoice_id": a.invoice_id, "kind": a.kind, "amount": a.amount}
                                                   for a in payment.allocations],
                                      "reversed": outcome.reversed, "ledger_entry": entry_id}))
            return uow.commit_returning(PaymentOut.of_record(outcome.payment), complete)

        return once(self.idempotency, principal, f"payment.bounce:{payment_id}", key, body, PaymentOut, attempt)

    # --- withdrawals --------------------------------------------------------------------------------
    def withdraw(self, principal: Principal, org_id: str, body: WithdrawalIn, key: str | None) -> WithdrawalOut:
        def attempt(complete: Completion | None) -> WithdrawalOut:
            org = organization_for(self.store, principal, org_id, write=True)
            at = rfc3339(now())
            withdrawal_id = new_id("wdr")
            debited, entries = post(org, [Posting("withdrawal", -body.amount, withdrawal_id)], actor=principal.sub,
                                    at=at)
            withdrawal = Withdrawal(id=withdrawal_id, org_id=org.id, partner_id=org.partner_id, amount=body.amount,
                                    currency=org.currency, method=body.method, reference=body.reference,
                                    remark=body.remark, ledger_entry_id=entries[0].id, created_at=at,
                                    created_by=principal.sub)
            uow = self.store.unit_of_work().save(debited, org.version).create(entries[0]).create(withdrawal)
            uow.create(audit(principal, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                             action="wallet.withdrawal", at=at,
                             changes={"withdrawal": withdrawal_id, "amount": body.amount, "method": body.method,
                                      "balance": {"from": org.balance, "to": debited.balance}}))
            return uow.commit_returning(WithdrawalOut.mirror(withdrawal), complete)

        return once(self.idempotency, principal, f"wallet.withdraw:{org_id}", key, body, WithdrawalOut, attempt)

    def list_withdrawals(self, principal: Principal, org_id: str, limit: int, cursor: str | None) -> WithdrawalPage:
        codec, route = self.store.cursors, "withdrawals"
        scope = FIRST_PAGE if cursor is None else cursor_scope(codec, principal, route, org_id, cursor)
        org, items, next_cursor = self.organizations.withdrawals_page(org_id, limit=limit, cursor=cursor, scope=scope)
        if cursor is None:  # the first page reads the owner with the withdrawals; its cursor carries it
            if org is None:
                raise NotFound("Organization not found.")
            principal.check_read_owned(org.partner_id, org.id, "Organization")
            next_cursor = issued(codec, principal, route, Owner(org.partner_id, org_id), next_cursor)
        return WithdrawalPage(items=[WithdrawalOut.mirror(w) for w in items], next_cursor=next_cursor)

