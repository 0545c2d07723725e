"""Steps a finance person takes in the console, by the controls' accessible names (the help articles' words)."""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from local.auth import mint
from local.process import StackProcess
from tests.conftest import new_partner
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE

_axe = Axe()


def sign_in(page: Any, partner: str | None = None, role: str = "finance-admin") -> str:
    """Open the console and sign in as `role` of a new partner (or `partner`); lands on Payments."""
    partner = partner or new_partner()
    page.goto("/console/")
    page.get_by_label("Partner").fill(partner)
    page.get_by_label("Role").select_option(role)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Payments", exact=True).wait_for()
    return partner


def accessible(page: Any) -> None:
    """axe-core's rules on the page as it is: no serious or critical violation."""
    results = _axe.run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], bad


class Api:
    """The finance API with a finance-admin token of `partner`: a test's Given steps that are not its subject."""

    def __init__(self, stack: StackProcess, partner: str) -> None:
        self.base = stack.api
        self.headers = {"Authorization": f"Bearer {mint('setup@test.local', partner, ['finance-admin'])}"}

    def get(self, path: str, **query: Any) -> Any:
        res = requests.get(self.base + path, headers=self.headers, params=query, timeout=10)
        assert res.ok, res.text
        return res.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        res = requests.post(self.base + path, headers=self.headers | {"Idempotency-Key": str(uuid.uuid4())},
                            json=body, timeout=10)
        assert res.status_code in (200, 201), res.text
        return res.json()

    def put(self, path: str, body: dict[str, Any]) -> Any:
        res = requests.put(self.base + path, headers=self.headers, json=body, timeout=10)
        assert res.status_code == 200, res.text
        return res.json()

    def settings(self, org: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """The organization's payment settings with `fields` changed (the others as they are)."""
        current = self.get(f"/organizations/{org['id']}/payment-settings")
        body = {k: current[k] for k in ("method", "trigger_amount", "limit_threshold", "auto_trigger")} | fields
        return self.put(f"/organizations/{org['id']}/payment-settings", body)

    def org(self, name: str, currency: str = "SGD") -> dict[str, Any]:
        return self.post("/organizations", {"name": name, "currency": currency})

    def invoice(self, org: dict[str, Any], amount: int, number: str, issued: str = "2026-11-01",
                type: str = "standard") -> dict[str, Any]:
        return self.post("/invoices", {"org_id": org["id"], "type": type, "amount": amount,
                                       "currency": org["currency"], "issued_date": issued, "number": number})

    def pay(self, org: dict[str, Any], amount: int, invoice: dict[str, Any], allocate: int) -> dict[str, Any]:
        payment = self.post("/payments", {"org_id": org["id"], "amount": amount, "currency": org["currency"],
                                          "received_date": datetime.date.today().isoformat(),
                                          "method": "telegraphic_transfer", "reference": f"TT-{uuid.uuid4().hex[:6]}"})
        return self.post(f"/payments/{payment['id']}/allocations",
                         {"allocations": [{"invoice_id": invoice["id"], "amount": allocate}]})

    def payment(self, org: dict[str, Any] | None, amount: int, reference: str, currency: str = "SGD") -> dict[str, Any]:
        return self.post("/payments", {"org_id": org["id"] if org else None, "amount": amount,
                                       "currency": org["currency"] if org else currency,
                                       "received_date": datetime.datetime.now(datetime.UTC).date().isoformat(),
                                       "method": "cheque", "reference": reference})


def beside(page: Any, label: str) -> str:
    """The message shown under the field `label` and read with it (its aria-describedby's error)."""
    field = page.get_by_label(label, exact=True)
    expect(field).to_have_attribute("aria-invalid", "true")
    ids = (field.get_attribute("aria-describedby") or "").split()
    return " ".join(page.locator(f"[id='{i}']").inner_text() for i in ids if i.endswith("-error"))


def fact(page: Any, term: str) -> Any:
    """The value of a detail's fact `term` (a <dd> after its <dt>)."""
    term_cell = page.locator("dl.facts dt", has_text=re.compile(f"^{re.escape(term)}$"))
    return term_cell.locator("xpath=following-sibling::dd[1]")


def writes(page: Any) -> list[str]:
    """Every request to the API that is not a read, from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(f"{r.method} {r.url}") if r.method != "GET" and "/local/" not in r.url
            else None)
    return seen


def pay_by_card(page: Any, amount: str, trigger: str, threshold: str,
                card_number: str = CARD_ALWAYS_AUTHENTICATE, mode: str = "fixed",
                target: str | None = None) -> dict[str, Any]:
    """The online top-up form filled, a card typed into Stripe.js's card element and Pay by card clicked: Stripe.js
    (locally, the local Stripe's stand-in) makes the card a PaymentMethod and confirms the PaymentIntent with the
    publishable key, as in production. `mode` "target" with `target`: up to a target balance. Answers the API's
    online top-up as POST gave it."""
    form = page.get_by_role("form", name="Online top-up by card")
    card = form.get_by_role("group", name="Card")
    try:  # the screen's reads and Stripe.js first: on a machine busy with the whole suite, more than 10 s at times
        card.get_by_role("textbox", name="number").wait_for(timeout=30_000)
    except PlaywrightTimeout:
        alerts = page.get_by_role("alert").all_inner_texts()
        raise AssertionError(f"the card form never showed its card field; the screen's alerts: {alerts}") from None
    # the amount, the later automatic top-up's amounts, and a card typed into Stripe.js's card element
    form.get_by_label("Top-up amount").fill(amount)
    form.get_by_label("Trigger Amount").fill(trigger)
    form.get_by_label("Limit Threshold").fill(threshold)
    form.get_by_label("Top-up mode").select_option(mode)
    if target is not None:
        form.get_by_label("Target balance").fill(target)
    form.get_by_label("Enable/Disable Auto-trigger").check()
    card.get_by_role("textbox", name="number").fill(card_number)
    card.get_by_role("textbox", name="exp_month").fill("12")
    card.get_by_role("textbox", name="exp_year").fill("31")
    card.get_by_role("textbox", name="cvc").fill("123")
    card.get_by_role("textbox", name="postal_code").fill("12345")
    with page.expect_response(lambda r: r.url.endswith("/online-top-ups") and r.request.method == "POST") as sent:
        form.get_by_role("button", name="Pay by card").click()
    started: dict[str, Any] = sent.value.json()
    assert sent.value.status == 201 and started["status"] == "pending" and started["client_secret"]
    return started
