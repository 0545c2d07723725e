"""The Reports tab in a real browser: the aged receivables (issue 29, the console's part).

  R1 the report's figures are the API's JSON for the same query, one table per currency with a TOTAL row, and
     they add up (buckets to each row's total, rows to the TOTAL); a past As of changes the figures and the URL;
     the API's refusal of a bad date is shown beside As of; a viewer reads it; axe-core finds nothing serious;
  R2 Download CSV saves the API's CSV of exactly the report shown (the same date, basis and currency), named as
     the API names it, that Python's csv module reads back to the same rows and one TOTAL row per currency;
  R3 an organization, chosen by name, narrows the report; its row opens the Invoices tab filtered to that
     organization and to what is due (unpaid or partially paid), the oldest due first; the form works from the
     keyboard;
  R4 a customer's own staff are not offered the tab (the API answers them 403), and their console never asks.
"""

from __future__ import annotations

import csv
import datetime
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
from playwright.sync_api import expect

from local.auth import mint
from tests.browser.console import Api, accessible, beside, sign_in
from tests.conftest import new_partner

BUCKETS = ["current", "days_1_30", "days_31_60", "days_61_90", "days_over_90"]
COLUMNS = [*BUCKETS, "total"]
TODAY = datetime.datetime.now(datetime.UTC).date()


def day(offset: int) -> str:
    """Today's UTC date moved by `offset` days, as the API writes dates."""
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


def money(minor: int, currency: str) -> str:
    """How the console shows an amount of SGD or USD (two decimal places): "SGD 1,250.50"."""
    sign = "-" if minor < 0 else ""
    major, cents = divmod(abs(minor), 100)
    return f"{currency} {sign}{major:,}.{cents:02d}"


def minor(text: str) -> int:
    """The minor units of "SGD 1,250.50" (two decimal places), read back exactly: no float."""
    amount = text.split(" ", 1)[1].replace(",", "")
    whole, cents = amount.lstrip("-").split(".")
    return (-1 if amount.startswith("-") else 1) * (int(whole) * 100 + int(cents))


def book(console_stack: Any) -> tuple[str, Api, dict[str, Any], dict[str, Any]]:
    """A partner with two organizations: Alpha Trading (SGD) and Beta Supplies (USD), invoices of each over the
    buckets, two of them paid in part today (so a past As of counts them in full)."""
    partner = new_partner()
    api = Api(console_stack, partner)
    alpha, beta = api.org("Alpha Trading", "SGD"), api.org("Beta Supplies", "USD")

    def invoice(org: dict[str, Any], amount: int, number: str, issued: int, due: int | None) -> dict[str, Any]:
        return api.post("/invoices", {"org_id": org["id"], "type": "standard", "amount": amount,
                                      "currency": org["currency"], "issued_date": day(issued),
                                      "due_date": day(due) if due is not None else None, "number": number})

    invoice(alpha, 10_000, "A-1", -100, -95)        # over 90 days overdue today
    a2 = invoice(alpha, 25_050, "A-2", -40, -10)    # 1-30 days, paid in part today
    invoice(alpha, 7_500, "A-3", -5, 25)            # current
    invoice(beta, 50_000, "B-1", -70, -65)          # 61-90 days
    b2 = invoice(beta, 12_000, "B-2", -20, None)    # no due date: due when issued, 20 days ago
    api.pay(alpha, 10_000, a2, 10_000)
    api.pay(beta, 2_000, b2, 2_000)
    return partner, api, alpha, beta


def open_reports(page: Any) -> None:
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("heading", name="Aged receivables", level=1).wait_for()


