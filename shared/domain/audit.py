"""The audit record: who changed what, when (kept after the thing it audits is deleted)."""

from __future__ import annotations

from typing import Any

from shared.domain.base import Record
from shared.vocabulary import AuditedEntity


class AuditRecord(Record):
    id: str
    partner_id: str
    entity_type: AuditedEntity
    entity_id: str
    action: str
    actor: str
    at: str
    changes: dict[str, Any] = {}
