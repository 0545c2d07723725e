"""The Organization Management tab, walked as a finance person in a real browser.

  O1 a finance admin creates an organization (+ New Organization: Name, Currency), finds it by the start of its
     name, and a second one with the same name (any case) is refused with the API's message beside the form;
  O2 Payment settings (Payment method, Trigger Amount, Limit Threshold, Enable/Disable Auto-trigger) are saved
     and read back after a reload; the History shows the change and who made it;
  O3 an online top-up by card through Stripe.js (locally, the local Stripe's stand-in, which makes the typed card a
     PaymentMethod and confirms the PaymentIntent with the publishable key, as Stripe.js does) ends `succeeded`,
     credits the wallet, and then the Stripe fields are shown locked as the help article says; one whose 3-D Secure
     fails, and one the issuer declines, are said next to the form (Stripe's message and code) and credit nothing;
  O4 a withdrawal of unspent credit moves the balance, the ledger and the withdrawals list; one beyond what the
     wallet holds is refused with the API's message;
  O5 a hostile organization name is shown as text, never as markup;
  O6 a finance viewer sees the same screens and is offered no write;
  O7 the list pages with the API's cursors (kept in the URL);
  every screen passes axe-core (no serious or critical violation).
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import requests
from playwright.sync_api import expect

from local.auth import mint
from tests.browser.console import accessible, pay_by_card, sign_in
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE

CARD_DECLINED = "4000000000000002"  # Stripe's generic decline: card_declined, decline_code generic_decline


def open_organizations(page: Any) -> None:
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Organization Management").click()
    page.get_by_role("heading", name="Organizations", level=1).wait_for()


def create_organization(page: Any, name: str, currency: str = "SGD") -> None:
    """+ New Organization from the list; lands on the new organization."""
    open_organizations(page)
    page.get_by_role("button", name="+ New Organization").click()
    form = page.get_by_role("form", name="New Organization")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Currency").select_option(currency)
    form.get_by_role("button", name="Create organization").click()
    page.get_by_role("heading", name=name, level=1, exact=True).wait_for()


def unique(name: str) -> str:
    return f"{name} {secrets.token_hex(3)}"


def api_token(partner: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(f'admin@{partner}.local', partner, ['finance-admin'])}"}


def top_up_by_card(page: Any, amount: str, trigger: str, threshold: str,
                   card_number: str = CARD_ALWAYS_AUTHENTICATE, mode: str = "fixed",
                   target: str | None = None) -> dict[str, Any]:
    """The organization's Top up by card opened, then the form paid (tests/browser/console.py's `pay_by_card`)."""
    page.get_by_role("button", name="Top up by card").click()
    return pay_by_card(page, amount, trigger, threshold, card_number, mode, target)


def online_top_up(api: str, partner: str, org_id: str, top_up_id: str, until: str,
                  timeout: float = 30) -> dict[str, Any]:
    """The organization's online top-up as the API lists it, once its status is `until` (Stripe's webhook came)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = requests.get(f"{api}/organizations/{org_id}/online-top-ups", headers=api_token(partner),
                              timeout=10)
        assert listed.status_code == 200, listed.text
        found: dict[str, Any] = next(t for t in listed.json()["items"] if t["id"] == top_up_id)
        if found["status"] == until or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def test_o1_create_an_organization_find_it_and_a_duplicate_name_is_refused(page):
    # Given a finance admin on the Organization Management tab
    sign_in(page)
    open_organizations(page)
    accessible(page)
    # When they create an organization with a name and a currency
    create_organization(page, "Acme Pte Ltd", "SGD")
    # Then its screen shows it, with an empty wallet in its currency
    main = page.get_by_role("main")
    expect(main.get_by_text("SGD", exact=True).first).to_be_visible()
    expect(page.get_by_role("region", name="Wallet", exact=True).get_by_text("SGD 0.00").first).to_be_visible()
    # and the list has it, with a link to it by its name
    open_organizations(page)
    expect(page.get_by_role("link", name="View Acme Pte Ltd")).to_be_visible()

    # When they create another with the same name in other letters' case
    page.get_by_role("button", name="+ New Organization").click()
    form = page.get_by_role("form", name="New Organization")
    form.get_by_label("Name").fill("ACME pte ltd")
    form.get_by_role("button", name="Create organization").click()
    # Then the API's refusal is shown next to the form, and beside the Name field
    refusal = form.get_by_role("alert")
    refusal.wait_for()
    assert "already exists" in refusal.inner_text()
    name = form.get_by_label("Name")
    assert name.get_attribute("aria-invalid") == "true"
    assert form.locator(".field-error").inner_text() == refusal.inner_text()
    accessible(page)

    # When they search by the start of the name
    search = page.get_by_role("search", name="Search organizations")
    search.get_by_label("Name starts with").fill("acm")
    search.get_by_role("button", name="Search", exact=True).click()
    # Then the URL keeps the search, and the list has the organization
    page.wait_for_url(re.compile(r"/console/organizations\?name=acm$"))
    expect(page.get_by_role("link", name="View Acme Pte Ltd")).to_be_visible()
    # and a name nobody starts with lists nothing
    search.get_by_label("Name starts with").fill("Zeta")
    search.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("No organization's name starts with this.").wait_for()
    assert page.get_by_role("link", name="View Acme Pte Ltd").count() == 0


