"""Screenshots of each console screen on the demo data, for docs/console.md and the README:
`.venv/bin/python -m local.screenshots` (the console built: `make console`; Chromium installed: `make chromium`).
Starts its own stack on free ports, signs in as ptn_demo's finance-admin, and writes docs/console/*.png."""

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
                 ("invoice", f"/console/invoices/{invoice['id']}")]
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
            browser.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
