"""Organizations with their wallet and payment settings, and the wallet ledger."""

from __future__ import annotations

from shared.cursor import CursorCodec
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.entities import (
    ATTEMPT,
    LEDGER,
    META,
    AutoTopUpAttempt,
    LedgerEntry,
    Organization,
    PartnerWallet,
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

    def partner_wallets(self, partner_id: str) -> list[PartnerWallet]:
        """Every currency of a partner's master wallet, in one Query."""
        items, _ = self.db.query(key_condition="pk = :pk AND begins_with(sk, :w)", names={},
                                 vals=values(pk=f"PTN#{partner_id}", w="WALLET#"), consistent=True)
        return [PartnerWallet.from_item(i) for i in items]

    def partner_wallet(self, partner_id: str, currency: str) -> PartnerWallet:
        item = self.db.get(PartnerWallet.key(partner_id, currency))
        return PartnerWallet.from_item(item) if item else PartnerWallet(partner_id=partner_id, currency=currency,
                                                                          updated_at="")

    def attempts_page(self, org_id: str, *, limit: int, cursor: str | None,
                      scope: str) -> tuple[list[AutoTopUpAttempt], str | None]:
        """The organization's automatic top-up attempts, newest business date first. An attempt still
        `claimed` is in flight and not listed, except a Stripe one (its charge is pending)."""
        query = PageQuery("pk = :pk AND begins_with(sk, :a)", {"#s": "status", "#m": "method"},
                          values(pk=f"ORG#{org_id}", a=ATTEMPT, claimed="claimed", stripe="stripe"), forward=False,
                          filter_expression="#s <> :claimed OR #m = :stripe")
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [AutoTopUpAttempt.from_item(i) for i in items], next_cursor
