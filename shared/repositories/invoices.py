"""Invoices: reads and searches (writes go through a UnitOfWork with the payment they concern)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.cursor import CursorCodec
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.entities import Invoice, InvoiceCounter, InvoiceNumberLock, name_key
from shared.repositories.pages import PageQuery, read_page


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

    def counter(self, partner_id: str) -> InvoiceCounter:
        item = self.db.get(InvoiceCounter.key(partner_id))
        return InvoiceCounter.from_item(item) if item else InvoiceCounter(partner_id=partner_id)

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
        for attr in ("status", "type"):
            wanted = getattr(f, attr)
            if wanted is not None:
                names[f"#{attr}"] = attr
                vals |= values(**{f"f_{attr}": wanted})
                clauses.append(f"#{attr} = :f_{attr}")
        query = PageQuery(condition, names, vals, index=index, forward=False,
                          filter_expression=" AND ".join(clauses) or None)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [Invoice.from_item(i) for i in items], next_cursor


def _matches(invoice: Invoice, f: InvoiceFilters) -> bool:
    return ((f.org_id is None or invoice.org_id == f.org_id)
            and (f.org_name is None or name_key(invoice.org_name).startswith(name_key(f.org_name)))
            and (f.issued_from is None or invoice.issued_date >= f.issued_from)
            and (f.issued_to is None or invoice.issued_date <= f.issued_to)
            and (f.status is None or invoice.status == f.status)
            and (f.type is None or invoice.type == f.type))
