"""A customer organization's own staff (issue 28; contract, "The customer's own staff"): tokens with `partner_id`,
`org_id` and a group `org-admin` or `org-viewer`.

  CS1 the role first: every route a customer's staff may not call is 403, wherever it points (their own
      organization, another of their partner's, another partner's, an id that names nothing), before anything is
      read; a token with an org group and no `org_id` is 403;
  CS2 their reads are their own organization's: another organization's, even of the same partner, answers as a
      missing one (404), and lists hold only theirs whatever the filters say;
  CS3 an org-admin tops up its own organization by card and switches its automatic top-up while the method is
      `stripe`; nothing else (403), and another organization's top-up is 404;
  CS4 a token holding a finance group and an org group is the customer's; a customer's cursor is good for its own
      organization's staff only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.auth import CUSTOMER_READS, CUSTOMER_WRITES
from tests.handlers.adversarial_support import Request, route_cases
from tests.handlers.conftest import NO_KEY, admin, allocate, create_org, record
from tests.handlers.stripe_support import deliver, pay, stripe_event
from tests.handlers.test_allocation import invoice

ANY_ID = {"org_id": "org_01KBZZZZZZZZZZZZZZZZZZZZZZ", "payment_id": "pay_01KBZZZZZZZZZZZZZZZZZZZZZZ",
          "invoice_id": "inv_01KBZZZZZZZZZZZZZZZZZZZZZZ", "credit_note_id": "crn_01KBZZZZZZZZZZZZZZZZZZZZZZ",
          "partner_id": "ptn_other", "currency": "SGD", "endpoint_id": "whe_01KBZZZZZZZZZZZZZZZZZZZZZZ",
          "delivery_id": "whd_01KBZZZZZZZZZZZZZZZZZZZZZZ"}


def customer(partner: str, org_id: str | None, group: str = "org-admin", extra: str = "") -> dict[str, Any]:
    claims = {"partner_id": partner, "groups": f"[{group}{extra}]", "sub": f"{group}@customer.example"}
    if org_id:
        claims["org_id"] = org_id
    return claims


def call(lambdas, route_key: str, claims: dict[str, Any], path: dict[str, str] | None = None,
         query: dict[str, str] | None = None, body: str | None = None) -> tuple[int, Any]:
    [case] = [c for c in route_cases() if c.key == route_key]
    params = {name: (path or {}).get(name, ANY_ID[name]) for name in case.path_params}
    request = Request(who="customer", claims=claims, path=params, query=query, headers={}, body=body,
                      base64=False)
    return lambdas.call(case.function, request.event(case))


@pytest.fixture(scope="module")
def world(lambdas) -> dict[str, Any]:
    """Two organizations of one partner (each with an invoice, a payment allocated to it, a credit note) and one of
    another partner's."""
    from tests.conftest import new_partner

    partner, other_partner = new_partner(), new_partner()
    made: dict[str, Any] = {"partner": partner, "other_partner": other_partner}
    for name, owner in (("mine", partner), ("sibling", partner), ("foreign", other_partner)):
        org = create_org(lambdas, owner, f"{name.title()} Telecom")
        inv = invoice(lambdas, owner, org, 10_000)
        pay = record(lambdas, owner, org_id=org["id"], amount=4_000, reference=f"{name}-ref")
        allocate(lambdas, owner, pay, (inv, 4_000))
        status, note = lambdas.allocation("create_credit_note", path={"invoice_id": inv["id"]},
                                          body={"amount": 1_000, "reason": "goodwill"}, headers=NO_KEY, **admin(owner))
        assert status == 201, note
        made[name] = {"org": org, "invoice": inv, "payment": pay, "credit_note": note}
    return made


ROUTES = sorted(c.key for c in route_cases() if c.authorized)
NOT_THEIRS = [k for k in ROUTES if k not in CUSTOMER_READS | CUSTOMER_WRITES]


def test_cs1_the_routes_a_customer_may_call_are_routes_of_the_api():
    assert (CUSTOMER_READS | CUSTOMER_WRITES) <= set(ROUTES)


