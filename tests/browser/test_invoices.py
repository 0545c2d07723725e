"""The Invoices tab in a real browser: search, New Invoice, an invoice's credit notes, void and history.

  I1 + New Invoice takes the organization's currency; an amount with too many decimal places is refused beside
     Amount before any request; the API's refusal (a number already taken, in another case) is shown beside
     Number; a saved invoice opens at its detail;
  I2 the search (organization name, number in any case, status, type, issued dates) is kept in the URL: a
     reload and Back show the same list; the API's refusal of a date range is shown beside the dates;
  I3 the list pages with the API's cursors and Export CSV downloads every page of the filtered view;
  I4 a credit note reduces what is due, then credits the wallet; Void is refused with the API's words while
     payments are allocated, asks to confirm, and makes an invoice void; the history shows the credit notes,
     the void and (a moment later, from the stream) the allocations;
  I5 a viewer sees the same invoices, credit notes and history, and is offered no write;
  axe-core finds no serious or critical violation on the list, New Invoice and the detail.
"""

from __future__ import annotations

import csv
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from tests.browser.console import Api, accessible, beside, fact, sign_in, writes
from tests.conftest import new_partner


def numbers(page: Any) -> list[str]:
    """The invoice numbers the list shows, in its order."""
    page.get_by_role("table").first.wait_for()
    return [text.removeprefix("View ") for text in
            page.get_by_role("link", name=re.compile(r"^View ")).evaluate_all("els => els.map(e => e.ariaLabel)")]


def test_i1_new_invoice_refuses_a_bad_amount_beside_it_then_issues_the_invoice(page, console_stack):
    # Given an organization in SGD and its finance admin on the Invoices tab
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    sign_in(page, partner)
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Invoices").click()
    expect(page.get_by_text("No invoices match.")).to_be_visible()
    accessible(page)
    # When they open + New Invoice and type 12.345 for SGD
    page.get_by_role("link", name="+ New Invoice").click()
    expect(page.get_by_role("heading", name="New Invoice")).to_be_visible()
    accessible(page)
    sent = writes(page)
    page.get_by_label("Organization", exact=True).fill("Acme Pte Ltd")
    expect(page.get_by_text("In SGD, the organization's currency")).to_be_visible()
    page.get_by_label("Amount", exact=True).fill("12.345")
    page.get_by_role("button", name="Save invoice").click()
    # Then the amount is refused beside the field, and nothing was sent
    assert beside(page, "Amount") == "SGD has 2 decimal places: at most 2 after the point."
    accessible(page)
    assert sent == []
    # When the amount is right, with dates and no number
    page.get_by_label("Amount", exact=True).fill("1,250.50")
    page.get_by_label("Issued date").fill("2026-11-01")
    page.get_by_label("Due date").fill("2026-10-31")
    page.get_by_role("button", name="Save invoice").click()
    # Then a due date before the issued date is refused beside it, still before any request
    assert beside(page, "Due date") == "The due date cannot be before the issued date."
    assert sent == []
    page.get_by_label("Due date").fill("2026-11-30")
    page.get_by_role("button", name="Save invoice").click()
    # Then the invoice opens with the number the API gave, in minor units exactly
    expect(page.get_by_role("heading", name="Invoice INV-000001 · SGD 1,250.50")).to_be_visible()
    expect(fact(page, "Status")).to_have_text("Unpaid")
    expect(fact(page, "Due")).to_have_text("SGD 1,250.50")
    expect(fact(page, "Organization").get_by_role("link")).to_have_attribute(
        "href", f"/console/organizations/{acme['id']}")
    accessible(page)
    [saved] = api.get("/invoices", org_id=acme["id"])["items"]
    assert (saved["amount"], saved["currency"], saved["due_date"], saved["type"]) == (125050, "SGD", "2026-11-30",
                                                                                       "standard")
    assert len([w for w in sent if w.startswith("POST") and w.endswith("/invoices")]) == 1
    # When a second invoice is given that number in another case
    page.get_by_role("link", name="← Invoices").click()
    page.get_by_role("link", name="+ New Invoice").click()
    page.get_by_label("Organization", exact=True).fill("acme pte ltd")
    page.get_by_label("Type").select_option(label="Top-up")
    page.get_by_label("Amount", exact=True).fill("500")
    page.get_by_label("Number").fill("inv-000001")
    page.get_by_role("button", name="Save invoice").click()
    # Then the API's refusal is shown beside Number and as an alert, and nothing more was issued
    assert beside(page, "Number") == "This invoice number is already used by another invoice."
    expect(page.get_by_role("alert")).to_have_text("This invoice number is already used by another invoice.")
    assert len(api.get("/invoices", org_id=acme["id"])["items"]) == 1
    # When it gets a number of its own
    page.get_by_label("Number").fill("TOP-2026/11")
    page.get_by_role("button", name="Save invoice").click()
    # Then it is a top-up invoice of SGD 500.00
    expect(page.get_by_role("heading", name="Invoice TOP-2026/11 · SGD 500.00")).to_be_visible()
    expect(fact(page, "Type")).to_have_text("Top-up")


