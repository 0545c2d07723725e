"""Settings, read once from the environment through one pydantic model."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    # Set locally (the embedded DynamoDB endpoint); absent in AWS.
    dynamodb_endpoint: str | None = Field(default=None, alias="DYNAMODB_ENDPOINT")
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")
    # HMAC key that makes list cursors tamper-proof. Deployed: resolved from Secrets Manager.
    cursor_secret: SecretStr = Field(alias="CURSOR_SECRET", min_length=16)
    # The daily automatic top-up: the queue between sweep and worker, and the bus for domain events.
    queue_url: str | None = Field(default=None, alias="AUTO_TOP_UP_QUEUE_URL")
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME")
    # Set locally (the stack's SQS and EventBridge endpoints); absent in AWS.
    sqs_endpoint: str | None = Field(default=None, alias="SQS_ENDPOINT")
    events_endpoint: str | None = Field(default=None, alias="EVENTS_ENDPOINT")
    # How long an Idempotency-Key is remembered.
    idempotency_ttl_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)
    # Stripe. Deployed: resolved from Secrets Manager; locally: the environment (see local/stripe.py).
    stripe_api_key: SecretStr | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    # Set locally (the stack's Stripe-compatible API); absent in AWS (api.stripe.com).
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")

    # --- notices to partners' endpoints (docs/notices.md) ---
    # The queue of webhook deliveries (the stream consumer sends to it, the delivery function receives from it).
    webhook_queue_url: str | None = Field(default=None, alias="WEBHOOK_QUEUE_URL")
    # Notices may also go to http://127.0.0.1:<port>/...: the local stack and its tests only (a deployed function
    # never sets it; with it, a function refuses to start unless it talks to a local DynamoDB).
    webhook_allow_loopback: bool = Field(default=False, alias="WEBHOOK_ALLOW_LOOPBACK")
    # The wait before a failed delivery's first retry (then doubling): 30 s; shorter only for the local stack's tests.
    webhook_first_retry_seconds: int = Field(default=30, alias="WEBHOOK_FIRST_RETRY_SECONDS", ge=1, le=30)

    @model_validator(mode="after")
    def _loopback_only_locally(self) -> Settings:
        if self.webhook_allow_loopback and self.dynamodb_endpoint is None:
            raise ValueError("WEBHOOK_ALLOW_LOOPBACK is for the local stack (DYNAMODB_ENDPOINT set) only")
        return self

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        names = {f.alias for f in cls.model_fields.values() if f.alias}
        return cls.model_validate({k: v for k, v in source.items() if k in names})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, validated at cold start (a bad environment fails the init loudly)."""
    return Settings.from_env()
