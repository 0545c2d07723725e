"""Cognito's pre token generation trigger (V2_0, functions/pre_token) puts the contract's claims into the access
token, and such a token, once API Gateway's JWT authorizer has verified and flattened it, is the principal the
service expects (shared/auth.py)."""

from __future__ import annotations

import copy
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest

from local.auth import flatten_claims, secret, verify
from local.lambdas import LambdaContext
from local.template import Template
from shared.auth import principal_from_event
from shared.domain.token_claims import claims_for, contract_groups
from shared.errors import Forbidden

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "pre_token"
POOL = "us-east-1_EXAMPLE"
CLIENT_ID = "1example23456789abcdefghij"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_pre_token_app", ROOT / "functions" / "pre_token" / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def handler() -> ModuleType:
    return load_handler()


def event(name: str = "token_generation.json", **attributes: str | None) -> dict[str, Any]:
    body = json.loads((EVENTS / name).read_text())
    for key, value in attributes.items():
        name_of = key.replace("__", ":")
        if value is None:
            body["request"]["userAttributes"].pop(name_of, None)
        else:
            body["request"]["userAttributes"][name_of] = value
    return body


def invoke(handler: ModuleType, body: dict[str, Any]) -> dict[str, Any]:
    return handler.lambda_handler(copy.deepcopy(body), LambdaContext("PreTokenFunction", 512, 5, "req-1"))


def added(response: dict[str, Any], token: str) -> dict[str, Any]:
    return response["response"]["claimsAndScopeOverrideDetails"][f"{token}TokenGeneration"]["claimsToAddOrOverride"]


# --- the event is Cognito's V2_0 shape ---------------------------------------------------------------------------
def test_the_sample_event_has_cognitos_v2_shape():
    body = event()
    assert body["version"] == "2" and body["triggerSource"] == "TokenGeneration_HostedAuth"
    request = body["request"]
    assert {"custom:partner_id", "cognito:user_status", "email"} <= set(request["userAttributes"])
    assert set(request["groupConfiguration"]) == {"groupsToOverride", "iamRolesToOverride", "preferredRole"}
    assert request["scopes"] == ["openid", "email", "profile"]
    assert body["response"] == {"claimsAndScopeOverrideDetails": None}


# --- the trigger ---------------------------------------------------------------------------------------------------
def test_a_finance_admin_gets_partner_and_groups_in_both_tokens(handler):
    # Given a finance admin of ptn_demo signing in through the hosted UI
    body = event()
    # When the trigger runs
    response = invoke(handler, body)
    # Then the access token and the ID token get the contract's partner_id and groups (a list), and no org_id
    for token in ("access", "id"):
        assert added(response, token) == {"partner_id": "ptn_demo", "groups": ["finance-admin"]}, token
    # And the user's group configuration is handed back as it came (cognito:groups stays as it is)
    details = response["response"]["claimsAndScopeOverrideDetails"]
    assert details["groupOverrideDetails"] == body["request"]["groupConfiguration"]
    # And the rest of the event is Cognito's, untouched
    assert {k: v for k, v in response.items() if k != "response"} == {k: v for k, v in body.items() if k != "response"}


def test_org_staff_also_get_their_org_id(handler):
    # Given an org-viewer whose custom:org_id names their organization (a refresh)
    body = event("org_staff.json")
    # When the trigger runs
    response = invoke(handler, body)
    # Then both tokens carry the partner, the group and the organization
    expected = {"partner_id": "ptn_demo", "groups": ["org-viewer"], "org_id": "org_01JD3M8ZQ4W6X2C9V7B5N1K3P8"}
    assert added(response, "access") == added(response, "id") == expected


def test_a_user_without_partner_id_gets_neither_partner_nor_groups(handler):
    # Given a finance admin whose custom:partner_id was never set
    body = event(custom__partner_id=None)
    # When the trigger runs
    response = invoke(handler, body)
    # Then no partner_id and no groups are added to either token (the API refuses a token without a partner)
    for token in ("access", "id"):
        claims = added(response, token)
        assert "partner_id" not in claims and "groups" not in claims and "org_id" not in claims, token
    # And a blank partner_id is no partner either
    assert "partner_id" not in added(invoke(handler, event(custom__partner_id="  ")), "access")


def test_a_user_in_no_group_gets_an_empty_group_list(handler):
    # Given a user of ptn_demo who belongs to no group
    body = event()
    body["request"]["groupConfiguration"]["groupsToOverride"] = []
    # When the trigger runs
    response = invoke(handler, body)
    # Then the tokens say so: groups is an empty list (the API answers 403: no finance role)
    assert added(response, "access") == {"partner_id": "ptn_demo", "groups": []}
    # And a null group configuration (a pool without groups) is the same
    body["request"]["groupConfiguration"] = None
    response = invoke(handler, body)
    assert added(response, "access") == {"partner_id": "ptn_demo", "groups": []}
    assert "groupOverrideDetails" not in response["response"]["claimsAndScopeOverrideDetails"]