def test_i2_the_search_is_kept_in_the_url(page, console_stack):
    # Given two organizations' invoices, one partly paid and one a top-up invoice
    partner = new_partner()
    api = Api(console_stack, partner)
    alpha, beta = api.org("Alpha Trading"), api.org("Beta Telecom")
    api.invoice(alpha, 10000, "AL-1001", issued="2026-10-01")
    al2 = api.invoice(alpha, 20000, "AL-1002", issued="2026-11-01")
    api.invoice(beta, 30000, "BE-2001", issued="2026-11-05")
    api.invoice(beta, 5000, "BE-TOP-1", issued="2026-09-01", type="top_up")
    api.pay(alpha, 5000, al2, 5000)
    sign_in(page, partner)
    page.goto("/console/invoices")
    assert numbers(page) == ["BE-2001", "AL-1002", "AL-1001", "BE-TOP-1"]
    # When they search by the start of an organization's name, in lower case
    page.get_by_label("Organization name").fill("alpha")
    page.get_by_role("button", name="Search", exact=True).click()
    # Then only its invoices are listed, newest issued first, and the URL holds the search
    expect(page).to_have_url(re.compile(r"/console/invoices\?org_name=alpha$"))
    expect(page.get_by_role("link", name="View BE-2001")).to_have_count(0)
    assert numbers(page) == ["AL-1002", "AL-1001"]
    # When they add a status
    page.get_by_label("Status").select_option(label="Partially paid")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"org_name=alpha&status=partially_paid$"))
    expect(page.get_by_role("link", name="View AL-1001")).to_have_count(0)
    assert numbers(page) == ["AL-1002"]
    expect(page.get_by_role("row", name=re.compile("AL-1002"))).to_contain_text("Partially paid")
    # Then a reload shows the same list and the same search
    page.reload()
    expect(page.get_by_role("link", name="View AL-1002")).to_be_visible()
    assert numbers(page) == ["AL-1002"]
    expect(page.get_by_label("Organization name")).to_have_value("alpha")
    expect(page.get_by_label("Status")).to_have_value("partially_paid")
    # When they clear it and search a number in another case
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_role("link", name="View BE-2001")).to_be_visible()
    expect(page.get_by_label("Organization name")).to_have_value("")
    page.get_by_label("Invoice number").fill("be-2001")
    page.get_by_role("button", name="Search", exact=True).click()
    # Then that invoice is found
    expect(page).to_have_url(re.compile(r"number=be-2001$"))
    expect(page.get_by_role("link", name="View AL-1002")).to_have_count(0)
    assert numbers(page) == ["BE-2001"]
    # And Back returns to the cleared list
    page.go_back()
    expect(page.get_by_role("link", name="View AL-1002")).to_be_visible()
    assert len(numbers(page)) == 4
    # When they list an organization's invoices still due (unpaid or partially paid), the oldest due first
    page.goto(f"/console/invoices?org_id={alpha['id']}")
    page.get_by_label("Status").select_option(label="Due (unpaid or partially paid)")
    page.get_by_label("Order").select_option(label="Oldest due first")
    page.get_by_role("button", name="Search", exact=True).click()
    # Then an invoice without a due date is due when issued, and the order is the API's
    expect(page).to_have_url(re.compile(r"sort=due_date"))
    assert parse_qs(urlparse(page.url).query) == {"org_id": [alpha["id"]], "status": ["unpaid,partially_paid"],
                                                  "sort": ["due_date"]}
    expect(page.get_by_role("table", name="Invoices (filtered), oldest due first")).to_be_visible()
    due = api.get("/invoices", org_id=alpha["id"], status="unpaid,partially_paid", sort="due_date")["items"]
    assert numbers(page) == [i["number"] for i in due] == ["AL-1001", "AL-1002"]
    # And the order is offered only in an organization's list (the API refuses it over the whole book)
    page.get_by_role("button", name="Clear filters").click()
    expect(page.get_by_role("table", name="Invoices, newest issued first")).to_be_visible()
    expect(page.get_by_label("Order")).to_have_count(0)
    # When they choose a type, then issued dates
    page.get_by_label("Type").select_option(label="Top-up")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name="View BE-2001")).to_have_count(0)
    assert numbers(page) == ["BE-TOP-1"]
    page.get_by_label("Type").select_option(label="Any type")
    page.get_by_label("Issued from").fill("2026-10-01")
    page.get_by_label("Issued to").fill("2026-11-01")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"issued_from=2026-10-01&issued_to=2026-11-01$"))
    expect(page.get_by_role("link", name="View BE-TOP-1")).to_have_count(0)
    assert numbers(page) == ["AL-1002", "AL-1001"]
    # When the dates are the wrong way round, the API's refusal is shown beside them
    page.get_by_label("Issued from").fill("2026-11-02")
    page.get_by_role("button", name="Search", exact=True).click()
    assert beside(page, "Issued from") == "issued_from must not be after issued_to."
    accessible(page)
    # And a row opens its invoice
    page.get_by_label("Issued from").fill("")
    page.get_by_label("Issued to").fill("")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("link", name="View AL-1002").click()
    expect(page.get_by_role("heading", name="Invoice AL-1002 · SGD 200.00")).to_be_visible()
    expect(fact(page, "Paid")).to_have_text("SGD 50.00")


