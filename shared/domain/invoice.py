"""The invoice aggregate: an invoice, the payments allocated to it, and the partner's number sequence."""

from __future__ import annotations

from shared.domain.base import Part, Record
from shared.vocabulary import InvoiceStatus, InvoiceType


class InvoiceAllocation(Part):
    payment_id: str
    amount: int
    allocated_at: str


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
    provisioned_at: str | None = None
    automatic: bool = False  # issued by the daily automatic top-up
    created_at: str
    created_by: str
    updated_at: str
    version: int = 1

    @property
    def amount_due(self) -> int:
        return self.amount - self.amount_paid

    @property
    def status(self) -> InvoiceStatus:
        if self.provisioned_at:
            return "provisioned"
        if self.amount_paid == 0:
            return "unpaid"
        return "paid" if self.amount_paid == self.amount else "partially_paid"


class InvoiceCounter(Record):
    """The partner's last generated invoice number (numbers are gap-free, skipping those taken by hand)."""

    partner_id: str
    last: int = 0
    version: int = 0  # 0: not stored yet


def invoice_number(sequence: int) -> str:
    return f"INV-{sequence:06d}"
