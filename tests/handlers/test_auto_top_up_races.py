"""Issue 30's invariants under concurrency, on DynamoDB Local with the real worker (each concurrent delivery in its
own execution environment, as Lambda runs them) or with a write injected between the worker's read and its commit:

  - "the month's automatic top-ups never exceed the cap";
  - "the partner's day never exceeds its limit";
  - "a switched-off organization is never charged";
  - "a manual top-up during the worker's run" (target mode tops up from the balance its commit was decided on).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local.aws import sqs_event
from shared.container import Container
from shared.domain.guardrails import AutoCreditDay, MonthlyAutoTopUps
from tests.handlers.conftest import NO_KEY, admin, balance, create_org, credit, record
from tests.handlers.test_auto_top_up import AutoTopUp, partner_balance
from tests.handlers.test_auto_top_up_guardrails import (
    attempts_of,
    auto_charges,
    card_due,
    configure,
    settings_of,
    work,
)

DAY1 = "2026-11-21T01:00:00Z"


@pytest.fixture(scope="module")
def auto(lambdas) -> AutoTopUp:
    return AutoTopUp(lambdas)


def message(org_id: str, business_date: str) -> dict[str, Any]:
    return {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r",
            "Body": json.dumps({"org_id": org_id, "business_date": business_date})}


def at_once(lambdas, messages: list[dict[str, Any]]) -> None:
    """Every message delivered at the same time, each to its own WorkerFunction environment."""
    results: list[Any] = []

    def deliver(m):
        results.append(lambdas.host.invoke("WorkerFunction", sqs_event([m], "arn:aws:sqs:us-east-1:0:q")))

    threads = [threading.Thread(target=deliver, args=(m,)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"batchItemFailures": []}] * len(messages)


def ledger(lambdas, partner, org_id) -> list[dict[str, Any]]:
    status, page = lambdas.accounts("list_wallet_transactions", path={"org_id": org_id}, query={"limit": "100"},
                                    **admin(partner))
    assert status == 200, page
    return page["items"]


def interfere(auto: AutoTopUp, method: str, action: Callable[[], None], monkeypatch) -> list[int]:
    """The in-process worker's funding of `method`, with `action` done once between the worker's read and its commit
    (the first call); returns the list of calls made (the worker re-read and decided again after losing its race)."""
    funding = auto.worker_fn.deps.funding
    real, calls = funding[method], []

    class Interfered:
        def fund(self, claim):
            calls.append(claim.amount)
            if len(calls) == 1:
                action()
            return real.fund(claim)

    monkeypatch.setitem(funding, method, Interfered())
    return calls


def test_the_months_automatic_top_ups_never_exceed_the_cap(lambdas, auto, partner):
    """Invariant: the month's automatic top-ups never exceed the cap (two sweeps of the same day, concurrent and
    duplicated deliveries of the month's days, the cap's last cent)."""
    # Given an always-due customer of 10,000 a day capped at 35,001 a month (not a multiple: its last cent counts)
    credit(lambdas, partner, 10_000_000)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], monthly_cap=35_001)
    # When two sweeps of the first day run, and their messages and those of seven more days of the month (each twice)
    # are all delivered at once
    auto.sweep(DAY1)
    auto.sweep(DAY1)
    swept = [m for m in auto.receive() if json.loads(m["Body"])["org_id"] == org["id"]]
    assert len(swept) == 2
    days = [f"2026-11-{d:02d}" for d in range(22, 29)]
    at_once(lambdas, swept + [message(org["id"], d) for d in days for _ in range(2)])
    # Then the month adds up to the cap exactly: three days of 10,000, one reduced to 5,001, the others skipped
    found = attempts_of(lambdas, partner, org["id"])
    assert len(found) == 8  # one attempt per day, whatever the duplicates
    credited = [a[3] for a in found if a[1] == "credited"]
    assert sorted(credited) == [5_001, 10_000, 10_000, 10_000]
    assert [a[2] for a in found if a[1] == "skipped"] == ["monthly_cap_reached"] * 4
    summed = Container.from_env().store.get(MonthlyAutoTopUps, org["id"], "2026-11")
    assert summed is not None and summed.total == sum(credited) == 35_001
    assert balance(lambdas, partner, org) == 35_001 and partner_balance(lambdas, partner) == 10_000_000 - 35_001


def test_the_months_automatic_top_ups_never_exceed_the_cap_with_card_reservations(lambdas, partner):
    """Invariant: the month's automatic top-ups never exceed the cap (card charges: a pending charge writes no
    organization, so concurrent days of one customer are held to the cap by the month's own conditional update)."""
    # Given a due card customer (2,000 a charge) capped at 5,000 a month
    org_id = card_due(lambdas, partner, monthly_cap=5_000)
    # When six days of the month are delivered at once, each twice
    at_once(lambdas, [message(org_id, f"2026-11-{d}") for d in range(21, 27) for _ in range(2)])
    # Then the reservations add up to the cap exactly (2,000 + 2,000 + 1,000), and Stripe was asked for no more
    found = attempts_of(lambdas, partner, org_id)
    pending = sorted(a[3] for a in found if a[1] == "charge_pending")
    assert pending == [1_000, 2_000, 2_000], found
    assert [a[2] for a in found if a[1] == "skipped"] == ["monthly_cap_reached"] * 3
    summed = Container.from_env().store.get(MonthlyAutoTopUps, org_id, "2026-11")
    assert summed is not None and summed.total == 5_000
    assert sorted(pi["amount"] for pi in auto_charges(lambdas, org_id)) == [1_000, 2_000, 2_000]


