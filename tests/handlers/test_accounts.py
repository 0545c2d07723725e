"""AccountsFunction: organizations, wallets and payment settings, with real events against DynamoDB."""

from __future__ import annotations

from shared.container import Container
from shared.domain.organization import LedgerEntry, Organization
from shared.ids import new_id
from shared.repositories.dynamo import Dynamo
from shared.repositories.registry import item_of
from shared.settings import get_settings
from tests.handlers.conftest import admin, create_org, viewer


def test_create_organization_returns_contract_shape(lambdas, partner):
    # Given a finance admin of a partner
    # When they create an organization
    org = create_org(lambdas, partner)
    # Then it has the contract's fields, belongs to their partner, and reads back the same
    assert set(org) == {"id", "name", "currency", "partner_id", "created_at"}
    assert org["id"].startswith("org_") and org["partner_id"] == partner
    status, got = lambdas.accounts("get_organization", path={"org_id": org["id"]}, **admin(partner))
    assert status == 200 and got == org


def test_organization_names_are_unique_per_partner_case_insensitively(lambdas, partner):
    # Given an organization "Acme Telecom"
    create_org(lambdas, partner, "Acme Telecom")
    before = lambdas.snapshot()
    # When the same partner creates "  ACME   telecom "
    status, body = lambdas.accounts("create_organization", body={"name": "  ACME   telecom ", "currency": "SGD"},
                                    headers={"idempotency-key": None}, **admin(partner))
    # Then it is refused and nothing is written
    assert status == 409 and body["error"]["code"] == "organization_name_taken"
    assert lambdas.snapshot() == before
    # But another partner may use the name
    other = f"{partner}x"
    assert create_org(lambdas, other, "Acme Telecom")["partner_id"] == other


def test_list_by_name_prefix_is_case_insensitive_and_paginated(lambdas, partner):
    # Given five organizations, three starting with "North"
    for name in ("North Star", "northwind", "NORTHERN Lights", "Southern Cross", "Eastern Telco"):
        create_org(lambdas, partner, name)
    # When listing by the prefix "nORth" two at a time
    status, first = lambdas.accounts("list_organizations", query={"name": "nORth", "limit": "2"}, **admin(partner))
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    status, second = lambdas.accounts("list_organizations",
                                      query={"name": "nORth", "limit": "2", "cursor": first["next_cursor"]},
                                      **admin(partner))
    # Then the pages hold exactly the three, in name order, and end with no cursor
    names = [o["name"] for o in first["items"] + second["items"]]
    assert names == ["North Star", "NORTHERN Lights", "northwind"]
    assert second["next_cursor"] is None


def test_cursor_of_one_list_is_refused_by_another(lambdas, partner):
    # Given a cursor for organizations filtered by "a"
    for name in ("Alpha", "Avalon"):
        create_org(lambdas, partner, name)
    _, page = lambdas.accounts("list_organizations", query={"name": "a", "limit": "1"}, **admin(partner))
    # When it is replayed with another filter, by another partner, or altered
    altered = page["next_cursor"][:-2] + ("AA" if not page["next_cursor"].endswith("AA") else "BB")
    for query, who in (({"name": "b", "cursor": page["next_cursor"]}, admin(partner)),
                       ({"name": "a", "cursor": page["next_cursor"]}, admin(f"{partner}x")),
                       ({"name": "a", "cursor": altered}, admin(partner))):
        status, body = lambdas.accounts("list_organizations", query=query, **who)
        # Then each gets 400 invalid_cursor
        assert status == 400 and body["error"]["code"] == "invalid_cursor"


def test_new_organization_has_empty_wallet_and_default_settings(lambdas, partner):
    org = create_org(lambdas, partner, currency="JPY")
    status, wallet = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **viewer(partner))
    assert status == 200
    assert wallet["org_id"] == org["id"] and wallet["currency"] == "JPY" and wallet["balance"] == 0
    status, settings = lambdas.accounts("get_payment_settings", path={"org_id": org["id"]}, **viewer(partner))
    assert status == 200
    assert {k: settings[k] for k in ("method", "trigger_amount", "limit_threshold", "auto_trigger")} == {
        "method": "cheque_or_tt", "trigger_amount": 0, "limit_threshold": 0, "auto_trigger": False}


