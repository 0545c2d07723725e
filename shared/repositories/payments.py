"""Payments and their audit history."""

from __future__ import annotations

from dataclasses import dataclass

from shared.cursor import CursorCodec
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.entities import AUDIT, META, AuditRecord, Payment
from shared.repositories.pages import PageQuery, read_page


@dataclass(frozen=True)
class PaymentFilters:
    org_id: str | None = None
    status: str | None = None
    method: str | None = None
    received_from: str | None = None
    received_to: str | None = None
    reference: str | None = None


class PaymentRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def get(self, payment_id: str) -> Payment | None:
        item = self.db.get(Payment.key(payment_id))
        return Payment.from_item(item) if item else None

    def list(self, partner_id: str, filters: PaymentFilters, *, limit: int, cursor: str | None,
             scope: str) -> tuple[list[Payment], str | None]:
        """Newest received first. The organization filter uses its own index; the rest filter."""
        if filters.org_id:
            index, ipk, isk = "GSI2", "gsi2pk", "gsi2sk"
            vals = values(pk=Payment.org_index_pk(partner_id, filters.org_id))
        else:
            index, ipk, isk = "GSI1", "gsi1pk", "gsi1sk"
            vals = values(pk=Payment.partner_index_pk(partner_id))
        condition = f"{ipk} = :pk"
        if filters.received_from and filters.received_to:
            condition += f" AND {isk} BETWEEN :lo AND :hi"
            vals |= values(lo=filters.received_from, hi=f"{filters.received_to}#~")
        elif filters.received_from:
            condition += f" AND {isk} >= :lo"
            vals |= values(lo=filters.received_from)
        elif filters.received_to:
            condition += f" AND {isk} <= :hi"
            vals |= values(hi=f"{filters.received_to}#~")
        names: dict[str, str] = {}
        clauses = []
        for attr in ("status", "method", "reference"):
            wanted = getattr(filters, attr)
            if wanted is not None:
                names[f"#{attr}"] = attr
                vals |= values(**{f"f_{attr}": wanted})
                clauses.append(f"#{attr} = :f_{attr}")
        query = PageQuery(condition, names, vals, index=index, forward=False,
                          filter_expression=" AND ".join(clauses) or None)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [Payment.from_item(i) for i in items], next_cursor

    def history(self, payment_id: str) -> tuple[Payment | None, list[AuditRecord]]:
        """The payment (if it still exists) and all its audit records, newest first, in one Query."""
        items, _ = self.db.query(key_condition="pk = :pk AND sk BETWEEN :lo AND :hi", names={},
                                 vals=values(pk=f"PAY#{payment_id}", lo=AUDIT, hi=META), forward=False,
                                 consistent=True)
        payment = Payment.from_item(items.pop(0)) if items and items[0]["sk"] == META else None
        return payment, [AuditRecord.from_item(i) for i in items]
