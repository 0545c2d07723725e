"""The aged receivables' reads, and the backfill of their index for invoices stored before it.

The receivables index (GSI4, keys written by shared.repositories.invoices with every write of an invoice) holds a
partner's invoices under `P#{ptn}#AR#{shard}` (RECEIVABLES_SHARDS partitions, the shard a hash of the invoice id),
sorted by `{day}#{issued}#{inv}`: `day` is `~` while something is due, else the UTC day the invoice was settled (its
last change); void invoices are not in it. A report for `as_of` reads the part after `{as_of}#~` of every shard, the
shards in parallel: the invoices due now and those settled after `as_of` (they may have been due then), never one
settled on or before it (nothing of it was due since). For today that is exactly the open invoices. It reads only
the attributes the report uses (PROJECTION) and parses them into a light `Receivable`, not a whole `Invoice`.

Backfill (idempotent: an invoice already keyed and logged, its log adding up to what was paid, is left alone):
`python -m shared.repositories.receivables PARTNER...`; it exits 1 when an invoice kept changing under it (run it
again). Run it after every deploy that changes invoice writes (docs/deploy.md): an invoice written meanwhile by the
previous code is keyed and its log mended.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.domain.receivables import OPEN, Receivable, day_of, repaired_log
from shared.repositories.dynamo import Dynamo, TransactionCancelled, serialize, to_av, values
from shared.repositories.invoices import INVOICES, partner_index_pk
from shared.repositories.receivables_index import RECEIVABLES_SHARDS, receivables_pk

INDEX = "GSI4"
READERS = 10  # the shards read at once: botocore's connection pool holds 10 (max_pool_connections)
# What the report reads of an invoice (a credit note's id, number and reason come along: a list is read whole).
FIELDS = ("id", "org_id", "org_name", "currency", "amount", "issued_date", "due_date", "paid_by_day",
          "credit_notes", "voided_at")
PROJECTION = ", ".join(f"#p{i}" for i in range(len(FIELDS)))


class ReceivablesRepository:
    def __init__(self, db: Dynamo):
        self.db = db

    def due_on_or_after(self, partner_id: str, as_of: str, *, currency: str | None = None,
                        org_id: str | None = None) -> list[Receivable]:
        """The partner's invoices issued on or before `as_of` that may have had something due at its end: those
        due now and those settled after it (an eventually consistent index read: a report, never a decision).
        One Query per shard, all at once (botocore's clients are thread-safe; the client is made first)."""
        names = {"#issued": "issued_date"} | {f"#p{i}": name for i, name in enumerate(FIELDS)}
        vals = values(after=f"{as_of}#{OPEN}", as_of=as_of)
        clauses = ["#issued <= :as_of"]
        if currency:
            names["#cur"], vals[":cur"] = "currency", serialize(currency)
            clauses.append("#cur = :cur")
        if org_id:
            names["#org"], vals[":org"] = "org_id", serialize(org_id)
            clauses.append("#org = :org")
        _ = self.db.client

        def shard(n: int) -> list[Receivable]:
            items = self.db.query_all(key_condition="gsi4pk = :pk AND gsi4sk > :after", names=names,
                                      vals=vals | values(pk=receivables_pk(partner_id, n)), index=INDEX,
                                      filter_expression=" AND ".join(clauses), projection=PROJECTION)
            return [self._receivable(i) for i in items]

        with ThreadPoolExecutor(max_workers=READERS) as pool:
            return [r for part in pool.map(shard, range(RECEIVABLES_SHARDS)) for r in part]

    def _receivable(self, item: dict[str, Any]) -> Receivable:
        if "paid_by_day" not in item:  # never written so (every write keys and logs together); if ever: the item
            whole = self.db.get(dict(INVOICES.key(item["id"])))  # whole, its log seeded from its allocations
            if whole is not None:  # (invoices are never deleted)
                return Receivable.of(INVOICES.from_item(whole))
        return Receivable(id=item["id"], org_id=item["org_id"], org_name=item["org_name"], currency=item["currency"],
                          amount=item["amount"], issued_date=item["issued_date"], due_date=item.get("due_date"),
                          paid_by_day=item.get("paid_by_day") or {},
                          credits=tuple((day_of(c["created_at"]), c["amount"]) for c in item.get("credit_notes") or ()),
                          void=item.get("voided_at") is not None)


def backfill(db: Dynamo, partner_id: str) -> tuple[int, int, int]:
    """Keys every invoice of the partner in the receivables index and seeds (or mends) its paid log, each update
    conditioned on the version read (a write in between: read again, five times at most). Returns (invoices,
    updated, given up)."""
    found = db.query_all(key_condition="gsi1pk = :pk", names={}, vals=values(pk=partner_index_pk(partner_id)),
                         index="GSI1", projection="pk, sk")
    updated = gave_up = 0
    for key in found:
        for _ in range(5):
            item = db.get({"pk": key["pk"], "sk": key["sk"]})
            if item is None:
                break
            try:
                updated += _backfill_one(db, item)
                break
            except TransactionCancelled:
                continue
        else:
            gave_up += 1
    return len(found), updated, gave_up


def _backfill_one(db: Dynamo, item: dict[str, Any]) -> int:
    invoice = INVOICES.from_item(item)
    log = repaired_log(invoice)
    expected = INVOICES.to_item(invoice.model_copy(update={"paid_by_day": log}))
    wanted = {k: expected.get(k) for k in ("gsi4pk", "gsi4sk")}
    if item.get("paid_by_day") == log and all(item.get(k) == v for k, v in wanted.items()):
        return 0
    names = {"#v": "version", "#log": "paid_by_day", "#g4pk": "gsi4pk", "#g4sk": "gsi4sk"}
    vals = values(v=item["version"], log=log)
    if wanted["gsi4pk"] is None:
        expression = "SET #log = :log REMOVE #g4pk, #g4sk"
    else:
        vals |= values(g4pk=wanted["gsi4pk"], g4sk=wanted["gsi4sk"])
        expression = "SET #log = :log, #g4pk = :g4pk, #g4sk = :g4sk"
    db.transact([{"Update": {"TableName": db.table, "Key": to_av({"pk": item["pk"], "sk": item["sk"]}),
                             "UpdateExpression": expression, "ConditionExpression": "#v = :v",
                             "ExpressionAttributeNames": names, "ExpressionAttributeValues": vals}}])
    return 1


def main(argv: list[str]) -> int:  # pragma: no cover - the command around `backfill`
    from shared.container import Container

    db = Container.from_env().db
    failed = False
    for partner_id in argv:
        seen, updated, gave_up = backfill(db, partner_id)
        print(f"{partner_id}: {seen} invoices, {updated} keyed, seeded or mended, {gave_up} changing too often "
              "(run again)")
        failed |= gave_up > 0
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
