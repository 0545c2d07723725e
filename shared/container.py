"""The objects a function needs, built once per execution environment (cold start), cheaply:
settings are validated now, the DynamoDB client is created on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from shared.cursor import CursorCodec
from shared.idempotency import Idempotency
from shared.repositories.dynamo import Dynamo
from shared.settings import Settings, get_settings


@dataclass
class Container:
    settings: Settings

    @classmethod
    def from_env(cls) -> Container:
        return cls(settings=get_settings())

    @cached_property
    def db(self) -> Dynamo:
        return Dynamo(self.settings)

    @cached_property
    def cursors(self) -> CursorCodec:
        return CursorCodec(self.settings.cursor_secret.get_secret_value().encode())

    @cached_property
    def idempotency(self) -> Idempotency:
        return Idempotency(self.settings.table_name, lambda: self.db.client, self.settings.idempotency_ttl_seconds)

    @cached_property
    def organizations(self) -> Any:
        from shared.repositories.organizations import OrganizationRepository

        return OrganizationRepository(self.db, self.cursors)

    @cached_property
    def payment_repository(self) -> Any:
        from shared.repositories.payments import PaymentRepository

        return PaymentRepository(self.db, self.cursors)

    @cached_property
    def invoices(self) -> Any:
        from shared.repositories.invoices import InvoiceRepository

        return InvoiceRepository(self.db, self.cursors)

    @cached_property
    def allocation(self) -> Any:
        from shared.services.allocation import AllocationService

        return AllocationService(self.db, self.payment_repository, self.organizations, self.invoices,
                                 self.idempotency)

    @cached_property
    def auto_top_up(self) -> Any:
        from shared.services.auto_top_up import AutoTopUpService

        return AutoTopUpService(self.settings, self.db, self.organizations, self.invoices)

    @cached_property
    def online_top_ups(self) -> Any:
        from shared.services.online_top_ups import OnlineTopUpService
        from shared.stripe_gateway import StripeGateway

        return OnlineTopUpService(self.organizations, self.idempotency, StripeGateway(self.settings))

    @cached_property
    def stripe_webhooks(self) -> Any:
        from shared.services.stripe_webhooks import StripeWebhookService

        return StripeWebhookService(self.settings, self.db)

    @cached_property
    def accounts(self) -> Any:
        from shared.services.accounts import AccountService

        return AccountService(self.organizations, self.idempotency)

    @cached_property
    def payments(self) -> Any:
        from shared.services.payments import PaymentService

        return PaymentService(self.payment_repository, self.organizations, self.idempotency)
