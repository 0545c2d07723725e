"""The daily automatic top-up's guardrails with the real worker, DynamoDB Local and the local Stripe (issue 30):
target mode, the monthly cap, the failure count and the automatic switch-off, the partner's daily limit, and the
helpers the Stripe webhook's settlement calls. Every attempt that does not credit is recorded with its reason."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from local.aws import sqs_event
from shared.container import Container
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.guardrails import MonthlyAutoTopUps
from shared.domain.organization import Organization
from shared.repositories.registry import item_of
from tests.handlers.conftest import NO_KEY, admin, allocate, balance, create_org, credit, record, viewer
from tests.handlers.stripe_support import card_customer, intent_of, stripe_event
from tests.handlers.test_auto_top_up import AutoTopUp, partner_balance
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE, stripe_client

ALWAYS_DUE = 10**9  # a threshold no balance here reaches


@pytest.fixture(scope="module")
def auto(lambdas) -> AutoTopUp:
    return AutoTopUp(lambdas)


def work(auto: AutoTopUp, org_id: str, business_date: str) -> None:
    """The worker, in this process, handling the queue's message of one organization and date."""
    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r",
               "Body": json.dumps({"org_id": org_id, "business_date": business_date})}
    assert auto.worker_fn.lambda_handler(sqs_event([message], "arn:aws:sqs:us-east-1:0:q"),
                                         auto.ctx("WorkerFunction")) == {"batchItemFailures": []}


def configure(lambdas, partner, org_id, **fields) -> dict[str, Any]:
    body = {"method": "master_account", "trigger_amount": 10_000, "limit_threshold": ALWAYS_DUE,
            "auto_trigger": True, **fields}
    status, settings = lambdas.accounts("put_payment_settings", path={"org_id": org_id}, body=body, **admin(partner))
    assert status == 200, settings
    return settings


def settings_of(lambdas, partner, org_id) -> dict[str, Any]:
    return lambdas.accounts("get_payment_settings", path={"org_id": org_id}, **viewer(partner))[1]


def attempts_of(lambdas, partner, org_id) -> list[tuple[str, str, str | None, int, int]]:
    """(business date, status, reason, amount, requested amount), oldest first."""
    status, page = lambdas.accounts("list_auto_top_ups", path={"org_id": org_id}, query={"limit": "100"},
                                    **viewer(partner))
    assert status == 200, page
    return [(a["business_date"], a["status"], a["reason"], a["amount"], a["requested_amount"])
            for a in reversed(page["items"])]


def month_total(org_id: str, month: str) -> int:
    summed = Container.from_env().store.get(MonthlyAutoTopUps, org_id, month)
    return summed.total if summed else 0


def history(lambdas, partner, org_id) -> list[dict[str, Any]]:
    status, page = lambdas.accounts("organization_history", path={"org_id": org_id}, query={"limit": "100"},
                                    **viewer(partner))
    assert status == 200, page
    return page["items"]


def test_target_mode_tops_up_to_the_target_from_the_balance_read(lambdas, auto, partner):
    # Given a master-account customer in target mode, its balance 300 under a threshold of 1,000
    credit(lambdas, partner, 100_000)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], trigger_amount=0, limit_threshold=1_000, top_up_mode="target",
              target_balance=5_000)
    pay = record(lambdas, partner, org_id=org["id"], amount=300)
    lambdas.allocation("top_up_from_payment", path={"payment_id": pay["id"]}, body={"amount": 300}, headers=NO_KEY,
                       **admin(partner))
    # When the worker runs: it tops up by exactly what reaches the target
    work(auto, org["id"], "2026-11-21")
    assert balance(lambdas, partner, org) == 5_000 and partner_balance(lambdas, partner) == 100_000 - 4_700
    assert attempts_of(lambdas, partner, org["id"]) == [("2026-11-21", "credited", None, 4_700, 4_700)]
    # And the next day it is above the threshold: the attempt is recorded as skipped, not_due (nothing is silent)
    work(auto, org["id"], "2026-11-22")
    assert attempts_of(lambdas, partner, org["id"])[-1] == ("2026-11-22", "skipped", "not_due", 0, 0)


