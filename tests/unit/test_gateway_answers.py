"""The local HTTP API answers what API Gateway's HTTP API answers itself, before any function runs, in its own
shape (`{"message": ...}`), and hands the function the event the HTTP API builds (payload format 2.0).

A recording host stands in for the execution environments: it keeps every event it is given and answers
what the test tells it to, so these tests see exactly what would reach a function and what comes back.
Sources for each answer: docs/local-stack.md.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from local.auth import DEFAULT_SECRET
from local.lambdas import InvocationError
from local.servers import MAX_BODY, HttpApiServer, StageThrottle
from local.template import Template

ISSUER, AUDIENCE = "https://issuer.local.test/", "finance-api-test"
TEMPLATE = Template({
    "Parameters": {"JwtIssuer": {"Default": ISSUER}, "JwtAudience": {"Default": AUDIENCE}},
    "Resources": {
        "HttpApi": {"Type": "AWS::Serverless::HttpApi", "Properties": {
            "DefaultRouteSettings": {"ThrottlingBurstLimit": 200, "ThrottlingRateLimit": 100}}},
        "Items": {"Type": "AWS::Serverless::Function", "Properties": {
            "CodeUri": "tests/unit/probe_function/", "Handler": "app.handler",
            "Events": {
                "Get": {"Type": "HttpApi", "Properties": {"Method": "get", "Path": "/items/{item_id}"}},
                "Post": {"Type": "HttpApi", "Properties": {"Method": "post", "Path": "/items"}},
                "Hook": {"Type": "HttpApi", "Properties": {"Method": "post", "Path": "/hook",
                                                           "Auth": {"Authorizer": "NONE"}}}}}}}})


class RecordingHost:
    """Stands in for FunctionHost: records each event; answers `answer` (or raises it if an exception)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: Any = {"statusCode": 200, "body": '{"ok": true}', "headers": {"content-type": "application/json"}}

    def invoke(self, name: str, event: Any) -> Any:
        self.events.append(event)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class Gateway:
    def __init__(self, throttle: StageThrottle | None = None):
        self.host = RecordingHost()
        self.server = HttpApiServer(0, self.host, TEMPLATE, throttle=throttle)  # type: ignore[arg-type]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.stop()


def token(**claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "alice@example.com", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
            "partner_id": "ptn_a", "groups": ["finance-admin"], **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not ...}, DEFAULT_SECRET, algorithm="HS256")


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


# --- 401 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "headers"), [
    ("no header", {}),
    ("empty bearer", {"Authorization": "Bearer "}),
    ("not a jwt", bearer("not-a-token")),
    ("bad signature", bearer(jwt.encode({"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": 2**31}, "another-key",
                                        algorithm="HS256"))),
    ("expired", bearer(token(exp=int(time.time()) - 10))),
    ("wrong issuer", bearer(token(iss="https://elsewhere.test/"))),
    ("wrong audience", bearer(token(aud="another-api"))),
    ("no aud, wrong client_id", bearer(token(aud=..., client_id="another-client"))),
    ("no aud, no client_id", bearer(token(aud=...))),
    ("another scheme", {"Authorization": f"Basic {token()}"}),
])
def test_a_missing_or_unverifiable_token_is_the_gateways_401(gateway, case, headers):
    # Given an authorized route
    # When it is called with no token, or one the JWT authorizer cannot verify
    res = requests.get(f"{gateway.url}/items/itm_1", headers=headers, timeout=10)
    # Then the HTTP API answers itself: 401 {"message":"Unauthorized"} with WWW-Authenticate, no function runs
    assert res.status_code == 401, case
    assert res.json() == {"message": "Unauthorized"}, case
    assert res.headers["WWW-Authenticate"].startswith("Bearer"), case
    assert gateway.host.events == [], case


