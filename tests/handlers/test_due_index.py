"""Writes keep the due index current: settings changes, credits and debits move organizations in and out."""

from __future__ import annotations

from shared.container import Container
from shared.repositories.dynamo import values
from shared.repositories.organizations import due_shard
from tests.handlers.conftest import NO_KEY, admin, create_org, record


def in_due_index(org_id: str) -> bool:
    items, _ = Container.from_env().db.query(key_condition="gsi3pk = :pk AND gsi3sk = :id", names={}, index="GSI3",
                                             vals=values(pk=f"DUE#{due_shard(org_id)}", id=org_id))
    return bool(items)


def test_due_index_follows_settings_and_balance(lambdas, partner):
    org = create_org(lambdas, partner)
    path = {"org_id": org["id"]}
    assert not in_due_index(org["id"])  # auto-trigger off
    # When auto top-up is enabled with a threshold at or above the balance (0 <= 5,000): due
    settings = {"method": "cheque_or_tt", "trigger_amount": 10_000, "limit_threshold": 5_000, "auto_trigger": True}
    assert lambdas.accounts("put_payment_settings", path=path, body=settings, **admin(partner))[0] == 200
    assert in_due_index(org["id"])
    # When the wallet is topped up above the threshold: no longer due
    payment = record(lambdas, partner, org_id=org["id"], amount=8_000)
    status, _ = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]},
                                   body={"amount": 8_000}, headers=NO_KEY, **admin(partner))
    assert status == 200 and not in_due_index(org["id"])
    # When usage takes it to the threshold: due again
    status, _ = lambdas.accounts("debit_wallet", path=path, body={"amount": 3_000, "reference": "cdr"},
                                 headers=NO_KEY, **admin(partner))
    assert status == 201 and in_due_index(org["id"])
    # When auto-trigger is switched off: out
    lambdas.accounts("put_payment_settings", path=path, body={**settings, "auto_trigger": False}, **admin(partner))
    assert not in_due_index(org["id"])