def test_the_monthly_cap_reduces_the_last_attempt_then_skips_until_the_next_month(lambdas, auto, partner):
    # Given an always-due master-account customer of 10,000 a day with a cap of 25,000 a month
    credit(lambdas, partner, 1_000_000)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], monthly_cap=25_000)
    # When five days of November and one of December run
    for day in ("2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-12-01"):
        work(auto, org["id"], day)
    # Then November stops exactly at the cap: reduced to what it left, then skipped with its reason
    assert attempts_of(lambdas, partner, org["id"]) == [
        ("2026-11-21", "credited", None, 10_000, 10_000), ("2026-11-22", "credited", None, 10_000, 10_000),
        ("2026-11-23", "credited", None, 5_000, 10_000), ("2026-11-24", "skipped", "monthly_cap_reached", 0, 10_000),
        ("2026-12-01", "credited", None, 10_000, 10_000)]
    assert (month_total(org["id"], "2026-11"), month_total(org["id"], "2026-12")) == (25_000, 10_000)
    assert balance(lambdas, partner, org) == 35_000


def test_an_issued_invoice_counts_toward_the_cap(lambdas, auto, partner):
    # Given a cheque customer of 10,000 a day, capped at 15,000 a month
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], method="cheque_or_tt", monthly_cap=15_000)
    work(auto, org["id"], "2026-11-21")
    # When its invoice is paid and the next days run
    _, page = lambdas.allocation("list_invoices", query={"org_id": org["id"], "type": "top_up"}, **viewer(partner))
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    allocate(lambdas, partner, payment, (page["items"][0], 10_000))
    work(auto, org["id"], "2026-11-22")
    # Then the second invoice is of what the cap left (unpaid: the third day is held back by it, then by the cap)
    _, page = lambdas.allocation("list_invoices", query={"org_id": org["id"], "type": "top_up"}, **viewer(partner))
    assert [i["amount"] for i in page["items"]] == [5_000, 10_000]
    assert month_total(org["id"], "2026-11") == 15_000


def test_failures_in_a_row_switch_off_audited_by_the_system_and_a_person_switches_on_again(lambdas, auto, partner):
    # Given an always-due master-account customer whose partner's wallet is empty
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"])
    # When three days fail (a fourth finds it switched off: recorded as not_due, nothing moved)
    for day in ("2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"):
        work(auto, org["id"], day)
    assert [a[1:3] for a in attempts_of(lambdas, partner, org["id"])] == [
        ("failed", "partner_insufficient_funds")] * 3 + [("skipped", "not_due")]
    settings = settings_of(lambdas, partner, org["id"])
    assert (settings["auto_trigger"], settings["disabled_reason"], settings["consecutive_failures"]) == (
        False, "consecutive_failures", 3)
    # Then the switch-off is audited by the system, in the transaction of the third failure
    [disabled] = [r for r in history(lambdas, partner, org["id"])
                  if r["action"] == "payment_settings.auto_top_up_disabled"]
    assert disabled["actor"] == "system:auto-top-up" and disabled["changes"] == {
        "auto_trigger": {"from": True, "to": False}, "consecutive_failures": {"from": 2, "to": 3},
        "disabled_reason": {"from": None, "to": "consecutive_failures"}}
    # When a person switches it on again (the partner's wallet funded meanwhile): both are cleared
    credit(lambdas, partner, 100_000)
    settings = configure(lambdas, partner, org["id"])
    assert (settings["auto_trigger"], settings["disabled_reason"], settings["consecutive_failures"]) == (True, None, 0)
    work(auto, org["id"], "2026-11-25")
    assert attempts_of(lambdas, partner, org["id"])[-1][1] == "credited"


