"""The organization aggregate: the organization, its payment settings, its wallet (balance and ledger)
and its online top-ups with Stripe."""

from __future__ import annotations

from shared.domain.base import Part, Record
from shared.domain.reconciling import Reconciling
from shared.vocabulary import (
    DisabledReason,
    LedgerType,
    OnlineTopUpStatus,
    SettingsMethod,
    TopUpMode,
    WithdrawalMethod,
)


def name_key(name: str) -> str:
    """Case-insensitive, whitespace-folded form of a name: organization names are unique in it per partner
    and searched by its prefix."""
    return " ".join(name.casefold().split())


class PaymentSettings(Part):
    """An organization's payment settings with the automatic top-up's guardrails (docs/auto-top-up.md). Items
    written before the guardrails read with their defaults."""

    method: SettingsMethod = "cheque_or_tt"
    trigger_amount: int = 0
    limit_threshold: int = 0
    auto_trigger: bool = False
    top_up_mode: TopUpMode = "fixed"
    target_balance: int | None = None  # `target` mode: topped up to this (> limit_threshold)
    monthly_cap: int | None = None  # the automatic top-ups of one calendar month never add up to more
    max_consecutive_failures: int = 3  # 1..10: that many `failed` attempts in a row switch auto_trigger off
    consecutive_failures: int = 0  # read-only: `failed` attempts since the last `credited` / `invoice_issued`
    disabled_reason: DisabledReason | None = None  # read-only: why the system switched auto_trigger off
    updated_at: str


class Organization(Record):
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
    refund_held: int = 0  # card refunds asked for and not yet confirmed by Stripe: not spendable meanwhile
    # Storage (docs/data-model.md): True once the organization list's entry is on the name lock (created so, or moved
    # there by organizations_backfill); absent on an organization stored before that move, whose entry this item
    # still carries, and keeps carrying through every write until the backfill has given the lock its own.
    listed_by_lock: bool | None = None

    @property
    def available(self) -> int:
        """What a debit may spend: the balance less the card refunds waiting for Stripe."""
        return self.balance - self.refund_held

    @property
    def due(self) -> bool:
        """Due for the daily automatic top-up: auto-trigger on and the balance at or below the threshold."""
        return self.settings.auto_trigger and self.balance <= self.settings.limit_threshold


class LedgerEntry(Record):
    """One change of an organization's wallet, numbered by the organization's `ledger_seq`."""

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


class Withdrawal(Record):
    """Unspent prepaid credit paid back to the customer; its `withdrawal` ledger entry moves the money."""

    id: str
    org_id: str
    partner_id: str
    amount: int
    currency: str
    method: WithdrawalMethod
    reference: str | None = None
    remark: str | None = None
    ledger_entry_id: str
    created_at: str
    created_by: str


class OnlineTopUp(Record):
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
    top_up_mode: TopUpMode = "fixed"
    target_balance: int | None = None
    customer_id: str
    payment_intent_id: str
    status: OnlineTopUpStatus = "requires_payment"
    reason: str | None = None
    decline_code: str | None = None  # a declined card: Stripe's decline code (else its error code)
    failure_message: str | None = None  # Stripe's message of the failure, for a person to read
    payment_id: str | None = None
    reconciling: Reconciling | None = None  # the reconciliation's next look until it succeeds
    created_at: str
    created_by: str
    updated_at: str
    version: int = 1
