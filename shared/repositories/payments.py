"""Storage of the payment aggregate (its allocations inside its item) and its history.

  PAY#{pay}      META                 payment (allocations inside; status and allocated amount derived)
  PAY#{pay}      AUDIT#{ts}#{id}      its audit records (kept after a delete)
  GSI1 P#{ptn}#PAY -> {received}#{created}#{pay}         the partner's payments, newest received first
  GSI2 P#{ptn}#ORGPAY#{org} -> {received}#{created}#{pay} an organization's payments
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.cursor import CursorCodec
from shared.domain.audit import AuditRecord
from shared.domain.payment import Payment
from shared.repositories.audit import AuditLog
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.keys import META, Key, UnsafeKeyPart, join, key
from shared.repositories.mapping import Mapper, register
from shared.repositories.pages import PageQuery, read_page
from shared.repositories.stripe_pending import pending_attributes


def partner_index_pk(partner_id: str) -> str:
    return join("P", partner_id, "PAY")


def org_index_pk(partner_id: str, org_id: str) -> str:
    return join("P", partner_id, "ORGPAY", org_id)


@register
class PaymentMapper(Mapper[Payment]):
    record, entity = Payment, "payment"

    def key(self, *ids: str) -> Key:
        return key(join("PAY", ids[0]), META)

    def key_of(self, record: Payment) -> Key:
        return self.key(record.id)

    def attributes(self, record: Payment) -> dict[str, Any]:
        order = f"{record.received_date}#{record.created_at}#{record.id}"
        attrs: dict[str, Any] = {"gsi1pk": partner_index_pk(record.partner_id), "gsi1sk": order,
                                 # Stored (derived) so that lists can filter on them.
                                 "status": record.status, "allocated_amount": record.allocated_amount}
        if record.org_id:
            attrs |= {"gsi2pk": org_index_pk(record.partner_id, record.org_id), "gsi2sk": order}
        return attrs | pending_attributes(record, self.entity, record.id)


PAYMENTS = PaymentMapper()


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

    def search(self, partner_id: str, filters: PaymentFilters, *, limit: int, cursor: str | None,
             scope: str) -> tuple[list[Payment], str | None]:
        """Newest received first. The organization filter uses its own index; the rest filter."""
        try:
            if filters.org_id:
                index, ipk, isk = "GSI2", "gsi2pk", "gsi2sk"
                vals = values(pk=org_index_pk(partner_id, filters.org_id))
            else:
                index, ipk, isk = "GSI1", "gsi1pk", "gsi1sk"
                vals = values(pk=partner_index_pk(partner_id))
        except UnsafeKeyPart:
            return [], None
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
        return [PAYMENTS.from_item(i) for i in items], next_cursor

    def history(self, payment_id: str, *, limit: int, cursor: str | None,
                scope: str) -> tuple[list[AuditRecord], str | None]:
        """One page of the payment's audit records, newest first (see AuditLog.page)."""
        return AuditLog(self.db, self.cursors).page("payment", payment_id, limit=limit, cursor=cursor, scope=scope)
