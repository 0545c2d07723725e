"""The automatic top-up's guardrails in the console (issue 30, the console's part): the Payment settings' Top-up
mode, Target balance, Monthly cap and Max consecutive failures; the switch-off after consecutive failures and
switching back on; every attempt's reason in words.

  G1 a finance admin saves Top-up mode "Up to a target balance" with its Target balance, a Monthly cap and Max
     consecutive failures, read back after a reload (the History says each change); the API's refusals (a target not
     above the threshold, a cap of zero, 11 failures allowed) are shown beside their fields and nothing is saved; the
     form is used with the keyboard alone;
  G2 after the daily run failed as many times in a row as allowed (the master account short, then its daily limit
     reached), the settings say prominently that the system switched the automatic top-up off and how to switch it
     back on; each failed attempt says why in words, with its amount and currency; switching Auto-trigger on and
     saving clears it; a finance viewer reads the same state with no control; the customer's own staff see it, and
     the new fields, read-only on their Automatic top-up tab;
  G3 the online top-up by card takes Top-up mode and Target balance: the API's refusal of a target not above the
     threshold is shown beside Target balance before any card is charged; a Stripe organization's mode and target
     are locked in the settings like its amounts;
  every screen passes axe-core (no serious or critical violation).
"""

from __future__ import annotations

import datetime
import random
import re
from typing import Any

import requests
from playwright.sync_api import expect

from local.auth import mint
from tests.browser.console import Api, accessible, beside, fact, sign_in, writes
from tests.browser.test_customer import sign_in_customer
from tests.browser.test_organizations import create_organization, top_up_by_card, unique
from tests.conftest import new_partner
from tests.e2e.conftest import invoke_sweep, wait_for


def open_organization(page: Any, org: dict[str, Any]) -> None:
    page.goto(f"/console/organizations/{org['id']}")
    page.get_by_role("heading", name=org["name"], level=1, exact=True).wait_for()


def business_days(n: int) -> list[str]:
    """`n` consecutive business dates of their own (the session's stack is shared: another test picks others)."""
    start = datetime.date(2031, 1, 1) + datetime.timedelta(days=random.randrange(0, 3000))
    return [(start + datetime.timedelta(days=i)).isoformat() for i in range(n)]


def test_g1_guardrails_are_saved_and_the_apis_refusals_shown_beside_their_fields(page, console_stack):
    # Given a finance admin on a new organization's screen
    partner = sign_in(page)
    create_organization(page, unique("Guard Co"))
    settings = page.get_by_role("form", name="Payment settings")
    # and the defaults a new organization has: fixed amount, no cap, 3 failures allowed, none counted
    expect(settings.get_by_label("Top-up mode")).to_have_value("fixed")
    expect(settings.get_by_label("Target balance")).to_have_count(0)  # asked for in target mode only
    expect(settings.get_by_label("Monthly cap")).to_have_value("")
    expect(settings.get_by_label("Max consecutive failures")).to_have_value("3")
    expect(settings.get_by_text("Failed so far: 0.")).to_be_visible()
    accessible(page)

    # When they choose up to a target balance with the keyboard alone: the mode, then each field in order
    settings.get_by_label("Top-up mode").focus()
    page.keyboard.press("ArrowDown")  # "Up to a target balance"
    expect(settings.get_by_label("Top-up mode")).to_have_value("target")
    page.keyboard.press("Tab")  # Trigger Amount: not used in target mode
    page.keyboard.press("Tab")
    expect(settings.get_by_label("Target balance")).to_be_focused()
    page.keyboard.type("100")  # not above the threshold below
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("100")
    page.keyboard.press("Tab")
    page.keyboard.type("0")  # Monthly cap: must be above zero
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("11")  # Max consecutive failures: 1 to 10
    page.keyboard.press("Enter")
    # Then the API's refusals are shown beside the cap and the failures allowed, nothing saved
    settings.get_by_role("alert").wait_for()
    assert beside(page, "Monthly cap") and beside(page, "Max consecutive failures")
    accessible(page)
    # When those are put right, the API's refusal of the target (a rule across fields) is beside Target balance
    settings.get_by_label("Monthly cap").fill("2,000")
    settings.get_by_label("Max consecutive failures").fill("5")
    settings.get_by_role("button", name="Save").click()
    expect(settings.get_by_label("Monthly cap")).not_to_have_attribute("aria-invalid", "true")
    assert "target_balance must exceed limit_threshold" in beside(page, "Target balance")
    # and nothing of it was saved
    api = Api(console_stack, partner)
    org_id = page.url.rsplit("/", 1)[1]
    stored = api.get(f"/organizations/{org_id}/payment-settings")
    assert (stored["top_up_mode"], stored["target_balance"], stored["monthly_cap"],
            stored["max_consecutive_failures"]) == ("fixed", None, None, 3)

    # When the target is above the threshold, and they save
    settings.get_by_label("Target balance").fill("500")
    settings.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Payment settings saved.").wait_for()
    # Then after a reload the settings are the saved ones
    page.reload()
    settings = page.get_by_role("form", name="Payment settings")
    expect(settings.get_by_label("Top-up mode")).to_have_value("target")
    expect(settings.get_by_label("Target balance")).to_have_value("500.00")
    expect(settings.get_by_label("Limit Threshold")).to_have_value("100.00")
    expect(settings.get_by_label("Monthly cap")).to_have_value("2000.00")
    expect(settings.get_by_label("Max consecutive failures")).to_have_value("5")
    # and the History has each change, money read as money
    history = page.get_by_role("table", name=re.compile("What happened to this organization"))
    row = history.get_by_role("row").filter(has_text="payment_settings.updated").first
    for text in ("top_up_mode: fixed → target", "target_balance: — → SGD 500.00", "monthly_cap: — → SGD 2,000.00",
                 "max_consecutive_failures: 3 → 5"):
        expect(row).to_contain_text(text)
    # When the cap is emptied (no cap) and the mode back to a fixed amount
    settings.get_by_label("Monthly cap").fill("")
    settings.get_by_label("Top-up mode").select_option("fixed")
    settings.get_by_label("Trigger Amount").fill("50")
    settings.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Payment settings saved.").wait_for()
    stored = api.get(f"/organizations/{org_id}/payment-settings")
    assert (stored["top_up_mode"], stored["monthly_cap"], stored["trigger_amount"]) == ("fixed", None, 5_000)
    accessible(page)


