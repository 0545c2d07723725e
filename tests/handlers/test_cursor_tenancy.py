"""Issue 25, finding 6: a cursor never crosses partners. Every paged list route, read by platform administrators
(who may read any partner) whose tokens also name a partner of their own, through the functions' handlers.

Invariant T1: a cursor carries the owner it was issued for (the partner, and the organization or payment the list
belongs to) and every page it opens checks that the caller may read that owner; a cursor the caller may not use
answers 400 `invalid_cursor` (docs/api.md: "a cursor this list did not issue to this caller"), never a row of
another tenant.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.container import Container
from shared.domain.attempt import AutoTopUpAttempt
from shared.repositories.registry import item_of
from tests.conftest import new_partner
from tests.handlers.conftest import admin, create_org, record, viewer
from tests.handlers.test_allocation import invoice
from tests.handlers.test_money_back import credited, top_up, withdraw

AT = "2026-11-21T00:00:00.000Z"
PLATFORM_SUB = "ops@platform.example"


def platform(partner: str | None, groups: Any = "[platform-admin]") -> dict[str, Any]:
    """A platform administrator's claims; `partner` is the partner its token also names (None: none)."""
    return {"claims": {"sub": PLATFORM_SUB, "partner_id": partner, "groups": groups}}


# the groups claim as API Gateway flattens it, as a JSON list, and with a second group
GROUPS = ["[platform-admin]", ["platform-admin"], "[platform-admin finance-viewer]"]


@pytest.fixture(scope="module")
def world(lambdas) -> dict[str, Any]:
    """Two partners: `theirs` owns an organization whose ledger, withdrawals and automatic top-ups fill more than
    one page of one, and a payment with two history records; `home` (the partner the platform admin's token names)
    owns two of everything a partner-wide list shows."""
    theirs, home = new_partner(), new_partner()
    org = create_org(lambdas, theirs, "Their Telecom")
    paid = record(lambdas, theirs, org_id=org["id"], amount=10_000)
    top_up(lambdas, theirs, paid, 10_000)
    for amount in (1_000, 2_000):
        status, body = withdraw(lambdas, theirs, org, amount)
        assert status == 201, body
    deps = Container.from_env()
    for date in ("2026-11-19", "2026-11-20"):
        attempt = AutoTopUpAttempt(org_id=org["id"], partner_id=theirs, business_date=date, method="master_account",
                                   amount=10_000, currency="SGD", status="failed", reason="partner_insufficient_funds",
                                   created_at=AT, updated_at=AT)
        deps.db.transact([deps.db.put_new(item_of(attempt))])
    their_invoice = invoice(lambdas, theirs, org, amount=10_000)
    credited(lambdas, theirs, their_invoice, 1_000)
    payment = record(lambdas, theirs)
    status, body = lambdas.payments("patch_payment", path={"payment_id": payment["id"]}, body={"remark": "seen"},
                                    headers={"if-match": None}, **admin(theirs))
    assert status == 200, body
    home_orgs = [create_org(lambdas, home, name) for name in ("Home One", "Home Two")]
    for _ in range(2):
        record(lambdas, home)
    invoices = [invoice(lambdas, home, home_orgs[0], amount=10_000) for _ in range(2)]
    for inv in invoices:
        credited(lambdas, home, inv, 1_000)
    return {"theirs": theirs, "home": home, "org": org["id"], "payment": payment["id"], "invoice": their_invoice["id"]}


# (function, event, path parameter, the world's key for it)
OWNED_LISTS = {
    "ledger": ("accounts", "list_wallet_transactions", "org_id", "org"),
    "withdrawals": ("accounts", "list_withdrawals", "org_id", "org"),
    "auto-top-ups": ("accounts", "list_auto_top_ups", "org_id", "org"),
    "payment history": ("payments", "payment_history", "payment_id", "payment"),
    "organization history": ("accounts", "organization_history", "org_id", "org"),
    "invoice history": ("allocation", "invoice_history", "invoice_id", "invoice"),
}
PARTNER_LISTS = {
    "organizations": ("accounts", "list_organizations"),
    "payments": ("payments", "list_payments"),
    "invoices": ("allocation", "list_invoices"),
    "credit notes": ("allocation", "list_credit_notes"),
}


def read(lambdas, function: str, event: str, who: dict[str, Any], path: dict[str, str] | None = None,
         cursor: str | None = None) -> tuple[int, Any]:
    query = {"limit": "1"} | ({"cursor": cursor} if cursor is not None else {})
    return getattr(lambdas, function)(event, query=query, **({"path": path} if path else {}), **who)


