"""What every route answers: the response bodies as pydantic models, and the responses each route
declares in the OpenAPI document (its success status and body, and the contract's errors).

A route's body is checked against its model before it leaves (`shared.api.json_response`), so the
document cannot drift from what the API really sends. They are TypedDicts (pydantic validates them,
Powertools documents them): a class of one costs microseconds at import, a BaseModel class ~2 ms, and a
function's cold start pays for every model its routes declare.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from pydantic import with_config

from shared.documented import ERRORS, FORBID, ErrorDetail, ErrorOut, documented  # noqa: F401 - routes import them here
from shared.vocabulary import (
    AllocationKind,
    AttemptStatus,
    AuditEntity,
    CreditNoteReason,
    InvoiceStatus,
    InvoiceType,
    LedgerType,
    PartnerLedgerType,
    PaymentMethod,
    PaymentStatus,
    RefundOrigin,
    RefundReason,
    RefundStatus,
    SettingsMethod,
    WithdrawalMethod,
)


@with_config(FORBID)
class OrganizationOut(TypedDict):
    id: str
    name: str
    currency: str
    partner_id: str
    created_at: str


@with_config(FORBID)
class WalletOut(TypedDict):
    org_id: str
    currency: str
    balance: int
    refund_held: int  # card refunds waiting for Stripe: part of the balance no debit may spend
    updated_at: str


@with_config(FORBID)
class LedgerEntryOut(TypedDict):
    id: str
    type: LedgerType
    amount: int
    balance_after: int
    reference: str | None
    created_at: str


@with_config(FORBID)
class SettingsOut(TypedDict):
    method: SettingsMethod
    trigger_amount: int
    limit_threshold: int
    auto_trigger: bool
    updated_at: str


@with_config(FORBID)
class AttemptOut(TypedDict):
    business_date: str
    method: SettingsMethod
    amount: int
    status: AttemptStatus
    reason: str | None
    failure_code: str | None  # a card's decline code, or Stripe's error code; failure_message: Stripe's message
    failure_message: str | None
    invoice_id: str | None
    payment_id: str | None
    created_at: str


@with_config(FORBID)
class Balance(TypedDict):
    currency: str
    balance: int


@with_config(FORBID)
class PartnerWalletOut(TypedDict):
    partner_id: str
    balances: list[Balance]


@with_config(FORBID)
class PartnerLedgerEntryOut(TypedDict):
    id: str
    type: PartnerLedgerType
    currency: str
    amount: int
    balance_after: int
    reference: str | None
    created_at: str


@with_config(FORBID)
class OnlineTopUpOut(TypedDict):
    id: str
    org_id: str
    amount: int
    currency: str
    trigger_amount: int
    limit_threshold: int
    auto_trigger: bool
    status: Literal["pending", "succeeded", "failed"]
    reason: str | None
    decline_code: str | None
    failure_message: str | None
    payment_id: str | None
    payment_intent_id: str
    created_at: str
    client_secret: NotRequired[str | None]


@with_config(FORBID)
class PaymentAllocationOut(TypedDict):
    invoice_id: str | None
    invoice_number: str | None  # the invoice's number beside its id (null for a wallet top-up)
    kind: AllocationKind
    amount: int
    allocated_at: str


@with_config(FORBID)
class PaymentOut(TypedDict):
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


@with_config(FORBID)
class RefundOut(TypedDict):
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


@with_config(FORBID)
class RefundListOut(TypedDict):
    items: list[RefundOut]


# One field's change: {"from": before, "to": after} ("from" is a keyword: the functional form).
AuditChange = TypedDict("AuditChange", {"from": Any, "to": Any})
setattr(AuditChange, "__pydantic_config__", FORBID)  # noqa: B010 - what @with_config sets on a class


@with_config(FORBID)
class AuditOut(TypedDict):
    """One audit record, in the shape every history route answers (shared.domain.audit.history_view)."""

    id: str
    entity: AuditEntity
    entity_id: str
    action: str
    changes: dict[str, AuditChange]
    actor: str  # the token's sub, or system:<what> (system:auto-top-up, system:stripe)
    at: str


@with_config(FORBID)
class InvoiceAllocationOut(TypedDict):
    payment_id: str
    amount: int
    allocated_at: str


@with_config(FORBID)
class InvoiceCreditNoteOut(TypedDict):
    id: str
    number: str
    amount: int
    reason: CreditNoteReason
    created_at: str


@with_config(FORBID)
class InvoiceOut(TypedDict):
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


@with_config(FORBID)
class CreditNoteOut(TypedDict):
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


@with_config(FORBID)
class WithdrawalOut(TypedDict):
    id: str
    org_id: str
    amount: int
    currency: str
    method: WithdrawalMethod
    reference: str | None
    remark: str | None
    ledger_entry_id: str
    created_at: str
    created_by: str


def _page(item: Any) -> Any:
    page = TypedDict(f"{item.__name__.removesuffix('Out')}Page",  # type: ignore[misc]  # noqa: UP013 - named per item
                     {"items": list[item], "next_cursor": str | None})
    setattr(page, "__pydantic_config__", FORBID)  # noqa: B010 - what @with_config sets on a class
    return page


OrganizationPage, LedgerPage, AttemptPage = _page(OrganizationOut), _page(LedgerEntryOut), _page(AttemptOut)
PaymentPage, AuditPage, InvoicePage = _page(PaymentOut), _page(AuditOut), _page(InvoiceOut)
CreditNotePage, WithdrawalPage, OnlineTopUpPage = _page(CreditNoteOut), _page(WithdrawalOut), _page(OnlineTopUpOut)

