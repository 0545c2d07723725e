"""The console's shell: sign-in, the tabs, headers, accessibility, and what a 401 does.

  C1 a finance person signs in with Partner and Role and lands on Payments; the tabs are the articles' words;
  C2 every console answer carries the CSP (no inline script, no eval), nosniff, and no framing;
  C3 a 401 from the API (a token that expired or was refused) returns to sign-in;
  C4 the screens pass axe-core with no serious or critical violation, and are usable by keyboard alone.
"""

from __future__ import annotations

import requests

from tests.browser.console import accessible, sign_in


def test_c1_sign_in_lands_on_payments_with_the_articles_tabs(page):
    # Given the console's first screen
    page.goto("/console/")
    accessible(page)
    # When a finance admin signs in
    sign_in(page)
    # Then the tabs are the articles' words, Payments current, and the admin may record a payment
    tabs = page.get_by_role("navigation", name="Finance app").get_by_role("link")
    assert tabs.all_inner_texts() == ["Payments", "Organization Management", "Invoices", "Reports", "Partner settings"]
    assert page.get_by_role("link", name="Payments").get_attribute("aria-current") == "page"
    assert page.get_by_role("link", name="+ New Payment").is_visible()
    accessible(page)


def test_c1_a_viewer_is_not_offered_a_write(page):
    # Given a finance viewer signed in
    sign_in(page, role="finance-viewer")
    # Then no "+ New Payment" is offered
    assert page.get_by_role("link", name="+ New Payment").count() == 0


def test_c2_console_answers_carry_the_security_headers(console_stack):
    # Given the console's page, a deep link and a script
    for path in ("/console/", "/console/payments/anything", "/console/config.json"):
        res = requests.get(console_stack.api + path, timeout=10)
        # Then each is served with the CSP and the other headers
        csp = res.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
        assert "frame-ancestors 'none'" in csp
        assert res.headers["X-Content-Type-Options"] == "nosniff"


def test_c3_a_refused_token_returns_to_sign_in(page):
    # Given a signed-in person whose token the API no longer accepts
    sign_in(page)
    page.evaluate("sessionStorage.setItem('finance.session', sessionStorage.getItem('finance.session') + 'x')")
    # When the next screen asks the API (the Invoices tab reads its list)
    page.get_by_role("link", name="Invoices").click()
    # Then the console shows sign-in again, saying why
    page.get_by_role("button", name="Sign in").wait_for()
    assert page.get_by_text("Your session has ended").is_visible()


def test_c4_keyboard_reaches_the_tabs_with_visible_focus(page):
    # Given a signed-in person
    sign_in(page)
    # When they press Tab from the top of the page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    # Then focus is on a tab, and it shows (an outline)
    assert page.evaluate("document.activeElement.textContent") == "Organization Management"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