def test_o2_payment_settings_are_saved_and_the_history_says_who_changed_them(page):
    # Given a new organization's screen (default settings: cheque or TT, nothing, auto-trigger off)
    partner = sign_in(page)
    create_organization(page, unique("Settings Co"))
    settings = page.get_by_role("form", name="Payment settings")
    expect(settings.get_by_label("Payment method")).to_have_value("cheque_or_tt")
    # Stripe is not offered: it appears only once the customer tops up by card
    assert settings.get_by_label("Payment method").locator("option").all_inner_texts() == [
        "Cheque or Telegraphic Transfer", "Issue from your master account"]
    accessible(page)
    # When they choose the master account, amounts and the auto-trigger, and save
    settings.get_by_label("Payment method").select_option(label="Issue from your master account")
    settings.get_by_label("Trigger Amount").fill("500")
    settings.get_by_label("Limit Threshold").fill("100.50")
    settings.get_by_label("Enable/Disable Auto-trigger").check()
    settings.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Payment settings saved.").wait_for()
    # Then after a reload the settings are the saved ones
    page.reload()
    settings = page.get_by_role("form", name="Payment settings")
    expect(settings.get_by_label("Payment method")).to_have_value("master_account")
    expect(settings.get_by_label("Trigger Amount")).to_have_value("500.00")
    expect(settings.get_by_label("Limit Threshold")).to_have_value("100.50")
    expect(settings.get_by_label("Enable/Disable Auto-trigger")).to_be_checked()
    # and the History has the change, who made it and each field from -> to
    history = page.get_by_role("table", name=re.compile("What happened to this organization"))
    row = history.get_by_role("row").filter(has_text="payment_settings.updated")
    expect(row).to_have_count(1)
    assert f"admin@{partner}.local" in row.inner_text()
    assert "trigger_amount: SGD 0.00 → SGD 500.00" in row.inner_text()  # money read as money
    assert "method: cheque_or_tt → master_account" in row.inner_text()

    # When auto-trigger is on with no trigger amount, the API refuses it, and the form says why
    settings.get_by_label("Trigger Amount").fill("0")
    settings.get_by_role("button", name="Save").click()
    refusal = settings.get_by_role("alert")
    refusal.wait_for()
    assert refusal.inner_text().strip()
    accessible(page)


