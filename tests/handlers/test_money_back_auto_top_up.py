"""Money that comes back, and the daily automatic top-up (contract: "Money that comes back", "The daily automatic
top-up"), with the real sweep and worker (due index -> SQS -> worker):

  A1  a void automatic top-up invoice no longer holds back the next one (an unpaid one does);
  A2  a bounce that takes back an automatic top-up invoice's payment makes it due again: it holds back the next;
  A3  a wallet taken below zero by a reversal is due, is topped up by the next sweep like any other, and
      refuses debits and withdrawals while it is below zero.
"""

from __future__ import annotations

import pytest

from tests.handlers.conftest import NO_KEY, admin, allocate, balance, create_org, credit, record
from tests.handlers.test_allocation import get_invoice, wallet
from tests.handlers.test_auto_top_up import (
    DAY1,
    DAY2,
    DAY3,
    AutoTopUp,
    attempts,
    auto_invoices,
    configure,
    partner_balance,
)


@pytest.fixture(scope="module")
def auto(lambdas):
    """The real sweep and worker modules, run in-process (as tests/handlers/test_auto_top_up.py runs them)."""
    return AutoTopUp(lambdas)


def bounce(lambdas, partner, payment):
    return lambdas.allocation("bounce_payment", path={"payment_id": payment["id"]}, headers=NO_KEY,
                              body={"bounced_date": "2026-11-25", "reason": "NSF"}, **admin(partner))


def void(lambdas, partner, inv):
    return lambdas.allocation("void_invoice", path={"invoice_id": inv["id"]}, headers=NO_KEY,
                              body={"reason": "Customer paid by other means"}, **admin(partner))


def test_a1_a_void_automatic_top_up_invoice_no_longer_holds_back_the_next(lambdas, auto, partner):
    # Given two cheque/TT customers due for a 10,000 top-up invoice (wallets at 0, threshold 20,000)
    voided, kept = create_org(lambdas, partner, "Voided customer"), create_org(lambdas, partner, "Kept customer")
    for org in (voided, kept):
        configure(lambdas, partner, org, "cheque_or_tt", 10_000, 20_000)
    # And day 1's sweep issued each a top-up invoice
    auto.run_day(DAY1)
    first = {}
    for org in (voided, kept):
        [first[org["id"]]] = auto_invoices(lambdas, partner, org)
        assert (first[org["id"]]["amount"], first[org["id"]]["status"]) == (10_000, "unpaid")
        assert attempts(lambdas, partner, org) == [("2026-11-21", "invoice_issued", None)]

    # When one customer's invoice is voided
    status, body = void(lambdas, partner, first[voided["id"]])
    assert (status, body["status"], body["amount_due"]) == (200, "void", 0), body
    # and day 2's sweep runs
    auto.run_day(DAY2)

    # Then the voided customer gets a new invoice: the void one no longer holds it back
    invoices = auto_invoices(lambdas, partner, voided)
    assert [(i["issued_date"], i["amount"], i["status"]) for i in invoices] == [
        ("2026-11-22", 10_000, "unpaid"), ("2026-11-21", 10_000, "void")]
    assert attempts(lambdas, partner, voided) == [("2026-11-22", "invoice_issued", None),
                                                  ("2026-11-21", "invoice_issued", None)]
    # And the other customer, whose invoice is still unpaid, is skipped (the contrast)
    assert [i["id"] for i in auto_invoices(lambdas, partner, kept)] == [first[kept["id"]]["id"]]
    assert attempts(lambdas, partner, kept) == [("2026-11-22", "skipped", "previous_invoice_unpaid"),
                                                ("2026-11-21", "invoice_issued", None)]
    # And neither wallet moved: issuing an invoice credits nothing
    assert balance(lambdas, partner, voided) == balance(lambdas, partner, kept) == 0


