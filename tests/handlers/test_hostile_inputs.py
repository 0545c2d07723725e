"""Hostile and careless callers (issue 19): each finding answers the contract's error, never a 500, and
writes nothing. Each test failed on main before the fix (a 500, or the wrong answer)."""

from __future__ import annotations

import json

import pytest

from tests.handlers.conftest import NO_KEY, admin, create_org

PAYMENT = {"amount": 12_550, "currency": "SGD", "received_date": "2026-11-20", "method": "cheque"}


def payments_post(lambdas, partner, *, raw=None, headers=None):
    return lambdas.payments("create_payment", raw_body=raw, headers={**NO_KEY, **(headers or {})}, **admin(partner))


@pytest.mark.parametrize(("raw", "why"), [
    ('{"amount": ' + "9" * 4301 + ', "currency": "SGD"}', "an integer past Python's int-string limit"),
    ("[" * 100_000 + "]" * 100_000, "arrays nested 100,000 deep"),
    ('{"a": ' * 40 + "1" + "}" * 40, "objects nested 40 deep"),
    ('{"amount": NaN}', "a non-JSON constant"),
])
def test_pathological_json_is_400_malformed_json(lambdas, partner, raw, why):
    # Given a body that is JSON only in shape, or not at all
    before = lambdas.snapshot()
    # When it is posted
    status, body = payments_post(lambdas, partner, raw=raw)
    # Then 400 malformed_json, and nothing is written
    assert (status, body["error"]["code"]) == (400, "malformed_json"), why
    assert lambdas.snapshot() == before


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8",
                                          "application/json;charset=utf-8"])
def test_media_types_compare_case_insensitively_with_parameters(lambdas, partner, content_type):
    # Given a JSON body sent with a media type in another case, or with parameters (RFC 9110)
    status, body = payments_post(lambdas, partner, raw=json.dumps(PAYMENT), headers={"content-type": content_type})
    # Then it is understood as JSON
    assert status == 201, body


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_another_media_type_is_415_and_an_empty_body_is_400(lambdas, partner, content_type):
    # Given a body in another media type
    status, body = payments_post(lambdas, partner, raw="<payment/>", headers={"content-type": content_type})
    # Then 415 unsupported_media_type
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    # And the same media type with an empty body, on a route that takes one: 400 malformed_json
    status, body = payments_post(lambdas, partner, raw="", headers={"content-type": content_type})
    assert (status, body["error"]["code"]) == (400, "malformed_json"), body


@pytest.mark.parametrize("name", ["   ", "\u3000", " \t "])
def test_a_blank_name_search_lists_like_no_search(lambdas, partner, name):
    # Given an organization
    create_org(lambdas, partner)
    # When organizations are searched by a name of only white space
    status, body = lambdas.accounts("list_organizations", query={"name": name}, **admin(partner))
    # Then the search is no filter (not a 500)
    assert status == 200 and [o["name"] for o in body["items"]] == ["Acme Telecom"]
    status, body = lambdas.allocation("list_invoices", query={"org_name": name}, **admin(partner))
    assert status == 200 and body["items"] == []


@pytest.mark.parametrize("if_match", ["²", "1³", "١٢"])
def test_if_match_that_is_no_version_we_issued_is_412(lambdas, partner, if_match):
    # Given a payment
    _, payment = payments_post(lambdas, partner, raw=json.dumps(PAYMENT))
    before = lambdas.snapshot()
    path = {"payment_id": payment["id"]}
    # When it is edited or deleted with an If-Match of Unicode digits
    patched = lambdas.payments("patch_payment", path=path, body={"remark": "x"}, headers={"if-match": if_match},
                               **admin(partner))
    deleted = lambdas.payments("delete_payment", path=path, headers={"if-match": if_match}, **admin(partner))
    # Then 412, and nothing is written
    assert [s for s, _ in (patched, deleted)] == [412, 412]
    assert lambdas.snapshot() == before