@pytest.mark.parametrize("groups", GROUPS, ids=["flattened", "json-list", "two-groups"])
@pytest.mark.parametrize("route", OWNED_LISTS)
def test_t1_a_platform_admins_cursor_for_another_partners_list_opens_nothing_for_its_partners_users(
        lambdas, world, route, groups):
    # Given another partner's organization (or payment) whose list fills more than one page of one
    function, event, param, key = OWNED_LISTS[route]
    path = {param: world[key]}
    # And a platform admin whose token also names a partner of its own (`home`)
    admin_token = platform(world["home"], groups)
    # When the admin reads the first page, one row a page
    status, first = read(lambdas, function, event, admin_token, path)
    # Then it reads the other partner's rows, with a cursor to the next page
    assert status == 200 and len(first["items"]) == 1 and first["next_cursor"], first
    # When a finance-viewer, and a finance-admin, whose tokens name the admin's partner replay that cursor
    for who in (viewer(world["home"]), admin(world["home"])):
        status, body = read(lambdas, function, event, who, path, first["next_cursor"])
        # Then each gets 400 invalid_cursor, never the other partner's rows (before the fix: 200 and the next row
        # of the ledger, the withdrawals or the attempts; 404 for the history)
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body
    # And neither does the owner's own viewer (the cursor was issued to another tenant)
    status, body = read(lambdas, function, event, viewer(world["theirs"]), path, first["next_cursor"])
    assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body
    # And the admin itself follows its cursor to the next row
    status, second = read(lambdas, function, event, admin_token, path, first["next_cursor"])
    assert status == 200 and len(second["items"]) == 1 and second["items"] != first["items"], second


@pytest.mark.parametrize("route", OWNED_LISTS)
def test_t1_a_platform_admin_with_no_partner_pages_any_partners_list_and_its_cursor_is_its_own(lambdas, world, route):
    # Given another partner's list of more than one page, and a platform admin whose token names no partner
    function, event, param, key = OWNED_LISTS[route]
    path = {param: world[key]}
    # When it reads the list one row a page, following its cursors
    status, first = read(lambdas, function, event, platform(None), path)
    assert status == 200 and first["next_cursor"], first
    status, second = read(lambdas, function, event, platform(None), path, first["next_cursor"])
    # Then it reads the next page
    assert status == 200 and len(second["items"]) == 1, second
    # And the cursor is refused to the list's own partner's viewer and to a platform admin that names a partner
    for who in (viewer(world["theirs"]), platform(world["home"])):
        status, body = read(lambdas, function, event, who, path, first["next_cursor"])
        assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body


@pytest.mark.parametrize("route", ["ledger", "withdrawals", "auto-top-ups"])
def test_t1_a_cursor_of_one_organization_is_refused_on_another(lambdas, world, route):
    # Given a platform admin's cursor for another partner's organization's list
    function, event, param, key = OWNED_LISTS[route]
    _, first = read(lambdas, function, event, platform(world["home"]), {param: world[key]})
    # When the same admin replays it on an organization of its own partner
    mine = create_org(lambdas, world["home"], f"Home {route}")
    status, body = read(lambdas, function, event, platform(world["home"]), {param: mine["id"]},
                        first["next_cursor"])
    # Then 400 invalid_cursor
    assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body


@pytest.mark.parametrize("groups", GROUPS, ids=["flattened", "json-list", "two-groups"])
@pytest.mark.parametrize("route", PARTNER_LISTS)
def test_t1_a_platform_admins_partner_wide_list_is_its_own_partners_and_its_cursor_stays_there(
        lambdas, world, route, groups):
    # Given a platform admin whose token names the partner `home` (two of each kind of record)
    function, event = PARTNER_LISTS[route]
    admin_token = platform(world["home"], groups)
    # When it reads the partner-wide list one row a page
    status, first = read(lambdas, function, event, admin_token)
    # Then it reads its own partner's rows, with a cursor
    assert status == 200 and len(first["items"]) == 1 and first["next_cursor"], first
    # When another partner's viewer replays the cursor
    status, body = read(lambdas, function, event, viewer(world["theirs"]), cursor=first["next_cursor"])
    # Then 400 invalid_cursor
    assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body
    # And a viewer of the admin's own partner may follow it (the same tenant's list, which it reads anyway)
    status, second = read(lambdas, function, event, viewer(world["home"]), cursor=first["next_cursor"])
    assert status == 200 and second["items"] and second["items"] != first["items"], second


def test_t1_the_first_page_of_an_organizations_list_still_answers_404_to_another_partner(lambdas, world):
    # Given another partner's organization
    # When a viewer of the admin's partner reads its ledger with no cursor
    status, body = read(lambdas, "accounts", "list_wallet_transactions", viewer(world["home"]),
                        {"org_id": world["org"]})
    # Then 404, as for the organization itself
    assert (status, body["error"]["code"]) == (404, "not_found"), body