def test_the_401_of_an_invalid_token_says_why_in_www_authenticate(gateway):
    res = requests.get(f"{gateway.url}/items/itm_1", headers=bearer(token(aud="another-api")), timeout=10)
    assert res.headers["WWW-Authenticate"].startswith('Bearer scope="" error="invalid_token" error_description=')
    assert "audience" in res.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("case", "header"), [
    ("Bearer prefix", f"Bearer {token()}"),
    ("bare token", token()),
    ("lower-case scheme", f"bearer {token()}"),
    ("client_id and no aud (a Cognito access token)", f"Bearer {token(aud=..., client_id=AUDIENCE)}"),
])
def test_what_the_jwt_authorizer_accepts_reaches_the_function(gateway, case, header):
    # When the identity source holds the token alone or prefixed with "Bearer ", or the token names the
    # audience as client_id (no aud)
    res = requests.get(f"{gateway.url}/items/itm_1", headers={"Authorization": header}, timeout=10)
    # Then the function runs with the verified claims
    assert res.status_code == 200, case
    assert gateway.host.events[-1]["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice@example.com"


# --- claims ---------------------------------------------------------------------------------------------------
def test_claims_reach_the_function_as_strings_and_a_null_claim_is_left_out(gateway):
    # Given a token whose partner_id is null, with a list, a boolean, a number and an object among its claims
    tok = token(partner_id=None, groups=["finance-admin", "finance-viewer"], email_verified=True, level=3,
                address={"country": "SG", "city": "Singapore"})
    # When it calls an authorized route
    assert requests.get(f"{gateway.url}/items/itm_1", headers=bearer(tok), timeout=10).status_code == 200
    claims = gateway.host.events[-1]["requestContext"]["authorizer"]["jwt"]["claims"]
    # Then every value is a string as the authorizer hands them, and the null partner_id is not there at all
    assert "partner_id" not in claims
    assert claims["groups"] == "[finance-admin finance-viewer]"
    assert claims["email_verified"] == "true"
    assert claims["level"] == "3"
    assert claims["address"] == "map[city:Singapore country:SG]"
    assert all(isinstance(v, str) for v in claims.values())
    assert gateway.host.events[-1]["requestContext"]["authorizer"]["jwt"]["scopes"] is None


# --- 404 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/items/itm_1"), ("PUT", "/items"),
                                              ("GET", "/items"), ("PATCH", "/hook")])
def test_no_route_for_the_method_and_path_is_the_gateways_404(gateway, method, path):
    # When no route of the template matches the method and the path (with or without a token)
    res = requests.request(method, f"{gateway.url}{path}", headers=bearer(token()), timeout=10)
    # Then 404 {"message":"Not Found"}, and no function runs
    assert (res.status_code, res.json()) == (404, {"message": "Not Found"})
    assert gateway.host.events == []


# --- 413 ------------------------------------------------------------------------------------------------------
def test_a_body_over_the_http_apis_10_mb_payload_is_413_and_no_function_runs(gateway):
    # Given a request announcing a body one byte over 10 MB
    conn = http.client.HTTPConnection("127.0.0.1", gateway.server.server_address[1], timeout=10)
    conn.putrequest("POST", "/hook")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()
    # When the gateway reads its headers
    res = conn.getresponse()
    # Then it answers 413 at once, without reading the body or running the function
    assert res.status == 413
    assert b"message" in res.read()
    assert gateway.host.events == []
    conn.close()
    assert MAX_BODY == 10 * 1024 * 1024


def test_a_body_under_the_limit_reaches_the_function(gateway):
    res = requests.post(f"{gateway.url}/hook", data=b"x" * (1024 * 1024), timeout=30)
    assert res.status_code == 200
    assert len(gateway.host.events[-1]["body"]) == 1024 * 1024


# --- 429 ------------------------------------------------------------------------------------------------------
def test_the_stage_throttle_is_read_from_the_template_and_lifted_by_its_variable(monkeypatch):
    monkeypatch.delenv("API_THROTTLE_OFF", raising=False)
    throttle = StageThrottle.from_template(TEMPLATE)
    assert throttle is not None and (throttle.rate, throttle.burst) == (100.0, 200)
    monkeypatch.setenv("API_THROTTLE_OFF", "1")
    assert StageThrottle.from_template(TEMPLATE) is None


def test_a_route_over_its_burst_is_the_gateways_429_and_other_routes_keep_their_own_bucket():
    # Given a stage throttle of burst 3 that refills slowly (one token every 100 s)
    g = Gateway(StageThrottle(rate=0.01, burst=3))
    try:
        session = requests.Session()
        # When a route is called 5 times at once
        answers = [session.get(f"{g.url}/items/itm_1", headers=bearer(token()), timeout=10) for _ in range(5)]
        # Then the burst passes and the rest is 429 {"message":"Too Many Requests"}, before any function runs
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert answers[-1].json() == {"message": "Too Many Requests"}
        assert len(g.host.events) == 3
        # And another route still has its own bucket (the default route throttle applies to each route)
        assert session.post(f"{g.url}/hook", data=b"{}", timeout=10).status_code == 200
    finally:
        g.stop()


