"""The finance console's view: HTTP against the local stack, every rule of the contract for these routes."""

from __future__ import annotations

import json
import threading

import boto3
import pytest

from local.auth import mint
from local.seed import DEMO_PARTNER
from tests.conftest import new_partner
from tests.e2e.conftest import Api, as_admin, as_viewer, table_of

PAYMENT = {"amount": 12_550, "currency": "SGD", "received_date": "2026-11-20", "method": "telegraphic_transfer"}


def test_demo_data_is_seeded_for_the_demo_partner_only(stack):
    demo = as_viewer(stack, DEMO_PARTNER)
    orgs = demo("GET", "/organizations").json()["items"]
    assert [o["name"] for o in orgs] == ["Acme Telecom", "Blue Harbour Logistics", "Cedar Health"]
    assert len(demo("GET", "/payments").json()["items"]) == 5
    other = as_viewer(stack, new_partner())
    assert other("GET", "/organizations").json() == {"items": [], "next_cursor": None}
    assert other("GET", "/payments").json() == {"items": [], "next_cursor": None}


def test_finance_admin_journey(stack):
    partner = new_partner()
    api = as_admin(stack, partner)
    # Given an organization
    org = api("POST", "/organizations", {"name": "Orchid Mobile", "currency": "SGD"})
    assert org.status_code == 201
    org_id = org.json()["id"]
    assert api("GET", "/organizations?name=orch").json()["items"][0]["id"] == org_id
    # When a payment is recorded for it, edited, listed, and another recorded then deleted
    pay = api("POST", "/payments", {**PAYMENT, "org_id": org_id, "reference": "TT-1"}).json()
    assert pay["status"] == "assigned"
    edited = api("PATCH", f"/payments/{pay['id']}", {"remark": "bank fee absorbed"}, headers={"If-Match": "1"})
    assert edited.status_code == 200 and edited.json()["version"] == 2
    listed = api("GET", "/payments", params={"org_id": org_id}).json()["items"]
    assert [p["id"] for p in listed] == [pay["id"]]
    spare = api("POST", "/payments", PAYMENT).json()
    assert api("DELETE", f"/payments/{spare['id']}").status_code == 204
    # Then the history and the wallet read as expected
    history = api("GET", f"/payments/{pay['id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["payment.updated", "payment.created"]
    wallet = api("GET", f"/organizations/{org_id}/wallet").json()
    assert (wallet["balance"], wallet["currency"]) == (0, "SGD")


# --- security -------------------------------------------------------------------------------------
def test_tokens_no_token_bad_signature_expired_wrong_audience_are_401(stack):
    partner = new_partner()
    good = mint("a", partner, ["finance-admin"])
    header, payload, sig = good.split(".")
    tampered = ".".join([header, payload, sig[:-4] + ("AAAA" if not sig.endswith("AAAA") else "BBBB")])
    cases = {
        "none": None, "not a jwt": "not-a-token",
        "wrong secret": mint("a", partner, ["finance-admin"], key="another-secret-entirely"),
        "tampered": tampered,
        "expired": mint("a", partner, ["finance-admin"], ttl=-10),
    }
    for name, token in cases.items():
        res = Api(stack.api, token)("GET", "/organizations")
        assert res.status_code == 401, name
        assert res.json() == {"message": "Unauthorized"} and res.headers["WWW-Authenticate"].startswith("Bearer"), name
    res = Api(stack.api, good)("GET", "/organizations", headers={"Authorization": f"Basic {good}"})
    assert res.status_code == 401


def seed_partner(stack):
    partner = new_partner()
    api = as_admin(stack, partner)
    org = api("POST", "/organizations", {"name": "Secret Org", "currency": "SGD"}).json()
    pay = api("POST", "/payments", {**PAYMENT, "org_id": org["id"]}).json()
    return partner, org, pay


def routes(org_id, pay_id):
    settings = {"method": "cheque_or_tt", "trigger_amount": 1, "limit_threshold": 0, "auto_trigger": True}
    return [
        ("GET", f"/organizations/{org_id}", None), ("GET", f"/organizations/{org_id}/wallet", None),
        ("GET", f"/organizations/{org_id}/wallet/transactions", None),
        ("GET", f"/organizations/{org_id}/payment-settings", None),
        ("PUT", f"/organizations/{org_id}/payment-settings", settings),
        ("GET", f"/payments/{pay_id}", None), ("PATCH", f"/payments/{pay_id}", {"remark": "x"}),
        ("DELETE", f"/payments/{pay_id}", None), ("GET", f"/payments/{pay_id}/history", None),
    ]


def test_another_partner_gets_404_for_every_id_and_never_sees_rows(stack):
    # Given partner A's organization and payment
    _, org, pay = seed_partner(stack)
    b_admin = as_admin(stack, new_partner())
    missing = routes("org_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V")
    before = table_of(stack)
    # When partner B calls every route with A's ids
    for (method, path, body), (_, missing_path, _) in zip(routes(org["id"], pay["id"]), missing, strict=True):
        res = b_admin(method, path, body)
        # Then each answers 404 with exactly the body a missing id gets
        assert res.status_code == 404, (method, path)
        assert res.json() == b_admin(method, missing_path, body).json(), (method, path)
    # And B's lists never include A's rows, whatever the filter
    assert b_admin("GET", "/payments", params={"org_id": org["id"]}).json()["items"] == []
    assert b_admin("GET", "/organizations", params={"name": "Secret"}).json()["items"] == []
    # And A's payment cannot be given to B's org or created against A's org by B
    res = b_admin("POST", "/payments", {**PAYMENT, "org_id": org["id"]})
    assert res.status_code == 422 and res.json()["error"]["code"] == "organization_not_found"
    assert table_of(stack) == before


def test_viewer_writes_are_403_and_write_nothing(stack):
    partner, org, pay = seed_partner(stack)
    viewer = as_viewer(stack, partner)
    before = table_of(stack)
    writes = [("POST", "/organizations", {"name": "V", "currency": "SGD"}), ("POST", "/payments", PAYMENT)]
    writes += [r for r in routes(org["id"], pay["id"]) if r[0] != "GET"]
    for method, path, body in writes:
        res = viewer(method, path, body)
        assert res.status_code == 403, (method, path)
        assert res.json()["error"]["code"] == "forbidden"
    assert table_of(stack) == before


# --- bad input ------------------------------------------------------------------------------------
BAD_PAYMENTS = [
    ("malformed json", None, '{"amount": 1,', 400, "malformed_json"),
    ("float amount", {**PAYMENT, "amount": 125.5}, None, 422, "validation_error"),
    ("whole float amount", None, json.dumps(PAYMENT).replace("12550", "12550.0"), 422, "validation_error"),
    ("string amount", {**PAYMENT, "amount": "12550"}, None, 422, "validation_error"),
    ("zero", {**PAYMENT, "amount": 0}, None, 422, "validation_error"),
    ("negative", {**PAYMENT, "amount": -5}, None, 422, "validation_error"),
    ("absurd", {**PAYMENT, "amount": 10**15 + 1}, None, 422, "validation_error"),
    ("huge", {**PAYMENT, "amount": 10**30}, None, 422, "validation_error"),
    ("lower-case currency", {**PAYMENT, "currency": "sgd"}, None, 422, "validation_error"),
    ("unknown currency", {**PAYMENT, "currency": "ABC"}, None, 422, "validation_error"),
    ("impossible date", {**PAYMENT, "received_date": "2026-02-30"}, None, 422, "validation_error"),
    ("not a date", {**PAYMENT, "received_date": "20/11/2026"}, None, 422, "validation_error"),
    ("future date", {**PAYMENT, "received_date": "2099-01-01"}, None, 422, "received_date_in_future"),
    ("oversized reference", {**PAYMENT, "reference": "R" * 201}, None, 422, "validation_error"),
    ("oversized remark", {**PAYMENT, "remark": "x" * 1001}, None, 422, "validation_error"),
    ("control characters", {**PAYMENT, "reference": "a\u0000b"}, None, 422, "validation_error"),
    ("unknown field", {**PAYMENT, "status": "allocated"}, None, 422, "validation_error"),
    ("unknown method", {**PAYMENT, "method": "bitcoin"}, None, 422, "validation_error"),
    ("missing fields", {"amount": 100}, None, 422, "validation_error"),
    ("array body", None, "[1,2]", 422, "validation_error"),
    ("empty body", None, "", 400, "malformed_json"),  # issue 19: an empty body on a route that takes one
]


@pytest.mark.parametrize(("name", "body", "raw", "status", "code"), BAD_PAYMENTS, ids=[c[0] for c in BAD_PAYMENTS])
def test_bad_payment_input_is_refused_and_writes_nothing(stack, name, body, raw, status, code):
    api = as_admin(stack, new_partner())
    before = table_of(stack)
    res = api("POST", "/payments", body, raw=raw)
    assert res.status_code == status, res.text
    error = res.json()["error"]
    assert error["code"] == code and error["message"]
    assert table_of(stack) == before


def test_a_body_that_is_not_utf8_is_malformed_not_a_server_error(stack):
    # Found by schemathesis: such bodies reach Lambda base64-encoded and used to fail json.loads with 500.
    api = as_admin(stack, new_partner())
    before = table_of(stack)
    for path in ("/payments", "/organizations", "/invoices"):
        res = api.session.post(stack.api + path, data=b"\xff\xfe{\x80", headers={"Content-Type": "application/json"})
        assert res.status_code == 400 and res.json()["error"]["code"] == "malformed_json", path
    assert table_of(stack) == before


def test_form_encoded_body_is_refused(stack):
    api = as_admin(stack, new_partner())
    res = api("POST", "/payments", raw="amount=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status_code == 415 and res.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"status": "paid"},
                                   {"received_from": "2026-13-01"}, {"method": "barter"}])
