"""Stored records. Each entity owns its key builders (pk/sk and index keys) and item mapping.

Single-table layout (see docs/data-model.md):
  ORG#{org}      META                 organization + wallet balance + payment settings
  ORG#{org}      LEDGER#{seq:012}     wallet ledger entry
  ORG#{org}      AUDIT#{ts}#{id}      audit record of the organization, its wallet and settings
  ORG#{org}      ATTEMPT#{date}       the daily automatic top-up of one business date (the claim)
  ORG#{org}      ONLINE#{otu}         an online top-up with Stripe (its PaymentIntent and chosen settings)
  STRIPE#PI#{pi}     MARKER           a PaymentIntent whose money reached a wallet (never twice)
  STRIPE#EVT#{evt}   MARKER           a Stripe event already processed (expires after 30 days)
  ORGNAME#{ptn}#{name}  LOCK          unique organization name per partner
  PAY#{pay}      META                 payment (allocations inside)
  PAY#{pay}      AUDIT#{ts}#{id}      audit record of the payment (kept after a delete)
  INV#{inv}      META                 invoice (its allocations inside)
  INV#{inv}      AUDIT#{ts}#{id}      audit record of the invoice
  INVNUM#{ptn}#{number}  LOCK         unique invoice number per partner
  PTN#{ptn}      COUNTER#INVOICE      the partner's last generated invoice number
  PTN#{ptn}      WALLET#{cur}         the partner's master wallet in one currency
  PTN#{ptn}      LEDGER#{cur}#{seq}   its ledger entry
  GSI1: P#{ptn}#ORG -> name ; P#{ptn}#PAY -> received date ; P#{ptn}#INV -> issued date
  GSI2: P#{ptn}#ORGPAY#{org} -> received date ; P#{ptn}#ORGINV#{org} -> issued date
  GSI3: P#{ptn}#INVNAME -> organization name, issued date     (invoice search by organization name)
        DUE#{shard} -> org id                                 (organizations due for an automatic top-up)
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict

META = "META"
LEDGER = "LEDGER#"
AUDIT = "AUDIT#"
ATTEMPT = "ATTEMPT#"

SettingsMethod = Literal["cheque_or_tt", "master_account", "stripe"]
PaymentMethod = Literal["cheque", "telegraphic_transfer", "cash", "card", "stripe", "other"]
PaymentStatus = Literal["unassigned", "assigned", "partially_allocated", "allocated"]
InvoiceType = Literal["standard", "top_up"]
InvoiceStatus = Literal["unpaid", "partially_paid", "paid", "provisioned"]
LedgerType = Literal["top_up", "provision", "auto_credit", "usage", "reversal"]


DUE_SHARDS = 16  # the due index is spread over this many partitions; the sweep reads them all


def due_shard(org_id: str) -> int:
    return int(hashlib.sha256(org_id.encode()).hexdigest()[:8], 16) % DUE_SHARDS


def name_key(name: str) -> str:
    """Case-insensitive, whitespace-folded form of a name, used for uniqueness and prefix search."""
    return " ".join(name.casefold().split())


class Entity(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    def keys(self) -> dict[str, str]:  # pragma: no cover - every entity overrides
        raise NotImplementedError

    def to_item(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json", exclude_none=True), **self.keys()}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Self:
        return cls.model_validate(item)


class PaymentSettings(BaseModel):
    model_config = ConfigDict(defer_build=True)

    method: SettingsMethod = "cheque_or_tt"
    trigger_amount: int = 0
    limit_threshold: int = 0
    auto_trigger: bool = False
    updated_at: str


class Organization(Entity):
    id: str
    partner_id: str
    name: str
    currency: str
    created_at: str
    created_by: str
    version: int = 1
    balance: int = 0
    ledger_seq: int = 0
    wallet_updated_at: str
    settings: PaymentSettings
    last_auto_invoice_id: str | None = None  # the daily top-up's latest invoice (cheque_or_tt)
    stripe_customer_id: str | None = None  # created by the first online top-up, reused after
    stripe_payment_method_id: str | None = None  # the card saved by the latest successful online top-up

    @staticmethod
    def key(org_id: str) -> dict[str, str]:
        return {"pk": f"ORG#{org_id}", "sk": META}

    @staticmethod
    def partner_index_pk(partner_id: str) -> str:
        return f"P#{partner_id}#ORG"

    @property
    def due(self) -> bool:
        """Due for the daily automatic top-up: auto-trigger on and the balance at or below the threshold."""
        return self.settings.auto_trigger and self.balance <= self.settings.limit_threshold

    def keys(self) -> dict[str, str]:
        keys = {**self.key(self.id), "entity": "organization",
                "gsi1pk": self.partner_index_pk(self.partner_id), "gsi1sk": f"{name_key(self.name)}#{self.id}"}
        if self.due:
            # Sparse, sharded: only due organizations are in it, so the sweep reads those and no others.
            # Every write of an organization (balance or settings) rewrites the item, so it is never stale.
            keys |= {"gsi3pk": f"DUE#{due_shard(self.id)}", "gsi3sk": self.id}
        return keys


class OrganizationNameLock(Entity):
    partner_id: str
    name: str
    org_id: str

    @staticmethod
    def key(partner_id: str, name: str) -> dict[str, str]:
        return {"pk": f"ORGNAME#{partner_id}#{name_key(name)}", "sk": "LOCK"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.partner_id, self.name), "entity": "organization_name"}


class LedgerEntry(Entity):
    id: str
    org_id: str
    partner_id: str
    seq: int
    type: LedgerType
    amount: int
    balance_after: int
    currency: str
    reference: str | None = None
    created_at: str
    created_by: str

    @staticmethod
    def key(org_id: str, seq: int) -> dict[str, str]:
        return {"pk": f"ORG#{org_id}", "sk": f"{LEDGER}{seq:012d}"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.org_id, self.seq), "entity": "ledger_entry"}


class Allocation(BaseModel):
    model_config = ConfigDict(defer_build=True)

    invoice_id: str | None = None
    kind: Literal["invoice", "wallet_top_up"]
    amount: int
    allocated_at: str


class Payment(Entity):
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
        if self.org_id is None:
            return "unassigned"
        if self.allocated_amount == 0:
            return "assigned"
        return "allocated" if self.allocated_amount == self.amount else "partially_allocated"

    @staticmethod
    def key(payment_id: str) -> dict[str, str]:
        return {"pk": f"PAY#{payment_id}", "sk": META}

    @staticmethod
    def partner_index_pk(partner_id: str) -> str:
        return f"P#{partner_id}#PAY"

    @staticmethod
    def org_index_pk(partner_id: str, org_id: str) -> str:
        return f"P#{partner_id}#ORGPAY#{org_id}"

    def keys(self) -> dict[str, Any]:
        order = f"{self.received_date}#{self.created_at}#{self.id}"
        keys: dict[str, Any] = {**self.key(self.id), "entity": "payment",
                                "gsi1pk": self.partner_index_pk(self.partner_id), "gsi1sk": order,
                                # Stored (derived) so that lists can filter on them.
                                "status": self.status, "allocated_amount": self.allocated_amount}
        if self.org_id:
            keys |= {"gsi2pk": self.org_index_pk(self.partner_id, self.org_id), "gsi2sk": order}
        return keys


class InvoiceAllocation(BaseModel):
    model_config = ConfigDict(defer_build=True)

    payment_id: str
    amount: int
    allocated_at: str


class Invoice(Entity):
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
    # Stored as a map {payment_id: {amount, allocated_at}} beside `amount_paid` (their sum), so that
    # payments allocating to one invoice change it with conditional updates, not by rewriting it.
    allocations: list[InvoiceAllocation] = []
    amount_paid: int = 0
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

    @staticmethod
    def key(invoice_id: str) -> dict[str, str]:
        return {"pk": f"INV#{invoice_id}", "sk": META}

    @staticmethod
    def partner_index_pk(partner_id: str) -> str:
        return f"P#{partner_id}#INV"

    @staticmethod
    def org_index_pk(partner_id: str, org_id: str) -> str:
        return f"P#{partner_id}#ORGINV#{org_id}"

    @staticmethod
    def name_index_pk(partner_id: str) -> str:
        return f"P#{partner_id}#INVNAME"

    def keys(self) -> dict[str, Any]:
        order = f"{self.issued_date}#{self.id}"
        return {**self.key(self.id), "entity": "invoice",
                "gsi1pk": self.partner_index_pk(self.partner_id), "gsi1sk": order,
                "gsi2pk": self.org_index_pk(self.partner_id, self.org_id), "gsi2sk": order,
                "gsi3pk": self.name_index_pk(self.partner_id), "gsi3sk": f"{name_key(self.org_name)}#{order}"}

    def to_item(self) -> dict[str, Any]:
        item = super().to_item()
        item["allocations"] = {a.payment_id: {"amount": a.amount, "allocated_at": a.allocated_at}
                               for a in self.allocations}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Invoice:
        allocations = sorted(({"payment_id": p, **a} for p, a in (item.get("allocations") or {}).items()),
                             key=lambda a: (a["allocated_at"], a["payment_id"]))
        return cls.model_validate({**item, "allocations": allocations})


class InvoiceNumberLock(Entity):
    partner_id: str
    number: str
    invoice_id: str

    @staticmethod
    def key(partner_id: str, number: str) -> dict[str, str]:
        return {"pk": f"INVNUM#{partner_id}#{number}", "sk": "LOCK"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.partner_id, self.number), "entity": "invoice_number"}


class InvoiceCounter(Entity):
    partner_id: str
    last: int = 0
    version: int = 0

    @staticmethod
    def key(partner_id: str) -> dict[str, str]:
        return {"pk": f"PTN#{partner_id}", "sk": "COUNTER#INVOICE"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.partner_id), "entity": "counter"}


class PartnerWallet(Entity):
    """A partner's master wallet in one currency (credited by a platform admin, spent by the daily
    automatic top-up of its `master_account` customers)."""

    partner_id: str
    currency: str
    balance: int = 0
    ledger_seq: int = 0
    updated_at: str
    version: int = 0  # 0: not stored yet

    @staticmethod
    def key(partner_id: str, currency: str) -> dict[str, str]:
        return {"pk": f"PTN#{partner_id}", "sk": f"WALLET#{currency}"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.partner_id, self.currency), "entity": "partner_wallet"}


class PartnerLedgerEntry(Entity):
    id: str
    partner_id: str
    currency: str
    seq: int
    type: Literal["credit", "auto_credit"]
    amount: int
    balance_after: int
    reference: str | None = None
    created_at: str
    created_by: str

    @staticmethod
    def key(partner_id: str, currency: str, seq: int) -> dict[str, str]:
        return {"pk": f"PTN#{partner_id}", "sk": f"LEDGER#{currency}#{seq:012d}"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.partner_id, self.currency, self.seq), "entity": "partner_ledger_entry"}


AttemptStatus = Literal["claimed", "invoice_issued", "credited", "charge_pending", "failed", "skipped"]


class AutoTopUpAttempt(Entity):
    """The daily automatic top-up of one organization for one business date: at most one exists.

    Created `claimed` by a conditional write before any side effect; the side effect's own
    transaction moves it to its outcome, conditioned on it still being `claimed` (see
    docs/auto-top-up.md). `claimed` is internal: the API shows it as `charge_pending` for Stripe and
    as still in progress otherwise.
    """

    org_id: str
    partner_id: str
    business_date: str
    method: SettingsMethod
    amount: int
    currency: str
    status: AttemptStatus = "claimed"
    reason: str | None = None
    invoice_id: str | None = None
    payment_id: str | None = None
    payment_intent_id: str | None = None  # stripe: the off-session charge
    # stripe: the customer and card charged, fixed before the call so that a retry sends the same request
    customer_id: str | None = None
    payment_method_id: str | None = None
    event_published: bool = False  # the domain event of its outcome went to the bus
    created_at: str
    updated_at: str
    version: int = 1

    @staticmethod
    def key(org_id: str, business_date: str) -> dict[str, str]:
        return {"pk": f"ORG#{org_id}", "sk": f"{ATTEMPT}{business_date}"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.org_id, self.business_date), "entity": "auto_top_up_attempt"}


OnlineTopUpStatus = Literal["requires_payment", "succeeded", "failed"]


class OnlineTopUp(Entity):
    """A card top-up started by the console; its PaymentIntent's webhook completes it.

    It holds what the customer chose (trigger amount, threshold, auto-trigger): the webhook applies
    these, not the PaymentIntent's metadata, and checks the event's amount and currency against it.
    """

    id: str
    org_id: str
    partner_id: str
    amount: int
    currency: str
    trigger_amount: int
    limit_threshold: int
    auto_trigger: bool
    customer_id: str
    payment_intent_id: str
    status: OnlineTopUpStatus = "requires_payment"
    reason: str | None = None
    payment_id: str | None = None
    created_at: str
    created_by: str
    updated_at: str
    version: int = 1

    @staticmethod
    def key(org_id: str, top_up_id: str) -> dict[str, str]:
        return {"pk": f"ORG#{org_id}", "sk": f"ONLINE#{top_up_id}"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.org_id, self.id), "entity": "online_top_up"}


class StripeMarker(Entity):
    """Proof that something Stripe sent was acted on: a PaymentIntent credited, or an event processed.

    Created with the effect in one transaction, conditioned on not existing: the same PaymentIntent
    can never credit a wallet twice, whichever event (or worker retry) carries it.
    """

    kind: Literal["payment_intent", "event"]
    stripe_id: str
    org_id: str
    at: str
    expiration: int | None = None  # TTL (events only; a PaymentIntent's marker is kept for good)

    @staticmethod
    def key(kind: str, stripe_id: str) -> dict[str, str]:
        return {"pk": f"STRIPE#{'PI' if kind == 'payment_intent' else 'EVT'}#{stripe_id}", "sk": "MARKER"}

    def keys(self) -> dict[str, str]:
        return {**self.key(self.kind, self.stripe_id), "entity": "stripe_marker"}


class AuditRecord(Entity):
    id: str
    partner_id: str
    entity_type: str
    entity_id: str
    action: str
    actor: str
    at: str
    changes: dict[str, Any] = {}

    def keys(self) -> dict[str, str]:
        prefix = {"payment": "PAY", "organization": "ORG", "invoice": "INV"}[self.entity_type]
        return {"pk": f"{prefix}#{self.entity_id}", "sk": f"{AUDIT}{self.at}#{self.id}", "entity": "audit"}
