"""Storage of audit records: in the partition of what they audit, after its META item.

  PAY#{pay} | ORG#{org} | INV#{inv}    AUDIT#{at}#{id}
"""

from __future__ import annotations

from shared.domain.audit import AuditRecord
from shared.repositories.keys import Key, join, key
from shared.repositories.mapping import Mapper, register

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