def test_o3_an_online_top_up_by_card_credits_the_wallet_and_locks_the_stripe_fields(page):
    # Given an organization's screen
    sign_in(page)
    create_organization(page, unique("Card Co"))
    stripe_calls: list[Any] = []
    page.on("request", lambda request: stripe_calls.append(request) if "/v1/" in request.url else None)
    # When they top up SGD 50.00 by card (Stripe.js: here the local Stripe's stand-in), choosing the automatic
    # top-up's amounts, and complete the 3-D Secure the card asks for (the stand-in's own question)
    started = top_up_by_card(page, "50.00", trigger="20", threshold="10")
    page.get_by_role("button", name="Complete authentication").click()
    # Then, once Stripe's webhook came, the console says the top-up succeeded and the wallet holds it
    page.get_by_role("status").filter(has_text="Top-up succeeded: SGD 50.00 credited to the wallet.").wait_for(
        timeout=40_000)
    wallet = page.get_by_role("region", name="Wallet", exact=True)
    expect(wallet.get_by_role("definition").first).to_have_text("SGD 50.00")
    top_ups = page.get_by_role("table", name="Online top-ups by card, newest first")
    expect(top_ups.get_by_role("row").nth(1)).to_contain_text("Succeeded")
    ledger = page.get_by_role("table", name="Wallet entries, newest first")
    expect(ledger.get_by_role("row").nth(1)).to_contain_text("Top-up")
    # and the browser alone paid it, as Stripe.js does: the card, the confirmation, 3-D Secure, each with the
    # publishable key and never a secret one
    intent = started["payment_intent_id"]
    assert [(r.method, r.url.split("/v1/", 1)[1]) for r in stripe_calls] == [
        ("POST", "payment_methods"), ("POST", f"payment_intents/{intent}/confirm"),
        ("POST", f"payment_intents/{intent}/_authenticate?success=true")]
    for request in stripe_calls:
        assert "key=pk_test_local" in (request.post_data or "") and "authorization" not in request.headers
    assert f"client_secret={started['client_secret']}" in (stripe_calls[1].post_data or "")
    # and the settings are Stripe's, their amounts locked with the reason beside them
    settings = page.get_by_role("form", name="Payment settings")
    expect(settings.get_by_label("Payment method")).to_have_value("stripe")
    for name, value in (("Trigger Amount", "20.00"), ("Limit Threshold", "10.00")):
        expect(settings.get_by_label(name)).to_be_disabled()
        expect(settings.get_by_label(name)).to_have_value(value)
    expect(settings.get_by_text("Set during the online top-up by card").first).to_be_visible()
    expect(settings.get_by_label("Enable/Disable Auto-trigger")).to_be_checked()
    # When they switch auto-trigger off (allowed for Stripe), it is saved
    settings.get_by_label("Enable/Disable Auto-trigger").uncheck()
    settings.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Payment settings saved.").wait_for()
    expect(settings.get_by_label("Payment method")).to_have_value("stripe")
    expect(settings.get_by_label("Enable/Disable Auto-trigger")).not_to_be_checked()
    # and choosing another method unlocks the amounts
    settings.get_by_label("Payment method").select_option("cheque_or_tt")
    expect(settings.get_by_label("Trigger Amount")).to_be_enabled()
    # and the History says Stripe set it
    history = page.get_by_role("table", name=re.compile("What happened to this organization"))
    expect(history.get_by_role("row").filter(has_text="system:stripe").first).to_be_visible()
    accessible(page)  # the card element (Stripe.js's fields) included


def test_o3_a_card_payment_not_completed_is_said_and_credits_nothing(page):
    # Given an organization's screen
    sign_in(page)
    create_organization(page, unique("Declined Co"))
    # When they top up by card and the card's 3-D Secure fails
    top_up_by_card(page, "30.00", trigger="20", threshold="10")
    page.get_by_role("button", name="Fail authentication").click()
    # Then the console says the payment was not completed, next to the form: Stripe.js's error, the PaymentIntent's
    # authentication failure
    form = page.get_by_role("form", name="Online top-up by card")
    expect(form.get_by_role("alert")).to_contain_text("The provided PaymentMethod has failed authentication")
    expect(form.get_by_role("alert")).to_contain_text("(payment_intent_authentication_failure)")
    # and the wallet holds nothing, the settings are unchanged
    wallet = page.get_by_role("region", name="Wallet", exact=True)
    expect(wallet.get_by_role("definition").first).to_have_text("SGD 0.00")
    expect(page.get_by_role("form", name="Payment settings").get_by_label("Payment method")).to_have_value(
        "cheque_or_tt")
    # and a new card attempt may be made from the same form
    expect(form.get_by_role("button", name="Pay by card")).to_be_enabled()


