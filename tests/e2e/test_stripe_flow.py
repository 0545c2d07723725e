"""Stripe end to end on the local stack (`python -m local.stack`, localstripe inside it): the console's
online top-up, the card collected as Stripe.js would, localstripe's signed webhook to the HTTP API,
then the daily sweep's off-session charge of the saved card and its webhook."""

from __future__ import annotations

from tests.conftest import new_partner
from tests.e2e.conftest import as_admin, invoke_sweep, wait_for
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE, CARD_OK, pay


def online_customer(stack, api, name: str, card: str) -> dict:
    org = api("POST", "/organizations", {"name": name, "currency": "SGD"}).json()
    res = api("POST", f"/organizations/{org['id']}/online-top-ups",
              {"amount": 5_000, "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": True})
    assert res.status_code == 201, res.text
    top_up = res.json()
    assert top_up["client_secret"].startswith(top_up["payment_intent_id"])
    assert top_up["status"] == "pending"
    assert pay(stack.stripe, top_up["payment_intent_id"], top_up["client_secret"], card)["status"] == "succeeded"
    wait_for(lambda: api("GET", f"/organizations/{org['id']}/wallet").json()["balance"] == 5_000)
    return {**org, "intent": top_up["payment_intent_id"]}


def attempts_once(api, org: dict, status: str) -> list[dict]:
    """The organization's attempts, once the newest has reached `status` (the webhook is asynchronous)."""
    def newest() -> list[dict] | None:
        items = api("GET", f"/organizations/{org['id']}/auto-top-ups").json()["items"]
        return items if items and items[0]["status"] == status else None

    return wait_for(newest)


def test_online_top_up_then_the_sweep_charges_the_saved_card_once(stack):
    # Given a customer who tops up SGD 50.00 online, choosing trigger 20.00 at threshold 10.00
    api = as_admin(stack, new_partner())
    org = online_customer(stack, api, "Card Co", CARD_OK)
    # Then the webhook recorded a stripe payment assigned to it and delivered whole to its wallet
    payments = api("GET", "/payments", params={"org_id": org["id"]}).json()["items"]
    assert [(p["method"], p["reference"], p["amount"], p["status"]) for p in payments] == [
        ("stripe", org["intent"], 5_000, "allocated")]
    # And its settings are `stripe` with the chosen values, locked
    settings = api("GET", f"/organizations/{org['id']}/payment-settings").json()
    assert (settings["method"], settings["trigger_amount"], settings["limit_threshold"], settings["auto_trigger"]) == (
        "stripe", 2_000, 1_000, True)
    locked = api("PUT", f"/organizations/{org['id']}/payment-settings",
                 {"method": "stripe", "trigger_amount": 9_000, "limit_threshold": 1_000, "auto_trigger": True})
    assert (locked.status_code, locked.json()["error"]["code"]) == (409, "stripe_settings_locked")

    # When usage takes the wallet to SGD 5.00 (below the threshold) and the daily sweep runs
    assert api("POST", f"/organizations/{org['id']}/wallet/debits",
               {"amount": 4_500, "reference": "usage"}).status_code == 201
    invoke_sweep(stack, "2031-03-01T01:00:00Z")

    # Then the card is charged off-session and the webhook credits the wallet once
    [credited] = attempts_once(api, org, "credited")
    assert (credited["business_date"], credited["method"], credited["amount"]) == ("2031-03-01", "stripe", 2_000)
    assert api("GET", f"/organizations/{org['id']}/wallet").json()["balance"] == 2_500
    # And the sweep replayed for the same day (and its webhook redelivered) changes nothing
    invoke_sweep(stack, "2031-03-01T01:30:00Z")
    entries = api("GET", f"/organizations/{org['id']}/wallet/transactions").json()["items"]
    assert [e["type"] for e in entries] == ["auto_credit", "usage", "top_up"]
    assert api("GET", f"/organizations/{org['id']}/wallet").json()["balance"] == 2_500
    payments = api("GET", "/payments", params={"org_id": org["id"]}).json()["items"]
    assert sorted(p["amount"] for p in payments if p["method"] == "stripe") == [2_000, 5_000]


def test_a_card_declining_off_session_marks_the_attempt_failed_with_stripes_reason(stack):
    # Given a customer whose card needs 3-D Secure every time (it passed it during the online top-up)
    api = as_admin(stack, new_partner())
    org = online_customer(stack, api, "Strict Bank Co", CARD_ALWAYS_AUTHENTICATE)
    assert api("POST", f"/organizations/{org['id']}/wallet/debits",
               {"amount": 4_500, "reference": "usage"}).status_code == 201
    # When the sweep charges it off-session
    invoke_sweep(stack, "2031-03-02T01:00:00Z")

    # Then the attempt is failed with Stripe's reason and the wallet is unchanged
    [failed] = attempts_once(api, org, "failed")
    assert (failed["reason"], failed["failure_code"]) == ("card_declined", "authentication_required")
    assert failed["failure_message"]
    assert api("GET", f"/organizations/{org['id']}/wallet").json()["balance"] == 500
    # And a later sweep of the same day does not try again
    invoke_sweep(stack, "2031-03-02T02:00:00Z")
    assert api("GET", f"/organizations/{org['id']}/auto-top-ups").json()["items"] == [failed]
