"""The payment aggregate: a payment received, and where its money went (its allocations)."""

from __future__ import annotations

from shared.domain.base import Part, Record
from shared.vocabulary import AllocationKind, PaymentMethod, PaymentStatus


class Allocation(Part):
    invoice_id: str | None = None
    kind: AllocationKind
    amount: int
    allocated_at: str


class Payment(Record):
    id: str
    partner_id: str
    org_id: str | None = None
    amount: int
    currency: str
    received_date: str
    method: PaymentMethod
    reference: str | None = None
    invoice_number: str | None = None
    remark: str | None = None
    allocations: list[Allocation] = []
    assignment_edits: int = 0
    bounced_date: str | None = None
    bounce_reason: str | None = None
    created_at: str
    created_by: str
    updated_at: str
    version: int = 1

    @property
    def allocated_amount(self) -> int:
        return sum(a.amount for a in self.allocations)

    @property
    def unallocated_amount(self) -> int:
        return self.amount - self.allocated_amount

    @property
    def status(self) -> PaymentStatus:
        if self.bounced_date is not None:
            return "bounced"
        if self.org_id is None:
            return "unassigned"
        if self.allocated_amount == 0:
            return "assigned"
        return "allocated" if self.allocated_amount == self.amount else "partially_allocated"