def test_i3_pages_and_the_csv_of_every_page_of_the_filtered_view(page, console_stack):
    # Given 53 invoices of one organization (more than a page) and 2 of another
    partner = new_partner()
    api = Api(console_stack, partner)
    gamma, delta = api.org("Gamma Networks"), api.org("Delta Mobile", "JPY")
    for n in range(1, 54):
        api.invoice(gamma, 1000 + n, f"G-{n:04d}", issued=f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}")
    api.invoice(delta, 5000, "D-1")
    api.invoice(delta, 7000, "D-2")
    sign_in(page, partner)
    page.goto("/console/invoices")
    # When they search the first organization
    page.get_by_label("Organization name").fill("Gamma")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name="View D-1")).to_have_count(0)
    # Then a page of 50 is shown, with a next page
    expect(page.get_by_role("link", name=re.compile(r"^View G-"))).to_have_count(50)
    # When they export it
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    expect(page.get_by_role("status").filter(has_text="Exported")).to_have_text("Exported 53 invoices.")
    # Then the CSV holds every page of the filtered view, amounts in major units exactly
    assert download.value.suggested_filename == "invoices.csv"
    with open(download.value.path(), encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["number"] for row in rows if row["organization"] == "Gamma Networks"] == [r["number"] for r in rows]
    assert sorted(row["number"] for row in rows) == [f"G-{n:04d}" for n in range(1, 54)]
    g7 = next(row for row in rows if row["number"] == "G-0007")
    assert (g7["currency"], g7["amount"], g7["amount_due"], g7["status"], g7["type"]) == ("SGD", "10.07", "10.07",
                                                                                          "unpaid", "standard")
    # When they go to the next page
    page.get_by_role("button", name="Next page").click()
    # Then the last 3 are shown, the URL holding the search and the cursor
    expect(page.get_by_role("link", name=re.compile(r"^View G-"))).to_have_count(3)
    expect(page).to_have_url(re.compile(r"org_name=Gamma&cursor="))
    page.get_by_role("button", name="First page").click()
    expect(page.get_by_role("link", name=re.compile(r"^View G-"))).to_have_count(50)
    # And a JPY organization's export has no decimals
    page.get_by_label("Organization name").fill("Delta")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name="View G-0001")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("D-2"))).to_contain_text("JPY 7,000")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    with open(download.value.path(), encoding="utf-8", newline="") as file:
        assert [(r["number"], r["amount"]) for r in csv.DictReader(file)] == [("D-2", "7000"), ("D-1", "5000")]


