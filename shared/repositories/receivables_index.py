"""The receivables index's keys (GSI4, docs/data-model.md "Aged receivables"): where an invoice sorts in its
partner's index, and the part of a payment's change to an invoice (shared.repositories.invoices.change_item) that
keeps its place and its dated paid log."""

from __future__ import annotations

import zlib
from typing import Any

from shared.domain.allocation import InvoiceChange
from shared.domain.receivables import day_of, paid_log
from shared.repositories.dynamo import serialize, values
from shared.repositories.keys import join

# A partner's receivables index is split in this many partitions, read in parallel: small partitions keep each Query
# to a page or two (100,000 open invoices: ~3,100 a shard), and DynamoDB serves the partitions side by side.
RECEIVABLES_SHARDS = 32


def receivables_shard(invoice_id: str) -> int:
    """The invoice's shard of its partner's receivables index: a stable hash of its id (never changes)."""
    return zlib.crc32(invoice_id.encode()) % RECEIVABLES_SHARDS


def receivables_pk(partner_id: str, shard: int) -> str:
    return join("P", partner_id, "AR", shard)


def receivables_keys(partner_id: str, day: str | None, issued_date: str, invoice_id: str) -> dict[str, str]:
    """The receivables index's keys (GSI4): the partner's invoices in its shard, those with something due last
    (`~`), the settled ones by the day they were settled; none for a void invoice (docs/data-model.md, "Aged
    receivables")."""
    if day is None:
        return {}
    return {"gsi4pk": receivables_pk(partner_id, receivables_shard(invoice_id)),
            "gsi4sk": f"{day}#{issued_date}#{invoice_id}"}


def receivables_update(change: InvoiceChange, at: str, names: dict[str, str], vals: dict[str, Any], sets: list[str],
                 conditions: list[str]) -> None:
    """The day's paid amount moves by the change; the receivables key follows what it owes after it, decided from
    the read and so conditioned on it (still due: `paid < net - delta`; settled: `paid >= net - delta`): a change
    that crossed that line first makes this one re-read. Payments to one invoice do not conflict otherwise."""
    inv, delta = change.invoice, change.delta
    open_after = inv.net_amount - (inv.amount_paid + delta) > 0
    names |= {"#g4pk": "gsi4pk", "#g4sk": "gsi4sk"}
    vals |= values(bound=inv.net_amount - delta)
    conditions.append("#paid < :bound" if open_after else "#paid >= :bound")
    keys = receivables_keys(inv.partner_id, "~" if open_after else day_of(at), inv.issued_date, inv.id)
    vals |= values(g4pk=keys["gsi4pk"], g4sk=keys["gsi4sk"])
    sets += ["#g4pk = :g4pk", "#g4sk = :g4sk"]
    if inv.paid_by_day is None:  # stored before the log: seeded from its allocations, exactly once
        log = paid_log(inv)
        log[day_of(at)] = log.get(day_of(at), 0) + delta
        names["#log"], vals[":log"] = "paid_by_day", serialize(log)
        sets.append("#log = :log")
        conditions.append("attribute_not_exists(#log)")
    elif delta:  # (a change of nothing names no log: DynamoDB refuses an unused name)
        names |= {"#log": "paid_by_day", "#day": day_of(at)}
        vals |= values(logzero=0)
        sets.append("#log.#day = if_not_exists(#log.#day, :logzero) + :d")
