"""The organization list (GSI1 `P#{ptn}#ORG`) moved from the organizations' META items onto their name locks: META
is rewritten by every debit, and GSI1 projects ALL, so with the keys on META each debit rewrote the partner's one
list partition (docs/capacity.md). An organization stored before the move keeps its entry on META (every write of it
keeps the keys: `Organization.listed_by_lock` is unset) until this command has moved it: for each organization whose
META item still carries the list's keys (read from that partition), the name lock is given them (a conditional
update: the lock must name that organization and not be listed yet), then META's keys are removed and
`listed_by_lock` set (a conditional update: only while META still holds the keys read). A debit that read META
before that update and writes after it puts the keys back (harmless: the list skips an organization's second entry,
`OrganizationRepository.list_by_name`; the next run moves it). Every step is conditional: it runs beside the API and
runs again (what is done is skipped), in any order with the deploy.
Run once after the deploy (docs/deploy.md): `python -m shared.repositories.organizations_backfill PARTNER...`; it
exits 1 when a lock was missing or named another organization (given up, left listed on META: look at it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from shared.repositories.dynamo import Dynamo, TransactionCancelled, to_av, values
from shared.repositories.organizations import NAME_LOCKS, ORGANIZATIONS, partner_index_pk

NAMES = {"#pk": "gsi1pk", "#sk": "gsi1sk", "#by_lock": "listed_by_lock"}


@dataclass
class Moved:
    found: int = 0  # META items of the partner still in the list
    listed: int = 0  # name locks given the list's keys by this run
    removed: int = 0  # META items the keys were taken off by this run
    gave_up: int = 0  # locks missing or naming another organization: left as they are


def backfill(db: Dynamo, partner_id: str) -> Moved:
    """The move for one partner."""
    moved = Moved()
    items = db.query_all(key_condition="gsi1pk = :pk", names={}, vals=values(pk=partner_index_pk(partner_id)),
                         index="GSI1")
    for item in items:
        if item.get("entity") != ORGANIZATIONS.entity:
            continue  # a lock's entry: listed already
        moved.found += 1
        listed = _list_lock(db, item)
        if listed is None:
            moved.gave_up += 1
            continue
        moved.listed += listed
        moved.removed += _unlist_meta(db, item)
    return moved


def _update(db: Dynamo, key: dict[str, str], expression: str, condition: str, vals: dict[str, Any]) -> bool:
    """One conditional UpdateItem (in a transaction, as every write here); False when its condition failed."""
    names = {k: v for k, v in NAMES.items() if k in f"{expression} {condition}"}  # DynamoDB refuses unused ones
    try:
        db.transact([{"Update": {"TableName": db.table, "Key": to_av(key), "UpdateExpression": expression,
                                 "ConditionExpression": condition, "ExpressionAttributeNames": names,
                                 "ExpressionAttributeValues": vals}}])
    except TransactionCancelled:
        return False
    return True


def _list_lock(db: Dynamo, meta: dict[str, Any]) -> int | None:
    """1 if the organization's name lock was given the list's keys now, 0 if it had them, None if it is missing or
    names another organization."""
    org = ORGANIZATIONS.from_item(meta)
    lock = NAME_LOCKS.key(org.partner_id, org.name)
    if _update(db, lock, "SET #pk = :pk, #sk = :sk", "org_id = :org AND attribute_not_exists(#pk)",
               values(pk=meta["gsi1pk"], sk=meta["gsi1sk"], org=org.id)):
        return 1
    found = db.get(lock)
    return 0 if found is not None and found.get("org_id") == org.id and "gsi1pk" in found else None


def _unlist_meta(db: Dynamo, meta: dict[str, Any]) -> int:
    """1 if META's list keys were removed now (and the organization marked listed by its lock), 0 if a write since
    had left them off already."""
    key = {"pk": meta["pk"], "sk": meta["sk"]}
    return int(_update(db, key, "REMOVE #pk, #sk SET #by_lock = :by_lock", "#pk = :pk AND #sk = :sk",
                       values(pk=meta["gsi1pk"], sk=meta["gsi1sk"], by_lock=True)))


def main(argv: list[str]) -> int:  # pragma: no cover - the command around `backfill`
    from shared.container import Container

    db = Container.from_env().db
    failed = False
    for partner_id in argv:
        done = backfill(db, partner_id)
        print(f"{partner_id}: {done.found} organizations listed on META, {done.listed} locks listed, "
              f"{done.removed} META items unlisted, {done.gave_up} locks missing or another organization's")
        failed |= done.gave_up > 0
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
