"""The help articles' main task through the Payments screens: record a payment, find it, allocate it to invoices,
un-assign and re-assign it within its five edits, top up a wallet, filter and export the list.

  P1 + New Payment (Customer name, Amount, Received date, Method, Reference, Invoice #, Remark) records it; the
     list's "View payment" opens it; Allocation finds invoices by organization name, Assign & Allocate pays two
     of them at once, and the Invoices tab shows them paid and partially paid; the payment's history says so;
  P2 Un-assign releases the allocations; Edit Assigned Organization assigns again; the edits left are shown
     and the sixth edit is refused with the API's message;
  P3 part of a payment tops up the organization's wallet;
  P4 the list's status filter is kept in the URL and Export CSV downloads the filtered view;
  P5 an amount with more decimal places than its currency has is refused beside Amount, before any request;
  P6 the Allocation search starts from the payment's own organization;
  P7 a card (Stripe) payment's remark may be edited, as the API allows;
  P8 a payment's amount and remark are edited; a bad amount is refused beside it;
  axe-core finds no serious or critical violation on the list, + New Payment and the detail.
"""

from __future__ import annotations

import csv
import datetime
import re
import time
from typing import Any

from playwright.sync_api import expect

from tests.browser.console import Api, accessible, beside, fact, sign_in, writes
from tests.conftest import new_partner
from tests.stripe_console import pay

TODAY = datetime.datetime.now(datetime.UTC).date().isoformat()
NO_EDITS_LEFT = "The assignment of a payment can be edited 5 times; this one has no edits left."


def history(page: Any) -> Any:
    return page.get_by_role("table", name="What happened to this payment, newest first")


def open_payment(page: Any, reference: str) -> None:
    """From anywhere: the Payments tab, then the payment's Eye ("View payment <reference>")."""
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Payments").click()
    page.get_by_role("link", name=f"View payment {reference}").click()
    expect(page.get_by_role("heading", name=re.compile(f"^Payment {re.escape(reference)} "))).to_be_visible()


def test_p1_record_a_payment_and_allocate_it_to_two_invoices(page, console_stack):
    # Given an organization with two invoices, SGD 100.00 and SGD 200.00, and its partner's finance admin
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    a100, b200 = api.invoice(acme, 10000, "A-100"), api.invoice(acme, 20000, "B-200")
    sign_in(page, partner)
    accessible(page)
    # When they record a payment with + New Payment
    page.get_by_role("link", name="+ New Payment").click()
    expect(page.get_by_role("heading", name="New Payment")).to_be_visible()
    accessible(page)
    page.get_by_label("Customer name").fill("Acme Pte Ltd")
    page.get_by_label("Amount", exact=True).fill("250.00")
    page.get_by_label("Received date").fill(TODAY)
    page.get_by_label("Method").select_option(label="Telegraphic transfer")
    page.get_by_label("Reference").fill("TT-2026-0042")
    page.get_by_label("Invoice #").fill("A-100")
    page.get_by_label("Remark").fill("November services")
    page.get_by_role("button", name="Save payment").click()
    # Then it is recorded, assigned to the customer, in minor units exactly
    expect(page.get_by_role("heading", name="Payment TT-2026-0042 · SGD 250.00")).to_be_visible()
    [recorded] = api.get("/payments", reference="TT-2026-0042")["items"]
    assert (recorded["amount"], recorded["currency"], recorded["org_id"], recorded["method"]) == (
        25000, "SGD", acme["id"], "telegraphic_transfer")
    assert (recorded["invoice_number"], recorded["remark"], recorded["received_date"]) == (
        "A-100", "November services", TODAY)
    # When they find it in the list and open it
    page.get_by_role("link", name="← Payments").click()
    row = page.get_by_role("row", name=re.compile("TT-2026-0042"))
    expect(row).to_contain_text("Acme Pte Ltd")
    expect(row).to_contain_text("Assigned")
    open_payment(page, "TT-2026-0042")
    expect(fact(page, "Status")).to_have_text("Assigned")
    accessible(page)
    # And search invoices by organization name in Allocation, and allocate to both
    allocation = page.get_by_role("region", name="Allocation")
    allocation.get_by_label("Organization name").fill("acme")
    allocation.get_by_role("button", name="Search invoices").click()
    expect(allocation.get_by_role("table", name=re.compile(r"Open invoices in SGD \(SGD 250.00 left"))).to_be_visible()
    allocation.get_by_label("Select A-100").check()
    allocation.get_by_label("Select B-200").check()
    expect(allocation.get_by_label("Amount for A-100")).to_have_value("100.00")
    allocation.get_by_label("Amount for B-200").fill("150.00")
    accessible(page)
    allocation.get_by_role("button", name="Assign & Allocate").click()
    # Then the payment is allocated in full, one line per invoice
    expect(page.get_by_role("status")).to_contain_text("Allocated to")
    expect(fact(page, "Status")).to_have_text("Allocated")
    expect(fact(page, "Unallocated")).to_have_text("SGD 0.00")
    allocated = page.get_by_role("table", name="Allocated from this payment")
    expect(allocated.get_by_role("row", name=re.compile("A-100"))).to_contain_text("SGD 100.00")
    expect(allocated.get_by_role("row", name=re.compile("B-200"))).to_contain_text("SGD 150.00")
    # And its history says what happened
    expect(history(page).get_by_role("row", name=re.compile("payment.allocated"))).to_have_count(1)
    expect(history(page).get_by_role("row", name=re.compile("payment.created"))).to_have_count(1)
    # And the Invoices tab shows one invoice paid, the other partially paid
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("row", name=re.compile("A-100"))).to_contain_text("Paid")
    expect(page.get_by_role("row", name=re.compile("A-100"))).not_to_contain_text("Partially")
    expect(page.get_by_role("row", name=re.compile("B-200"))).to_contain_text("Partially paid")
    expect(page.get_by_role("row", name=re.compile("B-200"))).to_contain_text("SGD 50.00")
    assert [api.get(f"/invoices/{i['id']}")["status"] for i in (a100, b200)] == ["paid", "partially_paid"]
    # And the invoice links back to the payment
    page.get_by_role("link", name="View B-200").click()
    page.get_by_role("link", name=recorded["id"]).click()
    expect(page.get_by_role("heading", name="Payment TT-2026-0042 · SGD 250.00")).to_be_visible()