def test_a_success_clears_the_count_and_skips_leave_it(lambdas, auto, partner):
    # Given a customer with two failures in a row (its partner short of funds)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org["id"], monthly_cap=20_000)
    work(auto, org["id"], "2026-11-01")
    work(auto, org["id"], "2026-11-02")
    assert settings_of(lambdas, partner, org["id"])["consecutive_failures"] == 2
    # When the partner is funded: two credits fill the cap, the next day is skipped (the count stays 0)
    credit(lambdas, partner, 100_000)
    for day in ("2026-11-03", "2026-11-04", "2026-11-05"):
        work(auto, org["id"], day)
    assert [a[1] for a in attempts_of(lambdas, partner, org["id"])] == ["failed", "failed", "credited", "credited",
                                                                       "skipped"]
    settings = settings_of(lambdas, partner, org["id"])
    assert (settings["consecutive_failures"], settings["auto_trigger"]) == (0, True)


def test_the_partners_daily_limit_fails_the_attempt_beyond_it(lambdas, auto, partner):
    # Given a partner with SGD 15,000 of automatic credits a day, and two customers of 10,000
    credit(lambdas, partner, 1_000_000)
    status, _ = lambdas.accounts("put_auto_credit_limit", path={"partner_id": partner, "currency": "SGD"},
                                 body={"daily_limit": 15_000}, **admin(partner))
    assert status == 200
    first, second = create_org(lambdas, partner, "First"), create_org(lambdas, partner, "Second")
    for org in (first, second):
        configure(lambdas, partner, org["id"])
    # When both run on one day, and the second again the next day
    work(auto, first["id"], "2026-11-21")
    work(auto, second["id"], "2026-11-21")
    work(auto, second["id"], "2026-11-22")
    # Then the second fails beyond the limit (a failure that counts), and is credited on the next day
    assert attempts_of(lambdas, partner, second["id"]) == [
        ("2026-11-21", "failed", "partner_daily_limit_reached", 10_000, 10_000),
        ("2026-11-22", "credited", None, 10_000, 10_000)]
    assert partner_balance(lambdas, partner) == 1_000_000 - 20_000
    # And when the limit is removed, a day's credits are bounded by the wallet only
    lambdas.accounts("delete_auto_credit_limit", path={"partner_id": partner, "currency": "SGD"}, **admin(partner))
    work(auto, first["id"], "2026-11-23")
    work(auto, second["id"], "2026-11-23")
    assert partner_balance(lambdas, partner) == 1_000_000 - 40_000


def card_due(lambdas, partner, card: str = "4242424242424242", **fields) -> str:
    """A card customer (online top-up of 5,000: trigger 2,000, threshold 1,000), spent down to 500: due."""
    org_id, _ = card_customer(lambdas, partner, card)
    status, _ = lambdas.accounts("debit_wallet", path={"org_id": org_id}, body={"amount": 4_500, "reference": "use"},
                                 headers=NO_KEY, **admin(partner))
    assert status == 201
    if fields:
        configure(lambdas, partner, org_id, method="stripe", trigger_amount=2_000, limit_threshold=1_000, **fields)
    return org_id


def auto_charges(lambdas, org_id: str) -> list[dict[str, Any]]:
    listed = [pi.to_dict() for pi in stripe_client(lambdas.stripe.endpoint).v1.payment_intents.list(
        {"limit": 100}).data]
    return [pi for pi in listed if (pi.get("metadata") or {}).get("purpose") == "auto_top_up"
            and pi["metadata"].get("org_id") == org_id]