def shown(page: Any, currencies: list[str], as_of: str, basis: str = "due date") -> dict[str, list[list[str]]]:
    """Each currency's table as its cells' texts, row by row (the organizations, then TOTAL): the name, the
    buckets, the total and the count of invoices (once the report of that date and basis is shown)."""
    expect(page.get_by_role("table")).to_have_count(len(currencies))
    tables: dict[str, list[list[str]]] = {}
    for currency in currencies:
        table = page.get_by_role("table", name=re.compile(f"^Aged receivables in {currency} as of {as_of} by {basis}:"))
        expect(table).to_be_visible()
        body_rows = table.locator("tbody tr, tfoot tr")
        tables[currency] = [row.locator("th, td").all_inner_texts()[:8] for row in body_rows.all()]
    return tables


def expected(report: dict[str, Any]) -> dict[str, list[list[str]]]:
    """The same tables, written from the API's JSON."""
    tables: dict[str, list[list[str]]] = {}
    for total in report["totals"]:
        currency = total["currency"]
        rows = [r for r in report["rows"] if r["currency"] == currency]
        tables[currency] = [[r["org_name"], *(money(r[c], currency) for c in COLUMNS), str(r["invoices"])]
                            for r in rows]
        tables[currency].append(["TOTAL", *(money(total[c], currency) for c in COLUMNS), str(total["invoices"])])
    return tables


def assert_adds_up(tables: dict[str, list[list[str]]]) -> None:
    """From what the browser shows: each row's buckets add up to its total, and the rows to the TOTAL row."""
    for rows in tables.values():
        *organizations, total = rows
        for row in rows:
            figures = [minor(cell) for cell in row[1:7]]
            assert sum(figures[:5]) == figures[5], row
        for column in range(1, 8):
            read = int if column == 7 else minor
            assert sum(read(r[column]) for r in organizations) == read(total[column]), (column, rows)


def test_r1_the_report_is_the_apis_adds_up_and_moves_with_as_of(page, console_stack):
    # Given a partner with invoices in SGD and USD, some paid in part, and its finance viewer (a reader)
    partner, api, _, _ = book(console_stack)
    sign_in(page, partner, "finance-viewer")
    # When they open the Reports tab
    open_reports(page)
    # Then it shows today's report, due-date basis, all currencies and organizations
    expect(page.get_by_label("As of")).to_have_value(TODAY.isoformat())
    expect(page.get_by_label("Basis")).to_have_value("due_date")
    expect(page.get_by_label("Currency")).to_have_value("")
    expect(page.get_by_label("Organization", exact=True)).to_have_value("")
    today = api.get("/reports/aged-receivables")
    assert today["as_of"] == TODAY.isoformat()
    # and its figures are the API's, one table per currency, and they add up
    tables = shown(page, ["SGD", "USD"], today["as_of"])
    assert tables == expected(today)
    assert tables["SGD"][0][1:7] == ["SGD 75.00", "SGD 150.50", "SGD 0.00", "SGD 0.00", "SGD 100.00", "SGD 325.50"]
    assert tables["USD"][0][1:7] == ["USD 0.00", "USD 100.00", "USD 0.00", "USD 500.00", "USD 0.00", "USD 600.00"]
    assert_adds_up(tables)
    accessible(page)

    # When they choose an As of 30 days ago
    past = day(-30)
    page.get_by_label("As of").fill(past)
    page.get_by_role("button", name="Show report").click()
    # Then the URL holds it, and the figures are the API's for that day: no later invoice, no later payment
    page.wait_for_url(re.compile(rf"/console/reports\?as_of={past}$"))
    then = api.get("/reports/aged-receivables", as_of=past)
    tables_then = shown(page, ["SGD", "USD"], past)
    assert tables_then == expected(then) and tables_then != tables
    assert tables_then["SGD"][0][1:7] == ["SGD 250.50", "SGD 0.00", "SGD 0.00", "SGD 100.00", "SGD 0.00",
                                          "SGD 350.50"]
    assert_adds_up(tables_then)
    # and the issued-date basis is the API's too
    page.get_by_label("Basis").select_option("issued_date")
    page.get_by_role("button", name="Show report").click()
    page.wait_for_url(re.compile(rf"as_of={past}&basis=issued_date$"))
    assert shown(page, ["SGD", "USD"], past, "issued date") == expected(
        api.get("/reports/aged-receivables", as_of=past, basis="issued_date"))
    # and a reload shows the same report, its options in the form
    page.reload()
    expect(page.get_by_label("As of")).to_have_value(past)
    expect(page.get_by_label("Basis")).to_have_value("issued_date")
    accessible(page)

    # When the URL holds a date that does not exist
    page.goto("/console/reports?as_of=2026-02-30")
    # Then the API's refusal is shown beside As of, and no report
    error = requests.get(f"{console_stack.api}/reports/aged-receivables", params={"as_of": "2026-02-30"},
                         headers=api.headers, timeout=10)
    assert error.status_code == 422
    [detail] = [d for d in error.json()["error"]["details"] if str(d.get("field", "")).endswith("as_of")]
    assert beside(page, "As of") == detail["message"]
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_role("button", name="Download CSV")).to_have_count(0)
    accessible(page)