def test_only_the_contracts_groups_reach_the_token_and_org_id_only_for_org_staff():
    # Given groups the contract names, one it does not, and a duplicate
    groups = ["ops-oncall", "finance-viewer", "org-admin", "finance-viewer"]
    # Then only the contract's groups remain, in Cognito's order, once each
    assert contract_groups(groups) == ["finance-viewer", "org-admin"]
    assert contract_groups(None) == []
    # And an org_id is added for org staff only
    attributes = {"custom:partner_id": "ptn_a", "custom:org_id": "org_x"}
    assert claims_for(attributes, ["finance-admin"]) == {"partner_id": "ptn_a", "groups": ["finance-admin"]}
    assert claims_for(attributes, ["org-admin"])["org_id"] == "org_x"
    assert "org_id" not in claims_for({"custom:partner_id": "ptn_a"}, ["org-admin"])
    assert claims_for(None, ["finance-admin"]) == {}


# --- end to end: the trigger's claims in a Cognito access token, through the authorizer, into a principal -------------
def cognito_access_token(added_claims: dict[str, Any], *, client_id: str = CLIENT_ID, groups: list[str]) -> str:
    """An access token as Cognito issues it (no aud: the app client is client_id), with the trigger's claims."""
    now = int(time.time())
    claims = {"sub": "5f1c7a2e-9b3d-4e51-a8f0-2d6c4b7e9a10", "cognito:groups": groups, "iss": ISSUER,
              "version": 2, "client_id": client_id, "origin_jti": "0d8e7b5a", "token_use": "access",
              "scope": "openid email profile", "auth_time": now, "exp": now + 3600, "iat": now, "jti": "9f0c",
              "username": "5f1c7a2e-9b3d-4e51-a8f0-2d6c4b7e9a10", **added_claims}
    return jwt.encode(claims, secret(), algorithm="HS256")


DEPLOYED = Template({"Parameters": {"JwtIssuer": {"Default": ISSUER}, "JwtAudience": {"Default": CLIENT_ID}}})


def through_the_authorizer(token: str) -> dict[str, Any]:
    """What the function receives: the claims verified (issuer; client_id as the audience) and flattened."""
    return {"requestContext": {"authorizer": {"jwt": {"claims": flatten_claims(verify(token, template=DEPLOYED)),
                                                      "scopes": None}}}}


def test_a_cognito_access_token_with_the_triggers_claims_is_the_partners_finance_admin(handler):
    # Given the claims the trigger adds for a finance admin of ptn_demo, in a Cognito access token (no aud)
    response = invoke(handler, event())
    token = cognito_access_token(added(response, "access"), groups=["finance-admin"])
    assert "aud" not in jwt.decode(token, options={"verify_signature": False})
    # When the JWT authorizer verifies it (issuer: the pool; audience: the app client, as client_id) and flattens it
    request = through_the_authorizer(token)
    assert request["requestContext"]["authorizer"]["jwt"]["claims"]["groups"] == "[finance-admin]"
    # Then the service's principal is ptn_demo's finance admin: it may write its partner's data
    principal = principal_from_event(request)
    assert principal.partner_id == "ptn_demo"
    assert principal.groups == frozenset({"finance-admin"})
    assert principal.require_writer() == "ptn_demo" and not principal.is_platform_admin


def test_a_viewers_token_reads_but_may_not_write(handler):
    # Given a finance viewer's token
    body = event()
    body["request"]["groupConfiguration"]["groupsToOverride"] = ["finance-viewer"]
    token = cognito_access_token(added(invoke(handler, body), "access"), groups=["finance-viewer"])
    # When it reaches the service
    principal = principal_from_event(through_the_authorizer(token))
    # Then it reads its partner's lists and may not write
    assert principal.home_partner() == "ptn_demo" and not principal.can_write
    with pytest.raises(Forbidden):
        principal.require_writer()


def test_a_token_without_the_partner_claim_is_refused_by_the_service(handler):
    # Given a user without custom:partner_id, signed in as a finance admin (cognito:groups says so)
    response = invoke(handler, event(custom__partner_id=None))
    token = cognito_access_token(added(response, "access"), groups=["finance-admin"])
    # When the service reads the principal
    principal = principal_from_event(through_the_authorizer(token))
    # Then it has no partner and no role (cognito:groups is not the contract's groups), and is refused
    assert principal.partner_id is None and principal.groups == frozenset()
    with pytest.raises(Forbidden):
        principal.home_partner()


def test_another_app_clients_token_is_refused_by_the_authorizer(handler):
    # Given a token of the same pool issued to another app client
    token = cognito_access_token(added(invoke(handler, event()), "access"), client_id="another-client",
                                 groups=["finance-admin"])
    # Then the authorizer refuses it (client_id is not the audience)
    with pytest.raises(jwt.InvalidAudienceError):
        through_the_authorizer(token)
