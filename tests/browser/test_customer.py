"""A customer organization's own staff in the console (issue 28): org-admin and org-viewer, signed in to their
organization, see their own tabs (Wallet, Invoices, Top up by card, Automatic top-up, History) instead of the
partner's.

  CU1 an org-admin tops up its organization by card through Stripe.js (locally, the local Stripe's stand-in), sees
      its Wallet credited and the ledger entry, its Automatic top-up set to "Online payment by Stripe" with the
      chosen amounts read-only and switches it off; the History says who did each; the partner's finance admin then
      sees the same organization's settings as Stripe's, their amounts locked, and the online top-up listed;
  CU2 an org-viewer reads their Wallet, Invoices, Automatic top-up and History and is offered no write; the partner's
      screens, and the org-admin's Top up by card, are "not available to your role" without asking the API;
  CU3 an org-admin never sees another organization's data: the Invoices list holds only theirs while their partner
      has another organization with invoices, and a direct URL to the other's invoice shows the API's not-found;
  CU4 sign-in refusals are shown beside the field: an org role without an Organization, and an organization that is
      not the partner's;
  every customer screen passes axe-core (no serious or critical violation).
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.console import Api, accessible, beside, pay_by_card
from tests.conftest import new_partner

CUSTOMER_TABS = ["Wallet", "Invoices", "Top up by card", "Automatic top-up", "History"]


def partner_with_organization(console_stack: Any, name: str) -> tuple[str, Api, dict[str, Any]]:
    """A new partner (its finance admin's token) and one organization of it, made through the API."""
    partner = new_partner()
    api = Api(console_stack, partner)
    return partner, api, api.org(name)


def sign_in_customer(page: Any, partner: str, org: dict[str, Any], role: str = "org-admin") -> None:
    """Sign in as `role` of the organization: Partner, Role, Organization (its id); lands on its Wallet."""
    page.goto("/console/")
    page.get_by_label("Partner").fill(partner)
    page.get_by_label("Role").select_option(role)
    page.get_by_label("Organization", exact=True).fill(org["id"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name=org["name"], level=1, exact=True).wait_for()
    page.wait_for_url(re.compile(r"/console/wallet$"))


def tab(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name=name, exact=True).click()


def tabs(page: Any) -> list[str]:
    names: list[str] = page.get_by_role("navigation", name="Finance app").get_by_role("link").all_inner_texts()
    return names


def watch(page: Any) -> list[Any]:
    """Every response the page receives from now on."""
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    return responses


def denied(responses: list[Any]) -> list[str]:
    """The API's 403 answers the browser received: a customer's screens never ask what their role may not."""
    return [f"{r.request.method} {r.url}" for r in responses if r.status == 403]


def fact(scope: Any, term: str) -> Any:
    """The <dd> that follows the <dt> `term` in a list of facts."""
    return scope.locator("dt", has_text=re.compile(f"^{re.escape(term)}$")).locator("xpath=following-sibling::dd[1]")


def test_cu1_the_customers_own_top_up_by_card_then_the_partner_sees_it(page, browser, console_stack):
    responses = watch(page)
    # Given a partner and its organization, made by the partner's finance admin
    partner, _, org = partner_with_organization(console_stack, "Self Service Telecom")
    admin = f"admin@{org['id']}.local"
    # When the organization's admin signs in
    sign_in_customer(page, partner, org, "org-admin")
    # Then their own tabs are shown, Wallet current, and the header says who they are and their organization
    assert tabs(page) == CUSTOMER_TABS
    expect(page.get_by_role("link", name="Wallet", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("banner")).to_contain_text(f"{admin} · Self Service Telecom · org-admin")
    wallet = page.get_by_role("region", name="Wallet", exact=True)
    expect(fact(wallet, "Balance")).to_have_text("SGD 0.00")
    accessible(page)
    # and before any card top-up, the Automatic top-up is the provider's
    tab(page, "Automatic top-up")
    main = page.get_by_role("main")
    expect(fact(main, "Payment method")).to_have_text("Cheque or Telegraphic Transfer")
    expect(main.get_by_text("Your provider sets your automatic top-up until you top up by card")).to_be_visible()
    expect(main.get_by_role("switch")).to_have_count(0)
    accessible(page)

    # When they open Top up by card and pay SGD 50.00 with the 3-D Secure test card (the browser does it all:
    # Stripe.js makes the card a PaymentMethod and confirms the PaymentIntent), completing the authentication
    tab(page, "Top up by card")
    page.get_by_role("heading", name="Top up by card", level=1).wait_for()
    expect(page.get_by_role("button", name="Close")).to_have_count(0)  # the form is the tab's
    started = pay_by_card(page, "50.00", trigger="20", threshold="10")
    assert started["org_id"] == org["id"]
    page.get_by_role("button", name="Complete authentication").click()
    # Then once Stripe's webhook came, the top-up succeeded and is listed, its card payment not a partner's link
    page.get_by_role("status").filter(has_text="Top-up succeeded: SGD 50.00 credited to the wallet.").wait_for(
        timeout=40_000)
    row = page.get_by_role("table", name="Online top-ups by card, newest first").get_by_role("row").nth(1)
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("Card payment")
    expect(row.get_by_role("link")).to_have_count(0)
    accessible(page)  # the card element included

    # and the Wallet is credited, with the ledger's entry
    tab(page, "Wallet")
    wallet = page.get_by_role("region", name="Wallet", exact=True)
    expect(fact(wallet, "Balance")).to_have_text("SGD 50.00")
    expect(fact(wallet, "Available")).to_have_text("SGD 50.00")
    entry = page.get_by_role("table", name="Wallet entries, newest first").get_by_role("row").nth(1)
    expect(entry).to_contain_text("Top-up")
    expect(entry).to_contain_text("SGD 50.00")
    accessible(page)

    # and the Automatic top-up is Stripe's, with the amounts chosen at the top-up read-only, and the switch on
    tab(page, "Automatic top-up")
    main = page.get_by_role("main")
    expect(fact(main, "Payment method")).to_have_text("Online payment by Stripe")
    expect(fact(main, "Trigger Amount")).to_contain_text("SGD 20.00")
    expect(fact(main, "Limit Threshold")).to_contain_text("SGD 10.00")
    expect(fact(main, "Trigger Amount")).to_contain_text("Chosen at your last online top-up by card")
    assert main.get_by_role("textbox").count() == 0 and main.get_by_role("combobox").count() == 0
    switch = main.get_by_role("switch", name="Enable/Disable Auto-trigger")
    expect(switch).to_be_checked()
    accessible(page)
    # When they switch it off
    switch.uncheck()
    # Then it is saved: said, shown off, and still off after a reload
    main.get_by_role("status").filter(has_text="Saved: the automatic top-up is off.").wait_for()
    expect(fact(main, "Auto-trigger")).to_have_text("Disabled")
    page.reload()
    expect(page.get_by_role("switch", name="Enable/Disable Auto-trigger")).not_to_be_checked()
    expect(fact(page.get_by_role("main"), "Payment method")).to_have_text("Online payment by Stripe")

    # and the History shows the top-up and the switch, each with who did it
    tab(page, "History")
    page.get_by_role("heading", name="History", level=1).wait_for()
    history = page.get_by_role("table", name=re.compile("What happened to this organization"))
    started_row = history.get_by_role("row").filter(has_text="online_top_up.started")
    expect(started_row).to_have_count(1)
    expect(started_row).to_contain_text(admin)
    expect(started_row).to_contain_text("SGD 50.00")
    switched = history.get_by_role("row").filter(has_text="payment_settings.updated").filter(has_text=admin)
    expect(switched).to_have_count(1)
    expect(switched).to_contain_text("auto_trigger: true → false")
    expect(history.get_by_role("row").filter(has_text="system:stripe").first).to_be_visible()
    accessible(page)
    assert denied(responses) == []

    # When the partner's finance admin opens the organization, in another browser
    finance = browser.new_context(base_url=console_stack.api, viewport={"width": 1280, "height": 900})
    try:
        other = finance.new_page()
        other.set_default_timeout(10_000)
        other.goto("/console/")
        other.get_by_label("Partner").fill(partner)
        other.get_by_label("Role").select_option("finance-admin")
        expect(other.get_by_label("Organization", exact=True)).to_have_count(0)  # a partner's staff name none
        other.get_by_role("button", name="Sign in").click()
        other.get_by_role("heading", name="Payments", exact=True).wait_for()
        other.get_by_role("navigation", name="Finance app").get_by_role("link", name="Organization Management").click()
        other.get_by_role("link", name="View Self Service Telecom").click()
        other.get_by_role("heading", name="Self Service Telecom", level=1).wait_for()
        # Then its Payment settings are Stripe's, with the amounts the customer chose locked, and the switch as left
        settings = other.get_by_role("form", name="Payment settings")
        expect(settings.get_by_label("Payment method")).to_have_value("stripe")
        expect(settings.get_by_label("Payment method").locator("option:checked")).to_have_text(
            "Online payment by Stripe")
        for name, value in (("Trigger Amount", "20.00"), ("Limit Threshold", "10.00")):
            expect(settings.get_by_label(name)).to_be_disabled()
            expect(settings.get_by_label(name)).to_have_value(value)
        expect(settings.get_by_text("Set during the online top-up by card").first).to_be_visible()
        expect(settings.get_by_label("Enable/Disable Auto-trigger")).not_to_be_checked()
        # and the customer's online top-up is listed
        listed = other.get_by_role("table", name="Online top-ups by card, newest first").get_by_role("row").nth(1)
        expect(listed).to_contain_text("SGD 50.00")
        expect(listed).to_contain_text("Succeeded")
    finally:
        finance.close()


def test_cu2_an_org_viewer_reads_and_is_offered_no_write(page, console_stack):
    responses = watch(page)
    # Given an organization with an invoice
    partner, api, org = partner_with_organization(console_stack, "Viewer Telecom")
    invoice = api.invoice(org, 12_000, "INV-VIEW-1")
    # When one of its staff signs in as an org-viewer
    sign_in_customer(page, partner, org, "org-viewer")
    # Then they have the reading tabs only (Top up by card is the org-admin's), Wallet first
    assert tabs(page) == ["Wallet", "Invoices", "Automatic top-up", "History"]
    expect(page.get_by_role("banner")).to_contain_text(f"viewer@{org['id']}.local · Viewer Telecom · org-viewer")
    main = page.get_by_role("main")
    expect(fact(page.get_by_role("region", name="Wallet", exact=True), "Balance")).to_have_text("SGD 0.00")
    expect(page.get_by_role("table", name="Wallet entries, newest first")).to_contain_text("No entries yet.")
    assert main.get_by_role("button").count() == 0
    accessible(page)
    # and their Invoices, searchable but with no + New Invoice and no organization to choose
    tab(page, "Invoices")
    page.get_by_role("link", name="View INV-VIEW-1").wait_for()
    expect(page.get_by_role("link", name="+ New Invoice")).to_have_count(0)
    expect(page.get_by_label("Organization name")).to_have_count(0)
    accessible(page)
    # and an invoice's screen offers no write and links to none of the partner's screens
    page.get_by_role("link", name="View INV-VIEW-1").click()
    page.get_by_role("heading", name=re.compile("^Invoice INV-VIEW-1")).wait_for()
    expect(fact(main, "Organization")).to_have_text("Viewer Telecom")
    expect(fact(main, "Organization").get_by_role("link")).to_have_count(0)
    for write in ("Issue credit note", "Void invoice…"):
        expect(page.get_by_role("button", name=write)).to_have_count(0)
    assert page.url.endswith(f"/console/invoices/{invoice['id']}")
    accessible(page)
    # and the Automatic top-up, read-only: the provider's, no switch, no card top-up offered
    tab(page, "Automatic top-up")
    expect(fact(main, "Payment method")).to_have_text("Cheque or Telegraphic Transfer")
    expect(main.get_by_text("Your provider sets your automatic top-up until you top up by card.")).to_be_visible()
    expect(main.get_by_role("switch")).to_have_count(0)
    expect(main.get_by_role("link", name="Top up by card")).to_have_count(0)
    page.get_by_role("table", name="Automatic top-up attempts, newest first").wait_for()
    accessible(page)
    # and the History
    tab(page, "History")
    history = page.get_by_role("table", name=re.compile("What happened to this organization"))
    expect(history.get_by_role("row").filter(has_text="organization.created")).to_have_count(1)
    accessible(page)

    # When they open the org-admin's tab, or a partner's screen, by its URL
    for path in ("/console/top-up", "/console/payments", f"/console/organizations/{org['id']}",
                 "/console/invoices/new"):
        page.goto(path)
        # Then they are told it is not for their role, with the way back to their Wallet
        expect(page.get_by_role("main")).to_contain_text("This page is not available to your role (org-viewer).")
        expect(page.get_by_role("link", name="Go to your Wallet")).to_be_visible()
    accessible(page)
    page.get_by_role("link", name="Go to your Wallet").click()
    page.get_by_role("heading", name="Viewer Telecom", level=1).wait_for()
    # and no screen asked the API what their role may not
    assert denied(responses) == []


def test_cu3_an_org_admin_sees_only_its_own_organizations_data(page, console_stack):
    responses = watch(page)
    # Given a partner with two organizations, each with invoices
    partner, api, mine = partner_with_organization(console_stack, "Mine Telecom")
    sibling = api.org("Sibling Telecom")
    api.invoice(mine, 10_000, "INV-MINE-1")
    api.invoice(mine, 20_000, "INV-MINE-2", issued="2026-11-02")
    theirs = api.invoice(sibling, 30_000, "INV-SIBLING-1")
    # When the first one's admin signs in and opens Invoices
    sign_in_customer(page, partner, mine, "org-admin")
    tab(page, "Invoices")
    # Then the list holds only their organization's invoices
    table = page.get_by_role("table", name=re.compile("^Invoices"))
    page.get_by_role("link", name="View INV-MINE-1").wait_for()
    expect(table.get_by_role("row")).to_have_count(3)  # the header and their two
    expect(table).not_to_contain_text("INV-SIBLING-1")
    expect(table).not_to_contain_text("Sibling Telecom")
    # and a search that names the other organization's invoice finds nothing
    page.get_by_label("Invoice number").fill("INV-SIBLING-1")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("No invoices match.").wait_for()
    # When they open the other organization's invoice by its URL
    page.goto(f"/console/invoices/{theirs['id']}")
    # Then the API's not-found is shown, as for an invoice that does not exist
    expect(page.get_by_role("alert")).to_have_text("Invoice not found.")
    expect(page.get_by_role("main")).not_to_contain_text("Sibling Telecom")
    accessible(page)
    # and the other organization's screen is not theirs to open
    page.goto(f"/console/organizations/{sibling['id']}")
    expect(page.get_by_role("main")).to_contain_text("This page is not available to your role (org-admin).")
    assert denied(responses) == []


def test_cu4_sign_in_refusals_are_shown_beside_the_field(page, console_stack):
    # Given the sign-in screen, whose Organization field appears only for a customer's roles
    page.goto("/console/")
    expect(page.get_by_label("Organization", exact=True)).to_have_count(0)
    options = page.get_by_label("Role").locator("option").all_inner_texts()
    assert any(o.startswith("org-admin") for o in options) and any(o.startswith("org-viewer") for o in options)
    page.get_by_label("Partner").fill(new_partner())
    page.get_by_label("Role").select_option("org-admin")
    expect(page.get_by_label("Organization", exact=True)).to_be_visible()
    # When an org-admin signs in without naming their organization
    page.get_by_role("button", name="Sign in").click()
    # Then the API's refusal is shown beside the Organization field, and they are still at sign-in
    page.get_by_role("alert").wait_for()
    assert "org_" in beside(page, "Organization")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    accessible(page)
    # When they name an organization that is not their partner's (another partner's)
    _, _, foreign = partner_with_organization(console_stack, "Foreign Telecom")
    page.get_by_label("Organization", exact=True).fill(foreign["id"])
    page.get_by_role("button", name="Sign in").click()
    # Then the API's not-found is shown beside it, and no session is kept
    expect(page.get_by_role("alert")).to_have_text("Organization not found.")
    assert beside(page, "Organization") == "Organization not found."
    assert page.evaluate("sessionStorage.getItem('finance.session')") is None
    # When they switch to a partner's role, the Organization field goes and sign-in works as before
    page.get_by_label("Role").select_option("finance-viewer")
    expect(page.get_by_label("Organization", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Payments", exact=True).wait_for()
