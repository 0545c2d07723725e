"""Storage of the invoice aggregate: the invoice (its allocations as a map inside its item), its unique
number lock and the partner's number counter; the invoice searches; the conditional update by which a
payment's allocation changes an invoice.

  INV#{inv}      META                 invoice; allocations {payment_id: {amount, allocated_at}}
  INV#{inv}      AUDIT#{ts}#{id}      its audit records
  INVNUM#{ptn}#{sha256(NUMBER)}  LOCK unique invoice number per partner, case-insensitively (the number upper-cased,
                                     shared.domain.invoice.number_key, then hashed: any character)
  PTN#{ptn}      COUNTER#INVOICE      the partner's last generated invoice number
  GSI1 P#{ptn}#INV -> {issued}#{inv}; GSI2 P#{ptn}#ORGINV#{org} -> {issued}#{inv};
  GSI3 P#{ptn}#INVNAME -> {organization name}#{issued}#{inv}   (search by organization name)
  GSI4 P#{ptn}#AR#{shard} -> {"~" while due, else the day settled}#{issued}#{inv}   (aged receivables; void:
       absent; shard: a hash of the invoice id, 0..RECEIVABLES_SHARDS-1, the shards read in parallel)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.cursor import CursorCodec
from shared.domain.allocation import MAX_PAYMENTS_PER_INVOICE, InvoiceChange
from shared.domain.base import Record
from shared.domain.invoice import Invoice, InvoiceCounter, number_key
from shared.domain.organization import name_key
from shared.domain.receivables import index_day, paid_log
from shared.repositories.dynamo import Dynamo, serialize, to_av, values
from shared.repositories.keys import LOCK, META, Key, UnsafeKeyPart, hashed, join, key
from shared.repositories.mapping import Mapper, register
from shared.repositories.pages import PageQuery, read_ordered_page, read_page
from shared.repositories.receivables_index import receivables_keys, receivables_update


def partner_index_pk(partner_id: str) -> str:
    return join("P", partner_id, "INV")


def org_index_pk(partner_id: str, org_id: str) -> str:
    return join("P", partner_id, "ORGINV", org_id)


def name_index_pk(partner_id: str) -> str:
    return join("P", partner_id, "INVNAME")


class InvoiceNumberLock(Record):
    """Storage only: the number taken, per partner, and the invoice that holds it."""

    partner_id: str
    number: str
    invoice_id: str


@register
class InvoiceMapper(Mapper[Invoice]):
    record, entity = Invoice, "invoice"

    def key(self, *ids: str) -> Key:
        return key(join("INV", ids[0]), META)

    def key_of(self, record: Invoice) -> Key:
        return self.key(record.id)

    def attributes(self, record: Invoice) -> dict[str, Any]:
        order = f"{record.issued_date}#{record.id}"
        return {"amount_net": record.net_amount,  # for the status filters (derived, like a payment's status)
                "gsi1pk": partner_index_pk(record.partner_id), "gsi1sk": order,
                "gsi2pk": org_index_pk(record.partner_id, record.org_id), "gsi2sk": order,
                "gsi3pk": name_index_pk(record.partner_id), "gsi3sk": f"{name_key(record.org_name)}#{order}",
                "paid_by_day": paid_log(record),  # seeded from the allocations if it was stored before the log
                **receivables_keys(record.partner_id, index_day(record), record.issued_date, record.id)}

    def to_item(self, record: Invoice) -> dict[str, Any]:
        # A map {payment_id: {amount, allocated_at}} beside `amount_paid` (their sum), so that payments
        # allocating to one invoice change it with conditional updates, not by rewriting it.
        item = super().to_item(record)
        item["allocations"] = {a.payment_id: {"amount": a.amount, "allocated_at": a.allocated_at}
                               for a in record.allocations}
        return item

    def from_item(self, item: dict[str, Any]) -> Invoice:
        allocations = sorted(({"payment_id": p, **a} for p, a in (item.get("allocations") or {}).items()),
                             key=lambda a: (a["allocated_at"], a["payment_id"]))
        return Invoice.model_validate({**item, "allocations": allocations})


@register
class NumberLockMapper(Mapper[InvoiceNumberLock]):
    record, entity = InvoiceNumberLock, "invoice_number"

    def key(self, *ids: str) -> Key:
        partner_id, number = ids
        return key(join("INVNUM", partner_id, hashed(number_key(number))), LOCK)

    def key_of(self, record: InvoiceNumberLock) -> Key:
        return self.key(record.partner_id, record.number)


@register
class CounterMapper(Mapper[InvoiceCounter]):
    record, entity = InvoiceCounter, "counter"

    def key(self, *ids: str) -> Key:
        return key(join("PTN", ids[0]), join("COUNTER", "INVOICE"))

    def key_of(self, record: InvoiceCounter) -> Key:
        return self.key(record.partner_id)


INVOICES, NUMBER_LOCKS = InvoiceMapper(), NumberLockMapper()


# Invoice status is derived from the money, so lists filter on the money itself (`amount_net`, the amount less
# its credit notes, is stored beside it: a filter cannot subtract).
STATUS_FILTERS = {
    "unpaid": "#paid = :zero AND #net > :zero AND attribute_not_exists(#void)",
    "partially_paid": "#paid > :zero AND #paid < #net",
    "paid": "#paid >= #net AND attribute_not_exists(#prov) AND attribute_not_exists(#void)",
    "provisioned": "attribute_exists(#prov)",
    "void": "attribute_exists(#void)",
}


@dataclass(frozen=True)
class InvoiceFilters:
    org_id: str | None = None
    org_name: str | None = None
    number: str | None = None
    issued_from: str | None = None
    issued_to: str | None = None
    status: str | None = None  # one of STATUS_FILTERS, or several joined by commas (any of them)
    type: str | None = None
    sort: str | None = None  # None: newest issued first; "due_date": oldest due first (no due date: its issued date)


class InvoiceRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def _get(self, invoice_id: str) -> Invoice | None:
        item = self.db.get(INVOICES.key(invoice_id))
        return INVOICES.from_item(item) if item else None

    def search(self, partner_id: str, f: InvoiceFilters, *, limit: int, cursor: str | None,
               scope: str) -> tuple[list[Invoice], str | None]:
        """Newest issued first. The most selective filter picks the index; the rest filter."""
        try:
            return self._search(partner_id, f, limit=limit, cursor=cursor, scope=scope)
        except UnsafeKeyPart:
            return [], None  # an id this service never issued names nothing

    def _search(self, partner_id: str, f: InvoiceFilters, *, limit: int, cursor: str | None,
                scope: str) -> tuple[list[Invoice], str | None]:
        if f.number is not None:
            lock = self.db.get(NUMBER_LOCKS.key(partner_id, f.number))
            invoice = self._get(lock["invoice_id"]) if lock else None
            return ([invoice] if invoice and _matches(invoice, f) else []), None
        names: dict[str, str] = {}
        clauses: list[str] = []
        vals: dict[str, Any]
        if f.org_id:
            index, ipk, isk = "GSI2", "gsi2pk", "gsi2sk"
            vals = values(pk=org_index_pk(partner_id, f.org_id))
            condition, date_on_key = f"{ipk} = :pk", True
        elif f.org_name and name_key(f.org_name):  # a name of only white space is no filter
            index, ipk, isk = "GSI3", "gsi3pk", "gsi3sk"
            vals = values(pk=name_index_pk(partner_id), prefix=name_key(f.org_name))
            condition, date_on_key = f"{ipk} = :pk AND begins_with({isk}, :prefix)", False
        else:
            index, ipk, isk = "GSI1", "gsi1pk", "gsi1sk"
            vals = values(pk=partner_index_pk(partner_id))
            condition, date_on_key = f"{ipk} = :pk", True
        if date_on_key and (f.issued_from or f.issued_to):
            condition += f" AND {isk} BETWEEN :lo AND :hi"
            vals |= values(lo=f.issued_from or "0000", hi=f"{f.issued_to or '9999'}#~")
        elif f.issued_from or f.issued_to:
            names["#issued"] = "issued_date"
            vals |= values(lo=f.issued_from or "0000-00-00", hi=f.issued_to or "9999-99-99")
            clauses.append("#issued BETWEEN :lo AND :hi")
        if f.status is not None:  # one status, or several (comma-separated): any of them
            each = [STATUS_FILTERS[s] for s in f.status.split(",")]
            clause = each[0] if len(each) == 1 else " OR ".join(f"({c})" for c in each)
            names |= {k: v for k, v in (("#paid", "amount_paid"), ("#net", "amount_net"), ("#prov", "provisioned_at"),
                                        ("#void", "voided_at")) if k in clause}
            if ":zero" in clause:
                vals |= values(zero=0)
            clauses.append(clause)
        if f.type is not None:
            names["#type"] = "type"
            vals |= values(f_type=f.type)
            clauses.append("#type = :f_type")
        if len(clauses) > 1:  # (DynamoDB refuses redundant parentheses: only where an OR meets an AND)
            clauses = [f"({c})" if " OR " in c else c for c in clauses]
        query = PageQuery(condition, names, vals, index=index, forward=False,
                          filter_expression=" AND ".join(clauses) or None)
        if f.sort == "due_date":  # oldest due first; an invoice without a due date is due on its issued date
            items, next_cursor = read_ordered_page(self.db, self.cursors, query, fields=("due", "issued", "id"),
                                                   order=_due_place, scope=scope, limit=limit, cursor=cursor)
        else:
            items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [INVOICES.from_item(i) for i in items], next_cursor

    def ids_by_number(self, partner_id: str, numbers: list[str]) -> dict[str, str]:
        """The partner's invoice ids by number (keyed by `number_key`), for the numbers that name one."""
        try:
            keys = [NUMBER_LOCKS.key(partner_id, n) for n in numbers]
        except UnsafeKeyPart:
            return {}
        return {number_key(i["number"]): i["invoice_id"] for i in self.db.batch_get(keys)}

    def change(self, change: InvoiceChange, at: str) -> dict[str, Any]:
        return change_item(self.db.table, change, at)


