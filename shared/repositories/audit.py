"""Storage of audit records: in the partition of what they audit, after its META item.

  PAY#{pay} | ORG#{org} | INV#{inv}    AUDIT#{at}#{id}
"""

from __future__ import annotations

from typing import Any

from shared.cursor import CursorCodec
from shared.domain.audit import AuditRecord
from shared.repositories.dynamo import Dynamo, from_av, values
from shared.repositories.keys import Key, UnsafeKeyPart, join, key
from shared.repositories.mapping import Mapper, register
from shared.repositories.pages import PageQuery, read_page

AUDIT = "AUDIT"
PREFIX = {"payment": "PAY", "organization": "ORG", "invoice": "INV"}


def audit_range(entity_type: str, entity_id: str) -> tuple[str, str, str]:
    """The partition of an entity's audit records, and the sort-key range that holds them."""
    return join(PREFIX[entity_type], entity_id), f"{AUDIT}#", f"{AUDIT}#~"


@register
class AuditMapper(Mapper[AuditRecord]):
    record, entity = AuditRecord, "audit"

    def key(self, *ids: str) -> Key:
        entity_type, entity_id, at, record_id = ids
        return key(join(PREFIX[entity_type], entity_id), join(AUDIT, at, record_id))

    def key_of(self, record: AuditRecord) -> Key:
        return self.key(record.entity_type, record.entity_id, record.at, record.id)


AUDITS = AuditMapper()


def audit_of_image(image: dict[str, Any]) -> AuditRecord | None:
    """The audit record in a stream record's image (DynamoDB's attribute-value form), None for any other item."""
    if image.get("entity", {}).get("S") != AuditMapper.entity:
        return None
    return AUDITS.from_item(from_av(image))


class AuditLog:
    """The audit records of one payment, organization or invoice, a page at a time."""

    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def page(self, entity_type: str, entity_id: str, *, limit: int, cursor: str | None,
             scope: str) -> tuple[list[AuditRecord], str | None]:
        """Newest first, strongly consistent: a history grows with every edit and top-up, so it pages like any
        list; a page cut short by DynamoDB's 1 MB limit reads on, so every page is full or the last one."""
        try:
            pk, lower, upper = audit_range(entity_type, entity_id)
        except UnsafeKeyPart:
            return [], None
        query = PageQuery("pk = :pk AND sk BETWEEN :lo AND :hi", {}, values(pk=pk, lo=lower, hi=upper), forward=False,
                          consistent=True)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [AUDITS.from_item(i) for i in items], next_cursor

    def add_once(self, records: list[AuditRecord]) -> int:
        """Write each record unless one with its key is there (a conditional put each: records with derived ids
        are written again only when their source is delivered again); returns how many were new."""
        return sum(self.db.put_absent(AUDITS.to_item(record)) for record in records)
