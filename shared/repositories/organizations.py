"""Storage of the organization aggregate: the organization (with settings and wallet balance), its
unique-name lock, its wallet ledger and its online top-ups; the organization list and the due index.

  ORG#{org}      META                 organization + wallet balance + payment settings
  ORG#{org}      LEDGER#{seq:012}     wallet ledger entry
  ORG#{org}      ONLINE#{otu}         an online top-up with Stripe
  ORG#{org}      META#WITHDRAWAL#{newest first}  a withdrawal (just after META: one Query reads the owner and a page)
  ORGNAME#{ptn}#{sha256(name)}  LOCK  unique organization name per partner (the name hashed: any character)
  GSI1 P#{ptn}#ORG -> {name}#{org}    the partner's organizations by name: their name locks, written only when an
                                      organization is created (META, rewritten by every debit, is not in it)
  GSI3 DUE#{shard} -> org             organizations due for an automatic top-up (sparse, sharded)
"""

from __future__ import annotations

from typing import Any

from shared.cursor import CursorCodec
from shared.domain.base import Record
from shared.domain.organization import LedgerEntry, OnlineTopUp, Organization, Withdrawal, name_key
from shared.ids import newest_first
from shared.repositories.dynamo import Dynamo, key_of, values
from shared.repositories.keys import LOCK, META, Key, UnsafeKeyPart, hashed, join, key
from shared.repositories.mapping import Mapper, register
from shared.repositories.pages import PageQuery, read_page
from shared.repositories.stripe_pending import pending_attributes

ORG, LEDGER, ONLINE = "ORG", "LEDGER", "ONLINE"
WITHDRAWALS = f"{META}#WITHDRAWAL"
DUE_SHARDS = 16  # the due index is spread over this many partitions; the sweep reads them all


def due_shard(org_id: str) -> int:
    return int(hashed(org_id)[:8], 16) % DUE_SHARDS


def due_partition(shard: int) -> str:
    return join("DUE", shard)


def org_pk(org_id: str) -> str:
    return join(ORG, org_id)


def partner_index_pk(partner_id: str) -> str:
    return join("P", partner_id, "ORG")


def list_keys(partner_id: str, name: str, org_id: str) -> dict[str, str]:
    """The organization list's index keys (GSI1): by name, case- and space-folded, then id."""
    return {"gsi1pk": partner_index_pk(partner_id), "gsi1sk": f"{name_key(name)}#{org_id}"}


class OrganizationNameLock(Record):
    """Storage only: the name taken, per partner."""

    partner_id: str
    name: str
    org_id: str


@register
class OrganizationMapper(Mapper[Organization]):
    record, entity = Organization, "organization"

    def key(self, *ids: str) -> Key:
        return key(org_pk(ids[0]), META)

    def key_of(self, record: Organization) -> Key:
        return self.key(record.id)

    def attributes(self, record: Organization) -> dict[str, Any]:
        # Not in the organization list (GSI1) once its name lock is: every debit rewrites this item, and GSI1 projects
        # ALL, so each one would rewrite the partner's one list partition too (docs/capacity.md). An organization
        # stored before the list moved keeps its entry here, through every write, until organizations_backfill has
        # listed its lock (`listed_by_lock`): it is never out of the list, whatever the order of deploy and backfill.
        attrs: dict[str, Any] = {} if record.listed_by_lock else list_keys(record.partner_id, record.name, record.id)
        if record.due:
            # Sparse, sharded: only due organizations are in it, so the sweep reads those and no others.
            # Every write of an organization (balance or settings) rewrites the item, so it is never stale.
            attrs |= {"gsi3pk": due_partition(due_shard(record.id)), "gsi3sk": record.id}
        return attrs


@register
class NameLockMapper(Mapper[OrganizationNameLock]):
    record, entity = OrganizationNameLock, "organization_name"

    def key(self, *ids: str) -> Key:
        partner_id, name = ids
        return key(join("ORGNAME", partner_id, hashed(name_key(name))), LOCK)

    def key_of(self, record: OrganizationNameLock) -> Key:
        return self.key(record.partner_id, record.name)

    def attributes(self, record: OrganizationNameLock) -> dict[str, Any]:
        # The organization list's entry: written with the lock (create; a rename would write the new name's lock
        # and delete the old one), never by a debit. GSI1 projects ALL: the entry holds the org id, the page's
        # organizations are then read by id.
        return list_keys(record.partner_id, record.name, record.org_id)


