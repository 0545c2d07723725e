"""Card refunds and the reconciliation end to end on the local stack (`python -m local.stack`): the API over HTTP,
localstripe's signed webhooks to POST /webhooks/stripe, the reconciliation through the Lambda Invoke API as its
schedule invokes it, and the local Stripe's control routes to hold back a webhook (local/stripe.py)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import requests

from local.aws import LOCAL_CREDENTIALS
from local.stripe import DEFAULT_API_KEY
from tests.conftest import EVENTS, new_partner
from tests.e2e.conftest import as_admin, wait_for
from tests.stripe_console import CARD_OK, pay


def stripe_control(stack, action: str, **form: Any) -> Any:
    res = requests.post(f"{stack.stripe}/_config/webhooks/{action}", data=form, timeout=30)
    assert res.status_code == 200, res.text
    return res.json()


def events_about(stack, intent_id: str) -> list[dict]:
    res = requests.get(f"{stack.stripe}/_config/events", params={"payment_intent": intent_id}, timeout=30)
    assert res.status_code == 200, res.text
    return list(res.json()["data"])


def invoke_reconciliation(stack, after: timedelta = timedelta(minutes=16)) -> dict[str, Any]:
    lam = boto3.client("lambda", endpoint_url=stack.lambda_url, **LOCAL_CREDENTIALS)
    when = (datetime.now(UTC) + after).isoformat(timespec="seconds").replace("+00:00", "Z")
    event = json.loads((EVENTS / "reconcile/scheduled.json").read_text()) | {"time": when}
    res = lam.invoke(FunctionName="ReconcileFunction", Payload=json.dumps(event))
    assert "FunctionError" not in res, res["Payload"].read()
    return json.loads(res["Payload"].read())


def top_up(stack, api, org_id: str, amount: int = 5_000) -> dict:
    res = api("POST", f"/organizations/{org_id}/online-top-ups",
              {"amount": amount, "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": True})
    assert res.status_code == 201, res.text
    started = res.json()
    assert pay(stack.stripe, started["payment_intent_id"], started["client_secret"], CARD_OK)["status"] == "succeeded"
    return started


def wallet(api, org_id: str) -> int:
    return int(api("GET", f"/organizations/{org_id}/wallet").json()["balance"])


def ledger(api, org_id: str) -> list[tuple[str, int]]:
    items = api("GET", f"/organizations/{org_id}/wallet/transactions").json()["items"]
    return [(e["type"], e["amount"]) for e in reversed(items)]


def test_a_card_refund_over_http_is_debited_once_though_its_webhook_comes_too(stack):
    # Given a customer whose SGD 50.00 online top-up was credited by its webhook
    api = as_admin(stack, new_partner())
    org = api("POST", "/organizations", {"name": "Refund Co", "currency": "SGD"}).json()
    started = top_up(stack, api, org["id"])
    wait_for(lambda: wallet(api, org["id"]) == 5_000)
    [payment] = api("GET", "/payments", params={"org_id": org["id"]}).json()["items"]
    # When finance refunds SGD 20.00 to the card
    res = api("POST", f"/payments/{payment['id']}/refunds", {"amount": 2_000, "reason": "requested_by_customer"},
              headers={"Idempotency-Key": "e2e-refund-1"})
    # Then Stripe confirmed it at once and the wallet was debited
    assert res.status_code == 202, res.text
    made = res.json()
    assert (made["status"], made["amount"], made["currency"]) == ("succeeded", 2_000, "SGD")
    assert wallet(api, org["id"]) == 3_000
    # And when Stripe's charge.refunded webhook reaches the API (a second later), nothing more is debited
    wait_for(lambda: [e for e in events_about(stack, started["payment_intent_id"]) if e["type"] == "charge.refunded"])
    time.sleep(1.5)  # localstripe posts each event 1 s after it
    assert ledger(api, org["id"]) == [("top_up", 5_000), ("reversal", -2_000)]
    # When SGD 5.00 more is refunded in Stripe's Dashboard (straight to Stripe's API)
    dashboard = requests.post(f"{stack.stripe}/v1/refunds", auth=(DEFAULT_API_KEY, ""),
                              data={"payment_intent": started["payment_intent_id"], "amount": 500}, timeout=30)
    assert dashboard.status_code == 200, dashboard.text
    # Then its webhook debits it, once
    wait_for(lambda: wallet(api, org["id"]) == 2_500)
    time.sleep(1.5)
    assert ledger(api, org["id"]) == [("top_up", 5_000), ("reversal", -2_000), ("reversal", -500)]
    listed = api("GET", f"/payments/{payment['id']}/refunds").json()["items"]
    assert [(r["amount"], r["origin"], r["status"]) for r in listed] == [(2_000, "api", "succeeded"),
                                                                         (500, "stripe", "succeeded")]
    shown = api("GET", f"/payments/{payment['id']}").json()
    assert (shown["refunded_amount"], shown["disputed_amount"]) == (2_500, 0)
    # And a refund beyond what is left of the payment is refused
    refused = api("POST", f"/payments/{payment['id']}/refunds", {"amount": 2_501},
                  headers={"Idempotency-Key": "e2e-refund-2"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "refund_exceeds_payment")
    # And one without an Idempotency-Key is refused before anything is looked at
    keyless = api("POST", f"/payments/{payment['id']}/refunds", {"amount": 100})
    assert (keyless.status_code, keyless.json()["error"]["code"]) == (422, "idempotency_key_required")


def test_a_top_up_whose_webhook_is_held_back_is_settled_by_the_reconciliation(stack):
    # Given the local Stripe holds back every payment_intent.succeeded webhook
    api = as_admin(stack, new_partner())
    org = api("POST", "/organizations", {"name": "Held Co", "currency": "SGD"}).json()
    stripe_control(stack, "hold", types="payment_intent.succeeded")
    try:
        # When a customer pays an online top-up of SGD 30.00
        started = top_up(stack, api, org["id"], amount=3_000)
        time.sleep(1.5)
        # Then nothing is credited yet (its webhook is held)
        assert wallet(api, org["id"]) == 0
        # When the reconciliation runs 16 minutes later
        result = invoke_reconciliation(stack)
        # Then the top-up is settled from Stripe, exactly as its webhook would have
        assert result["outcomes"].get("credited", 0) >= 1, result
        assert wallet(api, org["id"]) == 3_000
        # When the held webhook is released at last
        held = [e["id"] for e in events_about(stack, started["payment_intent_id"])
                if e["type"] == "payment_intent.succeeded"]
        state = requests.get(f"{stack.stripe}/_config/webhooks", timeout=30).json()
        assert held and set(held) <= set(state["held"])
        released = stripe_control(stack, "release", event_id=held[0])["released"]
        assert [d["status"] for d in released] == [200]
    finally:
        stripe_control(stack, "reset")
    # Then it credited nothing more
    time.sleep(0.5)
    assert ledger(api, org["id"]) == [("top_up", 3_000)]
    assert len(api("GET", "/payments", params={"org_id": org["id"]}).json()["items"]) == 1