@pytest.mark.parametrize("route_key", NOT_THEIRS)
@pytest.mark.parametrize("group", ["org-admin", "org-viewer"])
def test_cs1_every_other_route_is_403_wherever_it_points(lambdas, world, route_key, group):
    # Given a customer's staff of "mine", and ids of their own organization, a sibling's and another partner's
    claims = customer(world["partner"], world["mine"]["org"]["id"], group)
    for whose in ("mine", "sibling", "foreign"):
        w = world[whose]
        path = {"org_id": w["org"]["id"], "payment_id": w["payment"]["id"], "invoice_id": w["invoice"]["id"],
                "credit_note_id": w["credit_note"]["id"], "partner_id": world["partner"]}
        # When they call a route their role does not have
        status, body = call(lambdas, route_key, claims, path, body="{}")
        # Then it is 403, in the contract's shape
        assert (status, body["error"]["code"]) == (403, "forbidden"), (whose, body)


@pytest.mark.parametrize("route_key", sorted(CUSTOMER_WRITES))
def test_cs1_an_org_viewer_writes_nothing(lambdas, world, route_key):
    claims = customer(world["partner"], world["mine"]["org"]["id"], "org-viewer")
    status, body = call(lambdas, route_key, claims, {"org_id": world["mine"]["org"]["id"]}, body="{}")
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_cs1_an_org_group_without_org_id_is_403(lambdas, world):
    status, body = call(lambdas, "GET /organizations", customer(world["partner"], None))
    assert (status, body["error"]["code"]) == (403, "forbidden")


READS_BY_ORG = sorted(k for k in CUSTOMER_READS if "{org_id}" in k)


@pytest.mark.parametrize("route_key", READS_BY_ORG)
def test_cs2_their_organizations_reads_are_theirs_and_no_other(lambdas, world, route_key):
    claims = customer(world["partner"], world["mine"]["org"]["id"], "org-viewer")
    # Then their own organization reads
    status, body = call(lambdas, route_key, claims, {"org_id": world["mine"]["org"]["id"]})
    assert status == 200, body
    # and a sibling's or another partner's answers as a missing one does
    for whose in ("sibling", "foreign"):
        status, body = call(lambdas, route_key, claims, {"org_id": world[whose]["org"]["id"]})
        assert (status, body["error"]["code"]) == (404, "not_found"), (whose, body)


@pytest.mark.parametrize(("route_key", "kind"), [
    ("GET /payments/{payment_id}", "payment"), ("GET /payments/{payment_id}/history", "payment"),
    ("GET /invoices/{invoice_id}", "invoice"), ("GET /invoices/{invoice_id}/history", "invoice")])
def test_cs2_their_payments_and_invoices_are_theirs_and_no_other(lambdas, world, route_key, kind):
    claims = customer(world["partner"], world["mine"]["org"]["id"], "org-viewer")
    name = f"{kind}_id"
    status, body = call(lambdas, route_key, claims, {name: world["mine"][kind]["id"]})
    assert status == 200, body
    for whose in ("sibling", "foreign"):
        status, body = call(lambdas, route_key, claims, {name: world[whose][kind]["id"]})
        assert (status, body["error"]["code"]) == (404, "not_found"), (whose, body)


@pytest.mark.parametrize(("route_key", "key"), [("GET /payments", "payment"), ("GET /invoices", "invoice"),
                                                ("GET /credit-notes", "credit_note"), ("GET /organizations", "org")])
def test_cs2_lists_hold_only_theirs_whatever_the_filters_say(lambdas, world, route_key, key):
    # Given a customer's staff of "mine"
    claims = customer(world["partner"], world["mine"]["org"]["id"], "org-viewer")
    mine = world["mine"][key]["id"]
    # When they list, with no filter, a sibling's organization as the filter, or a larger page
    for query in (None, {"org_id": world["sibling"]["org"]["id"]}, {"limit": "100"}):
        if route_key == "GET /organizations" and query and "org_id" in query:
            continue  # no such filter
        status, body = call(lambdas, route_key, claims, query=query)
        assert status == 200, body
        # Then it is theirs alone, even when the filter names a sibling organization
        assert [i["id"] for i in body["items"]] == [mine], query
    # and a credit note list by a sibling's invoice holds nothing
    if key == "credit_note":
        status, body = call(lambdas, route_key, claims, query={"invoice_id": world["sibling"]["invoice"]["id"]})
        assert (status, body["items"]) == (200, [])


