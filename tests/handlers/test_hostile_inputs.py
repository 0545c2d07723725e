"""Hostile and careless callers (issue 19): each finding answers the contract's error, never a 500, and
writes nothing. Each test failed on main before the fix (a 500, or the wrong answer)."""

from __future__ import annotations

import json

import pytest

from tests.handlers.conftest import NO_KEY, admin, create_org, read_pages, viewer

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


def stripe_payment(lambdas, partner):
    """Given-step: the `stripe` payment the webhook recorded for a succeeded online top-up of SGD 50.00."""
    from tests.handlers.stripe_support import card_customer

    org_id, intent = card_customer(lambdas, partner)
    _, page = lambdas.payments("list_payments", query={"org_id": org_id}, **admin(partner))
    (payment,) = page["items"]
    assert (payment["method"], payment["reference"], payment["amount"]) == ("stripe", intent["id"], 5_000)
    return payment


@pytest.mark.parametrize("change", [{"amount": 250_000}, {"method": "cash"}, {"reference": "edited"},
                                    {"received_date": "2026-11-01"}, {"method": "cash", "reference": "edited"}])
def test_what_stripe_received_cannot_be_edited(lambdas, partner, change):
    # Given the webhook's stripe payment
    payment = stripe_payment(lambdas, partner)
    before = lambdas.snapshot()
    # When finance edits what Stripe received
    status, body = lambdas.payments("patch_payment", path={"payment_id": payment["id"]}, body=change,
                                    headers={"if-match": None}, **admin(partner))
    # Then 409 stripe_payment_locked naming the fields, and nothing is written
    assert (status, body["error"]["code"]) == (409, "stripe_payment_locked"), body
    assert {d["field"] for d in body["error"]["details"]} == set(change)
    assert lambdas.snapshot() == before


def test_a_stripe_payment_keeps_its_remark_editable_and_cannot_be_deleted_or_topped_up_beyond(lambdas, partner):
    # Given the webhook's stripe payment (all of it already in the wallet)
    payment = stripe_payment(lambdas, partner)
    path = {"payment_id": payment["id"]}
    # When finance writes a remark: allowed
    status, body = lambdas.payments("patch_payment", path=path, body={"remark": "card top-up"},
                                    headers={"if-match": None}, **admin(partner))
    assert status == 200 and body["remark"] == "card top-up" and body["amount"] == 5_000
    before = lambdas.snapshot()
    # When it is deleted, or topped up with money Stripe never received: refused, nothing written
    deleted = lambdas.payments("delete_payment", path=path, headers={"if-match": None}, **admin(partner))
    topped = lambdas.allocation("top_up_from_payment", path=path, body={"amount": 247_500}, headers=NO_KEY,
                                **admin(partner))
    assert (deleted[0], deleted[1]["error"]["code"]) == (409, "stripe_payment_locked")
    assert topped[0] == 409
    assert lambdas.snapshot() == before


@pytest.mark.parametrize("route", ["create", "patch"])
def test_no_caller_but_the_webhook_records_a_stripe_payment(lambdas, partner, route):
    # Given a cash payment
    _, payment = payments_post(lambdas, partner, raw=json.dumps(PAYMENT))
    before = lambdas.snapshot()
    # When a caller records a payment as `stripe`, or turns one into `stripe`
    if route == "create":
        status, body = payments_post(lambdas, partner, raw=json.dumps({**PAYMENT, "method": "stripe"}))
    else:
        status, body = lambdas.payments("patch_payment", path={"payment_id": payment["id"]},
                                        body={"method": "stripe"}, headers={"if-match": None}, **admin(partner))
    # Then 422 on the method field, and nothing is written
    assert status == 422 and [d["field"] for d in body["error"]["details"]] == ["method"], body
    assert lambdas.snapshot() == before


@pytest.mark.parametrize("partner_id", ["ptn_e1#ORGPAY#o", "ptn h1", "x" * 65, "ptn_é", "a\u0000b"])
def test_a_token_whose_partner_id_is_not_a_partner_id_is_401(lambdas, partner_id):
    # Given a token naming a partner id of another shape (the identity provider issues what is typed)
    who = {"claims": {"partner_id": partner_id, "groups": "[finance-admin]", "sub": "admin@example.com"}}
    before = lambdas.snapshot()
    # When it is used on a read and a write
    listed = lambdas.payments("list_payments", **who)
    created = lambdas.accounts("create_organization", body={"name": "shared", "currency": "SGD"}, headers=NO_KEY,
                               **who)
    # Then 401 in the contract's shape, and nothing is written
    assert [(s, b["error"]["code"]) for s, b in (listed, created)] == [(401, "unauthorized")] * 2
    assert lambdas.snapshot() == before