def test_a_card_charge_reserves_its_month_and_what_is_left_below_stripes_minimum_is_skipped(lambdas, auto, partner):
    # Given a due card customer capped at SGD 20.40 a month
    org_id = card_due(lambdas, partner, monthly_cap=2_040)
    # When the first day charges 2,000 (pending until Stripe's webhook) and the next day comes
    work(auto, org_id, "2026-11-21")
    work(auto, org_id, "2026-11-22")
    # Then the charge is reserved in the month, and the 40 left (below Stripe's SGD 0.50) is a skip, not a charge
    assert attempts_of(lambdas, partner, org_id) == [
        ("2026-11-21", "charge_pending", None, 2_000, 2_000),
        ("2026-11-22", "skipped", "monthly_cap_reached", 0, 2_000)]
    assert month_total(org_id, "2026-11") == 2_000 and len(auto_charges(lambdas, org_id)) == 1


def test_a_declined_card_releases_its_reservation_counts_and_switches_off(lambdas, auto, partner):
    # Given a due card customer whose card always asks for authentication (off-session: refused), one failure allowed
    org_id = card_due(lambdas, partner, CARD_ALWAYS_AUTHENTICATE, max_consecutive_failures=1)
    # When the worker charges it
    work(auto, org_id, "2026-11-21")
    # Then the attempt failed with Stripe's reason, its reservation left the month, and the system switched it off
    [(_, status, reason, _, _)] = attempts_of(lambdas, partner, org_id)
    assert (status, reason) == ("failed", "card_declined") and month_total(org_id, "2026-11") == 0
    settings = settings_of(lambdas, partner, org_id)
    assert (settings["auto_trigger"], settings["disabled_reason"], settings["consecutive_failures"]) == (
        False, "consecutive_failures", 1)
    # And the next day it is never charged
    work(auto, org_id, "2026-11-22")
    assert attempts_of(lambdas, partner, org_id)[-1][1:3] == ("skipped", "not_due")
    assert len(auto_charges(lambdas, org_id)) == 1


# --- what the Stripe webhook's settlement calls (shared.services.settlement), and the webhook through it ----------
def pending_attempt(org: Organization, amount: int, date: str = "2026-11-21") -> AutoTopUpAttempt:
    at = "2026-11-21T01:00:00.000Z"
    return AutoTopUpAttempt(org_id=org.id, partner_id=org.partner_id, business_date=date, method="stripe",
                            amount=amount, requested_amount=amount, currency=org.currency, status="charge_pending",
                            created_at=at, updated_at=at)


def test_the_webhooks_failure_helper_releases_counts_and_switches_off_once(lambdas, partner):
    # Given a card customer (max 2 failures, one already counted) with a pending charge reserved in its month
    deps = Container.from_env()
    org_id = card_due(lambdas, partner, max_consecutive_failures=2)
    org = deps.store.get(Organization, org_id)
    org = org.model_copy(update={"settings": org.settings.model_copy(update={"consecutive_failures": 1}),
                                 "version": org.version + 1})
    deps.db.transact([deps.db.put_if(item_of(org), "attribute_exists(pk)", {})])
    attempt = pending_attempt(org, 2_000)
    uow = deps.store.unit_of_work().create(attempt)
    deps.guardrails.count(uow, org, attempt.business_date, attempt.amount, attempt.created_at)
    uow.commit()
    # When the webhook settles its failure (the attempt's save and the helper in one transaction)
    org = deps.store.get(Organization, org_id)
    failed = attempt.model_copy(update={"status": "failed", "reason": "card_declined", "version": 2})
    uow = deps.store.unit_of_work().save(failed, attempt.version)
    deps.guardrails.card_attempt_failed(uow, org, attempt, "2026-11-21T02:00:00.000Z")
    uow.commit()
    # Then the reservation is released and the second failure switched the automatic top-up off, audited
    assert month_total(org_id, "2026-11") == 0
    settings = deps.store.get(Organization, org_id).settings
    assert (settings.auto_trigger, settings.disabled_reason, settings.consecutive_failures) == (
        False, "consecutive_failures", 2)
    assert "payment_settings.auto_top_up_disabled" in {r["action"] for r in history(lambdas, partner, org_id)}
    # And a repeated failure event (the attempt already failed) changes nothing
    assert deps.guardrails.card_attempt_failed(deps.store.unit_of_work(), org, failed, "later") is None