def test_wallet_transactions_newest_first_across_pages(lambdas, partner):
    # Given an organization whose ledger has three entries (written as the wallet code will write them)
    org = create_org(lambdas, partner)
    repo = Dynamo(get_settings())
    balance = 0
    for seq, amount in enumerate((1000, -300, 500), start=1):
        balance += amount
        entry = LedgerEntry(id=new_id("txn"), org_id=org["id"], partner_id=partner, seq=seq,
                            type="top_up" if amount > 0 else "usage", amount=amount, balance_after=balance,
                            currency="SGD", reference=f"r{seq}", created_at=f"2026-11-0{seq}T00:00:00.000Z",
                            created_by="t")
        repo.transact([repo.put_new(item_of(entry))])
    # When listing two at a time
    _, first = lambdas.accounts("list_wallet_transactions", path={"org_id": org["id"]}, query={"limit": "2"},
                                **viewer(partner))
    _, second = lambdas.accounts("list_wallet_transactions", path={"org_id": org["id"]},
                                 query={"limit": "2", "cursor": first["next_cursor"]}, **viewer(partner))
    # Then entries come newest first with signed amounts and running balances, then the list ends
    entries = first["items"] + second["items"]
    assert [e["amount"] for e in entries] == [500, -300, 1000]
    assert [e["balance_after"] for e in entries] == [1200, 700, 1000]
    assert second["next_cursor"] is None
    # And another partner sees 404, not an empty ledger
    status, body = lambdas.accounts("list_wallet_transactions", path={"org_id": org["id"]}, query={},
                                    **viewer(f"{partner}x"))
    assert status == 404 and body["error"]["code"] == "not_found"


def test_put_settings_records_audit_and_enforces_rules(lambdas, partner):
    org = create_org(lambdas, partner)
    path = {"org_id": org["id"]}
    wanted = {"method": "master_account", "trigger_amount": 50_000, "limit_threshold": 10_000, "auto_trigger": True}
    status, body = lambdas.accounts("put_payment_settings", path=path, body=wanted, **admin(partner))
    assert status == 200 and {k: body[k] for k in wanted} == wanted
    before = lambdas.snapshot()
    cases = [
        ({**wanted, "method": "stripe"}, 409, "stripe_set_by_online_top_up"),
        ({**wanted, "trigger_amount": 0}, 422, "validation_error"),
        ({**wanted, "limit_threshold": -1}, 422, "validation_error"),
        ({**wanted, "trigger_amount": 10.5}, 422, "validation_error"),
        ({**wanted, "auto_trigger": "yes"}, 422, "validation_error"),
        ({**wanted, "extra": 1}, 422, "validation_error"),
    ]
    for body_in, code, error in cases:
        status, body = lambdas.accounts("put_payment_settings", path=path, body=body_in, **admin(partner))
        assert (status, body["error"]["code"]) == (code, error), body_in
    assert lambdas.snapshot() == before


def test_stripe_settings_are_locked_but_auto_trigger_and_method_can_change(lambdas, partner):
    # Given an organization whose settings a successful online top-up made `stripe`
    org = create_org(lambdas, partner)
    deps = Container.from_env()
    stored = deps.store.get(Organization, org["id"])
    stripe = stored.settings.model_copy(update={"method": "stripe", "trigger_amount": 20_000,
                                                "limit_threshold": 5_000, "auto_trigger": True})
    deps.db.transact([deps.db.put_if(item_of(stored.model_copy(update={"settings": stripe, "version": 2})),
                                     "attribute_exists(pk)", {})])
    path = {"org_id": org["id"]}
    locked = {"method": "stripe", "trigger_amount": 30_000, "limit_threshold": 5_000, "auto_trigger": True}
    # When the threshold or trigger is changed: refused
    status, body = lambdas.accounts("put_payment_settings", path=path, body=locked, **admin(partner))
    assert status == 409 and body["error"]["code"] == "stripe_settings_locked"
    # When only auto_trigger is switched: accepted
    status, body = lambdas.accounts("put_payment_settings", path=path, body={**locked, "trigger_amount": 20_000,
                                                                            "auto_trigger": False}, **admin(partner))
    assert status == 200 and body["auto_trigger"] is False and body["method"] == "stripe"
    # When the method is changed to another: accepted, with new values
    status, body = lambdas.accounts("put_payment_settings", path=path, body={
        "method": "cheque_or_tt", "trigger_amount": 1, "limit_threshold": 0, "auto_trigger": True},
        **admin(partner))
    assert status == 200 and body["method"] == "cheque_or_tt"


def test_viewer_reads_but_cannot_write(lambdas, partner):
    org = create_org(lambdas, partner)
    before = lambdas.snapshot()
    status, body = lambdas.accounts("create_organization", body={"name": "Other", "currency": "SGD"},
                                    headers={"idempotency-key": None}, **viewer(partner))
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = lambdas.accounts("put_payment_settings", path={"org_id": org["id"]}, **viewer(partner))
    assert status == 403
    assert lambdas.snapshot() == before


def test_claims_missing_is_401(lambdas):
    status, body = lambdas.accounts("list_organizations", drop_claims=True)
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_groups_claim_accepted_as_list_or_flattened_string(lambdas, partner):
    create_org(lambdas, partner)
    for groups in ("[finance-viewer]", ["finance-viewer"], "[finance-viewer platform-support]"):
        status, _ = lambdas.accounts("list_organizations", query={}, claims={"partner_id": partner,
                                                                             "groups": groups})
        assert status == 200, groups
    status, _ = lambdas.accounts("list_organizations", query={}, claims={"partner_id": partner, "groups": "[]"})
    assert status == 403