@pytest.mark.parametrize("org_id", ["o#ORGPAY#org_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "org_" + "A" * 200, "org_ 1",
                                    "ORG_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "org_01JZ8Q5V4K7W3M2N1P0R9S8T7"])
def test_a_path_id_this_service_never_issued_is_404(lambdas, partner, org_id):
    # Given a real organization of the caller's
    create_org(lambdas, partner)
    # When a path names an id of another shape (separators, overlong, wrong case, short)
    status, body = lambdas.accounts("get_organization", path={"org_id": org_id}, **admin(partner))
    # Then the same 404 as a missing organization
    assert (status, body) == (404, {"error": {"code": "not_found", "message": "Organization not found.",
                                              "details": []}})


@pytest.mark.parametrize("org_id", ["o#ORGPAY#org_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "org_" + "A" * 200, "org_ 1",
                                    "pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "org_01JZ8Q5V4K7W3M2N1P0R9S8T7", " "])
@pytest.mark.parametrize(("function", "event"), [("payments", "list_payments"), ("allocation", "list_invoices")])
def test_a_filter_id_this_service_never_issued_is_422(lambdas, partner, org_id, function, event):
    # Given a real organization of the caller's, and what the table holds
    create_org(lambdas, partner)
    before = lambdas.snapshot()
    # When a list is filtered by an organization id of another shape (separators, overlong, another type)
    status, body = getattr(lambdas, function)(event, query={"org_id": org_id}, **admin(partner))
    # Then 422 naming the filter (it used to answer 200 with an empty page: a key part from the query)
    assert status == 422 and body["error"]["code"] == "validation_error", body
    assert [d["field"] for d in body["error"]["details"]] == ["query.org_id"]
    assert lambdas.snapshot() == before


def test_a_history_past_dynamodbs_1_mb_page_is_complete(lambdas, partner):
    # Given a payment edited 140 times with long remarks (1,000 emoji each: ~4 KB per audit record, ~600 KB
    # of history, more than one 1 MB page once the changes' from/to are counted)
    _, payment = payments_post(lambdas, partner, raw=json.dumps(PAYMENT))
    path = {"payment_id": payment["id"]}
    for i in range(140):
        remark = ("\U0001f600" if i % 2 else "\U0001f4b8") * 1000
        status, _ = lambdas.payments("patch_payment", path=path, body={"remark": remark}, headers={"if-match": None},
                                     **admin(partner))
        assert status == 200
    # When its history is read 100 records a page, following the cursors
    pages = read_pages(lambdas, "payments", "payment_history", path, admin(partner))
    # Then every record is there once, down to its creation (a single Query cut at 1 MB answered 119 of the
    # 141 with no cursor before the fix), and every page but the last is full
    assert [len(p) for p in pages] == [100, 41]
    records = [r for p in pages for r in p]
    assert len({r["id"] for r in records}) == 141 and records[-1]["action"] == "payment.created"
    assert [r["at"] for r in records] == sorted((r["at"] for r in records), reverse=True)
    # And the cursor is the caller's: another partner's viewer gets 400 for it, never the records
    _, first = lambdas.payments("payment_history", path=path, query={"limit": "100"}, **admin(partner))
    query = {"limit": "100", "cursor": first["next_cursor"]}
    status, body = lambdas.payments("payment_history", path=path, query=query, **viewer(f"{partner}x"))
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


def test_sums_stay_within_max_amount(lambdas, partner):
    # Given a partner master wallet credited up to MAX_AMOUNT (10^15), the largest single amount
    from shared.money import MAX_AMOUNT
    from tests.handlers.conftest import credit

    assert credit(lambdas, partner, MAX_AMOUNT)[0] == 201
    before = lambdas.snapshot()
    # When more credits of MAX_AMOUNT follow (ten of them would pass 2^53, inexact as a JSON double)
    answers = [credit(lambdas, partner, MAX_AMOUNT) for _ in range(3)]
    # Then each is 409 balance_limit_exceeded, nothing is written, and the balance stays exact
    assert [(s, b["error"]["code"]) for s, b in answers] == [(409, "balance_limit_exceeded")] * 3
    assert lambdas.snapshot() == before
    _, wallet = lambdas.accounts("get_partner_wallet", path={"partner_id": partner}, **admin(partner))
    assert wallet["balances"] == [{"currency": "SGD", "balance": MAX_AMOUNT}]
