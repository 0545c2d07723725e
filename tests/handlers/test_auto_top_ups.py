"""GET /organizations/{org_id}/auto-top-ups: the attempts of the daily automatic top-up, newest first."""

from __future__ import annotations

from shared.container import Container
from shared.domain.attempt import AutoTopUpAttempt
from shared.repositories.registry import item_of
from tests.handlers.conftest import create_org, viewer

AT = "2026-11-21T00:00:00.000Z"


def test_attempts_newest_first_in_the_contract_shape_and_tenant_scoped(lambdas, partner):
    # Given three attempts of an organization (written as the worker writes them)
    org = create_org(lambdas, partner)
    deps = Container.from_env()
    for date, status, method, extra in (
            ("2026-11-19", "invoice_issued", "cheque_or_tt", {"invoice_id": "inv_01JZ8Q7B2C3D4E5F6G7H8J9K0M"}),
            ("2026-11-20", "failed", "master_account", {"reason": "partner_insufficient_funds"}),
            ("2026-11-21", "claimed", "stripe", {}),
            ("2026-11-22", "claimed", "master_account", {})):  # in flight: not listed until its outcome
        attempt = AutoTopUpAttempt(org_id=org["id"], partner_id=partner, business_date=date, method=method,
                                   amount=10_000, currency="SGD", status=status, created_at=AT, updated_at=AT, **extra)
        deps.db.transact([deps.db.put_new(item_of(attempt))])
    # When listed two per page
    path = {"org_id": org["id"]}
    _, first = lambdas.accounts("list_auto_top_ups", path=path, query={"limit": "2"}, **viewer(partner))
    _, second = lambdas.accounts("list_auto_top_ups", path=path, query={"limit": "2", "cursor": first["next_cursor"]},
                                 **viewer(partner))
    # Then newest business date first, in the contract's shape; a pending Stripe claim shows charge_pending
    items = first["items"] + second["items"]
    assert [(i["business_date"], i["status"]) for i in items] == [
        ("2026-11-21", "charge_pending"), ("2026-11-20", "failed"), ("2026-11-19", "invoice_issued")]
    assert items[1]["reason"] == "partner_insufficient_funds" and items[2]["invoice_id"].startswith("inv_")
    assert set(items[0]) == {"business_date", "method", "amount", "status", "reason", "failure_code",
                             "failure_message", "invoice_id", "payment_id", "created_at",
                             "top_up_mode", "requested_amount"}  # issue 30: the mode and what it asked for
    assert (items[0]["top_up_mode"], items[0]["requested_amount"]) == ("fixed", 10_000)  # written before the fields
    assert second["next_cursor"] is None
    # And another partner gets 404, not an empty list
    status, body = lambdas.accounts("list_auto_top_ups", path=path, query={}, **viewer(f"{partner}x"))
    assert (status, body["error"]["code"]) == (404, "not_found")