def test_g2_switched_off_after_consecutive_failures_and_switched_back_on(page, browser, console_stack):
    # Given an organization topped up from its partner's master account, two failures allowed in a row, its wallet
    # at its threshold; the partner's master wallet empty in SGD
    partner = new_partner()
    api = Api(console_stack, partner)
    org = api.org(unique("Master Co"))
    api.settings(org, method="master_account", trigger_amount=5_000, limit_threshold=0, auto_trigger=True,
                 max_consecutive_failures=2)
    first, second = business_days(2)
    # When the daily run finds the master wallet short
    invoke_sweep(console_stack, f"{first}T01:00:00Z")
    wait_for(lambda: [a for a in api.get(f"/organizations/{org['id']}/auto-top-ups")["items"]
                      if a["status"] == "failed"])
    # and, the next day, the master wallet funded but the partner's daily limit too low for the top-up
    platform = {"Authorization": f"Bearer {mint('ops@test.local', partner, ['platform-admin'])}"}
    credited = requests.post(f"{console_stack.api}/partners/{partner}/wallet/credits", headers=platform | {
        "Idempotency-Key": f"fund-{partner}"}, json={"amount": 100_000, "currency": "SGD", "reference": "fund"},
        timeout=10)
    assert credited.status_code in (200, 201), credited.text
    api.put(f"/partners/{partner}/auto-credit-limits/SGD", {"daily_limit": 1_000})
    invoke_sweep(console_stack, f"{second}T01:00:00Z")
    wait_for(lambda: api.get(f"/organizations/{org['id']}/payment-settings")["disabled_reason"])

    # Then its screen says the system switched the automatic top-up off, and how to switch it back on
    sign_in(page, partner)
    open_organization(page, org)
    stopped = page.get_by_role("region", name="Automatic top-up switched off after 2 failed attempts in a row")
    expect(stopped).to_be_visible()
    expect(stopped).to_contain_text("switching it on again clears the count")
    settings = page.get_by_role("form", name="Payment settings")
    expect(settings.get_by_label("Enable/Disable Auto-trigger")).not_to_be_checked()
    expect(settings.get_by_text("Failed so far: 2.")).to_be_visible()
    # and each failed attempt says why, in words, with its amount in the organization's currency
    attempts = page.get_by_role("table", name="Automatic top-up attempts, newest first")
    newest, older = attempts.get_by_role("row").nth(1), attempts.get_by_role("row").nth(2)
    for row, day, reason in ((newest, second, "The partner's daily auto-credit limit is reached"),
                             (older, first, "The master account's wallet is short")):
        for text in (day, "Issue from your master account", "SGD 50.00", "Failed", reason):
            expect(row).to_contain_text(text)
    # and the History says the system did it
    history = page.get_by_role("table", name=re.compile("What happened to this organization"))
    switched = history.get_by_role("row").filter(has_text="disabled_reason: — → consecutive_failures")
    expect(switched).to_contain_text("system:auto-top-up")
    accessible(page)

    # When a finance viewer opens it: the same state, no control
    viewer = browser.new_context(base_url=console_stack.api, viewport={"width": 1280, "height": 900})
    try:
        tab = viewer.new_page()
        tab.set_default_timeout(10_000)
        sign_in(tab, partner, role="finance-viewer")
        open_organization(tab, org)
        expect(tab.get_by_role("region", name=re.compile("Automatic top-up switched off"))).to_contain_text(
            "A finance admin switches Auto-trigger on again")
        for term, value in (("Auto-trigger", "Disabled by the system after consecutive failures"),
                            ("Consecutive failures", "2"), ("Max consecutive failures", "2"),
                            ("Top-up mode", "Fixed amount"), ("Monthly cap", "None")):
            expect(fact(tab, term)).to_have_text(value)
        assert tab.get_by_role("main").get_by_role("button").count() == 0
        assert tab.get_by_role("main").locator("form, input, select, textarea").count() == 0
        accessible(tab)
    finally:
        viewer.close()

    # and the customer's own viewer sees it read-only on their Automatic top-up tab
    customer = browser.new_context(base_url=console_stack.api, viewport={"width": 1280, "height": 900})
    try:
        tab = customer.new_page()
        tab.set_default_timeout(10_000)
        sign_in_customer(tab, partner, org, "org-viewer")
        tab.get_by_role("navigation", name="Finance app").get_by_role("link", name="Automatic top-up").click()
        expect(tab.get_by_role("region", name=re.compile("Automatic top-up switched off"))).to_contain_text(
            "Your provider switches it on again.")
        for term, value in (("Top-up mode", "Fixed amount"), ("Monthly cap", "None"),
                            ("Max consecutive failures", "2"), ("Consecutive failures", "2")):
            expect(fact(tab, term)).to_have_text(value)
        row = tab.get_by_role("table", name="Automatic top-up attempts, newest first").get_by_role("row").nth(1)
        expect(row).to_contain_text("The partner's daily auto-credit limit is reached")
        accessible(tab)
    finally:
        customer.close()

    # When the finance admin switches Auto-trigger on again and saves
    sent = writes(page)
    settings.get_by_label("Enable/Disable Auto-trigger").check()
    settings.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Payment settings saved.").wait_for()
    # Then the switch-off is gone, and the count cleared
    expect(page.get_by_role("region", name=re.compile("Automatic top-up switched off"))).to_have_count(0)
    expect(settings.get_by_text("Failed so far: 0.")).to_be_visible()
    stored = api.get(f"/organizations/{org['id']}/payment-settings")
    assert (stored["auto_trigger"], stored["consecutive_failures"], stored["disabled_reason"]) == (True, 0, None)
    assert [w.split(" ")[0] for w in sent] == ["PUT"]


