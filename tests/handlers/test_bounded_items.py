"""Items that stay bounded (issue 19; docs/data-model.md "Items that stay bounded").

Invariants: (B1) a payment topped up into the wallet in many small steps keeps an item of constant size
(one `wallet_top_up` allocation adds them up), while each top-up stays its own ledger entry and audit
record: the wallet equals their sum and the history lists every one; (B2) a payment is allocated to at
most MAX_INVOICES_PER_PAYMENT invoices and an invoice takes allocations from at most
MAX_PAYMENTS_PER_INVOICE payments, refused with 409 `allocation_limit_reached` and nothing written, also
when payments race for an invoice's last place; (B3) a payment at its cap is still un-assigned or bounced in one
TransactWriteItems (issue 10 lowered the cap to 90 so that it fits in 100 items).

The 5,000-top-up run through the local stack's HTTP API is `make bench` ("Items that stay bounded"):
at ~50-90 ms a top-up it would add minutes to `make test`; this file runs TOP_UPS (200 by default) and
proves the item does not grow at all, which is what makes the count irrelevant.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.container import Container
from shared.domain.allocation import MAX_INVOICES_PER_PAYMENT, MAX_PAYMENTS_PER_INVOICE, InvoiceChange
from shared.domain.invoice import Invoice, InvoiceAllocation
from shared.domain.payment import Allocation, Payment
from shared.ids import new_id
from shared.repositories.dynamo import TransactionCancelled, to_av
from shared.repositories.invoices import change_item
from shared.repositories.mapping import mapper_for
from shared.repositories.registry import item_of
from tests.handlers.conftest import NO_KEY, admin, allocate, create_org, read_pages, record, viewer
from tests.handlers.test_allocation import invoice

TOP_UPS = int(os.environ.get("BOUNDED_TOP_UPS", "200"))
AT = "2026-11-21T00:00:00.000Z"


def stored_size(record) -> int:
    """The stored item's size in bytes (its attributes as DynamoDB JSON: an upper bound of DynamoDB's count)."""
    deps = Container.from_env()
    key = to_av(mapper_for(type(record)).key_of(record))
    item = deps.db.client.get_item(TableName=deps.settings.table_name, Key=key, ConsistentRead=True)["Item"]
    return len(json.dumps(item, separators=(",", ":")).encode())


def read_all(lambdas, function: str, event: str, path: dict[str, str], who) -> list[dict]:
    return [item for page in read_pages(lambdas, function, event, path, who) for item in page]


def top_up(lambdas, partner, payment, amount=1):
    return lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]}, body={"amount": amount},
                              headers=NO_KEY, **admin(partner))


def test_many_small_top_ups_keep_the_payment_item_constant_and_every_cent_accounted(lambdas, partner):
    # Given a payment of SGD 50.00 assigned to an organization, topped up into the wallet once by SGD 0.01
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    assert top_up(lambdas, partner, payment)[0] == 200
    first = Container.from_env().store.get(Payment, payment["id"])
    size_after_one = stored_size(first)
    # When it is topped up TOP_UPS - 1 more times by SGD 0.01
    statuses = [top_up(lambdas, partner, payment)[0] for _ in range(TOP_UPS - 1)]
    # Then none fails, and the payment holds one wallet allocation of the whole sum
    assert statuses.count(200) == TOP_UPS - 1
    status, stored = lambdas.payments("get_payment", path={"payment_id": payment["id"]}, **viewer(partner))
    assert status == 200, stored
    assert [(a["kind"], a["amount"], a["allocated_at"]) for a in stored["allocations"]] == [
        ("wallet_top_up", TOP_UPS, first.allocations[0].allocated_at)]
    assert stored["unallocated_amount"] == 5_000 - TOP_UPS
    # And its stored item did not grow (only the digits of the amount and version may; one list entry a top-up
    # grew it by ~110 bytes each before, toward DynamoDB's 400 KB item limit at ~3,500 top-ups)
    last = Container.from_env().store.get(Payment, payment["id"])
    assert stored_size(last) - size_after_one <= 2 * len(str(TOP_UPS))
    # And the wallet equals the sum of its ledger, one top_up entry per top-up
    status, wallet = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **viewer(partner))
    assert status == 200, wallet
    ledger = read_all(lambdas, "accounts", "list_wallet_transactions", {"org_id": org["id"]}, viewer(partner))
    assert wallet["balance"] == TOP_UPS == sum(e["amount"] for e in ledger)
    assert [e["type"] for e in ledger] == ["top_up"] * TOP_UPS and len({e["id"] for e in ledger}) == TOP_UPS
    # And the history lists every top-up, down to the payment's creation
    history = read_all(lambdas, "payments", "payment_history", {"payment_id": payment["id"]}, viewer(partner))
    assert [h["action"] for h in history] == ["payment.wallet_top_up"] * TOP_UPS + ["payment.created"]
    assert {h["changes"]["ledger_entry"]["to"] for h in history[:-1]} == {e["id"] for e in ledger}


def give(record_) -> None:
    """Given-step: store `record_` as its storage module would (the item caps are reached without 200 requests)."""
    deps = Container.from_env()
    deps.db.transact([deps.db.put_if(item_of(record_), "attribute_exists(pk)", {})])


def test_a_payment_at_its_invoice_cap_is_refused_another_and_its_item_stays_small(lambdas, partner):
    # Given a payment allocated to MAX_INVOICES_PER_PAYMENT invoices (1 cent each), and one more invoice
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=1_000_000)
    stored = Container.from_env().store.get(Payment, payment["id"])
    full = stored.model_copy(update={"version": stored.version + 1, "allocations": [
        Allocation(invoice_id=new_id("inv"), kind="invoice", amount=1, allocated_at=AT)
        for _ in range(MAX_INVOICES_PER_PAYMENT)]})
    give(full)
    another = invoice(lambdas, partner, org, 10_000)
    before = lambdas.snapshot()
    # When it is allocated to that invoice
    res = allocate(lambdas, partner, payment, (another, 100), expect=409)
    # Then 409 allocation_limit_reached, and nothing is written
    assert res["error"]["code"] == "allocation_limit_reached"
    assert res["error"]["details"] == [{"payment_id": payment["id"], "limit": MAX_INVOICES_PER_PAYMENT}]
    assert lambdas.snapshot() == before
    # And a payment at its cap is far below DynamoDB's 400 KB item limit
    assert stored_size(full) < 64 * 1024


def test_payments_racing_for_an_invoices_last_place_get_it_once(lambdas, partner):
    # Given an invoice paid by MAX_PAYMENTS_PER_INVOICE - 1 payments (1 cent each), and 8 payments of the
    # organization ready to be allocated to it
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 1_000_000)
    stored = Container.from_env().store.get(Invoice, inv["id"])
    others = [InvoiceAllocation(payment_id=new_id("pay"), amount=1, allocated_at=AT)
              for _ in range(MAX_PAYMENTS_PER_INVOICE - 1)]
    give(stored.model_copy(update={"version": stored.version + 1, "allocations": others,
                                   "amount_paid": len(others)}))
    payments = [record(lambdas, partner, org_id=org["id"], amount=1_000) for _ in range(8)]
    # When all 8 are allocated to it at once
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda p: allocate(lambdas, partner, p, (inv, 10), expect=None), payments))
    # Then exactly one gets the last place, the others 409 allocation_limit_reached
    codes = sorted("ok" if "error" not in r else r["error"]["code"] for r in results)
    assert codes == ["allocation_limit_reached"] * 7 + ["ok"], codes
    # And the invoice holds MAX_PAYMENTS_PER_INVOICE allocations, its paid amount their sum
    final = Container.from_env().store.get(Invoice, inv["id"])
    assert len(final.allocations) == MAX_PAYMENTS_PER_INVOICE
    assert final.amount_paid == sum(a.amount for a in final.allocations) == len(others) + 10
    assert stored_size(final) < 64 * 1024


def test_an_invoice_change_decided_on_a_stale_read_cannot_pass_the_cap(lambdas, partner):
    # Given an invoice read with one place left, whose last place another payment then takes
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 1_000_000)
    deps = Container.from_env()
    stored = deps.store.get(Invoice, inv["id"])
    others = [InvoiceAllocation(payment_id=new_id("pay"), amount=1, allocated_at=AT)
              for _ in range(MAX_PAYMENTS_PER_INVOICE - 1)]
    give(stored.model_copy(update={"version": stored.version + 1, "allocations": others, "amount_paid": len(others)}))
    as_read = deps.store.get(Invoice, inv["id"])
    last = InvoiceAllocation(payment_id=new_id("pay"), amount=1, allocated_at=AT)
    give(as_read.model_copy(update={"version": as_read.version + 1, "allocations": [*others, last],
                                    "amount_paid": len(others) + 1}))
    # When a new payment's change decided on the read (the rule saw room) is written
    change = InvoiceChange(as_read, new_id("pay"), InvoiceAllocation(payment_id="", amount=10, allocated_at=AT))
    with pytest.raises(TransactionCancelled) as cancelled:
        deps.db.transact([change_item(deps.settings.table_name, change, AT)])
    # Then DynamoDB refuses it on the cap condition, and the invoice keeps MAX_PAYMENTS_PER_INVOICE allocations
    assert cancelled.value.failed_conditions() == [0]
    assert len(deps.store.get(Invoice, inv["id"]).allocations) == MAX_PAYMENTS_PER_INVOICE


def _at_cap(lambdas, partner, org, amount: int) -> tuple[dict, list[Invoice]]:
    """Given-step: a payment really allocated to MAX_INVOICES_PER_PAYMENT invoices (1 cent each, both sides
    stored as their storage modules write them)."""
    payment = record(lambdas, partner, org_id=org["id"], amount=amount)
    template = Container.from_env().store.get(Invoice, invoice(lambdas, partner, org, 100)["id"])
    invoices = [template.model_copy(update={
        "id": new_id("inv"), "number": f"CAP-{n}", "amount_paid": 1, "version": 2,
        "allocations": [InvoiceAllocation(payment_id=payment["id"], amount=1, allocated_at=AT)]})
        for n in range(MAX_INVOICES_PER_PAYMENT)]
    deps = Container.from_env()
    for chunk in range(0, len(invoices), 25):
        deps.db.transact([deps.db.put_new(item_of(i)) for i in invoices[chunk:chunk + 25]])
    stored = deps.store.get(Payment, payment["id"])
    give(stored.model_copy(update={"version": stored.version + 1, "allocations": [
        Allocation(invoice_id=i.id, kind="invoice", amount=1, allocated_at=AT) for i in invoices]}))
    return payment, invoices


def test_a_payment_at_its_invoice_cap_is_unassigned_and_bounced_in_one_transaction(lambdas, partner):
    """B3: every invoice of a payment at its cap is released by one TransactWriteItems (at most 100 items): a
    bounce releases all of them and takes its wallet top-up back in one `reversal`; an un-assignment too."""
    org = create_org(lambdas, partner)
    # Given a payment at its invoice cap that also topped the wallet up
    payment, invoices = _at_cap(lambdas, partner, org, 10_000)
    status, _ = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]}, body={"amount": 500},
                                   headers=NO_KEY, **admin(partner))
    assert status == 200
    # When it bounces
    status, bounced = lambdas.allocation("bounce_payment", path={"payment_id": payment["id"]}, headers=NO_KEY,
                                         body={"bounced_date": "2026-11-25", "reason": "returned"}, **admin(partner))
    # Then every invoice has its cent back, and the wallet gave the top-up back in one reversal
    assert status == 200, bounced
    assert bounced["status"] == "bounced" and bounced["allocations"] == []
    found = Container.from_env().store.get_many(Invoice, [i.id for i in invoices])
    assert {(i.amount_paid, len(i.allocations)) for i in found.values()} == {(0, 0)} and len(found) == len(invoices)
    _, ledger = lambdas.accounts("list_wallet_transactions", path={"org_id": org["id"]}, **viewer(partner))
    assert [(e["type"], e["amount"]) for e in ledger["items"]] == [("reversal", -500), ("top_up", 500)]
    # And another payment at its cap is un-assigned in one step
    other, others = _at_cap(lambdas, partner, org, 10_000)
    status, body = lambdas.allocation("unassign_payment", path={"payment_id": other["id"]}, **admin(partner))
    assert status == 200 and body["allocations"] == [], body
    found = Container.from_env().store.get_many(Invoice, [i.id for i in others])
    assert {i.amount_paid for i in found.values()} == {0}