def test_the_webhooks_success_helper_clears_the_count_and_counts_a_released_charge_again(lambdas, partner):
    deps = Container.from_env()
    org_id = card_due(lambdas, partner)
    org = deps.store.get(Organization, org_id)
    org = org.model_copy(update={"settings": org.settings.model_copy(update={"consecutive_failures": 2}),
                                 "version": org.version + 1})
    deps.db.transact([deps.db.put_if(item_of(org), "attribute_exists(pk)", {})])
    # When a charge already marked failed (its reservation released) succeeds after all
    failed = pending_attempt(org, 2_000).model_copy(update={"status": "failed", "reason": "card_declined"})
    uow = deps.store.unit_of_work()
    credited = org.model_copy(update={"balance": org.balance + 2_000, "version": org.version + 1})
    credited = deps.guardrails.card_attempt_credited(uow, credited, failed, "2026-11-21T03:00:00.000Z")
    uow.save(credited, org.version).commit()
    # Then the count is cleared (audited) and the money Stripe took is in the month again
    assert deps.store.get(Organization, org_id).settings.consecutive_failures == 0
    assert month_total(org_id, "2026-11") == 2_000
    changed = [r for r in history(lambdas, partner, org_id) if r["actor"] == "system:auto-top-up"]
    assert changed[0]["changes"] == {"consecutive_failures": {"from": 2, "to": 0}}


def test_a_pending_charge_credited_by_its_webhook_keeps_its_reservation(lambdas, auto, partner):
    # Given a capped card customer whose automatic charge is pending
    org_id = card_due(lambdas, partner, monthly_cap=10_000)
    work(auto, org_id, "2026-11-21")
    [charge] = auto_charges(lambdas, org_id)
    # When Stripe's webhook credits it
    from tests.handlers.stripe_support import deliver

    assert deliver(lambdas, stripe_event("payment_intent.succeeded", intent_of(lambdas, charge["id"])))[1][
        "outcome"] == "credited"
    # Then the month still holds it
    assert month_total(org_id, "2026-11") == 2_000


def failed_intent(intent: dict[str, Any]) -> dict[str, Any]:
    """The PaymentIntent as Stripe shows it after the off-session charge failed (a later decline, e.g. a bank's)."""
    return {**intent, "status": "requires_payment_method", "amount_received": 0,
            "last_payment_error": {"type": "card_error", "code": "card_declined", "decline_code": "do_not_honor",
                                   "message": "Your card was declined."}}


def test_a_charge_failed_only_by_its_webhook_releases_its_month_counts_and_switches_off(lambdas, auto, partner):
    """The webhook's settlement wired to the guardrails: a failure Stripe reports later (not at the charge) counts
    like one at the charge, in the same transaction as the attempt's failure."""
    from tests.handlers.stripe_support import deliver

    # Given a capped card customer, one failure allowed, whose automatic charge is pending and reserved
    org_id = card_due(lambdas, partner, monthly_cap=10_000, max_consecutive_failures=1)
    work(auto, org_id, "2026-11-21")
    [charge] = auto_charges(lambdas, org_id)
    assert month_total(org_id, "2026-11") == 2_000
    # When Stripe's webhook says the charge failed
    event = stripe_event("payment_intent.payment_failed", failed_intent(intent_of(lambdas, charge["id"])))
    assert deliver(lambdas, event)[1]["outcome"] == "failed"
    # Then the attempt failed with the decline, its reservation left the month, and the system switched it off
    [(_, status, reason, _, _)] = attempts_of(lambdas, partner, org_id)
    assert (status, reason) == ("failed", "card_declined") and month_total(org_id, "2026-11") == 0
    settings = settings_of(lambdas, partner, org_id)
    assert (settings["auto_trigger"], settings["disabled_reason"], settings["consecutive_failures"]) == (
        False, "consecutive_failures", 1)
    assert "payment_settings.auto_top_up_disabled" in {r["action"] for r in history(lambdas, partner, org_id)}
    # And the same event again changes nothing (no second count, no second release)
    assert deliver(lambdas, event)[1]["outcome"] == "duplicate_event"
    assert month_total(org_id, "2026-11") == 0 and settings_of(lambdas, partner, org_id) == settings


