"""Reading back what happened (issue 26): the history of an organization (its wallet and payment settings with
it), of an invoice and of a payment, in the one audit shape, through the real handlers.

  H1 every history route answers `{id, entity, entity_id, action, changes: {field: {from, to}}, actor, at}`,
     newest first, paged with `?limit=&cursor=`;
  H2 the partner's finance-admin and finance-viewer and a platform admin read it; another partner gets 404.
"""

from __future__ import annotations

from typing import Any

from tests.handlers.conftest import PLATFORM, admin, create_org, read_pages, record, viewer
from tests.handlers.test_allocation import invoice
from tests.handlers.test_money_back import credited, void, withdraw

SHAPE = {"id", "entity", "entity_id", "action", "changes", "actor", "at"}


def in_one_shape(items: list[dict[str, Any]]) -> None:
    for item in items:
        assert set(item) == SHAPE, item
        assert all(set(change) == {"from", "to"} for change in item["changes"].values()), item
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)


def test_h1_an_organizations_history_holds_its_wallets_and_settings_records_newest_first(lambdas, partner):
    # Given an organization whose settings were changed and from whose wallet money was withdrawn
    org = create_org(lambdas, partner, "History Telecom")
    settings = {"method": "master_account", "trigger_amount": 5_000, "limit_threshold": 1_000, "auto_trigger": True}
    status, body = lambdas.accounts("put_payment_settings", path={"org_id": org["id"]}, body=settings,
                                    **admin(partner, sub="carol@partner.example"))
    assert status == 200, body
    status, body = withdraw(lambdas, partner, org, 1)  # an empty wallet refuses it: nothing recorded
    assert status == 409, body
    # When its finance-viewer reads its history
    status, history = lambdas.accounts("organization_history", path={"org_id": org["id"]}, **viewer(partner))
    # Then it is the settings change, then the creation, in the one audit shape
    assert status == 200 and history["next_cursor"] is None, history
    in_one_shape(history["items"])
    assert [(i["entity"], i["action"], i["actor"]) for i in history["items"]] == [
        ("payment_settings", "payment_settings.updated", "carol@partner.example"),
        ("organization", "organization.created", "admin@example.com")]
    assert {i["entity_id"] for i in history["items"]} == {org["id"]}
    assert history["items"][0]["changes"]["method"] == {"from": "cheque_or_tt", "to": "master_account"}
    # And the creation, recorded as bare values, reads as values set from nothing
    assert history["items"][1]["changes"] == {"name": {"from": None, "to": "History Telecom"},
                                              "currency": {"from": None, "to": "SGD"}}


def test_h1_an_organizations_history_pages_with_its_cursor(lambdas, partner):
    # Given an organization with three records
    org = create_org(lambdas, partner, "Paged Telecom")
    for trigger in (1_000, 2_000):
        settings = {"method": "cheque_or_tt", "trigger_amount": trigger, "limit_threshold": 0, "auto_trigger": True}
        assert lambdas.accounts("put_payment_settings", path={"org_id": org["id"]}, body=settings,
                                **admin(partner))[0] == 200
    # When they are read one a page
    pages = read_pages(lambdas, "accounts", "organization_history", {"org_id": org["id"]}, viewer(partner), limit=1)
    # Then every record comes once, newest first
    items = [i for page in pages for i in page]
    assert [len(p) for p in pages if p] == [1, 1, 1] and len({i["id"] for i in items}) == 3
    in_one_shape(items)


def test_h2_another_partners_organization_and_invoice_history_is_not_found(lambdas, partner):
    # Given an organization with an invoice
    org = create_org(lambdas, partner, "Private Telecom")
    inv = invoice(lambdas, partner, org)
    for event, function, path in (("organization_history", "accounts", {"org_id": org["id"]}),
                                  ("invoice_history", "allocation", {"invoice_id": inv["id"]})):
        # When another partner's finance-admin asks for its history
        status, body = getattr(lambdas, function)(event, path=path, **admin(f"{partner}x"))
        # Then it is not found, as a missing one
        assert (status, body["error"]["code"]) == (404, "not_found"), body
        # And the partner's own viewer and a platform admin read it
        for who in (viewer(partner), PLATFORM):
            status, body = getattr(lambdas, function)(event, path=path, **who)
            assert status == 200 and body["items"], body


def test_h1_an_invoices_history_shows_its_credit_notes_and_void(lambdas, partner):
    # Given an invoice that was credited, and another that was voided
    org = create_org(lambdas, partner, "Invoice Telecom")
    kept, dropped = invoice(lambdas, partner, org, amount=10_000), invoice(lambdas, partner, org, amount=10_000)
    credited(lambdas, partner, kept, 2_500)
    status, body = void(lambdas, partner, dropped)
    assert status == 200, body
    # When their viewer reads their histories
    actions = {}
    for inv in (kept, dropped):
        status, history = lambdas.allocation("invoice_history", path={"invoice_id": inv["id"]}, **viewer(partner))
        assert status == 200, history
        in_one_shape(history["items"])
        actions[inv["id"]] = [(i["entity"], i["entity_id"], i["action"]) for i in history["items"]]
    # Then each is its own records, newest first, in the one shape
    assert actions == {kept["id"]: [("invoice", kept["id"], "invoice.credited"),
                                    ("invoice", kept["id"], "invoice.created")],
                       dropped["id"]: [("invoice", dropped["id"], "invoice.voided"),
                                       ("invoice", dropped["id"], "invoice.created")]}


def test_h1_a_payments_history_moves_to_the_one_shape(lambdas, partner):
    # Given a payment that was recorded, then deleted
    payment = record(lambdas, partner, reference="TT-1")
    path = {"payment_id": payment["id"]}
    assert lambdas.payments("delete_payment", path=path, **admin(partner))[0] == 204
    # When its history is read
    status, history = lambdas.payments("payment_history", path=path, **viewer(partner))
    # Then both records are in the one shape: the deletion takes the payment away, the creation set its fields
    assert status == 200, history
    in_one_shape(history["items"])
    deleted, created = history["items"]
    assert (deleted["entity"], deleted["entity_id"]) == ("payment", payment["id"])
    assert deleted["changes"]["payment"]["to"] is None and deleted["changes"]["payment"]["from"]["id"] == payment["id"]
    assert created["changes"]["reference"] == {"from": None, "to": "TT-1"}
