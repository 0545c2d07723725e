"""The objects a function needs, built once per execution environment (cold start), cheaply: settings are
validated now; clients, repositories and services are created on first use, and only those a request
needs. A test passes its own collaborators (`Container(settings, overrides={"clock": ...})`) instead of
patching: any property below can be replaced by name."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared.container_notices import NoticesParts
from shared.cursor import CursorCodec
from shared.idempotency import Idempotency
from shared.repositories.dynamo import Dynamo
from shared.settings import Settings, get_settings

if TYPE_CHECKING:  # the services import their repositories; only the routes that use them pay for it
    from shared.repositories.attempts import AttemptRepository
    from shared.repositories.audit import AuditLog
    from shared.repositories.credit_notes import CreditNoteRepository
    from shared.repositories.guardrails import GuardrailRepository
    from shared.repositories.invoices import InvoiceRepository
    from shared.repositories.organizations import OrganizationRepository
    from shared.repositories.partner_wallets import PartnerWalletRepository
    from shared.repositories.payments import PaymentRepository
    from shared.repositories.receivables import ReceivablesRepository
    from shared.repositories.store import Store
    from shared.repositories.stripe_pending import StripePendingRepository
    from shared.services.accounts import AccountService
    from shared.services.allocation import AllocationService
    from shared.services.auto_credit_limits import AutoCreditLimitService
    from shared.services.auto_top_up import AutoTopUpWorker
    from shared.services.card_money_back import CardMoneyBackService
    from shared.services.domain_events import DomainEvents
    from shared.services.funding import CardFunding, Funding
    from shared.services.guardrails import Guardrails
    from shared.services.history import HistoryService
    from shared.services.invoice_history import InvoiceHistoryProjection
    from shared.services.money_back import MoneyBackService
    from shared.services.online_top_ups import OnlineTopUpService
    from shared.services.payments import PaymentService
    from shared.services.reconciliation import Reconciliation
    from shared.services.reports import ReportService
    from shared.services.settlement import Settlement
    from shared.services.stripe_webhooks import StripeWebhookService
    from shared.services.sweep import Sweep
    from shared.stripe_gateway import Deadline, StripeGateway
    from shared.vocabulary import SettingsMethod


class Container(NoticesParts):  # NoticesParts: the notices' collaborators (shared/container_notices.py)
    def __init__(self, settings: Settings, overrides: dict[str, Any] | None = None):
        self.settings = settings
        for name, value in (overrides or {}).items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise AttributeError(f"Container has no collaborator {name!r}")
            self.__dict__[name] = value  # what a cached_property reads first

    @classmethod
    def from_env(cls, overrides: dict[str, Any] | None = None) -> Container:
        return cls(get_settings(), overrides)

    def begin(self, context: Any) -> None:
        """At the start of each invocation: Lambda's context for idempotency, and its remaining time as the
        deadline of every Stripe call (a call never outlives the function)."""
        self.idempotency.register_context(context)
        self.deadline.start(context.get_remaining_time_in_millis())

    # --- outside boundaries ------------------------------------------------------------------------------
    @cached_property
    def clock(self) -> Callable[[], float]:
        return time.time

    @cached_property
    def db(self) -> Dynamo:
        return Dynamo(self.settings)

    @cached_property
    def sqs(self) -> Any:
        from botocore.session import get_session

        return get_session().create_client("sqs", region_name=self.settings.aws_region,
                                           endpoint_url=self.settings.sqs_endpoint)

    @cached_property
    def events(self) -> Any:
        from botocore.session import get_session

        return get_session().create_client("events", region_name=self.settings.aws_region,
                                           endpoint_url=self.settings.events_endpoint)

    @cached_property
    def deadline(self) -> Deadline:
        from shared.stripe_gateway import Deadline

        return Deadline()

    @cached_property
    def stripe(self) -> StripeGateway:
        from shared.stripe_gateway import StripeGateway

        return StripeGateway(self.settings, self.deadline)

    # --- storage -----------------------------------------------------------------------------------------
    @cached_property
    def cursors(self) -> CursorCodec:
        return CursorCodec(self.settings.cursor_secret.get_secret_value().encode())

    @cached_property
    def idempotency(self) -> Idempotency:
        return Idempotency(self.settings.table_name, lambda: self.db.client, self.settings.idempotency_ttl_seconds)

    @cached_property
    def store(self) -> Store:
        from shared.repositories.store import Store

        return Store(self.db, self.cursors)

    @cached_property
    def organizations(self) -> OrganizationRepository:
        from shared.repositories.organizations import OrganizationRepository

        return OrganizationRepository(self.db, self.cursors)

    @cached_property
    def payment_repository(self) -> PaymentRepository:
        from shared.repositories.payments import PaymentRepository

        return PaymentRepository(self.db, self.cursors)

    @cached_property
    def invoices(self) -> InvoiceRepository:
        from shared.repositories.invoices import InvoiceRepository

        return InvoiceRepository(self.db, self.cursors)

    @cached_property
    def credit_notes(self) -> CreditNoteRepository:
        from shared.repositories.credit_notes import CreditNoteRepository

        return CreditNoteRepository(self.db, self.cursors)

    @cached_property
    def attempts(self) -> AttemptRepository:
        from shared.repositories.attempts import AttemptRepository

        return AttemptRepository(self.db, self.cursors)

    @cached_property
    def audit_log(self) -> AuditLog:
        from shared.repositories.audit import AuditLog

        return AuditLog(self.db, self.cursors)

    @cached_property
    def history(self) -> HistoryService:
        from shared.services.history import HistoryService

        return HistoryService(self.store, self.audit_log)

    @cached_property
    def invoice_history(self) -> InvoiceHistoryProjection:
        from shared.services.invoice_history import InvoiceHistoryProjection

        return InvoiceHistoryProjection(self.audit_log)

    @cached_property
    def partner_wallets(self) -> PartnerWalletRepository:
        from shared.repositories.partner_wallets import PartnerWalletRepository

        return PartnerWalletRepository(self.db)

    @cached_property
    def receivables(self) -> ReceivablesRepository:
        from shared.repositories.receivables import ReceivablesRepository

        return ReceivablesRepository(self.db)

    # --- use cases ---------------------------------------------------------------------------------------
    @cached_property
    def reports(self) -> ReportService:
        from shared.services.reports import ReportService

        return ReportService(self.store, self.receivables)

    @cached_property
    def accounts(self) -> AccountService:
        from shared.services.accounts import AccountService

        return AccountService(self.store, self.organizations, self.attempts, self.partner_wallets, self.idempotency)

    @cached_property
    def payments(self) -> PaymentService:
        from shared.services.payments import PaymentService

        return PaymentService(self.store, self.payment_repository, self.idempotency)

    @cached_property
    def allocation(self) -> AllocationService:
        from shared.services.allocation import AllocationService

        return AllocationService(self.store, self.invoices, self.idempotency)

    @cached_property
    def money_back(self) -> MoneyBackService:
        from shared.services.money_back import MoneyBackService

        return MoneyBackService(self.store, self.invoices, self.credit_notes, self.organizations, self.idempotency)

    @cached_property
    def online_top_ups(self) -> OnlineTopUpService:
        from shared.services.online_top_ups import OnlineTopUpService

        return OnlineTopUpService(self.store, self.idempotency, self.stripe, self.organizations, self.clock)

    # the card money path, called downward: the webhook and the reconciliation -> card money back -> settlement
    @cached_property
    def settlement(self) -> Settlement:
        from shared.services.settlement import Settlement

        return Settlement(self.store, self.clock)

    @cached_property
    def stripe_webhooks(self) -> StripeWebhookService:
        from shared.services.stripe_webhooks import StripeWebhookService

        return StripeWebhookService(self.settings, self.settlement, self.card_money_back, self.clock)

    @cached_property
    def card_money_back(self) -> CardMoneyBackService:
        from shared.services.card_money_back import CardMoneyBackService

        return CardMoneyBackService(self.store, self.idempotency, self.stripe, self.settlement, self.clock)

    @cached_property
    def stripe_pending(self) -> StripePendingRepository:
        from shared.repositories.stripe_pending import StripePendingRepository

        return StripePendingRepository(self.db)

    @cached_property
    def reconciliation(self) -> Reconciliation:
        from shared.services.reconciliation import Reconciliation

        return Reconciliation(self.store, self.stripe_pending, self.stripe, self.settlement, self.card_money_back,
                              self.card_funding, self.deadline, self.clock)

    @cached_property
    def sweep(self) -> Sweep:
        from shared.services.sweep import Sweep

        return Sweep(self.organizations, lambda: self.sqs, self.settings.queue_url)

    @cached_property
    def card_funding(self) -> CardFunding:
        from shared.services.funding import CardFunding

        return CardFunding(self.store, lambda: self.stripe, self.clock, self.guardrails)

    @cached_property
    def funding(self) -> dict[SettingsMethod, Funding]:
        from shared.services.funding import InvoiceFunding, MasterWalletFunding

        return {"cheque_or_tt": InvoiceFunding(self.store),
                "master_account": MasterWalletFunding(self.store, self.guardrail_repository),
                "stripe": self.card_funding}

    @cached_property
    def domain_events(self) -> DomainEvents:
        from shared.services.domain_events import DomainEvents

        return DomainEvents(self.store, lambda: self.events, self.settings.event_bus_name)

    @cached_property
    def auto_top_up(self) -> AutoTopUpWorker:
        from shared.services.auto_top_up import AutoTopUpWorker

        return AutoTopUpWorker(self.store, self.funding, self.card_funding, self.domain_events, self.guardrails)

    # --- the automatic top-up's guardrails (issue 30) -------------------------------------------------------
    @cached_property
    def guardrail_repository(self) -> GuardrailRepository:
        from shared.repositories.guardrails import GuardrailRepository

        return GuardrailRepository(self.db, self.cursors)

    @cached_property
    def guardrails(self) -> Guardrails:
        from shared.services.guardrails import Guardrails

        return Guardrails(self.guardrail_repository)

    @cached_property
    def auto_credit_limits(self) -> AutoCreditLimitService:
        from shared.services.auto_credit_limits import AutoCreditLimitService

        return AutoCreditLimitService(self.store, self.guardrail_repository)