def test_i4_credit_notes_void_and_the_history(page, console_stack):
    # Given an invoice of SGD 100.00 to which a payment allocated SGD 40.00, and an untouched one
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    invoice = api.invoice(acme, 10000, "A-100")
    payment = api.pay(acme, 4000, invoice, 4000)
    api.invoice(acme, 5000, "B-200")
    sign_in(page, partner)
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name="View A-100").click()
    # Then the detail shows its amounts, the payment allocated and (from the stream) the allocation in its history
    expect(fact(page, "Status")).to_have_text("Partially paid")
    expect(fact(page, "Paid")).to_have_text("SGD 40.00")
    expect(fact(page, "Due")).to_have_text("SGD 60.00")
    allocations = page.get_by_role("table", name="Payments allocated to this invoice")
    expect(allocations.get_by_role("link", name=payment["id"])).to_have_attribute("href",
                                                                                  f"/console/payments/{payment['id']}")
    history = page.get_by_role("table", name="What happened to this invoice, newest first")
    allocated_row = history.get_by_role("row", name=re.compile("invoice.allocated"))
    expect(allocated_row).to_contain_text(payment["id"])
    expect(allocated_row).to_contain_text("amount: — → SGD 40.00")
    accessible(page)
    # When they credit more than the invoice's amount
    sent = writes(page)
    page.get_by_label("Credit amount").fill("100.01")
    page.get_by_label("Reason").select_option(label="Billing error")
    page.get_by_role("button", name="Issue credit note").click()
    # Then it is refused beside the amount, before any request
    assert beside(page, "Credit amount") == "At most SGD 100.00: the amount less earlier credit notes."
    assert sent == []
    # When they credit SGD 30.00
    page.get_by_label("Credit amount").fill("30")
    page.get_by_label("Memo").fill("double-counted SMS bundle")
    page.get_by_role("button", name="Issue credit note").click()
    # Then it reduces what is due
    expect(page.get_by_role("status").filter(has_text="CN-000001")).to_have_text(  # beside any "Loading…"
        "CN-000001 issued: SGD 30.00 off what is due, SGD 0.00 credited to the organization's wallet.")
    expect(fact(page, "Credited")).to_have_text("SGD 30.00")
    expect(fact(page, "Due")).to_have_text("SGD 30.00")
    expect(fact(page, "Status")).to_have_text("Partially paid")
    # When they credit SGD 50.00 more: beyond what is still due
    page.get_by_label("Credit amount").fill("50.00")
    page.get_by_label("Reason").select_option(label="Goodwill")
    page.get_by_role("button", name="Issue credit note").click()
    # Then what is left after the due amount credits the wallet, and the invoice is paid
    expect(page.get_by_role("status").filter(has_text="CN-000002")).to_have_text(
        "CN-000002 issued: SGD 30.00 off what is due, SGD 20.00 credited to the organization's wallet.")
    expect(fact(page, "Status")).to_have_text("Paid")
    expect(fact(page, "Due")).to_have_text("SGD 0.00")
    notes = page.get_by_role("table", name="Credit notes of this invoice")
    expect(notes.get_by_role("row")).to_have_count(3)
    expect(notes.get_by_role("row", name=re.compile("CN-000001"))).to_contain_text("Billing error")
    assert api.get(f"/organizations/{acme['id']}/wallet")["balance"] == 2000
    expect(history.get_by_role("row", name=re.compile("invoice.credited"))).to_have_count(2)
    # When they void it, confirming
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Void invoice…").click()
    page.get_by_label("Void reason").fill("issued twice")
    page.get_by_role("button", name="Void invoice", exact=True).click()
    # Then the API's refusal is shown, and the invoice is unchanged
    expect(page.get_by_role("alert")).to_have_text("Only an invoice with nothing allocated and no credit note can be "
                                                   "voided; release its allocations first.")
    expect(fact(page, "Status")).to_have_text("Paid")
    # When they void the untouched invoice, first dismissing the confirmation
    page.get_by_role("link", name="← Invoices").click()
    page.get_by_role("link", name="View B-200").click()
    page.get_by_role("button", name="Void invoice…").click()
    page.get_by_role("button", name="Void invoice", exact=True).click()
    assert beside(page, "Void reason") == "Say why the invoice is void."
    page.get_by_label("Void reason").fill("issued twice")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Void invoice", exact=True).click()
    expect(fact(page, "Status")).to_have_text("Unpaid")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Void invoice", exact=True).click()
    # Then it is void, with its reason, and takes no more writes
    expect(fact(page, "Status")).to_have_text("Void")
    expect(fact(page, "Voided")).to_contain_text("issued twice")
    expect(page.get_by_role("button", name="Void invoice…")).to_have_count(0)
    expect(page.get_by_role("button", name="Issue credit note")).to_have_count(0)
    expect(history.get_by_role("row", name=re.compile("invoice.voided"))).to_contain_text("issued twice")
    accessible(page)
    # And the list shows it void
    page.get_by_role("link", name="← Invoices").click()
    expect(page.get_by_role("row", name=re.compile("B-200"))).to_contain_text("Void")


