"""What the notice routes accept (strict, unknown fields refused): a webhook endpoint to register."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictStr, field_validator

from shared.domain.notices import NoticeType
from shared.domain.notices_delivery import MAX_URL
from shared.models import Strict


class WebhookEndpointIn(Strict):
    """`url`: deployed, `https` on a public address; `events`: the notice types it receives (at least one; a type
    named twice counts once)."""

    url: Annotated[StrictStr, Field(min_length=1, max_length=MAX_URL, examples=["https://erp.partner.example/hooks"])]
    events: Annotated[list[NoticeType], Field(min_length=1, max_length=32)]

    @field_validator("events")
    @classmethod
    def _once_each(cls, events: list[NoticeType]) -> list[NoticeType]:
        return list(dict.fromkeys(events))