def test_the_partners_day_never_exceeds_its_limit(lambdas, partner):
    """Invariant: the partner's day never exceeds its limit (many organizations of one partner topping up at once)."""
    # Given a partner limited to 45,000 of automatic credits a day, and ten customers of 10,000 due at once
    credit(lambdas, partner, 1_000_000)
    assert lambdas.accounts("put_auto_credit_limit", path={"partner_id": partner, "currency": "SGD"},
                            body={"daily_limit": 45_000}, **admin(partner))[0] == 200
    orgs = [create_org(lambdas, partner, f"Customer {i}") for i in range(10)]
    for org in orgs:
        configure(lambdas, partner, org["id"])
    # When all of them are delivered at once (and each a second time)
    at_once(lambdas, [message(o["id"], "2026-11-21") for o in orgs for _ in range(2)])
    # Then exactly four were credited; the others failed beyond the limit, and the day's sum is what moved
    outcomes = [attempts_of(lambdas, partner, o["id"]) for o in orgs]
    assert all(len(found) == 1 for found in outcomes)
    statuses = sorted((found[0][1], found[0][2]) for found in outcomes)
    assert statuses == [("credited", None)] * 4 + [("failed", "partner_daily_limit_reached")] * 6
    day = Container.from_env().store.get(AutoCreditDay, partner, "SGD", "2026-11-21")
    assert day is not None and day.total == 40_000 <= 45_000
    assert partner_balance(lambdas, partner) == 1_000_000 - 40_000
    assert sum(balance(lambdas, partner, o) for o in orgs) == 40_000


def test_a_switched_off_organization_is_never_charged(lambdas, auto, partner, monkeypatch):
    """Invariant: a switched-off organization is never charged: the worker's decision to charge commits only on the
    organization as it read it (switched on); a switch-off between its read and its commit makes it decide again."""
    # Given a due card customer
    org_id = card_due(lambdas, partner)

    def switch_off():  # a person switches the automatic top-up off while the worker is deciding
        status, _ = lambdas.accounts("put_payment_settings", path={"org_id": org_id}, body={
            "method": "stripe", "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": False},
            **admin(partner))
        assert status == 200

    calls = interfere(auto, "stripe", switch_off, monkeypatch)
    # When the worker runs
    work(auto, org_id, "2026-11-21")
    # Then it lost its race, re-read, and recorded the day as not due: no charge was sent to Stripe
    assert len(calls) == 1  # the second decision never reached the funding: not due
    assert attempts_of(lambdas, partner, org_id) == [("2026-11-21", "skipped", "not_due", 2_000, 2_000)]
    assert auto_charges(lambdas, org_id) == []