def test_o3_a_declined_card_is_said_with_stripes_message_and_credits_nothing(page, console_stack):
    # Given an organization's screen
    partner = sign_in(page)
    create_organization(page, unique("Declined Card Co"))
    org_id = page.url.rsplit("/", 1)[1]
    # When they top up by card with a card the issuer declines (no 3-D Secure asked)
    started = top_up_by_card(page, "30.00", trigger="20", threshold="10", card_number=CARD_DECLINED)
    # Then Stripe's decline message and code are said next to the form
    form = page.get_by_role("form", name="Online top-up by card")
    expect(form.get_by_role("alert")).to_have_text("Your card was declined. (generic_decline)")
    expect(page.get_by_role("button", name="Complete authentication")).to_have_count(0)
    # and a new card attempt may be made from the same form
    expect(form.get_by_role("button", name="Pay by card")).to_be_enabled()
    accessible(page)
    # and the wallet holds nothing, the settings are unchanged
    wallet = page.get_by_role("region", name="Wallet", exact=True)
    expect(wallet.get_by_role("definition").first).to_have_text("SGD 0.00")
    expect(page.get_by_role("form", name="Payment settings").get_by_label("Payment method")).to_have_value(
        "cheque_or_tt")
    # and once Stripe's webhook came, the top-up is failed with the issuer's decline code and Stripe's message
    failed = online_top_up(console_stack.api, partner, org_id, started["id"], until="failed")
    assert (failed["status"], failed["decline_code"], failed["failure_message"], failed["payment_id"]) == (
        "failed", "generic_decline", "Your card was declined.", None)
    page.reload()
    row = page.get_by_role("table", name="Online top-ups by card, newest first").get_by_role("row").nth(1)
    for text in ("SGD 30.00", "Failed", "generic_decline", "Your card was declined."):
        expect(row).to_contain_text(text)
    expect(page.get_by_role("region", name="Wallet", exact=True).get_by_role("definition").first).to_have_text(
        "SGD 0.00")


def test_o4_a_withdrawal_moves_the_wallet_and_one_beyond_it_is_refused(page, console_stack):
    # Given an organization whose wallet holds SGD 120.00 (a transfer received and topped up into the wallet)
    partner = sign_in(page)
    name = unique("Withdraw Co")
    create_organization(page, name)
    org_id = page.url.rsplit("/", 1)[1]
    headers = api_token(partner)
    paid = requests.post(f"{console_stack.api}/payments", headers=headers, timeout=10, json={
        "org_id": org_id, "amount": 12000, "currency": "SGD", "received_date": "2026-01-05",
        "method": "telegraphic_transfer", "reference": "TT-1"})
    assert paid.status_code == 201, paid.text
    topped = requests.post(f"{console_stack.api}/payments/{paid.json()['id']}/top-ups", headers=headers,
                           json={"amount": 12000}, timeout=10)
    assert topped.status_code == 200, topped.text
    page.reload()
    wallet = page.get_by_role("region", name="Wallet", exact=True)
    wallet.get_by_text("SGD 120.00").first.wait_for()
    # When they withdraw SGD 20.00 by telegraphic transfer
    form = page.get_by_role("form", name="Withdraw from the wallet")
    form.get_by_label("Amount").fill("20")
    form.get_by_label("Method").select_option(label="Telegraphic transfer")
    form.get_by_label("Reference").fill("REFUND-TT-17")
    form.get_by_label("Remark").fill("Customer closed the account")
    form.get_by_role("button", name="Withdraw").click()
    # Then the wallet, the ledger and the withdrawals say so
    form.get_by_role("status").filter(has_text="Withdrew SGD 20.00 from the wallet.").wait_for()
    wallet.get_by_text("SGD 100.00").first.wait_for()
    withdrawals = page.get_by_role("table", name="Unspent credit paid back, newest first")
    row = withdrawals.get_by_role("row").nth(1)
    for text in ("SGD 20.00", "REFUND-TT-17", "Customer closed the account", f"admin@{partner}.local"):
        expect(row).to_contain_text(text)
    ledger = page.get_by_role("table", name="Wallet entries, newest first").get_by_role("row").nth(1)
    for text in ("Withdrawal", "SGD -20.00", "SGD 100.00"):
        expect(ledger).to_contain_text(text)
    # When they try to withdraw more than the wallet holds
    form.get_by_label("Amount").fill("1,000.00")
    form.get_by_role("button", name="Withdraw").click()
    # Then the API's refusal is shown next to the form, and nothing moved
    refusal = form.get_by_role("alert")
    refusal.wait_for()
    assert "SGD 100.00" in refusal.inner_text()
    assert wallet.get_by_text("SGD 100.00").first.is_visible()
    # and an amount that is not one is refused before anything is sent
    form.get_by_label("Amount").fill("12.345")
    form.get_by_role("button", name="Withdraw").click()
    expect(form.get_by_text("SGD has 2 decimal places")).to_be_visible()
    accessible(page)


