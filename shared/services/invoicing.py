"""Writing a new invoice: its number (given, or the partner's next, gap-free), its lock and the invoice,
into the caller's transaction. Used by POST /invoices and by the daily automatic top-up."""

from __future__ import annotations

from collections.abc import Callable

from shared.domain.invoice import Invoice, InvoiceCounter, invoice_number
from shared.domain.organization import Organization
from shared.errors import Conflict
from shared.ids import new_id
from shared.repositories.invoices import InvoiceNumberLock
from shared.repositories.unit_of_work import UnitOfWork
from shared.vocabulary import InvoiceType

MAX_NUMBER_SKIPS = 20


class NumberTaken(Conflict):
    def __init__(self) -> None:
        super().__init__("invoice_number_taken", "This invoice number is already used by another invoice.")


def write_invoice(uow: UnitOfWork, *, org: Organization, counter: InvoiceCounter | None, number: str | None,
                  skip: int, type_: InvoiceType, amount: int, issued_date: str, due_date: str | None, actor: str,
                  at: str, automatic: bool = False) -> Invoice:
    """Add the invoice's writes to `uow`; a generated number moves the partner's counter in the same
    transaction (`skip` numbers further when earlier ones were taken by hand)."""
    if number is None:
        counter = counter or InvoiceCounter(partner_id=org.partner_id)
        bumped = counter.model_copy(update={"last": counter.last + 1 + skip, "version": counter.version + 1})
        number = invoice_number(bumped.last)
        uow.create(bumped) if counter.version == 0 else uow.save(bumped, counter.version)
    invoice = Invoice(id=new_id("inv"), partner_id=org.partner_id, org_id=org.id, org_name=org.name, number=number,
                      type=type_, amount=amount, currency=org.currency, issued_date=issued_date, due_date=due_date,
                      automatic=automatic, created_at=at, created_by=actor, updated_at=at)
    uow.create(InvoiceNumberLock(partner_id=org.partner_id, number=number, invoice_id=invoice.id), taken=NumberTaken())
    uow.create(invoice)
    return invoice


def with_free_number[T](attempt: Callable[[int], T], *, number_given: bool) -> T:
    """Run `attempt(skip)` until its generated number is free (moving past numbers taken by hand).
    Lost races are the caller's to retry, with a fresh read of whatever it decided on."""
    for skip in range(MAX_NUMBER_SKIPS):
        try:
            return attempt(skip)
        except NumberTaken:
            if number_given:
                raise
    raise Conflict("invoice_number_taken", "Could not find a free invoice number; give one.")
