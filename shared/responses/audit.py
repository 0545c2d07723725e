"""The one audit body of every history route (shared.domain.audit.history_view), declared once."""

from __future__ import annotations

from typing import Any, Self

from pydantic import ConfigDict, Field

from shared.domain.audit import AuditRecord, history_view
from shared.responses.base import Out
from shared.vocabulary import AuditEntity


class AuditChange(Out):
    """One field's change: {"from": before, "to": after}."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_alias=True, validate_by_name=True)

    from_: Any = Field(alias="from")  # "from" is a keyword
    to: Any


class AuditOut(Out):
    """One audit record, in the shape every history route answers (shared.domain.audit.history_view)."""

    id: str
    entity: AuditEntity
    entity_id: str
    action: str
    changes: dict[str, AuditChange]
    actor: str  # the token's sub, or system:<what> (system:auto-top-up, system:stripe)
    at: str

    @classmethod
    def of_record(cls, record: AuditRecord) -> Self:
        return cls.model_validate(history_view(record))  # older records mapped to the one shape


class AuditPage(Out):
    items: list[AuditOut]
    next_cursor: str | None