def test_g3_the_online_top_up_takes_a_target_and_stripe_locks_mode_and_target(page):
    # Given an organization's card top-up form
    sign_in(page)
    create_organization(page, unique("Target Card Co"))
    page.get_by_role("button", name="Top up by card").click()
    form = page.get_by_role("form", name="Online top-up by card")
    form.get_by_role("group", name="Card").get_by_role("textbox", name="number").wait_for()
    # When they choose up to a target balance not above the threshold, and pay
    form.get_by_label("Top-up amount").fill("50")
    form.get_by_label("Top-up mode").select_option("target")
    form.get_by_label("Limit Threshold").fill("100")
    form.get_by_label("Target balance").fill("100")
    form.get_by_role("button", name="Pay by card").click()
    # Then the API's refusal is beside Target balance, and the Trigger Amount (unused: empty is 0) is not refused
    form.get_by_role("alert").wait_for()
    assert "target_balance must exceed limit_threshold" in beside(page, "Target balance")
    expect(form.get_by_label("Trigger Amount")).not_to_have_attribute("aria-invalid", "true")
    accessible(page)
    # When the target is above it, with a card
    form.get_by_role("button", name="Close").click()
    top_up_by_card(page, "50.00", trigger="0", threshold="10", mode="target", target="80")
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_role("status").filter(has_text="Top-up succeeded").wait_for(timeout=40_000)
    # Then the settings are Stripe's: the mode and the target locked like the amounts
    settings = page.get_by_role("form", name="Payment settings")
    expect(settings.get_by_label("Payment method")).to_have_value("stripe")
    for name, value in (("Top-up mode", "target"), ("Target balance", "80.00"), ("Limit Threshold", "10.00")):
        expect(settings.get_by_label(name)).to_be_disabled()
        expect(settings.get_by_label(name)).to_have_value(value)
    # and the monthly cap and the failures allowed may still be changed
    settings.get_by_label("Monthly cap").fill("300")
    settings.get_by_role("button", name="Save").click()
    page.get_by_role("status").filter(has_text="Payment settings saved.").wait_for()
    expect(settings.get_by_label("Monthly cap")).to_have_value("300.00")
    row = page.get_by_role("table", name="Online top-ups by card, newest first").get_by_role("row").nth(1)
    expect(row).to_contain_text("Up to SGD 80.00")
    accessible(page)
