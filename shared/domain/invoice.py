"""The invoice aggregate: an invoice, the payments allocated to it, and the partner's number sequence."""

from __future__ import annotations

from shared.domain.base import Part, Record
from shared.vocabulary import CreditNoteReason, InvoiceStatus, InvoiceType


class InvoiceAllocation(Part):
    payment_id: str
    amount: int
    allocated_at: str


class CreditNoteRef(Part):
    """A credit note as its invoice lists it."""

    id: str
    number: str
    amount: int
    reason: CreditNoteReason
    created_at: str


class Invoice(Record):
    id: str
    partner_id: str
    org_id: str
    org_name: str
    number: str
    type: InvoiceType
    amount: int
    currency: str
    issued_date: str
    due_date: str | None = None
    allocations: list[InvoiceAllocation] = []
    amount_paid: int = 0  # the sum of the allocations
    amount_credited: int = 0  # the sum of its credit notes (never above `amount`)
    credit_notes: list[CreditNoteRef] = []
    voided_at: str | None = None
    void_reason: str | None = None
    provisioned_at: str | None = None
    automatic: bool = False  # issued by the daily automatic top-up
    # What its payments changed `amount_paid` by, per UTC day of the change (added with every allocation, release
    # and bounce, in the same update): the amounts of a past day (shared.domain.receivables). None: stored before
    # the log (the receivables backfill, or the invoice's next write, seeds it from its allocations).
    paid_by_day: dict[str, int] | None = None
    created_at: str
    created_by: str
    updated_at: str
    version: int = 1

    @property
    def net_amount(self) -> int:
        """What the customer owes in all: the amount less its credit notes."""
        return self.amount - self.amount_credited

    @property
    def amount_due(self) -> int:
        """Never below 0; a void invoice is never due."""
        return 0 if self.voided_at else max(0, self.net_amount - self.amount_paid)

    @property
    def wallet_credit(self) -> int:
        """What its credit notes put in the wallet: the part of the paid amount above the net amount. It is a
        function of the money (docs/decisions.md "Credit notes"): a credit note credits the wallet by how much it
        raises it, and a released payment takes back by how much the release lowers it."""
        return max(0, self.amount_paid - self.net_amount)

    @property
    def status(self) -> InvoiceStatus:
        if self.voided_at:
            return "void"
        if self.provisioned_at:
            return "provisioned"
        if self.amount_due == 0:
            return "paid"
        return "unpaid" if self.amount_paid == 0 else "partially_paid"


class InvoiceCounter(Record):
    """The partner's last generated invoice number (numbers are gap-free, skipping those taken by hand)."""

    partner_id: str
    last: int = 0
    version: int = 0  # 0: not stored yet


def invoice_number(sequence: int) -> str:
    return f"INV-{sequence:06d}"


def number_key(number: str) -> str:
    """The form in which invoice numbers are unique per partner and searched: case-insensitive (`INV-1` and `inv-1`
    are one number). Numbers are ASCII (the API's pattern; generated ones are `INV-000001`), so upper-casing is
    case folding; upper, not lower, so that every generated and every upper-case number keeps the lock key it was
    stored under before (docs/decisions.md, "Reading back (issue 26)")."""
    return number.upper()


class CreditNote(Record):
    """A credit note: it reduces what its invoice still asks for, and credits the wallet with the rest."""

    id: str
    number: str
    partner_id: str
    invoice_id: str
    org_id: str
    amount: int
    currency: str
    reason: CreditNoteReason
    memo: str | None = None
    due_reduced: int
    wallet_credited: int
    ledger_entry_id: str | None = None
    created_at: str
    created_by: str


class CreditNoteCounter(Record):
    """The partner's last credit note number (gap-free: moved in the transaction that writes the note)."""

    partner_id: str
    last: int = 0
    version: int = 0  # 0: not stored yet


def credit_note_number(sequence: int) -> str:
    return f"CN-{sequence:06d}"
