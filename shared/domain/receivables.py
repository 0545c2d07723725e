"""Aged receivables (contract, "Aged receivables"): what an invoice still owed at the end of a day, how overdue it
was, and the report's rows and totals. Pure: the invoices are read by shared.repositories.receivables.

What was due on `as_of` counts the invoice's amount (it counts from its `issued_date`), less its credit notes made
on or before `as_of` and its payments' net changes (allocations less releases and bounces) made on or before it,
each dated by the UTC day it was recorded (`paid_by_day`, `credit_notes[].created_at`): the report for a past
day is the one a caller would have read at the end of that day. Void invoices never count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from shared.domain.base import Part
from shared.domain.invoice import Invoice

Basis = Literal["due_date", "issued_date"]
BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")
OPEN = "~"  # the receivables index's day of an invoice with something due: after every date


def day_of(at: str) -> str:
    """The UTC day of an RFC 3339 timestamp of this service (`2026-11-20T08:00:00.000Z`)."""
    return at[:10]


def paid_log(invoice: Invoice) -> dict[str, int]:
    """The invoice's payments by UTC day. An invoice stored before the log: its allocations by the day each was
    first made (the best its item knows: exact unless a payment added to its allocation later, or one was released,
    before the log began)."""
    if invoice.paid_by_day is not None:
        return dict(invoice.paid_by_day)
    log: dict[str, int] = {}
    for a in invoice.allocations:
        log[day_of(a.allocated_at)] = log.get(day_of(a.allocated_at), 0) + a.amount
    return log


def repaired_log(invoice: Invoice) -> dict[str, int]:
    """The paid log the backfill leaves: the invoice's own (or, without one, `paid_log`'s seed), with whatever it
    misses of `amount_paid` (a change by code that did not keep the log, e.g. during a deploy) dated the invoice's
    last change, so that the log always adds up to what was paid."""
    log = paid_log(invoice)
    missing = invoice.amount_paid - sum(log.values())
    if missing:
        day = day_of(invoice.updated_at)
        log[day] = log.get(day, 0) + missing
        if log[day] == 0:
            del log[day]
    return log


@dataclass(frozen=True, slots=True)
class Receivable:
    """What the report needs of an invoice, and nothing else: read from the receivables index with a projection of
    these attributes and parsed without building the whole `Invoice` (shared.repositories.receivables)."""

    id: str
    org_id: str
    org_name: str
    currency: str
    amount: int
    issued_date: str
    due_date: str | None
    paid_by_day: dict[str, int]
    credits: tuple[tuple[str, int], ...]  # (UTC day made, amount) of each credit note
    void: bool = False

    @classmethod
    def of(cls, invoice: Invoice) -> Receivable:
        return cls(id=invoice.id, org_id=invoice.org_id, org_name=invoice.org_name, currency=invoice.currency,
                   amount=invoice.amount, issued_date=invoice.issued_date, due_date=invoice.due_date,
                   paid_by_day=paid_log(invoice), credits=tuple((day_of(c.created_at), c.amount)
                                                                for c in invoice.credit_notes),
                   void=invoice.voided_at is not None)


def receivable(invoice: Invoice | Receivable) -> Receivable:
    return invoice if isinstance(invoice, Receivable) else Receivable.of(invoice)


def due_on(invoice: Invoice | Receivable, as_of: str) -> int:
    """What the invoice still asked for at the end of `as_of` (0 before it was issued, and when void)."""
    r = receivable(invoice)
    if r.void or r.issued_date > as_of:
        return 0
    paid = sum(amount for day, amount in r.paid_by_day.items() if day <= as_of)
    credited = sum(amount for day, amount in r.credits if day <= as_of)
    return max(0, r.amount - credited - paid)


def index_day(invoice: Invoice) -> str | None:
    """Where the invoice sorts in the receivables index: OPEN while something is due; once settled, the day of its
    last change (the change that settled it, or a later one), so that a report for an earlier day still finds it;
    None (not in the index): void, never counted."""
    if invoice.voided_at:
        return None
    return OPEN if invoice.amount_due > 0 else day_of(invoice.updated_at)


def due_date_of(invoice: Invoice | Receivable) -> str:
    """An invoice without a due date is due on its issued date."""
    return invoice.due_date or invoice.issued_date


def days_overdue(invoice: Invoice | Receivable, as_of: str, basis: Basis) -> int:
    """Days past its due date (basis `due_date`) or its issued date (basis `issued_date`) at `as_of`."""
    since = invoice.issued_date if basis == "issued_date" else due_date_of(invoice)
    return (date.fromisoformat(as_of) - date.fromisoformat(since)).days


def bucket(days: int) -> str:
    if days <= 0:
        return "current"
    if days <= 30:
        return "days_1_30"
    if days <= 60:
        return "days_31_60"
    return "days_61_90" if days <= 90 else "days_over_90"


class AgedTotal(Part):
    currency: str
    current: int = 0
    days_1_30: int = 0
    days_31_60: int = 0
    days_61_90: int = 0
    days_over_90: int = 0
    total: int = 0
    invoices: int = 0


class AgedRow(AgedTotal):
    org_id: str
    org_name: str
    oldest_due_date: str


def aged(invoices: Iterable[Invoice | Receivable], as_of: str, basis: Basis, *, currency: str | None = None,
         org_id: str | None = None) -> tuple[list[AgedRow], list[AgedTotal]]:
    """One row per organization and currency (by organization name, then id, then currency) and one total per
    currency (by currency), of the invoices with something due at `as_of`. Each row's buckets add up to its total
    and the rows to the totals, to the unit: every amount lands in exactly one bucket of one row."""
    sums: dict[tuple[str, str], dict[str, int]] = {}
    names: dict[tuple[str, str], tuple[str, str]] = {}  # (org name, oldest due date)
    for invoice in map(receivable, invoices):
        due = due_on(invoice, as_of)
        if due <= 0 or (currency and invoice.currency != currency) or (org_id and invoice.org_id != org_id):
            continue
        at = (invoice.org_id, invoice.currency)
        acc = sums.setdefault(at, dict.fromkeys((*BUCKETS, "total", "invoices"), 0))
        acc[bucket(days_overdue(invoice, as_of, basis))] += due
        acc["total"] += due
        acc["invoices"] += 1
        name, oldest = names.get(at, (invoice.org_name, due_date_of(invoice)))
        names[at] = (name, min(oldest, due_date_of(invoice)))
    rows = sorted((AgedRow(org_id=o, currency=c, org_name=names[(o, c)][0], oldest_due_date=names[(o, c)][1], **v)
                   for (o, c), v in sums.items()), key=lambda r: (r.org_name.casefold(), r.org_id, r.currency))
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        total = totals.setdefault(row.currency, dict.fromkeys((*BUCKETS, "total", "invoices"), 0))
        for name in total:
            total[name] += getattr(row, name)
    return rows, [AgedTotal(currency=c, **totals[c]) for c in sorted(totals)]
