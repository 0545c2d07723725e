"""Invoice histories for what was recorded before the stream consumer existed (issue 26), or outside the stream's
24 hours: reads every payment's and organization's audit records of a partner, and writes the invoices' records
derived from them (`shared.domain.invoice_history`), each a conditional put under its derived id, so it can run
beside the consumer and run again: what is there already is left as it is.
Run: `python -m shared.repositories.invoice_history_backfill PARTNER...`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from shared.domain.invoice_history import SOURCES, invoice_records
from shared.repositories import organizations, payments
from shared.repositories.audit import AUDITS, AuditLog, audit_range
from shared.repositories.dynamo import Dynamo, values


@dataclass
class Backfill:
    sources: int = 0  # audit records that name invoices
    derived: int = 0  # records they add to invoice histories
    written: int = 0  # of those, the ones that were not there yet


def backfill(db: Dynamo, log: AuditLog, partner_id: str) -> Backfill:
    result = Backfill()
    owners = [("payment", item["id"]) for item in db.query_all(
        key_condition="gsi1pk = :pk", names={}, vals=values(pk=payments.partner_index_pk(partner_id)), index="GSI1",
        projection="id")]
    owners += [("organization", org_id) for org_id in organizations.partner_org_ids(db, partner_id)]
    for entity_type, entity_id in owners:
        pk, lower, upper = audit_range(entity_type, entity_id)
        items = db.query_all(key_condition="pk = :pk AND sk BETWEEN :lo AND :hi", names={"#a": "action"},
                             vals=values(pk=pk, lo=lower, hi=upper, **{f"s{i}": s for i, s in enumerate(SOURCES)}),
                             filter_expression=f"#a IN ({', '.join(f':s{i}' for i in range(len(SOURCES)))})",
                             consistent=True)
        for item in items:
            derived = invoice_records(AUDITS.from_item(item))
            result.sources += 1
            result.derived += len(derived)
            result.written += log.add_once(derived)
    return result


def main(argv: list[str]) -> int:  # pragma: no cover - the command around `backfill`
    from shared.container import Container

    deps = Container.from_env()
    for partner_id in argv:
        done = backfill(deps.db, deps.audit_log, partner_id)
        print(f"{partner_id}: {done.sources} source records, {done.derived} invoice records, {done.written} written")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
