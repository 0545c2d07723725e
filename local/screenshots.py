"""Screenshots of each console screen on the demo data, for docs/console.md and the README:
`.venv/bin/python -m local.screenshots` (the console built: `make console`; Chromium installed: `make chromium`).
Starts its own stack on free ports, signs in as ptn_demo's finance-admin, then as the org-admin of its demo
organization Acme Telecom (a customer's own view: it tops Acme up by card in that throwaway stack, so the Automatic
top-up shows Stripe's), and writes docs/console/*.png. For the Partner settings tab it sets a daily limit and
registers two webhook endpoints (a receiver it runs on 127.0.0.1: one URL answers 200, the other 500); for the
guardrails it makes an organization whose master account is short fail once with one failure allowed (the daily
sweep invoked for a date), so its settings show the switch-off, and the delivery log a notice of it to each
endpoint."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from local.auth import mint
from local.browser import launch
from local.dynamodb import client
from local.process import StackProcess, start_stack

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
            partner_view(page, stack, api)
            customer_view(browser, stack.api, org["id"])
            browser.close()
    finally:
        stack.stop()


class _Answer(BaseHTTPRequestHandler):
    """A partner's receiver: /ok answers 200, anything else 500."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def partner_view(page: Any, stack: StackProcess, api: requests.Session) -> None:
    """Partner settings (a daily limit, two endpoints, the secret shown once), the delivery log, and an organization
    whose automatic top-up the system switched off."""
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{receiver.server_address[1]}"
    try:
        def send(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            res = api.request(method, f"{stack.api}{path}", json=body, timeout=10)
            assert res.ok, res.text
            return dict(res.json())

        send("PUT", "/partners/ptn_demo/auto-credit-limits/SGD", {"daily_limit": 500_000})
        send("POST", "/partners/ptn_demo/webhook-endpoints", {"url": f"{base}/down",
                                                              "events": ["wallet.low_balance", "auto_top_up.failed"]})
        org = send("POST", "/organizations", {"name": "Orbit Mobile", "currency": "SGD"})
        send("PUT", f"/organizations/{org['id']}/payment-settings", {
            "method": "master_account", "trigger_amount": 5_000, "limit_threshold": 0, "auto_trigger": True,
            "max_consecutive_failures": 1})
        page.goto("/console/partner")
        form = page.get_by_role("form", name="New webhook endpoint")
        form.get_by_label("URL").fill(f"{base}/ok")
        for notice in ("A wallet fell to or below", "Automatic top-up: failed", "Automatic top-up: switched off"):
            form.get_by_label(notice).check()
        form.get_by_role("button", name="Add endpoint").click()
        page.get_by_role("region", name=re.compile("Signing secret")).wait_for()
        page.screenshot(path=str(OUT / "partner.png"), full_page=True)
        print("docs/console/partner.png")
        # the daily run, for a date of its own: the partner's master wallet has no SGD, the one failure allowed
        event = json.loads((ROOT / "events" / "sweep" / "scheduled.json").read_text())
        event["time"] = "2026-12-01T01:00:00Z"
        client(stack.lambda_url, "lambda").invoke(FunctionName="SweepFunction", Payload=json.dumps(event))
        for _ in range(100):
            settings = api.get(f"{stack.api}/organizations/{org['id']}/payment-settings", timeout=10).json()
            deliveries = api.get(f"{stack.api}/partners/ptn_demo/webhook-deliveries", timeout=10).json()["items"]
            if settings["disabled_reason"] and len(deliveries) >= 3 and all(d["attempts"] for d in deliveries):
                break
            time.sleep(0.2)
        page.goto("/console/partner/deliveries")
        page.get_by_role("table", name="Deliveries, newest first").wait_for()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "deliveries.png"), full_page=True)
        print("docs/console/deliveries.png")
        page.goto(f"/console/organizations/{org['id']}")
        page.get_by_role("table", name="Automatic top-up attempts, newest first").get_by_text("Failed").wait_for()
        page.wait_for_load_state("networkidle")
        settings_and_attempts = page.locator("section:has(#settings-title), section:has(#attempts-title)")
        page.get_by_role("region", name="Payment settings").screenshot(path=str(OUT / "guardrails.png"))
        print("docs/console/guardrails.png")
        settings_and_attempts.last.screenshot(path=str(OUT / "attempts.png"))
        print("docs/console/attempts.png")
    finally:
        receiver.shutdown()
        receiver.server_close()


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