def test_r2_download_csv_is_exactly_what_is_shown(page, console_stack, tmp_path: Path):
    # Given the partner's report on the Reports tab, its finance admin signed in
    partner, api, _, _ = book(console_stack)
    sign_in(page, partner)
    open_reports(page)
    report = api.get("/reports/aged-receivables")
    shown(page, ["SGD", "USD"], report["as_of"])
    # When they click Download CSV
    with page.expect_download() as started:
        page.get_by_role("button", name="Download CSV").click()
    download = started.value
    # Then the file is named as the API names it, and reads back to the report's rows and a TOTAL per currency
    assert download.suggested_filename == f"aged-receivables-{report['as_of']}.csv"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    raw = path.read_bytes()
    assert b"\r\n" in raw
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    organizations = [r for r in rows if r["org_id"] != "TOTAL"]
    totals = [r for r in rows if r["org_id"] == "TOTAL"]
    fields = ["org_id", "org_name", "currency", *COLUMNS, "invoices", "oldest_due_date"]
    assert [{f: r[f] for f in fields} for r in organizations] == [
        {f: str(row[f]) for f in fields} for row in report["rows"]]
    assert [(t["currency"], *(int(t[c]) for c in [*COLUMNS, "invoices"])) for t in totals] == [
        (t["currency"], *(t[c] for c in [*COLUMNS, "invoices"])) for t in report["totals"]]
    assert [t["currency"] for t in totals] == ["SGD", "USD"]
    expect(page.get_by_role("status")).to_have_text(f"Downloaded {download.suggested_filename}.")

    # When they show USD only, 30 days ago, and download again
    past = day(-30)
    page.get_by_label("As of").fill(past)
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Show report").click()
    page.wait_for_url(re.compile(rf"as_of={past}&currency=USD$"))
    shown(page, ["USD"], past)
    with page.expect_download() as started:
        page.get_by_role("button", name="Download CSV").click()
    download = started.value
    # Then the file holds exactly that: the USD row as of that day and its TOTAL
    assert download.suggested_filename == f"aged-receivables-{past}.csv"
    download.save_as(tmp_path / "usd.csv")
    with (tmp_path / "usd.csv").open(newline="", encoding="utf-8") as file:
        usd = list(csv.DictReader(file))
    then = api.get("/reports/aged-receivables", as_of=past, currency="USD")
    assert [(r["org_id"], r["currency"], int(r["total"])) for r in usd] == [
        *((r["org_id"], "USD", r["total"]) for r in then["rows"]), ("TOTAL", "USD", then["totals"][0]["total"])]
    assert usd[0]["org_name"] == "Beta Supplies" and int(usd[0]["days_31_60"]) == 50_000


