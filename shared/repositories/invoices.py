"""Invoices: reads and searches (writes go through a UnitOfWork with the payment they concern)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.cursor import CursorCodec
from shared.domain.allocation import InvoiceChange
from shared.repositories.dynamo import Dynamo, serialize, values
from shared.repositories.entities import Invoice, InvoiceNumberLock, name_key
from shared.repositories.pages import PageQuery, read_page

# Invoice status is derived from the money, so lists filter on the money itself.
STATUS_FILTERS = {
    "unpaid": "#paid = :zero",
    "partially_paid": "#paid > :zero AND #paid < #amount",
    "paid": "#paid = #amount AND attribute_not_exists(#prov)",
    "provisioned": "attribute_exists(#prov)",
}


@dataclass(frozen=True)
class InvoiceFilters:
    org_id: str | None = None
    org_name: str | None = None
    number: str | None = None
    issued_from: str | None = None
    issued_to: str | None = None
    status: str | None = None
    type: str | None = None


class InvoiceRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def get(self, invoice_id: str) -> Invoice | None:
        item = self.db.get(Invoice.key(invoice_id))
        return Invoice.from_item(item) if item else None

    def search(self, partner_id: str, f: InvoiceFilters, *, limit: int, cursor: str | None,
               scope: str) -> tuple[list[Invoice], str | None]:
        """Newest issued first. The most selective filter picks the index; the rest filter."""
        if f.number is not None:
            lock = self.db.get(InvoiceNumberLock.key(partner_id, f.number))
            invoice = self.get(lock["invoice_id"]) if lock else None
            return ([invoice] if invoice and _matches(invoice, f) else []), None
        names: dict[str, str] = {}
        clauses: list[str] = []
        vals: dict[str, Any]
        if f.org_id:
            index, ipk, isk = "GSI2", "gsi2pk", "gsi2sk"
            vals = values(pk=Invoice.org_index_pk(partner_id, f.org_id))
            condition, date_on_key = f"{ipk} = :pk", True
        elif f.org_name:
            index, ipk, isk = "GSI3", "gsi3pk", "gsi3sk"
            vals = values(pk=Invoice.name_index_pk(partner_id), prefix=name_key(f.org_name))
            condition, date_on_key = f"{ipk} = :pk AND begins_with({isk}, :prefix)", False
        else:
            index, ipk, isk = "GSI1", "gsi1pk", "gsi1sk"
            vals = values(pk=Invoice.partner_index_pk(partner_id))
            condition, date_on_key = f"{ipk} = :pk", True
        if date_on_key and (f.issued_from or f.issued_to):
            condition += f" AND {isk} BETWEEN :lo AND :hi"
            vals |= values(lo=f.issued_from or "0000", hi=f"{f.issued_to or '9999'}#~")
        elif f.issued_from or f.issued_to:
            names["#issued"] = "issued_date"
            vals |= values(lo=f.issued_from or "0000-00-00", hi=f.issued_to or "9999-99-99")
            clauses.append("#issued BETWEEN :lo AND :hi")
        if f.status is not None:
            clause = STATUS_FILTERS[f.status]
            names |= {k: v for k, v in (("#paid", "amount_paid"), ("#amount", "amount"), ("#prov", "provisioned_at"))
                      if k in clause}
            if ":zero" in clause:
                vals |= values(zero=0)
            clauses.append(clause)
        if f.type is not None:
            names["#type"] = "type"
            vals |= values(f_type=f.type)
            clauses.append("#type = :f_type")
        query = PageQuery(condition, names, vals, index=index, forward=False,
                          filter_expression=" AND ".join(clauses) or None)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [Invoice.from_item(i) for i in items], next_cursor


def change_item(db: Dynamo, change: InvoiceChange, at: str) -> dict[str, Any]:
    """The conditional UpdateItem that applies one payment's change to one invoice.

    It conflicts with another payment's change to the same invoice only when a rule would break:
    never paid beyond its amount, never touched once provisioned, the payment's entry is the one
    read; and for a top-up invoice the paid amount is the one read, so the change that completes it
    is the one that provisions it (exactly once).
    """
    inv = change.invoice
    names = {"#paid": "amount_paid", "#allocs": "allocations", "#pay": change.payment_id,
             "#u": "updated_at", "#v": "version", "#prov": "provisioned_at"}
    vals: dict[str, Any] = values(d=change.delta, at=at, one=1)
    sets = ["#paid = #paid + :d", "#u = :at", "#v = #v + :one"]
    conditions = ["attribute_not_exists(#prov)"]
    if change.prior is None:
        conditions.append("attribute_not_exists(#allocs.#pay)")
    else:
        conditions.append("#allocs.#pay.#amt = :prior")
        names["#amt"] = "amount"
        vals |= values(prior=change.prior.amount)
    if change.delta > 0:
        conditions.append("#paid <= :max")
        vals |= values(max=inv.amount - change.delta)
    if inv.type == "top_up":
        conditions.append("#paid = :read")
        vals |= values(read=inv.amount_paid)
    if change.provision:
        sets.append("#prov = :at")
    if change.entry is not None:
        sets.append("#allocs.#pay = :entry")
        vals[":entry"] = serialize({"amount": change.entry.amount, "allocated_at": change.entry.allocated_at})
        expression = "SET " + ", ".join(sets)
    else:
        expression = "SET " + ", ".join(sets) + " REMOVE #allocs.#pay"
    return {"Update": {"TableName": db.table, "Key": {"pk": {"S": f"INV#{inv.id}"}, "sk": {"S": "META"}},
                       "UpdateExpression": expression, "ConditionExpression": " AND ".join(conditions),
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": vals}}


def _matches(invoice: Invoice, f: InvoiceFilters) -> bool:
    return ((f.org_id is None or invoice.org_id == f.org_id)
            and (f.org_name is None or name_key(invoice.org_name).startswith(name_key(f.org_name)))
            and (f.issued_from is None or invoice.issued_date >= f.issued_from)
            and (f.issued_to is None or invoice.issued_date <= f.issued_to)
            and (f.status is None or invoice.status == f.status)
            and (f.type is None or invoice.type == f.type))
