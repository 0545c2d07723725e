"""The Partner settings tab in a real browser (issue 30, the console's part): the daily auto-credit limits of the
partner's master account, its webhook endpoints, and the delivery log of its notices.

  P1 a finance admin sets a daily limit per currency with the keyboard alone, changes it, and removes it after a
     confirmation (Cancel first keeps it); an amount that is not one is refused beside the field before any request;
  P2 a finance admin adds a webhook endpoint (URL and notices chosen as checkboxes, with the keyboard): its signing
     secret is shown once with a warning and copied with Copy secret; the list never shows it, nor does a reload;
     a URL the API refuses (a private address) is refused beside URL, no notice chosen beside Notices; deleting asks
     first, then the endpoint is gone;
  P3 the delivery log: a notice to an endpoint (a receiver this test runs on 127.0.0.1) that answers 500 is pending
     with its last try, filters (endpoint, status) are kept in the URL through a reload; once its tries have ended
     (failed), Retry sends it again and the receiver gets the same event, now delivered;
  P4 a finance viewer reads the limits, endpoints and deliveries and is offered no write; a customer's staff are not
     offered the tab, and its URLs say "not available to your role" without asking the API;
  every screen passes axe-core (no serious or critical violation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from local.aws import TABLE_NAME
from local.dynamodb import client
from local.process import StackProcess
from tests.browser.console import Api, accessible, beside, sign_in, writes
from tests.browser.test_customer import sign_in_customer
from tests.conftest import new_partner
from tests.e2e.conftest import wait_for
from tests.handlers.notices_support import Receiver


def open_partner(page: Any) -> None:
    page.get_by_role("navigation", name="Finance app").get_by_role("link", name="Partner settings").click()
    page.get_by_role("heading", name="Partner settings", level=1).wait_for()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


def fail_delivery(stack: StackProcess, partner: str, delivery_id: str) -> None:
    """The delivery as its three days of tries leave it (`failed`, no next try): written in the stack's table, as the
    delivery function writes it then (a test cannot wait three days; the retries' schedule is the API's tests')."""
    db = client(stack.dynamodb)
    items = db.query(TableName=TABLE_NAME, KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                     ExpressionAttributeValues={":pk": {"S": f"WEBHOOKS#{partner}"}, ":sk": {"S": "DELIVERY#"}},
                     ConsistentRead=True)["Items"]
    [item] = [i for i in items if i["id"]["S"] == delivery_id]
    db.update_item(TableName=TABLE_NAME, Key={"pk": item["pk"], "sk": item["sk"]},
                   UpdateExpression="SET #s = :failed, next_attempt_at = :none, version = version + :one",
                   ConditionExpression="version = :v", ExpressionAttributeNames={"#s": "status"},
                   ExpressionAttributeValues={":failed": {"S": "failed"}, ":none": {"NULL": True},
                                              ":one": {"N": "1"}, ":v": item["version"]})


def test_p1_daily_limits_are_set_changed_and_removed(page):
    # Given a finance admin on the Partner settings tab
    sign_in(page)
    open_partner(page)
    limits = page.get_by_role("region", name="Daily auto-credit limits")
    table = limits.get_by_role("table", name="Daily limits by currency")
    expect(table).to_contain_text("No daily limit: automatic credits are not limited.")
    accessible(page)
    form = page.get_by_role("form", name="Set a daily limit")
    # When they type an amount that is not one
    form.get_by_label("Currency").select_option("SGD")
    form.get_by_label("Daily limit").fill("12.345")
    form.get_by_role("button", name="Set limit").click()
    # Then it is refused beside the field, before any request
    assert "SGD has 2 decimal places" in beside(page, "Daily limit")
    # When they set SGD 1,000.00 with the keyboard alone: the currency, Tab, the amount, Enter
    form.get_by_label("Currency").focus()
    page.keyboard.type("JPY")  # a select takes the typed option
    expect(form.get_by_label("Currency")).to_have_value("JPY")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("50000")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="Saved: at most JPY 50,000 a day in JPY.").wait_for()
    form.get_by_label("Currency").select_option("SGD")
    form.get_by_label("Daily limit").fill("1,000")
    form.get_by_role("button", name="Set limit").click()
    page.get_by_role("status").filter(has_text="Saved: at most SGD 1,000.00 a day in SGD.").wait_for()
    sgd = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="SGD"))
    expect(sgd).to_contain_text("SGD 1,000.00")
    expect(table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="JPY"))).to_contain_text("JPY 50,000")
    # When they set SGD again: it is changed
    form.get_by_label("Daily limit").fill("250.50")
    form.get_by_role("button", name="Set limit").click()
    expect(sgd).to_contain_text("SGD 250.50")
    expect(table.get_by_role("row")).to_have_count(3)  # the header, JPY and SGD
    accessible(page)
    # When they ask to remove it and cancel (Escape): it stays, and focus is back on the button
    sgd.get_by_role("button", name="Remove SGD limit").click()
    question = sgd.get_by_role("group", name="Remove the SGD daily limit of SGD 250.50?")
    expect(question.get_by_role("button", name="Yes, remove it")).to_be_focused()
    accessible(page)
    page.keyboard.press("Escape")
    expect(sgd.get_by_role("button", name="Remove SGD limit")).to_be_focused()
    # When they remove it and confirm
    sgd.get_by_role("button", name="Remove SGD limit").click()
    sgd.get_by_role("button", name="Yes, remove it").click()
    # Then it is gone, the other kept, and a reload says the same
    page.get_by_role("status").filter(has_text="Removed the SGD daily limit").wait_for()
    expect(table.get_by_role("row")).to_have_count(2)
    page.reload()
    table = page.get_by_role("table", name="Daily limits by currency")
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table).to_contain_text("JPY 50,000")