def test_bad_list_queries_are_422(stack, query):
    res = as_viewer(stack, new_partner())("GET", "/payments", params=query)
    assert res.status_code == 422, query


def test_forged_cursor_is_400(stack):
    partner = new_partner()
    api = as_admin(stack, partner)
    for i in range(3):
        api("POST", "/payments", {**PAYMENT, "reference": f"r{i}"})
    cursor = api("GET", "/payments", params={"limit": 1}).json()["next_cursor"]
    payload, sig = cursor.split(".")
    for forged in (f"{payload}x.{sig}", f"{payload}.{sig[::-1]}", "eyJrIjp7fX0.abc"):
        res = api("GET", "/payments", params={"limit": 1, "cursor": forged})
        assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_cursor"
    # A valid cursor of partner A is refused for partner B rather than leaking A's rows
    res = as_admin(stack, new_partner())("GET", "/payments", params={"limit": 1, "cursor": cursor})
    assert res.status_code == 400


def test_stale_if_match_is_412_and_writes_nothing(stack):
    api = as_admin(stack, new_partner())
    pay = api("POST", "/payments", PAYMENT).json()
    assert api("PATCH", f"/payments/{pay['id']}", {"remark": "v2"}, headers={"If-Match": "1"}).status_code == 200
    before = table_of(stack)
    for method, body in (("PATCH", {"remark": "v3"}), ("DELETE", None)):
        res = api(method, f"/payments/{pay['id']}", body, headers={"If-Match": "1"})
        assert res.status_code == 412 and res.json()["error"]["code"] == "version_mismatch"
    assert table_of(stack) == before


