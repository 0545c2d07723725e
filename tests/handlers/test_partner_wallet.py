"""A partner's master wallet: balances per currency, credited by a platform admin only, with its ledger."""

from __future__ import annotations

from shared.container import Container
from tests.handlers.conftest import PLATFORM, admin, credit, viewer


def test_platform_admin_credits_per_currency_and_the_partner_reads_its_balances(lambdas, partner):
    # Given a new partner: no balances
    status, wallet = lambdas.accounts("get_partner_wallet", path={"partner_id": partner}, **viewer(partner))
    assert status == 200 and wallet == {"partner_id": partner, "balances": []}
    # When a platform admin credits it twice in SGD and once in USD
    for amount, currency in ((10_000, "SGD"), (2_500, "SGD"), (700, "USD")):
        status, entry = credit(lambdas, partner, amount, currency)
        assert status == 201 and entry["type"] == "credit" and entry["amount"] == amount
    # Then the partner sees a balance per currency, and the ledger carries running balances
    status, wallet = lambdas.accounts("get_partner_wallet", path={"partner_id": partner}, **viewer(partner))
    assert sorted((b["currency"], b["balance"]) for b in wallet["balances"]) == [("SGD", 12_500), ("USD", 700)]
    items, _ = Container.from_env().db.query(key_condition="pk = :pk AND begins_with(sk, :l)", names={},
                                             vals={":pk": {"S": f"PTN#{partner}"}, ":l": {"S": "LEDGER#SGD#"}})
    assert [(i["amount"], i["balance_after"], i["created_by"]) for i in items] == [
        (10_000, 10_000, "ops@platform.example"), (2_500, 12_500, "ops@platform.example")]


def test_only_a_platform_admin_may_credit_and_only_the_partner_or_platform_may_read(lambdas, partner):
    before = lambdas.snapshot()
    status, body = credit(lambdas, partner, 100, who=admin(partner))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, _ = credit(lambdas, partner, 100, who=admin(f"{partner}x"))
    assert status == 403
    assert lambdas.snapshot() == before
    status, body = lambdas.accounts("get_partner_wallet", path={"partner_id": partner}, **viewer(f"{partner}x"))
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, _ = lambdas.accounts("get_partner_wallet", path={"partner_id": partner}, **PLATFORM)
    assert status == 200


def test_credit_is_idempotent_and_validated(lambdas, partner):
    first = credit(lambdas, partner, 1_000, key=f"wire-{partner}")
    second = credit(lambdas, partner, 1_000, key=f"wire-{partner}")
    assert first == second and first[0] == 201
    before = lambdas.snapshot()
    for amount, currency in ((0, "SGD"), (1.5, "SGD"), (10, "sgd"), (10**16, "SGD")):
        status, body = credit(lambdas, partner, amount, currency)
        assert (status, body["error"]["code"]) == (422, "validation_error")
    assert lambdas.snapshot() == before
    _, wallet = lambdas.accounts("get_partner_wallet", path={"partner_id": partner}, **viewer(partner))
    assert wallet["balances"] == [{"currency": "SGD", "balance": 1_000}]
