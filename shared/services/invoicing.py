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
    def __init__(self, sequence: int | None = None) -> None:
        super().__init__("invoice_number_taken", "This invoice number is already used by another invoice.")
        self.sequence = sequence  # the generated number found taken by hand (None: a number given)


def write_invoice(uow: UnitOfWork, *, org: Organization, counter: InvoiceCounter | None, number: str | None,
                  after: int, type_: InvoiceType, amount: int, issued_date: str, due_date: str | None, actor: str,
                  at: str, automatic: bool = False) -> Invoice:
    """Add the invoice's writes to `uow`; a generated number moves the partner's counter in the same
    transaction: the next after the counter, or after `after` (a number found taken by hand)."""
    taken = NumberTaken()
    if number is None:
        counter = counter or InvoiceCounter(partner_id=org.partner_id)
        bumped = counter.model_copy(update={"last": max(counter.last, after) + 1, "version": counter.version + 1})
        number, taken = invoice_number(bumped.last), NumberTaken(bumped.last)
        uow.create(bumped) if counter.version == 0 else uow.save(bumped, counter.version)
    invoice = Invoice(id=new_id("inv"), partner_id=org.partner_id, org_id=org.id, org_name=org.name, number=number,
                      type=type_, amount=amount, currency=org.currency, issued_date=issued_date, due_date=due_date,
                      automatic=automatic, created_at=at, created_by=actor, updated_at=at)
    uow.create(InvoiceNumberLock(partner_id=org.partner_id, number=number, invoice_id=invoice.id), taken=taken)
    uow.create(invoice)
    return invoice


def with_free_number[T](attempt: Callable[[int], T], *, number_given: bool) -> T:
    """Run `attempt(after)` until its generated number is free, moving past numbers taken by hand (each
    retry tries the next after the taken one, or after the counter if that moved further: never a gap).
    Lost races are the caller's to retry, with a fresh read of whatever it decided on."""
    after = 0
    for _ in range(MAX_NUMBER_SKIPS):
        try:
            return attempt(after)
        except NumberTaken as taken:
            if number_given or taken.sequence is None:
                raise
            after = taken.sequence
    raise Conflict("invoice_number_taken", "Could not find a free invoice number; give one.")