def change_item(table: str, change: InvoiceChange, at: str) -> dict[str, Any]:
    """The conditional UpdateItem that applies one payment's change to one invoice.

    It conflicts with another payment's change to the same invoice only when a rule would break:
    never paid beyond its amount, never touched once provisioned, the payment's entry is the one
    read; and for a top-up invoice the paid amount is the one read, so the change that completes it
    is the one that provisions it (exactly once).
    """
    inv = change.invoice
    names = {"#paid": "amount_paid", "#allocs": "allocations", "#pay": change.payment_id,
             "#u": "updated_at", "#v": "version", "#prov": "provisioned_at", "#cred": "amount_credited"}
    vals: dict[str, Any] = values(d=change.delta, at=at, one=1, cred=inv.amount_credited)
    sets = ["#paid = #paid + :d", "#u = :at", "#v = #v + :one"]
    removes = [] if change.entry is not None else ["#allocs.#pay"]
    # A bounce takes a provisioned invoice's payment back (and the provisioning with it); nothing else touches
    # a provisioned invoice. The credit notes read are still the invoice's (a credit note changes the net amount).
    conditions = ["attribute_exists(#prov)" if change.unprovision else "attribute_not_exists(#prov)", "#cred = :cred"]
    if change.unprovision:
        removes.append("#prov")
    if change.prior is None:
        conditions.append("attribute_not_exists(#allocs.#pay)")
        if change.entry is not None:  # a new payment on the invoice: below the cap, also when payments race
            conditions.append("size(#allocs) < :cap")
            vals |= values(cap=MAX_PAYMENTS_PER_INVOICE)
    else:
        conditions.append("#allocs.#pay.#amt = :prior")
        names["#amt"] = "amount"
        vals |= values(prior=change.prior.amount)
    if change.delta > 0:  # never paid beyond the net amount, never a void invoice
        conditions += ["#paid <= :max", "attribute_not_exists(#void)"]
        names["#void"] = "voided_at"
        vals |= values(max=inv.net_amount - change.delta)
    # A top-up invoice: the change that completes it provisions it. A credited invoice: what a release takes back
    # from the wallet was computed from the paid amount read.
    if inv.type == "top_up" or (inv.amount_credited > 0 and change.delta < 0):
        conditions.append("#paid = :read")
        vals |= values(read=inv.amount_paid)
    if not inv.voided_at:  # what it owes changes: its paid amount by day, and its place in the receivables index
        receivables_update(change, at, names, vals, sets, conditions)
    if change.provision:
        sets.append("#prov = :at")
    if change.entry is not None:
        sets.append("#allocs.#pay = :entry")
        vals[":entry"] = serialize({"amount": change.entry.amount, "allocated_at": change.entry.allocated_at})
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return {"Update": {"TableName": table, "Key": to_av(INVOICES.key(inv.id)),
                       "UpdateExpression": expression, "ConditionExpression": " AND ".join(conditions),
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": vals}}


def _due_place(item: dict[str, Any]) -> tuple[str, str, str]:
    return item.get("due_date") or item["issued_date"], item["issued_date"], item["id"]


def _matches(invoice: Invoice, f: InvoiceFilters) -> bool:
    return ((f.org_id is None or invoice.org_id == f.org_id)
            and (f.org_name is None or name_key(invoice.org_name).startswith(name_key(f.org_name)))
            and (f.issued_from is None or invoice.issued_date >= f.issued_from)
            and (f.issued_to is None or invoice.issued_date <= f.issued_to)
            and (f.status is None or invoice.status in f.status.split(","))
            and (f.type is None or invoice.type == f.type))
