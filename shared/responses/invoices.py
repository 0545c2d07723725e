"""The bodies of invoices and credit notes: each declared once, made from its domain record by the model."""

from __future__ import annotations

from typing import Self

from shared.domain.invoice import Invoice
from shared.responses.base import Out
from shared.vocabulary import CreditNoteReason, InvoiceStatus, InvoiceType


class InvoiceAllocationOut(Out):
    payment_id: str
    amount: int
    allocated_at: str


class InvoiceCreditNoteOut(Out):
    id: str
    number: str
    amount: int
    reason: CreditNoteReason
    created_at: str


class InvoiceOut(Out):
    id: str
    number: str
    org_id: str
    org_name: str
    type: InvoiceType
    amount: int
    currency: str
    amount_paid: int
    amount_credited: int
    amount_due: int
    status: InvoiceStatus
    issued_date: str
    due_date: str | None
    allocations: list[InvoiceAllocationOut]
    credit_notes: list[InvoiceCreditNoteOut]
    voided_at: str | None
    void_reason: str | None
    created_at: str
    updated_at: str
    version: int

    @classmethod
    def of_record(cls, invoice: Invoice) -> Self:
        return cls.mirror(invoice)  # every field is the record's own (amount_due and status: its properties)


class InvoicePage(Out):
    items: list[InvoiceOut]
    next_cursor: str | None


class CreditNoteOut(Out):
    id: str
    number: str
    invoice_id: str
    org_id: str
    amount: int
    currency: str
    reason: CreditNoteReason
    memo: str | None
    due_reduced: int
    wallet_credited: int
    created_at: str
    created_by: str


class CreditNotePage(Out):
    items: list[CreditNoteOut]
    next_cursor: str | None