def test_a2_a_bounce_makes_a_provisioned_automatic_top_up_invoice_due_again(lambdas, auto, partner):
    # Given a cheque/TT customer whose day-1 automatic top-up invoice of 10,000 a cheque provisioned
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org, "cheque_or_tt", 10_000, 20_000)
    auto.run_day(DAY1)
    [inv] = auto_invoices(lambdas, partner, org)
    cheque = record(lambdas, partner, org_id=org["id"], amount=10_000)
    allocate(lambdas, partner, cheque, (inv, 10_000))
    assert get_invoice(lambdas, partner, inv)["status"] == "provisioned"
    assert balance(lambdas, partner, org) == 10_000

    # When the cheque bounces
    status, body = bounce(lambdas, partner, cheque)
    assert (status, body["status"], body["allocations"]) == (200, "bounced", []), body

    # Then the invoice is unpaid again, its whole amount due
    got = get_invoice(lambdas, partner, inv)
    assert (got["status"], got["amount_paid"], got["amount_due"], got["allocations"]) == ("unpaid", 0, 10_000, [])
    # And the wallet gave the invoice's amount back in one reversal
    held, entries = wallet(lambdas, partner, org)
    assert held == 0 == sum(e["amount"] for e in entries)
    assert [(e["type"], e["amount"], e["reference"]) for e in entries] == [
        ("reversal", -10_000, cheque["id"]), ("provision", 10_000, inv["id"])]

    # When day 2's sweep runs
    auto.run_day(DAY2)
    # Then the outstanding invoice holds the next one back
    assert attempts(lambdas, partner, org) == [("2026-11-22", "skipped", "previous_invoice_unpaid"),
                                               ("2026-11-21", "invoice_issued", None)]
    assert [i["id"] for i in auto_invoices(lambdas, partner, org)] == [inv["id"]]
    status, page = lambdas.accounts("list_auto_top_ups", path={"org_id": org["id"]}, query={}, **admin(partner))
    assert status == 200 and page["items"][0]["invoice_id"] == inv["id"]

    # When another payment pays it (provisioned again), day 3 issues the next invoice
    good = record(lambdas, partner, org_id=org["id"], amount=10_000, method="telegraphic_transfer")
    allocate(lambdas, partner, good, (inv, 10_000))
    assert get_invoice(lambdas, partner, inv)["status"] == "provisioned"
    assert balance(lambdas, partner, org) == 10_000
    auto.run_day(DAY3)
    assert [i["issued_date"] for i in auto_invoices(lambdas, partner, org)] == ["2026-11-23", "2026-11-21"]


def test_a3_a_wallet_below_zero_after_a_reversal_is_topped_up_by_the_next_sweep(lambdas, auto, partner):
    # Given a master-account customer (5,000 when at or below 1,000) of a partner holding 50,000
    credit(lambdas, partner, 50_000)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org, "master_account", 5_000, 1_000)
    # And a wallet topped up with 10,000 from a cheque, of which usage spent 7,000 (3,000 left: not due)
    cheque = record(lambdas, partner, org_id=org["id"], amount=10_000)
    status, _ = lambdas.allocation("top_up_from_payment", path={"payment_id": cheque["id"]}, body={"amount": 10_000},
                                   headers=NO_KEY, **admin(partner))
    assert status == 200
    status, _ = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, body={"amount": 7_000, "reference": "cdr"},
                                 headers=NO_KEY, **admin(partner))
    assert status == 201

    # When the cheque bounces
    assert bounce(lambdas, partner, cheque)[0] == 200
    # Then the reversal takes the wallet below zero: 3,000 - 10,000
    assert balance(lambdas, partner, org) == -7_000

    # And a wallet below zero refuses a usage debit and a withdrawal, writing nothing
    before = lambdas.snapshot()
    status, body = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, body={"amount": 1, "reference": "cdr"},
                                    headers=NO_KEY, **admin(partner))
    assert (status, body["error"]["code"]) == (409, "insufficient_balance")
    status, body = lambdas.accounts("withdraw", path={"org_id": org["id"]}, body={"amount": 1, "method": "cash"},
                                    headers=NO_KEY, **admin(partner))
    assert (status, body["error"]["code"]) == (409, "insufficient_balance")
    assert lambdas.snapshot() == before

    # When day 1's sweep runs
    auto.run_day(DAY1)
    # Then the negative wallet is due and credited the trigger amount from the partner: -7,000 + 5,000
    assert attempts(lambdas, partner, org) == [("2026-11-21", "credited", None)]
    assert balance(lambdas, partner, org) == -2_000
    assert partner_balance(lambdas, partner) == 45_000
    held, entries = wallet(lambdas, partner, org)
    assert held == -2_000 == sum(e["amount"] for e in entries)
    assert [(e["type"], e["amount"], e["balance_after"]) for e in entries] == [
        ("auto_credit", 5_000, -2_000), ("reversal", -10_000, -7_000), ("usage", -7_000, 3_000),
        ("top_up", 10_000, 10_000)]
    # And it still refuses debits while below zero
    status, body = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, body={"amount": 1, "reference": "cdr"},
                                    headers=NO_KEY, **admin(partner))
    assert (status, body["error"]["code"]) == (409, "insufficient_balance")

    # When day 1 is swept again nothing moves; day 2 credits it once more, above zero
    auto.run_day(DAY1)
    assert balance(lambdas, partner, org) == -2_000
    auto.run_day(DAY2)
    assert balance(lambdas, partner, org) == 3_000 and partner_balance(lambdas, partner) == 40_000
    assert attempts(lambdas, partner, org)[0] == ("2026-11-22", "credited", None)
    # And the credited wallet takes debits again
    status, entry = lambdas.accounts("debit_wallet", path={"org_id": org["id"]},
                                     body={"amount": 3_000, "reference": "cdr"}, headers=NO_KEY, **admin(partner))
    assert status == 201 and entry["balance_after"] == 0