def test_cs3_the_customers_own_top_up_credits_and_sets_stripe_then_it_may_switch_auto_trigger_only(lambdas,
                                                                                                   partner):
    org = create_org(lambdas, partner, "Self Service Telecom")
    claims = customer(partner, org["id"])
    put = "PUT /organizations/{org_id}/payment-settings"
    # Given settings the partner chose (not stripe): the customer's admin may change nothing
    unchanged = {"method": "cheque_or_tt", "trigger_amount": 0, "limit_threshold": 0, "auto_trigger": False}
    status, body = call(lambdas, put, claims, {"org_id": org["id"]}, body=json.dumps(unchanged))
    assert (status, body["error"]["code"]) == (403, "forbidden"), body
    # When the customer's admin tops up SGD 50.00 by card, choosing its automatic top-up
    chosen = {"amount": 5_000, "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": True}
    status, top_up = call(lambdas, "POST /organizations/{org_id}/online-top-ups", claims, {"org_id": org["id"]},
                          body=json.dumps(chosen))
    assert status == 201, top_up
    intent = pay(lambdas, top_up)
    status, res = deliver(lambdas, stripe_event("payment_intent.succeeded", intent))
    # Then the wallet is credited, a stripe payment recorded, and the settings are Stripe's with its amounts
    assert (status, res["outcome"]) == (200, "credited"), res
    status, wallet = call(lambdas, "GET /organizations/{org_id}/wallet", claims, {"org_id": org["id"]})
    assert wallet["balance"] == 5_000
    status, payments = call(lambdas, "GET /payments", claims)
    assert [(p["method"], p["amount"]) for p in payments["items"]] == [("stripe", 5_000)]
    status, settings = call(lambdas, "GET /organizations/{org_id}/payment-settings", claims, {"org_id": org["id"]})
    assert (settings["method"], settings["trigger_amount"], settings["limit_threshold"]) == ("stripe", 2_000, 1_000)
    # And the partner's finance staff see the same, started by the customer's admin
    status, history = lambdas.accounts("organization_history", path={"org_id": org["id"]}, **admin(partner))
    assert "org-admin@customer.example" in {i["actor"] for i in history["items"]}
    # When the customer's admin switches its automatic top-up off, and then tries to change its amounts
    switched = {"method": "stripe", "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": False}
    status, body = call(lambdas, put, claims, {"org_id": org["id"]}, body=json.dumps(switched))
    assert (status, body["auto_trigger"]) == (200, False), body
    status, body = call(lambdas, put, claims, {"org_id": org["id"]},
                        body=json.dumps({**switched, "trigger_amount": 9_000}))
    assert (status, body["error"]["code"]) == (403, "forbidden"), body
    status, body = call(lambdas, put, claims, {"org_id": org["id"]},
                        body=json.dumps({**switched, "method": "cheque_or_tt"}))
    assert (status, body["error"]["code"]) == (403, "forbidden"), body
    # And an org-viewer switches nothing
    viewer_claims = customer(partner, org["id"], "org-viewer")
    status, body = call(lambdas, put, viewer_claims, {"org_id": org["id"]}, body=json.dumps(switched))
    assert (status, body["error"]["code"]) == (403, "forbidden"), body


def test_cs3_a_top_up_of_another_organization_is_404(lambdas, world):
    claims = customer(world["partner"], world["mine"]["org"]["id"])
    body = json.dumps({"amount": 5_000, "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": True})
    for whose in ("sibling", "foreign"):
        status, answer = call(lambdas, "POST /organizations/{org_id}/online-top-ups", claims,
                              {"org_id": world[whose]["org"]["id"]}, body=body)
        assert (status, answer["error"]["code"]) == (404, "not_found"), (whose, answer)


def test_cs4_a_token_with_a_finance_and_an_org_group_is_the_customers(lambdas, world):
    claims = customer(world["partner"], world["mine"]["org"]["id"], "org-viewer", extra=" finance-admin")
    status, body = call(lambdas, "GET /payments", claims)
    assert status == 200 and {i["id"] for i in body["items"]} == {world["mine"]["payment"]["id"]}
    status, body = call(lambdas, "POST /payments", claims, body="{}")
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_cs4_a_finance_users_cursor_is_no_good_to_a_customer(lambdas, world):
    # Given a finance viewer's first page of one payment, with a cursor
    finance = {"partner_id": world["partner"], "groups": "[finance-viewer]", "sub": "v@example.com"}
    status, page = call(lambdas, "GET /payments", finance, query={"limit": "1"})
    assert status == 200 and page["next_cursor"]
    # When a customer's staff reads on with it
    claims = customer(world["partner"], world["mine"]["org"]["id"], "org-viewer")
    status, body = call(lambdas, "GET /payments", claims, query={"limit": "1", "cursor": page["next_cursor"]})
    # Then the cursor is refused
    assert (status, body["error"]["code"]) == (400, "invalid_cursor"), body