def test_a_charge_credited_by_its_webhook_clears_the_failure_count(lambdas, auto, partner):
    from tests.handlers.stripe_support import deliver

    # Given a card customer with two failures counted (of three allowed) and a pending automatic charge
    org_id = card_due(lambdas, partner, max_consecutive_failures=3)
    deps = Container.from_env()
    org = deps.store.get(Organization, org_id)
    org = org.model_copy(update={"settings": org.settings.model_copy(update={"consecutive_failures": 2}),
                                 "version": org.version + 1})
    deps.db.transact([deps.db.put_if(item_of(org), "attribute_exists(pk)", {})])
    work(auto, org_id, "2026-11-21")
    [charge] = auto_charges(lambdas, org_id)
    # When Stripe's webhook credits it
    event = stripe_event("payment_intent.succeeded", intent_of(lambdas, charge["id"]))
    assert deliver(lambdas, event)[1]["outcome"] == "credited"
    # Then the count is cleared by the system, audited, and the month holds the charge
    assert settings_of(lambdas, partner, org_id)["consecutive_failures"] == 0
    changed = [r for r in history(lambdas, partner, org_id) if r["actor"] == "system:auto-top-up"]
    assert changed[0]["changes"] == {"consecutive_failures": {"from": 2, "to": 0}}
    assert month_total(org_id, "2026-11") == 2_000


def test_an_online_top_up_keeps_the_organizations_guardrails(lambdas, partner):
    # Given a card customer whose partner capped its month and allowed five failures in a row
    org_id = card_due(lambdas, partner, monthly_cap=30_000, max_consecutive_failures=5)
    # When the customer tops up by card again (choosing new amounts)
    from tests.handlers.stripe_support import deliver, pay, start_top_up

    intent = pay(lambdas, start_top_up(lambdas, partner, org_id, amount=6_000, trigger=3_000))
    assert deliver(lambdas, stripe_event("payment_intent.succeeded", intent))[1]["outcome"] == "credited"
    # Then the amounts are the new ones and the partner's guardrails are kept
    settings = settings_of(lambdas, partner, org_id)
    assert settings["trigger_amount"] == 3_000
    assert (settings["monthly_cap"], settings["max_consecutive_failures"]) == (30_000, 5)


def test_a_charge_pending_from_before_the_caps_fails_without_a_reservation_to_release(lambdas, partner):
    """An attempt written `charge_pending` before the caps existed reserved nothing (no `requested_amount`, no month
    item): its failure still commits (counted), releasing nothing."""
    # Given a card customer with such an attempt, and no month's sum
    deps = Container.from_env()
    org_id = card_due(lambdas, partner)
    org = deps.store.get(Organization, org_id)
    attempt = pending_attempt(org, 2_000, "2026-10-05").model_copy(update={"requested_amount": None})
    deps.store.unit_of_work().create(attempt).commit()
    # When its failure is settled
    failed = attempt.model_copy(update={"status": "failed", "reason": "card_declined", "version": 2})
    uow = deps.store.unit_of_work().save(failed, attempt.version)
    deps.guardrails.card_attempt_failed(uow, org, attempt, "2026-10-05T02:00:00.000Z")
    uow.commit()
    # Then the failure is counted and no month's sum was made up
    assert deps.store.get(Organization, org_id).settings.consecutive_failures == 1
    assert deps.store.get(MonthlyAutoTopUps, org_id, "2026-10") is None

