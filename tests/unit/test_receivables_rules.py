"""The aged receivables' pure rules (shared.domain.receivables): what an invoice owed at the end of any day, from
random dated money moves, against replaying them one by one; the report's rows and totals add up."""

from __future__ import annotations

import re
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.allocation import InvoiceChange
from shared.domain.invoice import CreditNoteRef, Invoice, InvoiceAllocation
from shared.domain.receivables import BUCKETS, aged, bucket, due_on, index_day
from shared.repositories.invoices import change_item

START = date(2026, 1, 1)


def day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


MOVES = st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["pay", "release", "credit"]),
                           st.integers(1, 5_000)), max_size=8)


def build(amount: int, issued: int, moves: list[tuple[int, str, int]], void: bool = False,
          org: str = "org_a", currency: str = "SGD") -> tuple[Invoice, list[tuple[str, str, int]]]:
    """An invoice after `moves` (each kept only if the service would take it), and the moves kept."""
    paid, credited, log, notes, kept = 0, 0, {}, [], []
    for n, kind, value in sorted(moves):
        if kind == "pay":
            value = min(value, amount - credited - paid)
        elif kind == "release":
            value = -min(value, paid)
        else:
            value = min(value, amount - credited)
        if value == 0:
            continue
        kept.append((day(n), kind, value))
        if kind == "credit":
            credited += value
            notes.append(CreditNoteRef(id=f"crn{n}{value}", number="CN-1", amount=value, reason="other",
                                       created_at=f"{day(n)}T10:00:00.000Z"))
        else:
            paid += value
            log[day(n)] = log.get(day(n), 0) + value
    last = max([k[0] for k in kept], default=day(issued))
    invoice = Invoice(id=f"inv_{issued}_{amount}", partner_id="p", org_id=org, org_name=org.upper(), number="INV-1",
                      type="standard", amount=amount, currency=currency, issued_date=day(issued),
                      amount_paid=paid, amount_credited=credited, credit_notes=notes, paid_by_day=log,
                      voided_at=f"{day(issued)}T00:00:00.000Z" if void and not kept else None,
                      created_at=f"{day(issued)}T00:00:00.000Z", created_by="t", updated_at=f"{last}T12:00:00.000Z")
    return invoice, kept


def replayed_due(invoice: Invoice, kept: list[tuple[str, str, int]], as_of: str) -> int:
    if invoice.voided_at or invoice.issued_date > as_of:
        return 0
    owed = invoice.amount
    for when, _, value in kept:
        if when <= as_of:
            owed -= value
    return max(0, owed)


@given(amount=st.integers(1, 10_000), issued=st.integers(0, 60), moves=MOVES, void=st.booleans(),
       as_of=st.integers(-5, 130))
def test_due_on_any_day_is_the_replay_of_the_moves_made_by_then(amount, issued, moves, void, as_of):
    invoice, kept = build(amount, issued, moves, void)
    assert due_on(invoice, day(as_of)) == replayed_due(invoice, kept, day(as_of))
    # the index's promise: a settled invoice owed nothing on or after the day it sorts under
    where = index_day(invoice)
    if where is None:
        assert invoice.voided_at
    elif where != "~" and day(as_of) >= where:
        assert due_on(invoice, day(as_of)) == 0


BOOK = st.lists(st.tuples(st.integers(1, 10_000), st.integers(0, 60), MOVES, st.sampled_from(["org_a", "org_b"]),
                          st.sampled_from(["SGD", "USD"])), max_size=12)


@given(book=BOOK, as_of=st.integers(0, 130), basis=st.sampled_from(["due_date", "issued_date"]))
def test_rows_add_up_to_their_totals_and_the_totals_to_what_was_due(book, as_of, basis):
    invoices = [build(a, i, m, org=o, currency=c)[0] for a, i, m, o, c in book]
    rows, totals = aged(invoices, day(as_of), basis)
    for row in rows:
        assert sum(getattr(row, b) for b in BUCKETS) == row.total > 0
    for total in totals:
        mine = [r for r in rows if r.currency == total.currency]
        assert total.total == sum(r.total for r in mine) == sum(due_on(i, day(as_of)) for i in invoices
                                                                 if i.currency == total.currency)
        assert total.invoices == sum(r.invoices for r in mine)


def test_buckets_by_days_overdue():
    assert [bucket(d) for d in (-3, 0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current", "current", "days_1_30", "days_1_30", "days_31_60", "days_31_60", "days_61_90", "days_61_90",
        "days_over_90"]


@given(st.integers(0, 3), st.sampled_from([None, 0, 400, 1_000]), st.sampled_from([None, 0, 400, 1_000]),
       st.booleans(), st.booleans())
def test_every_invoice_change_names_only_what_its_update_uses(paid_before, prior, entry, logged, void):
    """The conditional UpdateItem of any payment's change to an invoice (shared.repositories.invoices.change_item)
    uses every name and value it declares: DynamoDB refuses the whole transaction otherwise (a change of nothing,
    e.g. a bounce whose allocation another bounce already took back, once named a paid log it did not touch)."""
    allocations = [InvoiceAllocation(payment_id="pay_x", amount=prior, allocated_at=f"{day(1)}T00:00:00.000Z")
                   ] if prior else []
    paid = sum(a.amount for a in allocations) + paid_before * 100
    invoice = Invoice(id="inv_a", partner_id="ptn_a", org_id="org_a", org_name="A", number="INV-1", type="standard",
                      amount=2_000, currency="SGD", issued_date=day(0), allocations=allocations, amount_paid=paid,
                      paid_by_day={day(1): paid} if logged else None, voided_at=day(2) if void else None,
                      created_at=f"{day(0)}T00:00:00.000Z", created_by="t", updated_at=f"{day(1)}T00:00:00.000Z")
    change = InvoiceChange(invoice=invoice, payment_id="pay_x", entry=InvoiceAllocation(
        payment_id="pay_x", amount=entry, allocated_at=f"{day(3)}T00:00:00.000Z") if entry else None)
    update = change_item("t", change, f"{day(3)}T00:00:00.000Z")["Update"]
    used = update["UpdateExpression"] + " " + update["ConditionExpression"]
    assert set(update["ExpressionAttributeNames"]) == set(re.findall(r"#\w+", used))
    assert set(update["ExpressionAttributeValues"]) == set(re.findall(r":\w+", used))
