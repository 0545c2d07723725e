"""The bodies of payments and their card refunds: each declared once, made from its domain record by the model."""

from __future__ import annotations

from typing import Self

from shared.domain.payment import Payment, Refund
from shared.responses.base import Out
from shared.vocabulary import AllocationKind, PaymentMethod, PaymentStatus, RefundOrigin, RefundReason, RefundStatus


class PaymentAllocationOut(Out):
    invoice_id: str | None
    invoice_number: str | None  # the invoice's number beside its id (null for a wallet top-up)
    kind: AllocationKind
    amount: int
    allocated_at: str


class PaymentOut(Out):
    id: str
    org_id: str | None
    amount: int
    currency: str
    received_date: str
    method: PaymentMethod
    reference: str | None
    invoice_number: str | None
    remark: str | None
    status: PaymentStatus
    allocated_amount: int
    unallocated_amount: int
    assignment_edits: int
    assignment_edits_remaining: int
    allocations: list[PaymentAllocationOut]
    bounced_date: str | None
    bounce_reason: str | None
    refunded_amount: int
    disputed_amount: int
    created_at: str
    created_by: str
    updated_at: str
    version: int

    @classmethod
    def of_record(cls, p: Payment) -> Self:
        from shared.domain.payments import MAX_ASSIGNMENT_EDITS

        return cls(
            id=p.id, org_id=p.org_id, amount=p.amount, currency=p.currency, received_date=p.received_date,
            method=p.method, reference=p.reference, invoice_number=p.invoice_number, remark=p.remark,
            status=p.status, allocated_amount=p.allocated_amount, unallocated_amount=p.unallocated_amount,
            assignment_edits=p.assignment_edits, assignment_edits_remaining=MAX_ASSIGNMENT_EDITS - p.assignment_edits,
            allocations=[PaymentAllocationOut.mirror(a) for a in p.allocations], bounced_date=p.bounced_date,
            bounce_reason=p.bounce_reason, refunded_amount=p.refunded_amount, disputed_amount=p.disputed_amount,
            created_at=p.created_at, created_by=p.created_by, updated_at=p.updated_at, version=p.version,
        )


class PaymentPage(Out):
    items: list[PaymentOut]
    next_cursor: str | None


class RefundOut(Out):
    id: str
    payment_id: str
    amount: int
    currency: str
    status: RefundStatus
    reason: RefundReason | None
    origin: RefundOrigin
    stripe_refund_id: str | None
    failure_reason: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of_record(cls, payment: Payment, refund: Refund) -> Self:
        return cls(id=refund.id, payment_id=payment.id, amount=refund.amount, currency=payment.currency,
                   status=refund.status, reason=refund.reason, origin=refund.origin,
                   stripe_refund_id=refund.stripe_refund_id, failure_reason=refund.failure_reason,
                   created_at=refund.created_at, updated_at=refund.updated_at)


class RefundListOut(Out):
    items: list[RefundOut]

    @classmethod
    def of_record(cls, payment: Payment) -> Self:
        return cls(items=[RefundOut.of_record(payment, r) for r in payment.refunds])