def test_o5_a_hostile_name_is_shown_as_text(page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = f"<img src=x onerror=alert(1)> {secrets.token_hex(2)}"
    # Given an organization whose name is markup
    sign_in(page)
    create_organization(page, hostile)
    main = page.get_by_role("main")
    # Then its screen shows those characters as text, and no image was made of them
    assert main.get_by_role("heading", name=hostile, level=1).inner_text() == hostile
    assert main.locator("img").count() == 0
    # and so does the list
    open_organizations(page)
    expect(page.get_by_role("link", name=f"View {hostile}")).to_be_visible()
    expect(main.get_by_role("cell", name=hostile, exact=True)).to_be_visible()
    assert main.locator("img").count() == 0
    assert dialogs == []


def test_o6_a_viewer_sees_everything_and_is_offered_no_write(page, browser, console_stack):
    # Given an organization of a partner, made by its admin
    partner = sign_in(page)
    name = unique("Viewer Co")
    create_organization(page, name)
    # When a finance viewer of that partner opens the tab and the organization
    viewer = browser.new_context(base_url=console_stack.api, viewport={"width": 1280, "height": 900})
    try:
        tab = viewer.new_page()
        tab.set_default_timeout(10_000)
        sign_in(tab, partner=partner, role="finance-viewer")
        open_organizations(tab)
        # Then the list offers no + New Organization, only the search
        assert tab.get_by_role("button", name="+ New Organization").count() == 0
        tab.get_by_role("link", name=f"View {name}").click()
        tab.get_by_role("heading", name=name, level=1).wait_for()
        main = tab.get_by_role("main")
        main.get_by_role("region", name="Wallet", exact=True).get_by_text("SGD 0.00").first.wait_for()
        main.get_by_text("Cheque or Telegraphic Transfer").wait_for()
        # and the organization's screen has every section but no form, field or button
        for section in ("Wallet", "Ledger", "Withdrawals", "Payment settings", "Online top-ups",
                        "Automatic top-up attempts", "History"):
            expect(main.get_by_role("heading", name=section, level=2, exact=True)).to_be_visible()
        assert main.get_by_role("button").count() == 0
        assert main.locator("form, input, select, textarea").count() == 0
        accessible(tab)
    finally:
        viewer.close()


def test_o7_the_list_pages_with_the_apis_cursors(page, console_stack):
    # Given a partner with 53 organizations (one page is 50, by name)
    partner = sign_in(page)
    headers = api_token(partner)
    for n in range(53):
        made = requests.post(f"{console_stack.api}/organizations", headers=headers, timeout=10,
                             json={"name": f"Org {n:02d}", "currency": "USD"})
        assert made.status_code == 201, made.text
    open_organizations(page)
    rows = page.get_by_role("table", name="Organizations by name").get_by_role("row")
    expect(rows).to_have_count(51)  # the header and 50
    expect(rows.nth(1)).to_contain_text("Org 00")
    # When they go to the next page
    page.get_by_role("button", name="Next page").click()
    # Then the URL holds the API's cursor and the page the last three
    page.wait_for_url(re.compile(r"/console/organizations\?cursor="))
    expect(rows).to_have_count(4)
    expect(rows.nth(1)).to_contain_text("Org 50")
    assert page.get_by_role("button", name="Next page").count() == 0
    # and First page goes back
    page.get_by_role("button", name="First page").click()
    expect(rows.nth(1)).to_contain_text("Org 00")