def test_p2_an_endpoint_is_added_its_secret_shown_once_and_deleted(page, receiver):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    # Given a finance admin on the Partner settings tab
    sign_in(page)
    open_partner(page)
    endpoints = page.get_by_role("region", name="Webhook endpoints")
    form = page.get_by_role("form", name="New webhook endpoint")
    # When they add one with no notice chosen
    form.get_by_label("URL").fill(receiver.url)
    form.get_by_role("button", name="Add endpoint").click()
    # Then it is refused beside the notices, before any request
    expect(form.get_by_role("group", name="Notices")).to_contain_text("Choose at least one notice.")
    # When they add one at a private address
    form.get_by_label("URL").fill("https://10.0.0.7/hooks")
    form.get_by_label("A wallet fell to or below its limit threshold").check()
    form.get_by_role("button", name="Add endpoint").click()
    # Then the API's refusal is beside URL
    form.get_by_role("alert").wait_for()
    assert "10.0.0.7" in beside(page, "URL") or "private" in beside(page, "URL").lower()
    accessible(page)
    # When they add the receiver's URL, choosing the notices with the keyboard (Space ticks a checkbox)
    form.get_by_label("URL").fill(receiver.url)
    form.get_by_label("Automatic top-up: failed").focus()
    page.keyboard.press("Space")
    with page.expect_response(lambda r: r.url.endswith("/webhook-endpoints") and r.request.method == "POST") as sent:
        form.get_by_role("button", name="Add endpoint").press("Enter")
    created = sent.value.json()
    # Then the secret is shown once, with the warning, and focus is on it
    shown = page.get_by_role("region", name=f"Signing secret of {receiver.url}: shown only now")
    expect(shown).to_be_focused()
    expect(shown).to_contain_text("It is never shown again")
    expect(shown.locator("code.secret")).to_have_text(created["secret"])
    assert created["secret"].startswith("whsec_")
    accessible(page)
    # and Copy secret puts it on the clipboard
    shown.get_by_role("button", name="Copy secret").click()
    shown.get_by_role("status").filter(has_text="Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == created["secret"]
    # and the list has the endpoint with its notices, never its secret
    row = endpoints.get_by_role("table", name="Webhook endpoints").get_by_role("row").filter(has_text=receiver.url)
    expect(row).to_contain_text("A wallet fell to or below its limit threshold")
    expect(row).to_contain_text("Automatic top-up: failed")
    expect(row).not_to_contain_text("Automatic top-up: credited")
    # When the page is read again
    page.reload()
    page.get_by_role("table", name="Webhook endpoints").get_by_role("row").filter(has_text=receiver.url).wait_for()
    # Then the secret is nowhere
    assert created["secret"] not in page.content()
    expect(page.get_by_role("region", name=re.compile("Signing secret"))).to_have_count(0)
    # When they delete it: asked first
    row = page.get_by_role("table", name="Webhook endpoints").get_by_role("row").filter(has_text=receiver.url)
    row.get_by_role("button", name=f"Delete {receiver.url}").click()
    confirm = row.get_by_role("group", name=re.compile("Delete the endpoint"))
    confirm.get_by_role("button", name="Yes, delete it").click()
    # Then it is gone
    page.get_by_role("status").filter(has_text=f"Deleted the endpoint {receiver.url}").wait_for()
    expect(page.get_by_role("table", name="Webhook endpoints")).to_contain_text("No endpoint yet")
    accessible(page)


def low_wallet(api: Api) -> dict[str, Any]:
    """An organization with SGD 20.00 in its wallet and a limit threshold of SGD 10.00 (above it)."""
    org = api.org(f"Notices Co {new_partner()[-6:]}")
    api.settings(org, limit_threshold=1_000)
    payment = api.payment(org, 2_000, "TT-LOW")
    api.post(f"/payments/{payment['id']}/top-ups", {"amount": 2_000})
    return org


def test_p3_the_delivery_log_filters_and_a_failed_delivery_is_retried(page, console_stack):
    # Given an endpoint whose receiver answers 500, and another that answers 200
    down, up = Receiver(default=500), Receiver()
    try:
        partner = new_partner()
        api = Api(console_stack, partner)
        broken = api.post(f"/partners/{partner}/webhook-endpoints", {"url": down.url, "events": ["wallet.low_balance"]})
        api.post(f"/partners/{partner}/webhook-endpoints", {"url": up.url, "events": ["wallet.low_balance"]})
        # When a wallet falls to its threshold (a usage debit): one notice, a delivery to each
        org = low_wallet(api)
        api.post(f"/organizations/{org['id']}/wallet/debits", {"amount": 1_500, "reference": "cdr"})
        wait_for(lambda: down.received and up.received)
        [pending] = wait_for(lambda: [d for d in api.get(f"/partners/{partner}/webhook-deliveries",
                                                         endpoint_id=broken["id"])["items"] if d["attempts"]])
        # Then the log lists both; filtered to the down endpoint and pending, through the form
        sign_in(page, partner)
        open_partner(page)
        page.get_by_role("link", name="Delivery log").click()
        page.get_by_role("heading", name="Delivery log", level=1).wait_for()
        log = page.get_by_role("table", name="Deliveries, newest first")
        expect(log.get_by_role("row")).to_have_count(3)
        accessible(page)
        filters = page.get_by_role("search", name="Filter deliveries")
        filters.get_by_label("Endpoint").select_option(label=down.url)
        filters.get_by_label("Status").select_option("pending")
        filters.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(rf"/console/partner/deliveries\?endpoint_id={broken['id']}&status=pending$"))
        expect(log.get_by_role("row")).to_have_count(2)
        row = log.get_by_role("row").nth(1)
        for text in ("A wallet fell to or below its limit threshold", "wallet.low_balance", down.url,
                     "Pending (being tried)", "HTTP 500"):
            expect(row).to_contain_text(text)
        expect(row.get_by_role("button", name=re.compile("Retry"))).to_have_count(0)  # tries go on: no Retry
        # and a reload keeps the filters
        page.reload()
        expect(page.get_by_role("search", name="Filter deliveries").get_by_label("Status")).to_have_value("pending")
        expect(page.get_by_role("table", name="Deliveries, newest first").get_by_role("row")).to_have_count(2)

        # When its three days of tries have ended (failed), and the endpoint is up again
        fail_delivery(console_stack, partner, pending["id"])
        down.default = 200
        page.goto("/console/partner/deliveries?status=failed")
        log = page.get_by_role("table", name="Deliveries, newest first")
        row = log.get_by_role("row").nth(1)
        expect(row).to_contain_text("Failed (tries ended)")
        accessible(page)
        # and they retry it
        sent = writes(page)
        row.get_by_role("button", name=f"Retry delivery {pending['id']}").click()
        # Then it is sent again: pending, then delivered to the receiver, the same event
        page.get_by_role("status").filter(has_text="Sent again: the delivery is pending").wait_for()
        assert sent == [f"POST {console_stack.api}/partners/{partner}/webhook-deliveries/{pending['id']}/retry"]
        wait_for(lambda: any(status == 200 for status, _ in down.answered))
        assert len({r.json["id"] for r in down.received}) == 1
        wait_for(lambda: api.get(f"/partners/{partner}/webhook-deliveries",
                                 endpoint_id=broken["id"])["items"][0]["status"] == "delivered")
        page.goto(f"/console/partner/deliveries?endpoint_id={broken['id']}&status=delivered")
        row = page.get_by_role("table", name="Deliveries, newest first").get_by_role("row").nth(1)
        expect(row).to_contain_text("Delivered")
        expect(row).to_contain_text("HTTP 200")
    finally:
        down.stop()
        up.stop()


