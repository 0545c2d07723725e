"""The payment aggregate: a payment received, and where its money went (its allocations)."""

from __future__ import annotations

from shared.domain.base import Part, Record
from shared.domain.reconciling import Reconciling
from shared.vocabulary import AllocationKind, PaymentMethod, PaymentStatus, RefundOrigin, RefundReason, RefundStatus


class Allocation(Part):
    invoice_id: str | None = None
    invoice_number: str | None = None  # the invoice's number, kept beside its id (numbers never change)
    kind: AllocationKind
    amount: int
    allocated_at: str


class Refund(Part):
    """A card refund of a `stripe` payment: asked for here (`api`, its amount held in the wallet until Stripe
    answers) or first seen in Stripe (`stripe`: its Dashboard). Its money moves when its status does."""

    id: str
    stripe_refund_id: str | None = None
    amount: int
    reason: RefundReason | None = None
    status: RefundStatus
    origin: RefundOrigin
    held: bool = False  # its amount is held in the wallet (`refund_held`) while pending
    request_key: str | None = None  # the hashed Idempotency-Key that asked for it: a retry resumes it
    failure_reason: str | None = None
    refused_code: str | None = None  # Stripe's error code when Stripe refused it (asked again: the same 422)
    failure_message: str | None = None  # Stripe's message, when it gave one
    created_at: str
    created_by: str
    updated_at: str


class Dispute(Part):
    """A card dispute (chargeback) of a `stripe` payment, as Stripe last showed it. `withdrawn` and
    `reinstated` say which of its two money moves reached the wallet; each happens once."""

    id: str
    amount: int
    status: str  # Stripe's: warning_needs_response ... needs_response, under_review, won, lost
    reason: str | None = None
    withdrawn: bool = False
    reinstated: bool = False
    created_at: str
    updated_at: str


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
    refunds: list[Refund] = []  # stripe payments only
    disputes: list[Dispute] = []  # stripe payments only
    reconciling: Reconciling | None = None  # the reconciliation's next look while a refund is pending
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
    def refunded_amount(self) -> int:
        """What Stripe refunded (its succeeded refunds)."""
        return sum(r.amount for r in self.refunds if r.status == "succeeded")

    @property
    def refund_pending_amount(self) -> int:
        return sum(r.amount for r in self.refunds if r.status == "pending")

    @property
    def disputed_amount(self) -> int:
        """What disputes took back and did not reinstate."""
        return sum(d.amount for d in self.disputes if d.withdrawn and not d.reinstated)

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.refunded_amount - self.refund_pending_amount - self.disputed_amount

    @property
    def status(self) -> PaymentStatus:
        if self.bounced_date is not None:
            return "bounced"
        if self.org_id is None:
            return "unassigned"
        if self.allocated_amount == 0:
            return "assigned"
        return "allocated" if self.allocated_amount == self.amount else "partially_allocated"
