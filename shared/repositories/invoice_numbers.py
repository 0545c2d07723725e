"""Invoice numbers stored before they were unique case-insensitively (issue 26): their clashes and missing locks.

A number's lock was keyed by the number as given; it is now keyed by `number_key(number)` (upper-cased). A
generated number (`INV-000001`) or one given in upper case has the same key either way. A number given with a
lower-case letter has its lock under the old key only: until a lock is written under the new key, `?number=`
in another case misses it and another invoice could take it in another case. `check` reads every invoice of a
partner and reports the clashes (two invoices whose numbers are one number case-insensitively: for a person to
settle, never merged here) and the missing locks; with `fix` it writes each missing lock (conditional: never over
another invoice's), never for a clash. Run: `python -m shared.repositories.invoice_numbers [--fix] PARTNER...`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from shared.domain.invoice import number_key
from shared.repositories.dynamo import Dynamo, TransactionCancelled, values
from shared.repositories.invoices import NUMBER_LOCKS, InvoiceNumberLock, partner_index_pk


@dataclass
class NumberCheck:
    clashes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # key -> [(invoice id, number)]
    missing: list[tuple[str, str]] = field(default_factory=list)  # (invoice id, number) with no lock under its key
    written: list[tuple[str, str]] = field(default_factory=list)


def check(db: Dynamo, partner_id: str, *, fix: bool = False) -> NumberCheck:
    invoices = db.query_all(key_condition="gsi1pk = :pk", names={"#n": "number"}, vals=values(pk=partner_index_pk(
        partner_id)), index="GSI1", projection="id, #n")
    by_key: dict[str, list[tuple[str, str]]] = {}
    for item in invoices:
        by_key.setdefault(number_key(item["number"]), []).append((item["id"], item["number"]))
    result = NumberCheck(clashes={k: sorted(v) for k, v in by_key.items() if len(v) > 1})
    singles = [v[0] for k, v in by_key.items() if k not in result.clashes]
    for start in range(0, len(singles), 100):
        chunk = singles[start:start + 100]
        found = {number_key(i["number"]) for i in db.batch_get([NUMBER_LOCKS.key(partner_id, n) for _, n in chunk])}
        result.missing += [(i, n) for i, n in chunk if number_key(n) not in found]
    for invoice_id, number in result.missing if fix else []:
        lock = InvoiceNumberLock(partner_id=partner_id, number=number, invoice_id=invoice_id)
        try:
            db.transact([db.put_new(NUMBER_LOCKS.to_item(lock))])
            result.written.append((invoice_id, number))
        except TransactionCancelled:  # taken since it was read: a clash to settle by hand
            result.clashes.setdefault(number_key(number), []).append((invoice_id, number))
    return result


def main(argv: list[str]) -> int:  # pragma: no cover - the command around `check`
    from shared.container import Container

    fix, partners = "--fix" in argv, [a for a in argv if a != "--fix"]
    db, clashes = Container.from_env().db, 0
    for partner_id in partners:
        found = check(db, partner_id, fix=fix)
        clashes += len(found.clashes)
        print(f"{partner_id}: {len(found.clashes)} clashes {found.clashes}, {len(found.missing)} missing locks, "
              f"{len(found.written)} written")
    return 1 if clashes else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