def test_p2_un_assign_and_re_assign_until_the_fifth_edit(page, console_stack):
    # Given a payment recorded for an organization (its first assignment edit) and allocated to its invoice
    partner = new_partner()
    api = Api(console_stack, partner)
    acme, beta = api.org("Acme Pte Ltd"), api.org("Beta Telecom")
    invoice = api.invoice(acme, 10000, "A-100")
    payment = api.payment(acme, 10000, "CHQ-000321")
    api.post(f"/payments/{payment['id']}/allocations", {"allocations": [{"invoice_id": invoice["id"], "amount": 6000}]})
    sign_in(page, partner)
    open_payment(page, "CHQ-000321")
    assigned = page.get_by_role("region", name="Assigned Organization")
    expect(assigned).to_contain_text("Acme Pte Ltd")
    expect(assigned).to_contain_text("(4 of 5 assignment edits left)")
    # When they un-assign it (edit 2)
    assigned.get_by_role("button", name="Un-assign").click()
    # Then it is not assigned, its allocation is released and the invoice is unpaid again
    expect(assigned).to_contain_text("Not assigned")
    expect(assigned).to_contain_text("(3 of 5 assignment edits left)")
    expect(fact(page, "Status")).to_have_text("Unassigned")
    expect(page.get_by_role("table", name="Allocated from this payment")).to_contain_text("Nothing allocated yet.")
    assert api.get(f"/invoices/{invoice['id']}")["status"] == "unpaid"
    # When they assign it to another organization (3), un-assign it (4) and assign it back (5)
    for name, left in (("Beta Telecom", 2), (None, 1), ("Acme Pte Ltd", 0)):
        if name is None:
            assigned.get_by_role("button", name="Un-assign").click()
            expect(assigned).to_contain_text("Not assigned")
        else:
            assigned.get_by_role("button", name="Edit Assigned Organization").click()
            assigned.get_by_role("form", name="Assign organization").get_by_label("Organization name").fill(name)
            assigned.get_by_role("button", name="Assign", exact=True).click()
            expect(assigned.get_by_role("link", name=name)).to_be_visible()
        expect(assigned).to_contain_text(f"({left} of 5 assignment edits left)")
    # When they try a sixth edit
    assigned.get_by_role("button", name="Un-assign").click()
    # Then the API's refusal is shown beside it, and the payment stays assigned with no edit left
    expect(assigned.get_by_role("alert")).to_have_text(NO_EDITS_LEFT)
    expect(assigned.get_by_role("link", name="Acme Pte Ltd")).to_be_visible()
    expect(assigned).to_contain_text("(0 of 5 assignment edits left)")
    # And moving it to another organization is refused the same way (the limit before "un-assign it first")
    assigned.get_by_role("button", name="Edit Assigned Organization").click()
    assigned.get_by_role("form", name="Assign organization").get_by_label("Organization name").fill("Beta Telecom")
    assigned.get_by_role("button", name="Assign", exact=True).click()
    expect(assigned.get_by_role("alert")).to_have_text(NO_EDITS_LEFT)
    stored = api.get(f"/payments/{payment['id']}")
    assert (stored["org_id"], stored["assignment_edits"], stored["assignment_edits_remaining"]) == (acme["id"], 5, 0)
    assert beta["id"] != stored["org_id"]
    # And the history holds the five edits
    expect(history(page).get_by_role("row", name=re.compile(r"payment\.assigned"))).to_have_count(2)
    expect(history(page).get_by_role("row", name=re.compile(r"payment\.unassigned"))).to_have_count(2)


