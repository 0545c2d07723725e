"""API models: what the routes accept (strict, unknown fields refused) and what they return."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
    model_validator,
)

from shared.domain.invoice import number_key
from shared.ids import id_pattern
from shared.money import Currency, PositiveAmount
from shared.vocabulary import (
    CreditNoteReason,
    InvoiceType,
    PaymentMethod,
    RefundReason,
    WithdrawalMethod,
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _clean_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _real_date(value: str) -> str:
    if not _DATE.match(value):
        raise ValueError("must be a date as YYYY-MM-DD")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a real calendar date") from None
    return value


IsoDate = Annotated[StrictStr, Field(examples=["2026-11-21"], json_schema_extra={"format": "date"}),
                    AfterValidator(_real_date)]
# Free text: trimmed, not blank, no control characters, bounded (the document states it as a pattern; the check is
# _clean_text's).
TEXT = {"pattern": r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"}
Name = Annotated[StrictStr, Field(min_length=1, max_length=200, json_schema_extra=TEXT), AfterValidator(_clean_text)]
Reference = Annotated[StrictStr, Field(min_length=1, max_length=200, json_schema_extra=TEXT),
                      AfterValidator(_clean_text)]
InvoiceNumber = Annotated[StrictStr, Field(min_length=1, max_length=64, json_schema_extra=TEXT),
                          AfterValidator(_clean_text)]
Remark = Annotated[StrictStr, Field(min_length=1, max_length=1000, json_schema_extra=TEXT), AfterValidator(_clean_text)]
OrgId = Annotated[StrictStr, Field(pattern=id_pattern("org"))]
InvoiceId = Annotated[StrictStr, Field(pattern=id_pattern("inv"))]


class Strict(BaseModel):
    # Schemas are built on first use, not at import: a cold start pays only for the models its
    # request validates.
    model_config = ConfigDict(extra="forbid", defer_build=True)


# --- Organizations, wallets, settings ------------------------------------------------------------
class OrganizationCreate(Strict):
    name: Name
    currency: Currency


def _never_null(schema: dict[str, Any]) -> None:
    """A field that may be left out but never sent as null: the document shows only its value's schema."""
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    if branches:
        schema.update(branches[0])
    schema.pop("default", None)


# --- Payments --------------------------------------------------------------------------------------
def _no_stripe(schema: dict[str, Any]) -> None:
    """The document's enum of methods a person may record (a `stripe` payment is the webhook's alone)."""
    for branch in schema.get("anyOf", [schema]):
        if "enum" in branch:
            branch["enum"] = [m for m in branch["enum"] if m != "stripe"]


def _method_never_null(schema: dict[str, Any]) -> None:
    _never_null(schema)
    _no_stripe(schema)


class PaymentCreate(Strict):
    org_id: OrgId | None = None
    amount: PositiveAmount
    currency: Currency
    received_date: IsoDate
    method: Annotated[PaymentMethod, Field(json_schema_extra=_no_stripe)]
    reference: Reference | None = None
    invoice_number: InvoiceNumber | None = None
    remark: Remark | None = None

    @field_validator("method")
    @classmethod
    def _not_stripe(cls, method: str) -> str:
        if method == "stripe":  # only the verified webhook records money Stripe received
            raise ValueError("stripe payments are recorded by the Stripe webhook; use card for card money taken here")
        return method


class PaymentPatch(Strict):
    """Only the fields sent are changed; optional texts may be cleared with null."""

    amount: PositiveAmount | None = Field(default=None, json_schema_extra=_never_null)
    received_date: IsoDate | None = Field(default=None, json_schema_extra=_never_null)
    method: PaymentMethod | None = Field(default=None, json_schema_extra=_method_never_null)
    reference: Reference | None = None
    invoice_number: InvoiceNumber | None = None
    remark: Remark | None = None

    @field_validator("method")
    @classmethod
    def _not_stripe(cls, method: str | None) -> str | None:
        if method == "stripe":  # a payment becomes `stripe` only by Stripe's webhook
            raise ValueError("only the Stripe webhook records stripe payments")
        return method

    @model_validator(mode="after")
    def _required_not_null(self) -> PaymentPatch:
        for name in ("amount", "received_date", "method"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


# --- Invoices, assignment, allocation, wallet -----------------------------------------------------
class InvoiceCreate(Strict):
    org_id: OrgId
    type: InvoiceType
    amount: PositiveAmount
    currency: Currency
    issued_date: IsoDate
    due_date: IsoDate | None = None
    number: Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9/._ -]*$"),
                      AfterValidator(_clean_text)] | None = None

    @model_validator(mode="after")
    def _due_after_issue(self) -> InvoiceCreate:
        if self.due_date is not None and self.due_date < self.issued_date:
            raise ValueError("due_date must not be before issued_date")
        return self


class AssignmentIn(Strict):
    org_id: OrgId


class AllocationLine(Strict):
    """One invoice, named by its id or by its number (case-insensitive): exactly one of the two."""

    invoice_id: InvoiceId | None = None
    invoice_number: InvoiceNumber | None = None
    amount: PositiveAmount

    @model_validator(mode="after")
    def _one_name(self) -> AllocationLine:
        if (self.invoice_id is None) == (self.invoice_number is None):
            raise ValueError("give exactly one of invoice_id and invoice_number")
        return self


class AllocationsIn(Strict):
    allocations: Annotated[list[AllocationLine], Field(min_length=1, max_length=40)]

    @model_validator(mode="after")
    def _distinct(self) -> AllocationsIn:
        names = [line.invoice_id or number_key(line.invoice_number or "") for line in self.allocations]
        if len(set(names)) != len(names):
            raise ValueError("each invoice may appear once per request")
        return self


class TopUpIn(Strict):
    amount: PositiveAmount


class DebitIn(Strict):
    amount: PositiveAmount
    reference: Reference


class PartnerCreditIn(Strict):
    amount: PositiveAmount
    currency: Currency
    reference: Reference


# --- Money that comes back --------------------------------------------------------------------------
class CreditNoteIn(Strict):
    amount: PositiveAmount
    reason: CreditNoteReason
    memo: Remark | None = None


class VoidIn(Strict):
    reason: Remark


class WithdrawalIn(Strict):
    amount: PositiveAmount
    method: WithdrawalMethod
    reference: Reference | None = None
    remark: Remark | None = None


class RefundIn(Strict):
    amount: PositiveAmount
    reason: RefundReason | None = None


class BounceIn(Strict):
    bounced_date: IsoDate
    reason: Remark