def test_the_bucket_refills_at_the_rate():
    throttle = StageThrottle(rate=50, burst=2)
    assert [throttle.allow("GET /a") for _ in range(3)] == [True, True, False]
    time.sleep(0.05)  # 2.5 tokens at 50 per second
    assert throttle.allow("GET /a")


# --- 500 ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "answer"), [
    ("handler error", InvocationError({"errorType": "ValueError", "errorMessage": "boom"})),
    ("environment died", InvocationError({"errorType": "Runtime.ExitError", "errorMessage": "exit 3"}, died=True)),
    ("timed out", InvocationError({"errorType": "Sandbox.Timedout", "errorMessage": "late"}, died=True)),
    ("status not a number", {"statusCode": "teapot", "body": "{}"}),
    ("status out of range", {"statusCode": 1000, "body": "{}"}),
    ("body not a string", {"statusCode": 200, "body": {"a": 1}}),
    ("bad base64", {"statusCode": 200, "body": "***", "isBase64Encoded": True}),
    ("headers not a map", {"statusCode": 200, "body": "{}", "headers": ["a"]}),
])
def test_a_failed_or_malformed_function_answer_is_the_gateways_500(gateway, case, answer):
    # Given a function that fails, dies, times out or answers what the HTTP API cannot read
    gateway.host.answer = answer
    # When it is called through the HTTP API
    res = requests.post(f"{gateway.url}/hook", data=b"{}", timeout=10)
    # Then 500 {"message":"Internal Server Error"}
    assert (res.status_code, res.json()) == (500, {"message": "Internal Server Error"}), case


def test_a_function_answer_without_status_code_is_200_json_and_cookies_become_set_cookie(gateway):
    gateway.host.answer = {"items": []}
    res = requests.post(f"{gateway.url}/hook", data=b"{}", timeout=10)
    assert (res.status_code, res.json(), res.headers["Content-Type"]) == (200, {"items": []}, "application/json")
    gateway.host.answer = {"statusCode": 201, "body": "{}", "cookies": ["a=1; Path=/", "b=2"]}
    res = requests.post(f"{gateway.url}/hook", data=b"{}", timeout=10)
    assert res.status_code == 201 and res.cookies.get("a") == "1" and res.cookies.get("b") == "2"


def test_what_reaches_the_function_keeps_the_functions_own_answer(gateway):
    # A function's own error (the contract's shape) is passed through as it is
    gateway.host.answer = {"statusCode": 404, "body": '{"error": {"code": "not_found", "message": "No such item."}}'}
    res = requests.get(f"{gateway.url}/items/itm_1", headers=bearer(token()), timeout=10)
    assert (res.status_code, res.json()["error"]["code"]) == (404, "not_found")


# --- the event ------------------------------------------------------------------------------------------------
def test_the_path_is_decoded_as_the_http_api_decodes_it_and_the_query_string_is_not(gateway):
    # Given a path parameter with percent-encoded characters (a space, a slash-free "é", a "+") and a query
    res = requests.get(f"{gateway.url}/items/INV%202026%2B%C3%A9?name=a%20b&tag=x&tag=y", headers=bearer(token()),
                       timeout=10)
    assert res.status_code == 200
    event = gateway.host.events[-1]
    # Then rawPath, requestContext.http.path and the path parameter are decoded
    assert event["rawPath"] == "/items/INV 2026+é"
    assert event["requestContext"]["http"]["path"] == "/items/INV 2026+é"
    assert event["pathParameters"] == {"item_id": "INV 2026+é"}
    # And rawQueryString stays as sent, while queryStringParameters are decoded and repeated keys joined by commas
    assert event["rawQueryString"] == "name=a%20b&tag=x&tag=y"
    assert event["queryStringParameters"] == {"name": "a b", "tag": "x,y"}
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /items/{item_id}"


def test_an_encoded_slash_cannot_hide_inside_a_path_parameter(gateway):
    # The HTTP API decodes %2F before routing: /items/a%2Fb is /items/a/b, which no route matches
    res = requests.get(f"{gateway.url}/items/a%2Fb", headers=bearer(token()), timeout=10)
    assert (res.status_code, res.json()) == (404, {"message": "Not Found"})
