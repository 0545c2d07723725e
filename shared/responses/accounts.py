"""The bodies of organizations, their wallets, ledgers, payment settings, automatic and online top-ups,
withdrawals, and partners' master wallets: each declared once, made from its domain record by the model."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Self

from pydantic import SerializerFunctionWrapHandler, model_serializer

from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.organization import OnlineTopUp, Organization
from shared.domain.partner_wallet import PartnerWallet
from shared.responses.base import Out
from shared.vocabulary import (
    AttemptStatus,
    DisabledReason,
    LedgerType,
    PartnerLedgerType,
    SettingsMethod,
    TopUpMode,
    WithdrawalMethod,
)


class OrganizationOut(Out):
    id: str
    name: str
    currency: str
    partner_id: str
    created_at: str


class OrganizationPage(Out):
    items: list[OrganizationOut]
    next_cursor: str | None


class WalletOut(Out):
    org_id: str
    currency: str
    balance: int
    refund_held: int  # card refunds waiting for Stripe: part of the balance no debit may spend
    updated_at: str

    @classmethod
    def of_record(cls, org: Organization) -> Self:
        return cls(org_id=org.id, currency=org.currency, balance=org.balance, refund_held=org.refund_held,
                   updated_at=org.wallet_updated_at)


class LedgerEntryOut(Out):
    id: str
    type: LedgerType
    amount: int
    balance_after: int
    reference: str | None
    created_at: str


class LedgerEntryPage(Out):
    items: list[LedgerEntryOut]
    next_cursor: str | None


class SettingsOut(Out):
    method: SettingsMethod
    trigger_amount: int
    limit_threshold: int
    auto_trigger: bool
    top_up_mode: TopUpMode
    target_balance: int | None
    monthly_cap: int | None
    max_consecutive_failures: int
    consecutive_failures: int  # read-only: `failed` attempts since the last one that credited or invoiced
    disabled_reason: DisabledReason | None  # read-only: why the system switched auto_trigger off
    updated_at: str

    @classmethod
    def of_record(cls, org: Organization) -> Self:
        return cls.mirror(org.settings)


class AttemptOut(Out):
    business_date: str
    method: SettingsMethod
    top_up_mode: TopUpMode
    amount: int  # what it topped up or tried to (the monthly cap may have reduced it)
    requested_amount: int  # what its top-up mode asked for, before the monthly cap
    status: AttemptStatus
    reason: str | None
    failure_code: str | None  # a card's decline code, or Stripe's error code; failure_message: Stripe's message
    failure_message: str | None
    invoice_id: str | None
    payment_id: str | None
    created_at: str

    @classmethod
    def of_record(cls, a: AutoTopUpAttempt) -> Self:
        # Only a Stripe claim is listed while in flight (see OrganizationRepository.attempts_page).
        status: AttemptStatus = "charge_pending" if a.status == "claimed" else a.status
        return cls(business_date=a.business_date, method=a.method, top_up_mode=a.top_up_mode, amount=a.amount,
                   requested_amount=a.amount if a.requested_amount is None else a.requested_amount,
                   status=status, reason=a.reason,
                   failure_code=a.failure_code, failure_message=a.failure_message, invoice_id=a.invoice_id,
                   payment_id=a.payment_id, created_at=a.created_at)


class AttemptPage(Out):
    items: list[AttemptOut]
    next_cursor: str | None


class Balance(Out):
    currency: str
    balance: int


class PartnerWalletOut(Out):
    partner_id: str
    balances: list[Balance]

    @classmethod
    def of_wallets(cls, partner_id: str, wallets: Iterable[PartnerWallet]) -> Self:
        return cls(partner_id=partner_id, balances=[Balance.mirror(w) for w in wallets])


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
    top_up_mode: TopUpMode
    target_balance: int | None
    status: Literal["pending", "succeeded", "failed"]
    reason: str | None
    decline_code: str | None
    failure_message: str | None
    payment_id: str | None
    payment_intent_id: str
    created_at: str
    client_secret: str | None = None  # only in the answer that started it (for Stripe.js)

    @classmethod
    def of_record(cls, record: OnlineTopUp, **client_secret: str | None) -> Self:
        """An online top-up as the API shows it: `pending` until Stripe says it succeeded or failed; with
        `client_secret=` only when it was just started."""
        status: Literal["pending", "succeeded", "failed"] = ("pending" if record.status == "requires_payment"
                                                             else record.status)
        return cls(id=record.id, org_id=record.org_id, amount=record.amount, currency=record.currency,
                   trigger_amount=record.trigger_amount, limit_threshold=record.limit_threshold,
                   auto_trigger=record.auto_trigger, top_up_mode=record.top_up_mode,
                   target_balance=record.target_balance, status=status, reason=record.reason,
                   decline_code=record.decline_code, failure_message=record.failure_message,
                   payment_id=record.payment_id, payment_intent_id=record.payment_intent_id,
                   created_at=record.created_at, **client_secret)

    @model_serializer(mode="wrap")
    def _without_unset_secret(self, handler: SerializerFunctionWrapHandler):
        # no return annotation: the document keeps the fields' own schema (an annotated return would replace it)
        body = handler(self)
        if "client_secret" not in self.model_fields_set:
            body.pop("client_secret", None)  # a listed top-up never carries it (not even as null)
        return body


class OnlineTopUpPage(Out):
    items: list[OnlineTopUpOut]
    next_cursor: str | None


class WithdrawalOut(Out):
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


class WithdrawalPage(Out):
    items: list[WithdrawalOut]
    next_cursor: str | None