@register
class LedgerMapper(Mapper[LedgerEntry]):
    record, entity = LedgerEntry, "ledger_entry"

    def key(self, *ids: str) -> Key:
        org_id, seq = ids
        return key(org_pk(org_id), join(LEDGER, f"{int(seq):012d}"))

    def key_of(self, record: LedgerEntry) -> Key:
        return self.key(record.org_id, str(record.seq))


@register
class OnlineTopUpMapper(Mapper[OnlineTopUp]):
    record, entity = OnlineTopUp, "online_top_up"

    def key(self, *ids: str) -> Key:
        org_id, top_up_id = ids
        return key(org_pk(org_id), join(ONLINE, top_up_id))

    def key_of(self, record: OnlineTopUp) -> Key:
        return self.key(record.org_id, record.id)

    def attributes(self, record: OnlineTopUp) -> dict[str, Any]:
        return pending_attributes(record, self.entity, record.org_id, record.id)


@register
class WithdrawalMapper(Mapper[Withdrawal]):
    record, entity = Withdrawal, "withdrawal"

    def key(self, *ids: str) -> Key:
        org_id, withdrawal_id = ids
        # After META and newest first, so that a forward Query from META reads the owner, then the newest.
        return key(org_pk(org_id), join(META, "WITHDRAWAL", newest_first(withdrawal_id)))

    def key_of(self, record: Withdrawal) -> Key:
        return self.key(record.org_id, record.id)


ORGANIZATIONS, LEDGER_ENTRIES, WITHDRAWAL_ITEMS = OrganizationMapper(), LedgerMapper(), WithdrawalMapper()
ONLINE_TOP_UPS, NAME_LOCKS = OnlineTopUpMapper(), NameLockMapper()


def partner_org_ids(db: Dynamo, partner_id: str) -> list[str]:
    """Every organization id of the partner, from its list (the name locks' entries, and META's until the move's
    backfill has taken them off: each id once)."""
    items = db.query_all(key_condition="gsi1pk = :pk", names={}, vals=values(pk=partner_index_pk(partner_id)),
                         index="GSI1", projection="id, org_id")
    return list(dict.fromkeys(i.get("org_id") or i["id"] for i in items))


class OrganizationRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def list_by_name(self, partner_id: str, prefix: str | None, *, limit: int, cursor: str | None,
                     scope: str) -> tuple[list[Organization], str | None]:
        """A page of the partner's organizations by name: the list's entries (name locks) from GSI1, then the
        organizations in one BatchGetItem, in the entries' order. An entry of META (written before the list moved
        to the locks, until the backfill takes it off) is an organization itself; its lock's entry, of the same
        sort key, is next to it and skipped, also across pages (the cursor holds the sort key)."""
        condition = "gsi1pk = :pk"
        vals = values(pk=partner_index_pk(partner_id))
        folded = name_key(prefix or "")
        if folded:  # a name of only white space folds to nothing: no filter (DynamoDB refuses "")
            condition += " AND begins_with(gsi1sk, :prefix)"
            vals |= values(prefix=folded)
        start = self.cursors.decode(cursor, scope) if cursor is not None else None  # "": no cursor we issued
        previous = start.get("gsi1sk") if start else None
        entries: list[dict[str, Any]] = []
        while len(entries) <= limit:  # one more than the page: whether there is a next one
            batch, last = self.db.query(key_condition=condition, names={}, vals=vals, index="GSI1",
                                        limit=limit + 2 - len(entries), start=start)
            for entry in batch:
                if entry["gsi1sk"] != previous:
                    entries.append(entry)
                previous = entry["gsi1sk"]
            if last is None:
                break
            start = last
        page = entries[:limit]
        next_cursor = self.cursors.encode(key_of(page[-1], "GSI1"), scope) if len(entries) > limit else None
        return self._organizations(partner_id, page), next_cursor

    def _organizations(self, partner_id: str, entries: list[dict[str, Any]]) -> list[Organization]:
        """The organizations of the list's entries, in their order: a lock's by BatchGetItem (strongly consistent;
        the unprocessed keys read again by `batch_get`), an old META entry as it is."""
        wanted = [ORGANIZATIONS.key(e["org_id"]) for e in entries if e.get("entity") == NameLockMapper.entity]
        found = {i["id"]: ORGANIZATIONS.from_item(i) for i in (self.db.batch_get(wanted) if wanted else [])}
        orgs = [found.get(e["org_id"]) if e.get("entity") == NameLockMapper.entity else ORGANIZATIONS.from_item(e)
                for e in entries]
        return [o for o in orgs if o is not None and o.partner_id == partner_id]

    def _with_owner(self, org_id: str, lower: str, upper: str, *, forward: bool, limit: int, cursor: str | None,
                    scope: str) -> tuple[Organization | None, list[dict[str, Any]], str | None]:
        """One page of the organization's partition between `lower` and `upper`, the META item (the owner, for the
        tenant check) first when the range holds it: on the first page it is read together with the records."""
        try:
            pk = org_pk(org_id)
        except UnsafeKeyPart:
            return None, [], None
        query = PageQuery("pk = :pk AND sk BETWEEN :lo AND :hi", {}, values(pk=pk, lo=lower, hi=upper),
                          forward=forward)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope,
                                       limit=limit + 1 if cursor is None else limit, cursor=cursor)
        org = ORGANIZATIONS.from_item(items.pop(0)) if items and items[0]["sk"] == META else None
        return org, items, next_cursor

    def ledger_page(self, org_id: str, *, limit: int, cursor: str | None,
                    scope: str) -> tuple[Organization | None, list[LedgerEntry], str | None]:
        """The organization (first page only) and its ledger newest first, in one Query: META sorts just above
        the ledger entries (a cursor resumes below it)."""
        upper = META if cursor is None else f"{LEDGER}#~"
        org, items, next_cursor = self._with_owner(org_id, f"{LEDGER}#", upper, forward=False, limit=limit,
                                                   cursor=cursor, scope=scope)
        return org, [LEDGER_ENTRIES.from_item(i) for i in items], next_cursor

    def withdrawals_page(self, org_id: str, *, limit: int, cursor: str | None,
                         scope: str) -> tuple[Organization | None, list[Withdrawal], str | None]:
        """The organization (first page only) and its withdrawals newest first, in one Query: their keys sort just
        after META, newest first."""
        lower = META if cursor is None else f"{WITHDRAWALS}#"
        org, items, next_cursor = self._with_owner(org_id, lower, f"{WITHDRAWALS}#~", forward=True, limit=limit,
                                                   cursor=cursor, scope=scope)
        return org, [WITHDRAWAL_ITEMS.from_item(i) for i in items], next_cursor

    def online_top_ups_page(self, org_id: str, *, limit: int, cursor: str | None,
                            scope: str) -> tuple[list[OnlineTopUp], str | None]:
        """The organization's online top-ups newest first (their ids sort by time)."""
        try:
            pk = org_pk(org_id)
        except UnsafeKeyPart:
            return [], None
        query = PageQuery("pk = :pk AND sk BETWEEN :lo AND :hi", {}, values(pk=pk, lo=f"{ONLINE}#", hi=f"{ONLINE}#~"),
                          forward=False)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [ONLINE_TOP_UPS.from_item(i) for i in items], next_cursor

    def due_ids(self, shard: int, start: dict[str, str] | None) -> tuple[list[str], dict[str, str] | None]:
        """One page of the due index's shard: the ids of organizations due for an automatic top-up."""
        items, last = self.db.query(key_condition="gsi3pk = :pk", names={}, index="GSI3", start=start,
                                    vals=values(pk=due_partition(shard)), projection="gsi3sk")
        return [i["gsi3sk"] for i in items], last