# --- idempotency ------------------------------------------------------------------------------------
def test_idempotency_key_over_http(stack):
    partner = new_partner()
    api = as_admin(stack, partner)
    key = {"Idempotency-Key": "console-retry-1"}
    first = api("POST", "/payments", PAYMENT, headers=key)
    second = api("POST", "/payments", PAYMENT, headers=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.content == second.content  # the very same response, byte for byte
    assert len(api("GET", "/payments").json()["items"]) == 1
    reused = api("POST", "/payments", {**PAYMENT, "amount": 1}, headers=key)
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_concurrent_retries_with_one_key_make_one_payment(stack):
    # Invariant: N concurrent requests with one Idempotency-Key create exactly one payment.
    partner = new_partner()
    api = as_admin(stack, partner)
    results: list = []

    def send():
        res = api("POST", "/payments", PAYMENT, headers={"Idempotency-Key": "burst"})
        results.append((res.status_code, res.json()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = {body["id"] for status, body in results if status == 201}
    in_progress = [body for status, body in results if status == 409]
    assert len(created) == 1
    assert all(b["error"]["code"] == "idempotency_request_in_progress" for b in in_progress)
    assert len(api("GET", "/payments").json()["items"]) == 1


# --- Lambda Invoke API ------------------------------------------------------------------------------
def test_lambda_invoke_api_runs_functions_like_start_lambda(stack):
    lam = boto3.client("lambda", endpoint_url=stack.lambda_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    event = json.loads(open("events/accounts/list_organizations.json").read())
    event["requestContext"]["authorizer"]["jwt"]["claims"]["partner_id"] = DEMO_PARTNER
    event["queryStringParameters"] = {"name": "acme"}
    res = lam.invoke(FunctionName="AccountsFunction", Payload=json.dumps(event))
    payload = json.loads(res["Payload"].read())
    assert res["StatusCode"] == 200 and payload["statusCode"] == 200
    assert [o["name"] for o in json.loads(payload["body"])["items"]] == ["Acme Telecom"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    async_res = lam.invoke(FunctionName="AccountsFunction", InvocationType="Event", Payload=json.dumps(event))
    assert async_res["StatusCode"] == 202


def test_unknown_route_is_the_gateways_404(stack):
    res = as_viewer(stack, new_partner())("GET", "/nowhere")
    assert res.status_code == 404 and res.json() == {"message": "Not Found"}