def test_p4_a_viewer_reads_and_a_customer_is_not_offered_the_tab(page, browser, console_stack):
    # Given a partner with a limit, an endpoint and an organization
    partner = new_partner()
    api = Api(console_stack, partner)
    api.put(f"/partners/{partner}/auto-credit-limits/SGD", {"daily_limit": 10_000})
    api.post(f"/partners/{partner}/webhook-endpoints", {"url": "http://127.0.0.1:9/hooks",
                                                        "events": ["payment.bounced"]})
    org = api.org("Viewer Partner Co")
    # When a finance viewer opens Partner settings and the delivery log
    sign_in(page, partner, role="finance-viewer")
    open_partner(page)
    main = page.get_by_role("main")
    # Then they read the limits and the endpoints, and are offered no write
    expect(main.get_by_role("table", name="Daily limits by currency")).to_contain_text("SGD 100.00")
    expect(main.get_by_role("table", name="Webhook endpoints")).to_contain_text("A payment bounced")
    assert main.get_by_role("button").count() == 0
    assert main.locator("form, input, select, textarea").count() == 0
    accessible(page)
    page.get_by_role("link", name="Delivery log").click()
    page.get_by_role("table", name="Deliveries, newest first").wait_for()
    assert main.get_by_role("button", name=re.compile("Retry")).count() == 0
    assert main.get_by_role("columnheader", name="Action").count() == 0
    accessible(page)

    # When the organization's own admin signs in
    customer = browser.new_context(base_url=console_stack.api, viewport={"width": 1280, "height": 900})
    try:
        tab = customer.new_page()
        tab.set_default_timeout(10_000)
        asked: list[str] = []
        tab.on("request", lambda r: asked.append(r.url) if "/partners/" in r.url else None)
        sign_in_customer(tab, partner, org, "org-admin")
        # Then the tab is not theirs, and its URLs say so without asking the API
        links = tab.get_by_role("navigation", name="Finance app").get_by_role("link")
        assert "Partner settings" not in links.all_inner_texts()
        for path in ("/console/partner", "/console/partner/deliveries?status=failed"):
            tab.goto(path)
            expect(tab.get_by_role("main")).to_contain_text("This page is not available to your role (org-admin).")
        assert asked == []
        accessible(tab)
    finally:
        customer.close()
