"""What every route answers: the response bodies as pydantic models, and the responses each route
declares in the OpenAPI document (its success status and body, and the contract's errors).

A route's body is checked against its model before it leaves (`shared.api.json_response`), so the
document cannot drift from what the API really sends.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.vocabulary import (
    AllocationKind,
    AttemptStatus,
    InvoiceStatus,
    InvoiceType,
    LedgerType,
    OnlineTopUpStatus,
    PartnerLedgerType,
    PaymentMethod,
    PaymentStatus,
    SettingsMethod,
)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ErrorDetail(Out):
    code: str
    message: str
    details: list[Any]


class ErrorOut(Out):
    error: ErrorDetail


class OrganizationOut(Out):
    id: str
    name: str
    currency: str
    partner_id: str
    created_at: str


class WalletOut(Out):
    org_id: str
    currency: str
    balance: int
    updated_at: str


class LedgerEntryOut(Out):
    id: str
    type: LedgerType
    amount: int
    balance_after: int
    reference: str | None
    created_at: str


class SettingsOut(Out):
    method: SettingsMethod
    trigger_amount: int
    limit_threshold: int
    auto_trigger: bool
    updated_at: str


class AttemptOut(Out):
    business_date: str
    method: SettingsMethod
    amount: int
    status: AttemptStatus
    reason: str | None
    invoice_id: str | None
    payment_id: str | None
    created_at: str


class Balance(Out):
    currency: str
    balance: int


class PartnerWalletOut(Out):
    partner_id: str
    balances: list[Balance]


class PartnerLedgerEntryOut(Out):
    id: str
    type: PartnerLedgerType
    currency: str
    amount: int
    balance_after: int
    reference: str | None
    created_at: str


class OnlineTopUpOut(Out):
    id: str
    org_id: str
    amount: int
    currency: str
    trigger_amount: int
    limit_threshold: int
    auto_trigger: bool
    status: OnlineTopUpStatus
    reason: str | None
    payment_id: str | None
    payment_intent_id: str
    created_at: str
    client_secret: str | None = None


class PaymentAllocationOut(Out):
    invoice_id: str | None
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
    created_at: str
    created_by: str
    updated_at: str
    version: int


class AuditOut(Out):
    id: str
    action: str
    actor: str
    at: str
    changes: dict[str, Any]


class InvoiceAllocationOut(Out):
    payment_id: str
    amount: int
    allocated_at: str


class InvoiceOut(Out):
    id: str
    number: str
    org_id: str
    org_name: str
    type: InvoiceType
    amount: int
    currency: str
    amount_paid: int
    amount_due: int
    status: InvoiceStatus
    issued_date: str
    due_date: str | None
    allocations: list[InvoiceAllocationOut]
    created_at: str
    updated_at: str
    version: int


def _page(item: type[Out]) -> type[Out]:
    fields: dict[str, Any] = {"items": (list[item], ...), "next_cursor": (str | None, ...)}  # type: ignore[valid-type]
    from pydantic import create_model

    return create_model(f"{item.__name__.removesuffix('Out')}Page", __base__=Out, **fields)


OrganizationPage, LedgerPage, AttemptPage = _page(OrganizationOut), _page(LedgerEntryOut), _page(AttemptOut)
PaymentPage, AuditPage, InvoicePage = _page(PaymentOut), _page(AuditOut), _page(InvoiceOut)

ERRORS = {400: "Malformed request (bad JSON, bad cursor)", 401: "No or invalid token",
          403: "The role may not do this", 404: "Not found, or another partner's",
          409: "A state rule refuses it (the code names the rule)", 412: "Stale If-Match",
          422: "Field validation"}


def documented(status: int, model: type[BaseModel] | None, description: str, *errors: int) -> dict[int, Any]:
    """The `responses=` of a route: its success and the errors it can answer, in the contract's shape."""
    success: dict[str, Any] = {"description": description}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    out: dict[int, Any] = {status: success}
    for code in sorted({400, 401, *errors}):
        out[code] = {"description": ERRORS[code], "content": {"application/json": {"model": ErrorOut}}}
    return out
