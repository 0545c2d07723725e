"""Screenshots of each console screen on the demo data, for docs/console.md and the README:
`.venv/bin/python -m local.screenshots` (the console built: `make console`; Chromium installed: `make chromium`).
Starts its own stack on free ports, signs in as ptn_demo's finance-admin, then as the org-admin of its demo
organization Acme Telecom (a customer's own view: it tops Acme up by card in that throwaway stack, so the Automatic
top-up shows Stripe's), and writes docs/console/*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from local.auth import mint
from local.browser import launch
from local.process import start_stack

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "console"


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    stack = start_stack(ready="Demo data for partner")
    try:
        token = mint("demo-admin@ptn_demo.local", "ptn_demo", ["finance-admin"])
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"

        def first(path: str, **match: Any) -> dict[str, Any]:
            items = api.get(f"{stack.api}{path}", timeout=10).json()["items"]
            return next(i for i in items if all(i.get(k) == v for k, v in match.items()))

        payment = first("/payments", reference="TT-2026-0001")
        org = first("/organizations", name="Acme Telecom")
        invoice = first("/invoices?org_name=Blue")
        shots = [("payments", "/console/payments"), ("new-payment", "/console/payments/new"),
                 ("payment", f"/console/payments/{payment['id']}"), ("organizations", "/console/organizations"),
                 ("organization", f"/console/organizations/{org['id']}"), ("invoices", "/console/invoices"),
                 ("invoice", f"/console/invoices/{invoice['id']}"), ("reports", "/console/reports")]
        with sync_playwright() as p:
            browser = launch(p)
            context = browser.new_context(base_url=stack.api, viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.goto("/console/")
            page.get_by_role("button", name="Sign in").wait_for()
            page.screenshot(path=str(OUT / "sign-in.png"))
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Payments", exact=True).wait_for()
            for name, path in shots:
                page.goto(path)
                page.wait_for_load_state("networkidle")
                if name == "payment":  # the invoice search of Assign & Allocate, filled in
                    page.get_by_role("button", name="Search invoices").click()
                    page.get_by_role("button", name="Assign & Allocate").wait_for()
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                print(f"docs/console/{name}.png")
            customer_view(browser, stack.api, org["id"])
            browser.close()
    finally:
        stack.stop()


# the Wallet after the card top-up, which credits it
CUSTOMER_SHOTS = [("customer-invoices", "/console/invoices"), ("customer-top-up", None),
                  ("customer-wallet", "/console/wallet"), ("customer-automatic-top-up", "/console/automatic-top-up"),
                  ("customer-history", "/console/history")]


def customer_view(browser: Any, base_url: str, org_id: str) -> None:
    """The customer's own view, signed in as Acme Telecom's org-admin in a browser context of its own."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto("/console/")
    page.get_by_label("Role").select_option("org-admin")
    page.get_by_label("Organization", exact=True).fill(org_id)
    page.screenshot(path=str(OUT / "customer-sign-in.png"))
    print("docs/console/customer-sign-in.png")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Acme Telecom", level=1).wait_for()
    for name, path in CUSTOMER_SHOTS:
        if path is None:  # Top up by card: SGD 100.00 paid with a test card, once Stripe's webhook credited it
            page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Top up by card").click()
            form = page.get_by_role("form", name="Online top-up by card")
            card = form.get_by_role("group", name="Card")
            card.get_by_role("textbox", name="number").wait_for()
            for label, value in (("Top-up amount", "100.00"), ("Trigger Amount", "50.00"),
                                 ("Limit Threshold", "20.00")):
                form.get_by_label(label).fill(value)
            for field, value in (("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "31"),
                                 ("cvc", "123"), ("postal_code", "12345")):
                card.get_by_role("textbox", name=field).fill(value)
            form.get_by_role("button", name="Pay by card").click()
            page.get_by_role("status").filter(has_text="Top-up succeeded").wait_for(timeout=40_000)
        else:
            page.goto(path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        print(f"docs/console/{name}.png")
    context.close()


if __name__ == "__main__":
    main()
