"""Organizations with their wallet and payment settings, and the wallet ledger."""

from __future__ import annotations

from typing import Any

from shared.cursor import CursorCodec
from shared.errors import Conflict
from shared.repositories.dynamo import Dynamo, TransactionCancelled, values
from shared.repositories.entities import (
    LEDGER,
    META,
    AuditRecord,
    LedgerEntry,
    Organization,
    OrganizationNameLock,
    name_key,
)
from shared.repositories.pages import PageQuery, read_page


class OrganizationRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def get(self, org_id: str) -> Organization | None:
        item = self.db.get(Organization.key(org_id))
        return Organization.from_item(item) if item else None

    def create(self, org: Organization, audit: AuditRecord, extra: list[dict[str, Any]]) -> None:
        lock = OrganizationNameLock(partner_id=org.partner_id, name=org.name, org_id=org.id)
        try:
            self.db.transact([self.db.put_new(org.to_item()), self.db.put_new(lock.to_item()),
                              self.db.put_new(audit.to_item()), *extra])
        except TransactionCancelled as cancelled:
            if 1 in cancelled.failed_conditions():
                raise Conflict("organization_name_taken",
                               f"An organization named {org.name!r} already exists.") from None
            raise

    def replace(self, org: Organization, expected_version: int, audit: AuditRecord,
                extra: list[dict[str, Any]]) -> bool:
        """Write `org` if nobody changed it since `expected_version`; False when someone did."""
        guard = self.db.put_if(org.to_item(), "#v = :v", values(v=expected_version), {"#v": "version"})
        try:
            self.db.transact([guard, self.db.put_new(audit.to_item()), *extra])
        except TransactionCancelled as cancelled:
            if 0 in cancelled.failed_conditions():
                return False
            raise
        return True

    def list_by_name(self, partner_id: str, prefix: str | None, *, limit: int, cursor: str | None,
                     scope: str) -> tuple[list[Organization], str | None]:
        condition = "gsi1pk = :pk"
        vals = values(pk=Organization.partner_index_pk(partner_id))
        if prefix:
            condition += " AND begins_with(gsi1sk, :prefix)"
            vals |= values(prefix=name_key(prefix))
        query = PageQuery(condition, {}, vals, index="GSI1")
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [Organization.from_item(i) for i in items], next_cursor

    def ledger_page(self, org_id: str, *, limit: int, cursor: str | None,
                    scope: str) -> tuple[Organization | None, list[LedgerEntry], str | None]:
        """The organization (first page only) and its ledger newest first, in one Query.

        The META item sorts just above the ledger entries, so the first page reads the owner
        (for the tenant check) together with the newest entries.
        """
        upper = META if cursor is None else f"{LEDGER}~"  # the cursor resumes below META anyway
        query = PageQuery("pk = :pk AND sk BETWEEN :lo AND :hi", {},
                          values(pk=f"ORG#{org_id}", lo=LEDGER, hi=upper), forward=False)
        first_page = cursor is None
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope,
                                       limit=limit + 1 if first_page else limit, cursor=cursor)
        org = None
        if items and items[0]["sk"] == META:
            org = Organization.from_item(items.pop(0))
        return org, [LedgerEntry.from_item(i) for i in items], next_cursor