def test_an_organization_the_system_switched_off_is_never_charged_even_by_many_deliveries(lambdas, partner):
    """Invariant: a switched-off organization is never charged (switched off by its failures, then its partner
    funded and every later day delivered at once, twice)."""
    # Given a master-account customer switched off after one failure (its partner's wallet empty)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], max_consecutive_failures=1)
    at_once(lambdas, [message(org["id"], "2026-11-21")] * 3)
    assert settings_of(lambdas, partner, org["id"])["disabled_reason"] == "consecutive_failures"
    # When the partner is funded and five more days are delivered at once
    credit(lambdas, partner, 1_000_000)
    at_once(lambdas, [message(org["id"], f"2026-11-{d}") for d in range(22, 27) for _ in range(2)])
    # Then nothing moved: each day is recorded as not due
    assert balance(lambdas, partner, org) == 0 and partner_balance(lambdas, partner) == 1_000_000
    assert [a[1:3] for a in attempts_of(lambdas, partner, org["id"])] == [
        ("failed", "partner_insufficient_funds")] + [("skipped", "not_due")] * 5


def manual_top_up(lambdas, partner, org_id: str, amount: int) -> None:
    payment = record(lambdas, partner, org_id=org_id, amount=amount)
    status, body = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]},
                                      body={"amount": amount}, headers=NO_KEY, **admin(partner))
    assert status == 200, body


def test_a_manual_top_up_during_the_workers_run(lambdas, auto, partner, monkeypatch):
    """Invariant: a manual top-up during the worker's run: target mode computes from the balance it read, and its
    commit holds only on that read (the organization's version), so a lost race re-reads: the wallet ends exactly
    at the target."""
    # Given a master-account customer in target mode (to 10,000, below 5,000), its balance 0
    credit(lambdas, partner, 1_000_000)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], trigger_amount=0, limit_threshold=5_000, top_up_mode="target",
              target_balance=10_000)
    calls = interfere(auto, "master_account", lambda: manual_top_up(lambdas, partner, org["id"], 3_000),
                      monkeypatch)
    # When a manual top-up of 3,000 lands between the worker's read and its commit
    work(auto, org["id"], "2026-11-21")
    # Then the first decision (10,000) lost; the second read 3,000 and topped up 7,000: the target exactly
    assert calls == [10_000, 7_000]
    assert balance(lambdas, partner, org) == 10_000 and partner_balance(lambdas, partner) == 1_000_000 - 7_000
    [auto_credit] = [e for e in ledger(lambdas, partner, org["id"]) if e["type"] == "auto_credit"]
    assert (auto_credit["amount"], auto_credit["balance_after"]) == (7_000, 10_000)


def test_manual_top_ups_racing_the_worker_never_overshoot_the_target(lambdas, partner):
    """Invariant: a manual top-up during the worker's run (at once, in separate environments): whatever the order,
    the automatic credit's balance_after is the target, or it was not made (the balance passed the threshold)."""
    credit(lambdas, partner, 1_000_000)
    orgs = [create_org(lambdas, partner, f"Target {i}") for i in range(4)]
    for org in orgs:
        configure(lambdas, partner, org["id"], trigger_amount=0, limit_threshold=45_000, top_up_mode="target",
                  target_balance=50_000)  # a manual top-up of at most 4,000 leaves it due
    threads = [threading.Thread(target=manual_top_up, args=(lambdas, partner, o["id"], 1_000 * (i + 1)))
               for i, o in enumerate(orgs)]
    for t in threads:
        t.start()
    at_once(lambdas, [message(o["id"], "2026-11-21") for o in orgs])
    for t in threads:
        t.join()
    for i, org in enumerate(orgs):
        [auto_credit] = [e for e in ledger(lambdas, partner, org["id"]) if e["type"] == "auto_credit"]
        assert auto_credit["balance_after"] == 50_000
        assert balance(lambdas, partner, org) in (50_000, 50_000 + 1_000 * (i + 1))