def test_i5_a_viewer_sees_everything_and_is_offered_no_write(page, console_stack):
    # Given an invoice with a credit note, and a finance viewer of its partner
    partner = new_partner()
    api = Api(console_stack, partner)
    acme = api.org("Acme Pte Ltd")
    invoice = api.invoice(acme, 10000, "A-100")
    api.post(f"/invoices/{invoice['id']}/credit-notes", {"amount": 1000, "reason": "service_issue"})
    sign_in(page, partner, role="finance-viewer")
    # When they open the Invoices tab
    page.goto("/console/invoices")
    # Then the invoice is listed and no "+ New Invoice" is offered
    expect(page.get_by_role("link", name="View A-100")).to_be_visible()
    expect(page.get_by_role("link", name="+ New Invoice")).to_have_count(0)
    # When they open it
    page.get_by_role("link", name="View A-100").click()
    # Then they see its credit note and history, and no write
    expect(page.get_by_role("table", name="Credit notes of this invoice")).to_contain_text("Service issue")
    expect(page.get_by_role("table", name="What happened to this invoice, newest first")).to_contain_text(
        "invoice.credited")
    expect(fact(page, "Credited")).to_have_text("SGD 10.00")
    expect(page.get_by_role("button", name="Issue credit note")).to_have_count(0)
    expect(page.get_by_role("button", name="Void invoice…")).to_have_count(0)
    expect(page.get_by_role("form")).to_have_count(0)
    accessible(page)
    # And + New Invoice, typed in the address bar, offers no form
    page.goto("/console/invoices/new")
    expect(page.get_by_text("Your role reads invoices only: issuing one needs finance-admin.")).to_be_visible()
    expect(page.get_by_role("button", name="Save invoice")).to_have_count(0)
    # And an invoice that does not exist (or is another partner's) says so
    page.goto("/console/invoices/inv_00000000000000000000000000")
    expect(page.get_by_role("alert")).to_be_visible()
