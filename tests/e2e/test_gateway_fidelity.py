"""The local stack as `make run` starts it (the template's throttle on) answers what API Gateway's HTTP API
answers itself, hands the functions what the HTTP API hands them, and serves the API's own description.

Each answer and its AWS source: docs/local-stack.md. tests/unit/test_gateway_answers.py holds the same
rules against a recording host, case by case; here they are seen through the real handlers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jwt
import pytest
import requests

from local.auth import issuer_and_audience, mint, secret
from local.process import StackProcess, start_stack
from tests.conftest import new_partner
from tests.e2e.conftest import Api, table_of


@pytest.fixture(scope="module")
def gateway() -> Iterator[StackProcess]:
    process = start_stack("--no-seed", throttled=True)  # as `make run`: the stage's throttle applies
    try:
        yield process
    finally:
        process.stop()


def token(**claims: Any) -> str:
    iss, aud = issuer_and_audience()
    now = int(time.time())
    body = {"sub": "fidelity@example.com", "iss": iss, "aud": aud, "iat": now, "exp": now + 600,
            "partner_id": new_partner(), "groups": ["finance-admin"], **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not ...}, secret(), algorithm="HS256")


# --- the API's own description ----------------------------------------------------------------------------
def test_openapi_json_is_served_without_a_token(gateway):
    # When the document is asked for with no token
    res = requests.get(f"{gateway.api}/openapi.json", timeout=120)
    # Then it is the OpenAPI 3.1 document of the API, as JSON
    assert res.status_code == 200
    assert res.headers["Content-Type"].startswith("application/json")
    doc = res.json()
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert "/organizations" in doc["paths"]


def test_docs_is_swagger_ui_from_local_files_loading_openapi_json(gateway):
    # When /docs is opened with no token
    res = requests.get(f"{gateway.api}/docs", timeout=30)
    # Then it is an HTML page whose every script, stylesheet and icon is served by the stack itself
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("text/html")
    page = res.text
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all(r.startswith("/docs/") for r in refs), refs
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    # And it loads the API's document from /openapi.json
    assert 'url: "/openapi.json"' in page
    # And each asset answers with its content type
    kinds = {r: requests.get(f"{gateway.api}{r}", timeout=30) for r in refs}
    assert all(a.status_code == 200 and a.content for a in kinds.values())
    assert kinds["/docs/swagger-ui.css"].headers["Content-Type"].startswith("text/css")
    assert "javascript" in kinds["/docs/swagger-ui-bundle.js"].headers["Content-Type"]
    assert kinds["/docs/favicon-32x32.png"].headers["Content-Type"] == "image/png"
    assert requests.get(f"{gateway.api}/docs/../local/auth.py", timeout=10).status_code == 404


# --- what the gateway answers itself --------------------------------------------------------------------------
def test_no_token_and_a_bad_token_are_the_gateways_401(gateway):
    for headers in ({}, {"Authorization": "Bearer not-a-token"},
                    {"Authorization": f"Bearer {mint('a', new_partner(), ['finance-admin'], ttl=-10)}"}):
        res = requests.get(f"{gateway.api}/organizations", headers=headers, timeout=10)
        assert (res.status_code, res.json()) == (401, {"message": "Unauthorized"})
        assert res.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_route_and_an_undeclared_method_are_the_gateways_404(gateway):
    api = Api(gateway.api, token())
    for method, path in (("GET", "/nowhere"), ("PUT", "/organizations"), ("DELETE", "/organizations")):
        res = api(method, path)
        assert (res.status_code, res.json()) == (404, {"message": "Not Found"}), (method, path)


def test_the_stage_throttle_answers_429_per_route(gateway):
    # Given the template's stage throttle (100 requests/s, burst 200), and a route no other test calls
    session = requests.Session()
    # When one client calls it back to back (faster than 100 a second), with no token (no function runs)
    statuses = []
    for _ in range(2_000):
        res = session.get(f"{gateway.api}/invoices", timeout=10)
        statuses.append(res.status_code)
        if res.status_code == 429:
            break
    # Then the burst passes (the gateway's 401) and then the gateway answers 429 {"message":"Too Many Requests"}
    assert statuses[-1] == 429, statuses[-5:]
    assert res.json() == {"message": "Too Many Requests"}
    assert len(statuses) > 200 and set(statuses[:200]) == {401}
    # And another route keeps its own bucket
    assert session.get(f"{gateway.api}/payments", timeout=10).status_code == 401


# --- what reaches the function --------------------------------------------------------------------------------
def test_a_token_with_a_null_partner_is_refused_as_having_no_partner(gateway):
    # Given a finance admin's token whose partner_id is null
    api = Api(gateway.api, token(partner_id=None))
    before = table_of(gateway)
    # When it creates an organization and lists organizations
    created = api("POST", "/organizations", {"name": "Tenant None", "currency": "SGD"})
    listed = api("GET", "/organizations")
    # Then both are refused (no tenant "None"), and nothing is written
    assert created.status_code == 403 and created.json()["error"]["code"] == "forbidden"
    assert listed.status_code == 403 and listed.json()["error"]["code"] == "forbidden"
    assert table_of(gateway) == before


def test_a_cognito_access_token_and_a_bare_token_are_accepted(gateway):
    _, aud = issuer_and_audience()
    access = token(aud=..., client_id=aud, partner_id="ptn_fidelity")
    for header in (f"Bearer {access}", access):
        res = requests.get(f"{gateway.api}/organizations", headers={"Authorization": header}, timeout=30)
        assert (res.status_code, res.json()["items"]) == (200, []), res.text


def test_a_percent_encoded_path_parameter_reaches_the_handler_decoded(gateway):
    # Given an organization
    api = Api(gateway.api, token())
    org = api("POST", "/organizations", {"name": "Encoded Path", "currency": "SGD"}).json()
    # When it is read with every character of its id percent-encoded
    encoded = "".join(f"%{b:02X}" for b in org["id"].encode())
    res = api("GET", f"/organizations/{encoded}")
    # Then the handler got the decoded id
    assert res.status_code == 200 and res.json()["id"] == org["id"]
    # And an id with an encoded space reaches the handler as such: its own 404, in the contract's shape
    missing = api("GET", f"/organizations/{quote('org_no such')}")
    assert missing.status_code == 404 and missing.json()["error"]["code"]