def test_a_switched_off_organization_is_never_charged_by_a_redelivery_of_its_pending_charge(lambdas, partner):
    """Invariant: a switched-off organization is never charged, also when its charge was recorded `charge_pending`
    before the switch-off and never reached Stripe: the redelivery (or the reconciliation) reads the organization
    before sending, and withdraws the attempt instead."""
    from shared.settings import get_settings
    from tests.handlers.test_card_money_edges import charge_unanswered, the_attempt

    # Given a card customer whose automatic charge of the day is pending (Stripe never answered: it never saw it)
    org_id = charge_unanswered(lambdas, partner, "2031-07-01", made=False)
    assert the_attempt(lambdas, org_id)["status"] == "charge_pending"
    assert Container.from_env().store.get(MonthlyAutoTopUps, org_id, "2031-07").total == 2_000
    # When a person switches its automatic top-up off, then the message is delivered again
    status, _ = lambdas.accounts("put_payment_settings", path={"org_id": org_id}, body={
        "method": "stripe", "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": False},
        **admin(partner))
    assert status == 200
    outcome = Container(get_settings()).auto_top_up.top_up(org_id, "2031-07-01")
    # Then nothing was sent: the attempt is withdrawn (skipped, not due), its reservation left the month, no failure
    # was counted, and Stripe has no charge of it
    assert outcome == "skipped"
    attempt = the_attempt(lambdas, org_id)
    assert (attempt["status"], attempt["reason"]) == ("skipped", "not_due")
    assert Container.from_env().store.get(MonthlyAutoTopUps, org_id, "2031-07").total == 0
    assert settings_of(lambdas, partner, org_id)["consecutive_failures"] == 0
    assert auto_charges(lambdas, org_id) == []


def test_the_partners_day_never_exceeds_a_limit_removed_and_set_lower_during_the_workers_run(lambdas, auto, partner,
                                                                                           monkeypatch):
    """Invariant: the partner's day never exceeds its limit, also when the limit the worker read is removed and set
    again, lower, before its commit (a limit set again starts at version 1 again: the check holds its amount too)."""
    # Given a partner limited to 10,000 a day, and a customer of 8,000 due
    credit(lambdas, partner, 1_000_000)
    path = {"partner_id": partner, "currency": "SGD"}
    status, _ = lambdas.accounts("put_auto_credit_limit", path=path, body={"daily_limit": 10_000}, **admin(partner))
    assert status == 200
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], trigger_amount=8_000)
    repository = auto.worker_fn.deps.funding["master_account"].limits
    real, calls = repository.limit_unchanged, []

    def lowered_meanwhile(*args):
        calls.append(args)
        if len(calls) == 1:  # after the worker read the limit, before its transaction commits
            assert lambdas.accounts("delete_auto_credit_limit", path=path, **admin(partner))[0] == 204
            assert lambdas.accounts("put_auto_credit_limit", path=path, body={"daily_limit": 5_000},
                                    **admin(partner))[0] == 200
        return real(*args)

    monkeypatch.setattr(repository, "limit_unchanged", lowered_meanwhile)
    # When the worker runs
    work(auto, org["id"], "2026-11-21")
    # Then it lost its race, read the new limit, and nothing moved beyond it
    assert len(calls) == 2
    assert attempts_of(lambdas, partner, org["id"])[0][1:3] == ("failed", "partner_daily_limit_reached")
    assert balance(lambdas, partner, org) == 0 and partner_balance(lambdas, partner) == 1_000_000