def test_p3_top_up_the_wallet_from_a_payment(page, console_stack):
    # Given a payment of SGD 100.00 assigned to an organization
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    payment = api.payment(acme, 10000, "TT-TOPUP-1")
    sign_in(page, partner)
    open_payment(page, "TT-TOPUP-1")
    top_up = page.get_by_role("form", name="Top up the wallet")
    # When they type an amount with three decimal places
    sent = writes(page)
    top_up.get_by_label("Top-up amount").fill("1.234")
    top_up.get_by_role("button", name="Top up wallet").click()
    # Then it is refused beside the amount, before any request
    assert beside(page, "Top-up amount") == "SGD has 2 decimal places: at most 2 after the point."
    assert sent == []
    # When they top up SGD 40.00
    top_up.get_by_label("Top-up amount").fill("40")
    top_up.get_by_role("button", name="Top up wallet").click()
    # Then the wallet holds it, and the payment shows the top-up and what is left
    allocated = page.get_by_role("table", name="Allocated from this payment")
    expect(allocated.get_by_role("row", name=re.compile("Wallet top-up"))).to_contain_text("SGD 40.00")
    expect(fact(page, "Unallocated")).to_have_text("SGD 60.00")
    expect(fact(page, "Status")).to_have_text("Partially allocated")
    assert api.get(f"/organizations/{acme['id']}/wallet")["balance"] == 4000
    expect(history(page).get_by_role("row", name=re.compile(r"payment\.wallet_top_up"))).to_have_count(1)
    # When they top up the rest
    top_up.get_by_label("Top-up amount").fill("60.00")
    top_up.get_by_role("button", name="Top up wallet").click()
    # Then it adds to the one wallet top-up, and nothing is left to top up
    expect(allocated.get_by_role("row", name=re.compile("Wallet top-up"))).to_contain_text("SGD 100.00")
    expect(fact(page, "Status")).to_have_text("Allocated")
    expect(page.get_by_role("form", name="Top up the wallet")).to_have_count(0)
    assert api.get(f"/organizations/{acme['id']}/wallet")["balance"] == 10000
    assert api.get(f"/payments/{payment['id']}")["unallocated_amount"] == 0


def test_p4_the_status_filter_is_kept_in_the_url_and_exported(page, console_stack):
    # Given two unassigned payments and an assigned one
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    api.payment(None, 12345, "UN-1")
    api.payment(None, 700, "UN-2")
    api.payment(acme, 5000, "AS-1")
    sign_in(page, partner)
    expect(page.get_by_role("link", name="View payment AS-1")).to_be_visible()
    # When they filter by status
    page.get_by_label("Status").select_option(label="Unassigned")
    page.get_by_role("button", name="Apply filters").click()
    # Then only the unassigned are listed, and the URL holds the filter
    expect(page).to_have_url(re.compile(r"/console/payments\?status=unassigned$"))
    expect(page.get_by_role("link", name="View payment AS-1")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^View payment UN-"))).to_have_count(2)
    # And a reload keeps it
    page.reload()
    expect(page.get_by_role("link", name=re.compile("^View payment UN-"))).to_have_count(2)
    expect(page.get_by_role("link", name="View payment AS-1")).to_have_count(0)
    expect(page.get_by_label("Status")).to_have_value("unassigned")
    # When they export the list
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    # Then the CSV holds the filtered view, amounts in major units exactly
    with open(download.value.path(), encoding="utf-8", newline="") as file:
        rows = sorted((r["reference"], r["amount"], r["status"], r["customer"]) for r in csv.DictReader(file))
    assert rows == [("UN-1", "123.45", "unassigned", ""), ("UN-2", "7.00", "unassigned", "")]
    # And clearing the filter lists them all
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_role("link", name=re.compile("^View payment "))).to_have_count(3)


