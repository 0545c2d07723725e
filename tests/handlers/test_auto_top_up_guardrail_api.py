"""Issue 30's routes through the real handlers: the payment settings' guardrails, the online top-up's top-up mode and
target balance, and a partner's auto-credit limits. Every refusal answers its code and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.container import Container
from shared.domain.organization import Organization
from shared.repositories.registry import item_of
from tests.conftest import new_partner
from tests.handlers.conftest import NO_KEY, PLATFORM, admin, create_org, viewer
from tests.handlers.stripe_support import card_customer, card_org
from tests.handlers.test_customer_staff import customer

BASE = {"method": "master_account", "trigger_amount": 5_000, "limit_threshold": 1_000, "auto_trigger": True}
DEFAULTS = {"top_up_mode": "fixed", "target_balance": None, "monthly_cap": None, "max_consecutive_failures": 3,
            "consecutive_failures": 0, "disabled_reason": None}


def put_settings(lambdas, partner, org_id, who=None, **fields) -> tuple[int, Any]:
    return lambdas.accounts("put_payment_settings", path={"org_id": org_id}, body={**BASE, **fields},
                            **(who or admin(partner)))


def settings_of(lambdas, partner, org_id) -> dict[str, Any]:
    status, body = lambdas.accounts("get_payment_settings", path={"org_id": org_id}, **viewer(partner))
    assert status == 200, body
    return body


def test_a_new_organization_and_one_stored_before_the_guardrails_read_with_the_defaults(lambdas, partner):
    # Given a new organization, and one whose stored settings predate the guardrail fields
    org = create_org(lambdas, partner)
    assert {k: settings_of(lambdas, partner, org["id"])[k] for k in DEFAULTS} == DEFAULTS
    old = create_org(lambdas, partner, "Old Telecom")
    deps = Container.from_env()
    item = item_of(deps.store.get(Organization, old["id"]))
    item["settings"] = {k: v for k, v in item["settings"].items() if k not in DEFAULTS}
    item["version"] += 1
    deps.db.transact([deps.db.put_if(item, "attribute_exists(pk)", {})])
    # Then it reads with the defaults
    assert {k: settings_of(lambdas, partner, old["id"])[k] for k in DEFAULTS} == DEFAULTS


def test_guardrails_are_put_kept_when_left_out_and_audited(lambdas, partner):
    org = create_org(lambdas, partner)
    # When target mode, a cap and a failure allowance are put (trigger 0: unused in target mode)
    status, body = put_settings(lambdas, partner, org["id"], trigger_amount=0, top_up_mode="target",
                                target_balance=20_000, monthly_cap=100_000, max_consecutive_failures=5)
    assert status == 200, body
    assert {k: body[k] for k in ("top_up_mode", "target_balance", "monthly_cap", "max_consecutive_failures")} == {
        "top_up_mode": "target", "target_balance": 20_000, "monthly_cap": 100_000, "max_consecutive_failures": 5}
    # Then a PUT leaving them out keeps them, and a null cap removes it
    status, body = put_settings(lambdas, partner, org["id"], trigger_amount=0, limit_threshold=2_000)
    assert status == 200 and (body["top_up_mode"], body["monthly_cap"], body["limit_threshold"]) == (
        "target", 100_000, 2_000)
    status, body = put_settings(lambdas, partner, org["id"], trigger_amount=0, limit_threshold=2_000, monthly_cap=None)
    assert status == 200 and body["monthly_cap"] is None and body["target_balance"] == 20_000
    # And each change is audited with what changed
    status, history = lambdas.accounts("organization_history", path={"org_id": org["id"]}, query={},
                                       **viewer(partner))
    changes = [r["changes"] for r in history["items"] if r["action"] == "payment_settings.updated"]
    assert changes[0] == {"monthly_cap": {"from": 100_000, "to": None}}
    assert changes[-1]["top_up_mode"] == {"from": "fixed", "to": "target"}


@pytest.mark.parametrize(("fields", "status", "code", "field"), [
    ({"top_up_mode": "target"}, 422, "validation_error", "target_balance"),
    ({"top_up_mode": "target", "target_balance": 1_000}, 422, "validation_error", "target_balance"),
    ({"top_up_mode": "target", "target_balance": None}, 422, "validation_error", "target_balance"),
    ({"top_up_mode": "goal"}, 422, "validation_error", "top_up_mode"),
    ({"top_up_mode": None}, 422, "validation_error", "top_up_mode"),
    ({"monthly_cap": 0}, 422, "validation_error", "monthly_cap"),
    ({"monthly_cap": 10.5}, 422, "validation_error", "monthly_cap"),
    ({"max_consecutive_failures": 0}, 422, "validation_error", "max_consecutive_failures"),
    ({"max_consecutive_failures": 11}, 422, "validation_error", "max_consecutive_failures"),
    ({"max_consecutive_failures": None}, 422, "validation_error", "max_consecutive_failures"),
    ({"target_balance": -1}, 422, "validation_error", "target_balance"),
    ({"consecutive_failures": 0}, 422, "validation_error", "consecutive_failures"),  # read-only
    ({"disabled_reason": None}, 422, "validation_error", "disabled_reason"),  # read-only
    ({"trigger_amount": 0, "top_up_mode": "fixed"}, 422, "validation_error", "body"),
])
def test_bad_guardrails_get_their_code_and_nothing_is_written(lambdas, partner, fields, status, code, field):
    org = create_org(lambdas, partner)
    before = lambdas.snapshot()
    got, body = put_settings(lambdas, partner, org["id"], **fields)
    assert (got, body["error"]["code"]) == (status, code), body
    assert field in {d["field"] for d in body["error"]["details"]}
    assert lambdas.snapshot() == before


def test_a_stripe_customers_mode_and_target_are_locked_its_cap_is_the_partners(lambdas, partner):
    # Given a customer whose online top-up made its settings `stripe`
    org_id, _ = card_customer(lambdas, partner)
    stripe = {"method": "stripe", "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": True}
    before = lambdas.snapshot()
    # When its mode or target is changed here: 409, nothing written
    for fields in ({"top_up_mode": "target", "target_balance": 9_000}, {"target_balance": 9_000}):
        status, body = put_settings(lambdas, partner, org_id, **stripe, **fields)
        assert (status, body["error"]["code"]) == (409, "stripe_settings_locked"), body
    # And the customer's own admin may not change the cap (403)
    status, body = put_settings(lambdas, partner, org_id, who={"claims": customer(partner, org_id)}, **stripe,
                                monthly_cap=50_000)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert lambdas.snapshot() == before
    # But the partner's finance admin may set its cap and failures allowed
    status, body = put_settings(lambdas, partner, org_id, **stripe, monthly_cap=50_000, max_consecutive_failures=1)
    assert status == 200 and (body["monthly_cap"], body["max_consecutive_failures"]) == (50_000, 1)


def test_viewers_403_and_other_partners_404_on_settings(lambdas, partner):
    org = create_org(lambdas, partner)
    before = lambdas.snapshot()
    assert put_settings(lambdas, partner, org["id"], who=viewer(partner), monthly_cap=1)[0] == 403
    status, body = put_settings(lambdas, partner, org["id"], who=admin(new_partner()), monthly_cap=1)
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert lambdas.snapshot() == before


# --- the online top-up's mode and target ------------------------------------------------------------------
ONLINE = {"amount": 5_000, "trigger_amount": 0, "limit_threshold": 1_000, "auto_trigger": True}


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"top_up_mode": "target"}, "validation_error", "target_balance"),
    ({"top_up_mode": "target", "target_balance": 1_000}, "validation_error", "target_balance"),
    ({"top_up_mode": "target", "target_balance": 1_049}, "card_amount_not_allowed", "target_balance"),
    ({"top_up_mode": "fixed"}, "validation_error", "body"),  # fixed mode: a trigger above 0
    ({"top_up_mode": "other", "target_balance": 9_000}, "validation_error", "top_up_mode"),
])
def test_an_online_top_ups_bad_target_gets_422_before_stripe_and_nothing_is_written(lambdas, partner, fields, code,
                                                                                    field):
    org_id = card_org(lambdas, partner)
    before = lambdas.snapshot()
    status, body = lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body={**ONLINE, **fields},
                                    headers=NO_KEY, **admin(partner))
    assert (status, body["error"]["code"]) == (422, code), body
    assert field in {d["field"] for d in body["error"]["details"]}
    assert lambdas.snapshot() == before


def test_an_online_top_up_records_its_mode_and_target(lambdas, partner):
    org_id = card_org(lambdas, partner)
    status, body = lambdas.accounts("start_online_top_up", path={"org_id": org_id}, headers=NO_KEY,
                                    body={**ONLINE, "top_up_mode": "target", "target_balance": 9_000}, **admin(partner))
    assert status == 201, body
    assert (body["top_up_mode"], body["target_balance"], body["trigger_amount"]) == ("target", 9_000, 0)


# --- a partner's auto-credit limits ----------------------------------------------------------------------
def limit_call(lambdas, event, partner, who, currency="SGD", **kw) -> tuple[int, Any]:
    path = {"partner_id": partner} | ({"currency": currency} if event != "list_auto_credit_limits" else {})
    return lambdas.accounts(event, path=path, **kw, **who)


def test_a_finance_admin_sets_lists_changes_and_removes_its_limits(lambdas, partner):
    # When the partner's finance admin sets two limits and changes one
    for currency, limit in (("SGD", 100_000), ("USD", 0), ("SGD", 250_000)):
        status, body = limit_call(lambdas, "put_auto_credit_limit", partner, admin(partner), currency,
                                  body={"daily_limit": limit})
        assert status == 200, body
        assert (body["partner_id"], body["currency"], body["daily_limit"]) == (partner, currency, limit)
        assert body["updated_by"] == "admin@example.com"
    # Then its staff and a platform admin list them (one per page here)
    status, first = limit_call(lambdas, "list_auto_credit_limits", partner, viewer(partner), query={"limit": "1"})
    assert status == 200 and first["next_cursor"]
    status, second = limit_call(lambdas, "list_auto_credit_limits", partner, PLATFORM,
                                query={"limit": "1", "cursor": first["next_cursor"]})
    assert status == 400 and second["error"]["code"] == "invalid_cursor"  # a cursor is its holder's
    _, second = limit_call(lambdas, "list_auto_credit_limits", partner, viewer(partner),
                           query={"limit": "1", "cursor": first["next_cursor"]})
    assert [(i["currency"], i["daily_limit"]) for i in first["items"] + second["items"]] == [("SGD", 250_000),
                                                                                            ("USD", 0)]
    status, listed = limit_call(lambdas, "list_auto_credit_limits", partner, PLATFORM, query={})
    assert status == 200 and len(listed["items"]) == 2
    # When one is removed: 204, and removing it again is 404
    assert limit_call(lambdas, "delete_auto_credit_limit", partner, admin(partner), "USD")[0] == 204
    status, body = limit_call(lambdas, "delete_auto_credit_limit", partner, admin(partner), "USD")
    assert (status, body["error"]["code"]) == (404, "not_found")
    _, listed = limit_call(lambdas, "list_auto_credit_limits", partner, viewer(partner), query={})
    assert [i["currency"] for i in listed["items"]] == ["SGD"]


@pytest.mark.parametrize(("event", "who", "currency", "body", "status", "code"), [
    ("put_auto_credit_limit", "viewer", "SGD", {"daily_limit": 1}, 403, "forbidden"),
    ("put_auto_credit_limit", "platform", "SGD", {"daily_limit": 1}, 403, "forbidden"),
    ("put_auto_credit_limit", "other_admin", "SGD", {"daily_limit": 1}, 404, "not_found"),
    ("put_auto_credit_limit", "org_admin", "SGD", {"daily_limit": 1}, 403, "forbidden"),
    ("put_auto_credit_limit", "admin", "sgd", {"daily_limit": 1}, 422, "validation_error"),
    ("put_auto_credit_limit", "admin", "XXX", {"daily_limit": 1}, 422, "validation_error"),
    ("put_auto_credit_limit", "admin", "SGD", {"daily_limit": -1}, 422, "validation_error"),
    ("put_auto_credit_limit", "admin", "SGD", {"daily_limit": 1.5}, 422, "validation_error"),
    ("put_auto_credit_limit", "admin", "SGD", {"daily_limit": 1, "extra": 1}, 422, "validation_error"),
    ("put_auto_credit_limit", "admin", "SGD", {}, 422, "validation_error"),
    ("delete_auto_credit_limit", "viewer", "SGD", None, 403, "forbidden"),
    ("delete_auto_credit_limit", "other_admin", "SGD", None, 404, "not_found"),
    ("delete_auto_credit_limit", "admin", "XXX", None, 404, "not_found"),
    ("list_auto_credit_limits", "other_admin", "SGD", None, 404, "not_found"),
    ("list_auto_credit_limits", "org_admin", "SGD", None, 403, "forbidden"),
])
def test_limits_refusals_answer_their_code_and_write_nothing(lambdas, partner, event, who, currency, body, status,
                                                             code):
    # Given a partner with an SGD limit
    assert limit_call(lambdas, "put_auto_credit_limit", partner, admin(partner), body={"daily_limit": 5})[0] == 200
    org = create_org(lambdas, partner)
    callers = {"viewer": viewer(partner), "platform": PLATFORM, "other_admin": admin(new_partner()),
               "admin": admin(partner), "org_admin": {"claims": customer(partner, org["id"])}}
    before = lambdas.snapshot()
    extra = ({"body": body} if body is not None else {}) | ({"query": {}} if "list" in event else {})
    got, answer = limit_call(lambdas, event, partner, callers[who], currency, **extra)
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert lambdas.snapshot() == before
