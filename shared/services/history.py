"""Reading back what happened: the audit records of a payment, an organization (its wallet and payment settings
with it) or an invoice, newest first, a page at a time, in the one audit shape (shared.domain.audit)."""

from __future__ import annotations

from shared.auth import Principal
from shared.cursor import Owner
from shared.domain.invoice import Invoice
from shared.domain.payment import Payment
from shared.errors import NotFound
from shared.repositories.audit import AuditLog
from shared.repositories.store import Store
from shared.responses.audit import AuditOut, AuditPage
from shared.services.common import FIRST_PAGE, cursor_scope, issued, list_scope, organization_for
from shared.vocabulary import AuditedEntity

# The list each cursor is bound to (a payment's keeps the name its cursors had before this service).
ROUTES = {"payment": "payments.history", "organization": "organizations.history", "invoice": "invoices.history"}


class HistoryService:
    def __init__(self, store: Store, log: AuditLog):
        self.store = store
        self.log = log

    def _page(self, principal: Principal, entity: AuditedEntity, entity_id: str, owner: str | None, limit: int,
              cursor: str | None) -> AuditPage:
        """A page of a readable entity's records. A cursor page is read once the cursor is known to be this
        entity's and the caller may read its partner (400 invalid_cursor otherwise); a first page, once the
        entity was read and found readable (`owner`: its partner; a foreign or missing one is 404 before)."""
        route = ROUTES[entity]
        if cursor is not None:
            scope = cursor_scope(self.store.cursors, principal, route, entity_id, cursor)
        else:
            assert owner is not None
            scope = list_scope(principal, route, owner=Owner(owner, entity_id))
        records, next_cursor = self.log.page(entity, entity_id, limit=limit, cursor=cursor, scope=scope)
        return AuditPage(items=[AuditOut.of_record(r) for r in records], next_cursor=next_cursor)

    def organization(self, principal: Principal, org_id: str, limit: int, cursor: str | None) -> AuditPage:
        """The organization's, its wallet's and its payment settings' records (they share its partition)."""
        owner = organization_for(self.store, principal, org_id).partner_id if cursor is None else None
        return self._page(principal, "organization", org_id, owner, limit, cursor)

    def invoice(self, principal: Principal, invoice_id: str, limit: int, cursor: str | None) -> AuditPage:
        """The invoice's records: created or issued automatically, credit notes, void; and the allocations, releases
        and provisioning the stream consumer derived from payments' and organizations' records (InvoiceHistory)."""
        owner = None
        if cursor is None:
            invoice = self.store.get(Invoice, invoice_id)
            if invoice is None:
                raise NotFound("Invoice not found.")
            principal.check_read_owned(invoice.partner_id, invoice.org_id, "Invoice")
            owner = invoice.partner_id
        return self._page(principal, "invoice", invoice_id, owner, limit, cursor)

    def payment(self, principal: Principal, payment_id: str, limit: int, cursor: str | None) -> AuditPage:
        """Its records outlive a deleted payment and all name its partner (the first, `payment.created` or
        `payment.received_by_stripe`, is written with the payment): a first page learns its owner from them."""
        codec, route = self.store.cursors, ROUTES["payment"]
        if cursor is not None:
            return self._page(principal, "payment", payment_id, None, limit, cursor)
        records, next_cursor = self.log.page("payment", payment_id, limit=limit, cursor=None, scope=FIRST_PAGE)
        if not records:
            raise NotFound("Payment not found.")
        if principal.is_customer:  # held to their organization: the payment as it is now (a deleted one: none)
            payment = self.store.get(Payment, payment_id)
            principal.check_read_owned(records[0].partner_id, payment.org_id if payment else None, "Payment")
        else:
            principal.check_read(records[0].partner_id, "Payment")
        next_cursor = issued(codec, principal, route, Owner(records[0].partner_id, payment_id), next_cursor)
        return AuditPage(items=[AuditOut.of_record(r) for r in records], next_cursor=next_cursor)