def test_p5_too_many_decimal_places_are_refused_beside_amount(page, console_stack):
    # Given a JPY organization and a finance admin on + New Payment
    partner = new_partner()
    api = Api(console_stack, partner)
    api.org("Nippon Mobile KK", "JPY")
    sign_in(page, partner)
    page.get_by_role("link", name="+ New Payment").click()
    sent = writes(page)
    # When they type SGD 10.555 for no customer yet
    page.get_by_label("Amount", exact=True).fill("10.555")
    page.get_by_role("button", name="Save payment").click()
    # Then it is refused beside Amount, and nothing is sent
    assert beside(page, "Amount") == "SGD has 2 decimal places: at most 2 after the point."
    accessible(page)
    # When the customer is the JPY organization and the amount has a decimal
    page.get_by_label("Customer name").fill("Nippon Mobile KK")
    expect(page.get_by_label("Currency")).to_have_count(0)
    page.get_by_label("Amount", exact=True).fill("100.5")
    page.get_by_role("button", name="Save payment").click()
    # Then it is refused in JPY's words
    assert beside(page, "Amount") == "JPY has no decimal places."
    # When another currency with 3 places is chosen for no customer
    page.get_by_label("Customer name").fill("")
    page.get_by_label("Currency").select_option("KWD")
    page.get_by_label("Amount", exact=True).fill("1.2345")
    page.get_by_role("button", name="Save payment").click()
    assert beside(page, "Amount") == "KWD has 3 decimal places: at most 3 after the point."
    assert sent == []
    # When the amount fits the currency
    page.get_by_label("Amount", exact=True).fill("1.234")
    page.get_by_label("Reference").fill("KWD-1")
    page.get_by_role("button", name="Save payment").click()
    # Then it is recorded in minor units exactly
    expect(page.get_by_role("heading", name="Payment KWD-1 · KWD 1.234")).to_be_visible()
    [recorded] = api.get("/payments", reference="KWD-1")["items"]
    assert (recorded["amount"], recorded["currency"], recorded["org_id"]) == (1234, "KWD", None)


def test_p6_the_allocation_search_starts_from_the_payments_organization(page, console_stack):
    # Given a payment assigned to an organization
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    api.payment(acme, 10000, "CHQ-1")
    sign_in(page, partner)
    # When they open it
    open_payment(page, "CHQ-1")
    # Then Allocation's organization name is the payment's own (what the search starts from)
    allocation = page.get_by_role("region", name="Allocation")
    expect(allocation.get_by_label("Organization name")).to_have_value("Acme Pte Ltd")


def test_p7_a_card_payments_remark_may_be_edited(page, console_stack):
    # Given a card payment recorded by Stripe's webhook (an online top-up of SGD 50.00)
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    started = api.post(f"/organizations/{acme['id']}/online-top-ups",
                       {"amount": 5000, "trigger_amount": 2000, "limit_threshold": 1000, "auto_trigger": True})
    assert pay(console_stack.stripe, started["payment_intent_id"], started["client_secret"])["status"] == "succeeded"
    deadline = time.monotonic() + 10
    while not (found := api.get("/payments", org_id=acme["id"])["items"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    [card] = found
    assert card["method"] == "stripe"
    sign_in(page, partner)
    open_payment(page, card["reference"])
    expect(fact(page, "Method")).to_have_text("Card (Stripe)")
    # When they edit its remark, which the API lets change on a card payment (docs/api.md, PATCH /payments)
    page.get_by_role("button", name="Edit payment").click()
    page.get_by_role("form", name="Edit payment").get_by_label("Remark").fill("online top-up, November")
    page.get_by_role("button", name="Save changes").click()
    # Then the remark is saved, and nothing Stripe owns changed
    expect(fact(page, "Remark")).to_have_text("online top-up, November")
    stored = api.get(f"/payments/{card['id']}")
    assert (stored["remark"], stored["method"], stored["amount"]) == ("online top-up, November", "stripe", 5000)


def test_p8_edit_a_payment(page, console_stack):
    # Given a cheque payment of SGD 100.00
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    payment = api.payment(acme, 10000, "CHQ-7")
    sign_in(page, partner)
    open_payment(page, "CHQ-7")
    # When they edit its amount with too many decimals, then right
    form = page.get_by_role("form", name="Edit payment")
    page.get_by_role("button", name="Edit payment").click()
    sent = writes(page)
    form.get_by_label("Amount", exact=True).fill("99.999")
    form.get_by_role("button", name="Save changes").click()
    assert beside(page, "Amount") == "SGD has 2 decimal places: at most 2 after the point."
    assert sent == []
    form.get_by_label("Amount", exact=True).fill("120.50")
    form.get_by_label("Remark").fill("corrected amount")
    form.get_by_role("button", name="Save changes").click()
    # Then the payment and its history show the change
    expect(fact(page, "Amount")).to_have_text("SGD 120.50")
    expect(fact(page, "Remark")).to_have_text("corrected amount")
    expect(history(page).get_by_role("row", name=re.compile(r"payment\.updated"))).to_contain_text(
        "amount: SGD 100.00 → SGD 120.50")
    assert api.get(f"/payments/{payment['id']}")["amount"] == 12050
    accessible(page)