def test_r3_an_organization_by_name_and_its_row_opens_its_open_invoices(page, console_stack):
    # Given the partner's report on the Reports tab
    partner, api, alpha, beta = book(console_stack)
    sign_in(page, partner)
    open_reports(page)
    shown(page, ["SGD", "USD"], TODAY.isoformat())
    # When they type a name no organization has
    page.get_by_label("Organization", exact=True).fill("Nobody Ltd")
    page.get_by_role("button", name="Show report").click()
    # Then it is refused beside the field, and the URL is unchanged
    assert "No organization of yours is named" in beside(page, "Organization")
    assert page.url.endswith("/console/reports")
    # When they choose Beta Supplies by its name, from the keyboard (Enter submits the form)
    field = page.get_by_label("Organization", exact=True)
    field.fill("beta supplies")
    field.press("Enter")
    # Then the report is that organization's only, kept in the URL by its id
    page.wait_for_url(re.compile(rf"/console/reports\?as_of={TODAY.isoformat()}&org_id={beta['id']}$"))
    assert shown(page, ["USD"], TODAY.isoformat()) == expected(
        api.get("/reports/aged-receivables", org_id=beta["id"]))
    page.reload()
    expect(page.get_by_label("Organization", exact=True)).to_have_value("Beta Supplies")
    accessible(page)
    # When they reset it and open Alpha Trading's row, from the keyboard
    page.get_by_role("button", name="Reset").click()
    page.wait_for_url(re.compile(r"/console/reports$"))
    link = page.get_by_role("link", name="Alpha Trading", exact=True)
    link.focus()
    page.keyboard.press("Enter")
    # Then the Invoices tab lists that organization's invoices still due (unpaid or partially paid), oldest due first
    page.wait_for_url(re.compile(r"/console/invoices\?"))
    query = parse_qs(urlparse(page.url).query)
    assert query == {"org_id": [alpha["id"]], "status": ["unpaid,partially_paid"], "sort": ["due_date"]}
    expect(page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Invoices")).to_have_attribute(
        "aria-current", "page")
    expect(page.get_by_role("table", name=re.compile(r"^Invoices \(filtered\), oldest due first$"))).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("unpaid,partially_paid")
    expect(page.get_by_label("Order")).to_have_value("due_date")
    page.get_by_role("link", name="View A-1").wait_for()
    listed = page.get_by_role("link", name=re.compile(r"^View ")).evaluate_all("els => els.map(e => e.ariaLabel)")
    due = api.get("/invoices", org_id=alpha["id"], status="unpaid,partially_paid", sort="due_date")["items"]
    # A-2 is paid in part: it is still due, between the one over 90 days overdue and the current one
    assert listed == [f"View {i['number']}" for i in due] == ["View A-1", "View A-2", "View A-3"]
    accessible(page)


def test_r4_a_customers_staff_are_not_offered_the_tab(page, console_stack):
    # Given an organization of a partner, with an invoice overdue
    partner = new_partner()
    api = Api(console_stack, partner)
    org = api.org("Gamma Retail")
    api.invoice(org, 5_000, "G-1", issued=day(-40))
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status == 403 else None)
    # When one of its own staff (org-admin) signs in
    page.goto("/console/")
    page.get_by_label("Partner").fill(partner)
    page.get_by_label("Role").select_option("org-admin")
    page.get_by_label("Organization", exact=True).fill(org["id"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Gamma Retail", level=1).wait_for()
    # Then there is no Reports tab, and its URL says it is not for their role without asking the API
    tabs = page.get_by_role("navigation", name="Finance app").get_by_role("link").all_inner_texts()
    assert "Reports" not in tabs and "Wallet" in tabs
    page.goto("/console/reports")
    expect(page.get_by_role("main")).to_contain_text("This page is not available to your role (org-admin).")
    accessible(page)
    assert refused == []
    # and the API itself refuses them the report
    token = mint(f"admin@{org['id']}.local", partner, ["org-admin"], extra={"org_id": org["id"]})
    answer = requests.get(f"{console_stack.api}/reports/aged-receivables",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 403
