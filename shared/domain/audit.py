"""The audit record: who changed what, when (kept after the thing it audits is deleted), and the one shape
every history route answers it in.

Records are read back as `{id, entity, entity_id, action, changes: {field: {"from": before, "to": after}},
actor, at}`. Records written before that shape are mapped here, at read time, in one place (`history_view`);
nothing stored is rewritten:

- a change already `{"from": x, "to": y}` (exactly those two keys) is kept as it is;
- a bare value under a field (`"amount": 12550`, `"invoices": [...]`, a created record's fields) is what the
  action set or recorded: `{"from": None, "to": value}`;
- under a `*.deleted` action a bare value is what was removed: `{"from": value, "to": None}`.

`entity` names what changed: the action's subject (`payment`, `organization`, `wallet`, `payment_settings`,
`invoice`; an online top-up is the wallet's), and `entity_id` the record whose history holds it (a wallet's and
its settings' records are the organization's).
"""

from __future__ import annotations

from typing import Any

from shared.domain.base import Record
from shared.vocabulary import AuditedEntity

ENTITIES = {"payment": "payment", "organization": "organization", "wallet": "wallet",
            "payment_settings": "payment_settings", "online_top_up": "wallet", "invoice": "invoice"}


class AuditRecord(Record):
    id: str
    partner_id: str
    entity_type: AuditedEntity
    entity_id: str
    action: str
    actor: str
    at: str
    changes: dict[str, Any] = {}


def is_change(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {"from", "to"}


def normalized_changes(action: str, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`changes` as `{field: {"from": before, "to": after}}`, whatever shape the record was written in."""
    removed = action.endswith(".deleted")
    return {field: value if is_change(value) else {"from": value, "to": None} if removed
            else {"from": None, "to": value} for field, value in changes.items()}


def entity_of(record: AuditRecord) -> str:
    return ENTITIES.get(record.action.split(".", 1)[0], record.entity_type)


def history_view(record: AuditRecord) -> dict[str, Any]:
    """The record in the one audit shape of every history route."""
    return {"id": record.id, "entity": entity_of(record), "entity_id": record.entity_id, "action": record.action,
            "changes": normalized_changes(record.action, record.changes), "actor": record.actor, "at": record.at}
