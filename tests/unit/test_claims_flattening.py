"""Claims as the HTTP API JWT authorizer hands them to Lambda: every value a string, lists "[a b]", booleans
"true"/"false", numbers in decimal, objects "map[k:v]", a null claim left out (docs/local-stack.md)."""

from __future__ import annotations

from local.auth import bearer_token, flatten_claims


def test_every_claim_is_a_string_as_the_authorizer_prints_it():
    # Given decoded claims of every JSON type
    claims = {"sub": "a@example.com", "groups": ["finance-admin", "platform-admin"], "email_verified": False,
              "admin": True, "iat": 1763700000, "ratio": 0.5, "whole": 2.0, "empty": [],
              "address": {"zip": "018956", "city": "Singapore", "tags": ["a", "b"]}, "nested": [1, None, True]}
    # When they are flattened
    flat = flatten_claims(claims)
    # Then each is a string
    assert flat == {"sub": "a@example.com", "groups": "[finance-admin platform-admin]", "email_verified": "false",
                    "admin": "true", "iat": "1763700000", "ratio": "0.5", "whole": "2", "empty": "[]",
                    "address": "map[city:Singapore tags:[a b] zip:018956]", "nested": "[1 <nil> true]"}


def test_a_null_claim_is_left_out_not_the_string_none():
    # Given a token whose partner_id is null
    flat = flatten_claims({"sub": "a", "partner_id": None, "groups": ["finance-admin"]})
    # Then the function sees no partner_id at all (never the tenant "None")
    assert "partner_id" not in flat
    assert "None" not in flat.values()


def test_the_identity_source_holds_the_token_alone_or_prefixed_with_bearer():
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("abc.def.ghi") == "abc.def.ghi"
    assert bearer_token(None) is None
    assert bearer_token("") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token("Basic abc") == "Basic abc"  # not a token the authorizer can verify: 401
