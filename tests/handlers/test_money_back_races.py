"""Money that comes back, under concurrency: withdrawals, bounces, credit notes racing what they undo or limit.

Each test runs its requests at once through the local host's execution environments (at most 8 per function,
one request at a time each, as Lambda runs them) against DynamoDB Local, and checks one invariant:

  R1  concurrent withdrawals never take a wallet below zero; the ledger sums to the balance;
  R2  a bounce racing allocations and top-ups of its payment leaves nothing of the payment anywhere: what
      landed first is undone by the bounce (one `reversal`), what came after is refused (payment_bounced);
  R3  credit notes racing allocations on one invoice never overpay nor over-credit it, and the wallet credit
      of its credit notes is exactly what was paid above its net amount;
  R4  a payment bounces once, however many bounces race: one 200, one `reversal`;
  R5  a bounce racing a credit note on the invoice it paid ends in the same state whichever comes first;
  R6  concurrent withdrawals with one Idempotency-Key withdraw once;
  R7  two payments of one credited invoice bouncing at once take its credit notes' wallet credit back once;
  R8  two payments of one provisioned top-up invoice bouncing at once take its provisioning back once;
  R9  releasing an allocation racing a credit note never leaves wallet credit without the money under it.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.handlers.conftest import NO_KEY, admin, allocate, create_org, record, viewer
from tests.handlers.test_allocation import get_invoice, invoice, wallet


# --- helpers ------------------------------------------------------------------------------------------------
def top_up(lambdas, partner, payment, amount) -> tuple[int, Any]:
    return lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]}, body={"amount": amount},
                              headers=NO_KEY, **admin(partner))


def allocation(lambdas, partner, payment, inv, amount) -> tuple[int, Any]:
    return lambdas.allocation("allocate_payment", path={"payment_id": payment["id"]}, headers=NO_KEY,
                              body={"allocations": [{"invoice_id": inv["id"], "amount": amount}]}, **admin(partner))


def bounce(lambdas, partner, payment) -> tuple[int, Any]:
    return lambdas.allocation("bounce_payment", path={"payment_id": payment["id"]}, headers=NO_KEY,
                              body={"bounced_date": "2026-11-25", "reason": "NSF"}, **admin(partner))


def credit_note(lambdas, partner, inv, amount) -> tuple[int, Any]:
    return lambdas.allocation("create_credit_note", path={"invoice_id": inv["id"]}, headers=NO_KEY,
                              body={"amount": amount, "reason": "billing_error"}, **admin(partner))


def withdraw(lambdas, partner, org, amount) -> tuple[int, Any]:
    return lambdas.accounts("withdraw", path={"org_id": org["id"]}, body={"amount": amount, "method": "cash"},
                            headers=NO_KEY, **admin(partner))


def get_payment(lambdas, partner, payment) -> dict[str, Any]:
    status, body = lambdas.payments("get_payment", path={"payment_id": payment["id"]}, **viewer(partner))
    assert status == 200, body
    return body


def code(result: tuple[int, Any]) -> tuple[int, str | None]:
    status, body = result
    return status, (body or {}).get("error", {}).get("code") if status >= 400 else None


def at_once(calls: list[Any], workers: int = 16) -> list[tuple[int, Any]]:
    """Run the zero-argument `calls` at once; their results in the same order."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def assert_ledger_consistent(balance: int, entries: list[dict[str, Any]]) -> None:
    """The entries (newest first) sum to the balance and each one's balance_after follows from the one before."""
    assert balance == sum(e["amount"] for e in entries)
    running = 0
    for e in reversed(entries):
        running += e["amount"]
        assert e["balance_after"] == running, e


# --- R1 -----------------------------------------------------------------------------------------------------
def test_r1_concurrent_withdrawals_never_take_the_wallet_below_zero(lambdas, partner):
    """R1: of concurrent withdrawals that together exceed the balance, exactly floor(balance / amount) succeed,
    the others get 409 insufficient_balance; the balance never goes below zero, equals the sum of the ledger,
    and there is one `withdrawal` entry (and one withdrawal record) per success."""
    # Given a wallet holding 10,000 from a payment's top-up
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    assert top_up(lambdas, partner, payment, 10_000)[0] == 200

    # When 16 withdrawals of 1,500 (24,000 in all) are made at once
    results = at_once([lambda: withdraw(lambdas, partner, org, 1_500) for _ in range(16)])

    # Then exactly 6 succeed (6 x 1,500 = 9,000 <= 10,000 < 7 x 1,500) and the other 10 are refused
    codes = [code(r) for r in results]
    ok, refused = codes.count((201, None)), codes.count((409, "insufficient_balance"))
    print(f"R1 withdrawals: {ok} ok / {refused} insufficient_balance")
    assert (ok, refused) == (6, 10), codes
    # And the wallet holds 1,000, never went below zero, and its ledger adds up
    balance, entries = wallet(lambdas, partner, org)
    assert balance == 1_000
    assert_ledger_consistent(balance, entries)
    assert all(e["balance_after"] >= 0 for e in entries)
    withdrawals = [e for e in entries if e["type"] == "withdrawal"]
    assert len(withdrawals) == ok and all(e["amount"] == -1_500 for e in withdrawals)
    assert [e["type"] for e in entries] == ["withdrawal"] * 6 + ["top_up"]
    # And each success is one withdrawal record, pointing at its own ledger entry
    status, listed = lambdas.accounts("list_withdrawals", path={"org_id": org["id"]}, query={"limit": "100"},
                                      **viewer(partner))
    assert status == 200
    assert sorted(w["ledger_entry_id"] for w in listed["items"]) == sorted(e["id"] for e in withdrawals)
    assert sorted(w["id"] for w in listed["items"]) == sorted(b["id"] for s, b in results if s == 201)


# --- R2 -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("round_", [0, 1, 2], ids=["bounce_first", "plain_race", "bounce_last"])
def test_r2_a_bounce_racing_allocations_and_top_ups_leaves_nothing_of_the_payment(lambdas, partner, round_):
    """R2: a bounce racing allocations and top-ups of the same payment. Each allocation or top-up either landed
    before the bounce (200) and was undone by it, or came after it and was refused (409 payment_bounced). After
    the race the payment is bounced with no allocation, its invoices are unpaid again, and the one `reversal`
    equals what reached the wallet: the top-ups that landed plus the provisioned top-up invoice's amount.
    Three rounds: the bounce first (the others 0.3 s later), a plain race, the bounce 0.3 s last."""
    # Given a fresh organization (wallet at 0), three standard invoices of 2,000, a top-up invoice of
    # 1,000, and a cheque of 10,000 assigned to it
    org = create_org(lambdas, partner, f"Race {round_}")
    standard = [invoice(lambdas, partner, org, 2_000) for _ in range(3)]
    top_inv = invoice(lambdas, partner, org, 1_000, "top_up")
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)

    # When, at once, the payment bounces while it is allocated to each invoice (6,000 + 1,000) and topped
    # up three times by 1,000 (10,000 in all: never beyond the payment)
    ops: list[tuple[str, Any]] = [("allocation", s) for s in standard] + [("provision", top_inv)]
    ops += [("top_up", None)] * 3

    # (the others 0.3 s later in round 0, a plain race in round 1, the bounce 0.3 s later in round 2)
    bounce_delay, others_delay = ((0, 0.3), (0, 0), (0.3, 0))[round_]

    def run(op: tuple[str, Any]) -> tuple[int, Any]:
        kind, target = op
        time.sleep((bounce_delay if kind == "bounce" else others_delay) + random.uniform(0, 0.02))
        if kind == "bounce":
            return bounce(lambdas, partner, payment)
        if kind == "top_up":
            return top_up(lambdas, partner, payment, 1_000)
        return allocation(lambdas, partner, payment, target, target["amount"])

    ops.insert(len(ops) // 2, ("bounce", None))
    with ThreadPoolExecutor(len(ops)) as pool:
        results = list(pool.map(run, ops))

    # Then the bounce succeeded, and every other request either landed or was refused as bounced
    bounced = [r for (kind, _), r in zip(ops, results, strict=True) if kind == "bounce"]
    assert [s for s, _ in bounced] == [200], bounced
    others = [(op, code(r)) for op, r in zip(ops, results, strict=True) if op[0] != "bounce"]
    assert all(c in ((200, None), (409, "payment_bounced")) for _, c in others), others
    landed = [op for op, c in others if c == (200, None)]
    refused = len(others) - len(landed)
    print(f"R2 round {round_}: {len(landed)} landed before the bounce (undone) / {refused} payment_bounced")

    # And the payment is bounced with nothing allocated
    after = get_payment(lambdas, partner, payment)
    assert (after["status"], after["allocations"], after["allocated_amount"]) == ("bounced", [], 0)
    assert (after["bounced_date"], after["bounce_reason"]) == ("2026-11-25", "NSF")
    # And every invoice it paid is unpaid again (only this payment paid them), the top-up one unprovisioned
    for inv in [*standard, top_inv]:
        got = get_invoice(lambdas, partner, inv)
        assert (got["amount_paid"], got["amount_due"], got["allocations"], got["status"]) == (
            0, inv["amount"], [], "unpaid"), got
    # And the wallet is back at 0: one reversal of exactly what reached it (top-ups + the provisioning)
    reached = sum(1_000 for kind, _ in landed if kind in ("top_up", "provision"))
    balance, entries = wallet(lambdas, partner, org)
    assert balance == 0
    assert_ledger_consistent(balance, entries)
    kinds = sorted(e["type"] for e in entries)
    expected = (["provision"] if ("provision", top_inv) in landed else []) + ["top_up"] * sum(
        1 for kind, _ in landed if kind == "top_up")
    assert kinds == sorted(expected + (["reversal"] if reached else [])), entries
    assert [e["amount"] for e in entries if e["type"] == "reversal"] == ([-reached] if reached else [])
    assert sum(e["amount"] for e in entries if e["type"] in ("top_up", "provision")) == reached
    # And the bounced payment takes nothing more
    assert code(top_up(lambdas, partner, payment, 1)) == (409, "payment_bounced")
    assert code(bounce(lambdas, partner, payment)) == (409, "payment_bounced")


# --- R3 -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("round_", [0, 1])
def test_r3_credit_notes_racing_allocations_never_overpay_nor_over_credit(lambdas, partner, round_):
    """R3: credit notes racing allocations on one invoice. An allocation never goes beyond the net amount at its
    time (409 invoice_overpaid otherwise) and a credit note never beyond the amount less earlier credit notes
    (409 credit_exceeds_invoice). So: amount_credited <= amount; the wallet credit of its credit notes (their
    `wallet_credited`, the `credit_note` ledger total, the wallet's balance) equals
    max(0, amount_paid + amount_credited - amount); each note's due_reduced + wallet_credited is its amount."""
    # Given a standard invoice of 10,000 and four cheques of 3,000 assigned to its organization
    org = create_org(lambdas, partner, f"Credit race {round_}")
    inv = invoice(lambdas, partner, org, 10_000)
    payments = [record(lambdas, partner, org_id=org["id"], amount=3_000) for _ in range(4)]
    notes = [2_000, 2_000, 2_000, 5_000]  # 11,000 in all: exactly one of them is refused, whatever the order

    # When the four payments allocate 3,000 each (12,000) and four credit notes are made, all at once
    calls = [lambda p=p: allocation(lambdas, partner, p, inv, 3_000) for p in payments]
    calls += [lambda a=a: credit_note(lambdas, partner, inv, a) for a in notes]
    results = at_once(calls)

    # Then each allocation was made or refused as overpaying; each credit note made or refused as exceeding
    allocs, credits = results[:4], results[4:]
    assert all(code(r) in ((200, None), (409, "invoice_overpaid")) for r in allocs), allocs
    assert all(code(r) in ((201, None), (409, "credit_exceeds_invoice")) for r in credits), credits
    paid_ok = sum(1 for s, _ in allocs if s == 200)
    made = [b for s, b in credits if s == 201]
    got = get_invoice(lambdas, partner, inv)
    credited = sum(n["amount"] for n in made)
    print(f"R3 round {round_}: allocations {paid_ok} ok / {4 - paid_ok} invoice_overpaid; "
          f"credit notes {len(made)} ok / {4 - len(made)} credit_exceeds_invoice; credited {credited}, "
          f"wallet credit {sum(n['wallet_credited'] for n in made)}")
    assert len(made) == 3
    # And the invoice was never over-credited: it holds the notes that were made, no more
    assert credited in (6_000, 9_000)  # the 5,000 note refused, or one of the 2,000 ones
    assert got["amount_credited"] == credited <= got["amount"] == 10_000
    assert sorted(c["id"] for c in got["credit_notes"]) == sorted(n["id"] for n in made)
    assert got["amount_paid"] == 3_000 * paid_ok == sum(a["amount"] for a in got["allocations"])
    assert got["amount_due"] == max(0, 10_000 - credited - got["amount_paid"])
    # And each note split its amount between what was due and the wallet
    assert all(n["due_reduced"] + n["wallet_credited"] == n["amount"] for n in made), made
    assert all(n["due_reduced"] >= 0 and n["wallet_credited"] >= 0 for n in made), made
    # And the wallet credit is exactly what was paid above the net amount (nothing was ever overpaid)
    wallet_credit = sum(n["wallet_credited"] for n in made)
    over = got["amount_paid"] + credited - 10_000
    if over > 0:
        assert wallet_credit == over
    else:
        assert wallet_credit == 0 and got["amount_paid"] + credited <= 10_000
    # an allocation never went beyond what was due at its time: what was due went down by the
    # allocations and the notes' due_reduced only, from the amount to what is due now
    assert got["amount_paid"] + sum(n["due_reduced"] for n in made) + got["amount_due"] == 10_000
    balance, entries = wallet(lambdas, partner, org)
    assert_ledger_consistent(balance, entries)
    assert balance == wallet_credit == sum(e["amount"] for e in entries if e["type"] == "credit_note")
    assert len([e for e in entries if e["type"] == "credit_note"]) == sum(1 for n in made if n["wallet_credited"])


# --- R4 -----------------------------------------------------------------------------------------------------
def test_r4_concurrent_bounces_of_one_payment_bounce_it_once(lambdas, partner):
    """R4: four bounces of the same payment at once: exactly one 200, the others 409 payment_bounced, and
    exactly one `reversal` entry (of the wallet top-up and the provisioned top-up invoice it paid)."""
    # Given a cheque of 10,000 that paid a standard invoice (4,000), provisioned a top-up invoice (3,000)
    # and topped the wallet up (2,000)
    org = create_org(lambdas, partner)
    std, top_inv = invoice(lambdas, partner, org, 4_000), invoice(lambdas, partner, org, 3_000, "top_up")
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    allocate(lambdas, partner, payment, (std, 4_000), (top_inv, 3_000))
    assert top_up(lambdas, partner, payment, 2_000)[0] == 200
    assert wallet(lambdas, partner, org)[0] == 5_000

    # When it bounces four times at once
    results = at_once([lambda: bounce(lambdas, partner, payment) for _ in range(4)])

    # Then exactly one bounce succeeded and the others were refused as already bounced
    codes = [code(r) for r in results]
    ok, refused = codes.count((200, None)), codes.count((409, "payment_bounced"))
    print(f"R4 bounces: {ok} ok / {refused} payment_bounced")
    assert (ok, refused) == (1, 3), codes
    # And the wallet lost the 5,000 that reached it, in exactly one reversal entry
    balance, entries = wallet(lambdas, partner, org)
    assert balance == 0
    assert_ledger_consistent(balance, entries)
    assert [(e["type"], e["amount"], e["reference"]) for e in entries if e["type"] == "reversal"] == [
        ("reversal", -5_000, payment["id"])]
    # And both invoices are unpaid again
    for inv in (std, top_inv):
        got = get_invoice(lambdas, partner, inv)
        assert (got["amount_paid"], got["amount_due"], got["status"]) == (0, inv["amount"], "unpaid")
    # And the payment's history holds one bounce
    status, history = lambdas.payments("payment_history", path={"payment_id": payment["id"]}, **viewer(partner))
    assert status == 200
    assert [h["action"] for h in history["items"]].count("payment.bounced") == 1


# --- R5 -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("round_", [0, 1, 2], ids=["bounce_first", "plain_race", "note_first"])
def test_r5_a_bounce_racing_a_credit_note_ends_the_same_whichever_comes_first(lambdas, partner, round_):
    """R5: a credit note on an invoice a payment paid in full, racing the payment's bounce. Note first: it
    credits the wallet (nothing is due) and the bounce takes that credit back in its `reversal`; bounce first:
    the note only reduces what is due again. Either way the wallet ends at 0 (its ledger summing to it) and
    the invoice is unpaid with its net amount due."""
    # Given an invoice of 5,000 paid in full by a cheque
    org = create_org(lambdas, partner, f"Bounce vs note {round_}")
    inv = invoice(lambdas, partner, org, 5_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    allocate(lambdas, partner, payment, (inv, 5_000))

    # When the cheque bounces while a credit note of 2,000 is made (the note a little later in round 0,
    # a plain race in round 1, the bounce a little later in round 2: both orders happen)
    bounce_delay, note_delay = ((0, 0.3), (0, 0), (0.3, 0))[round_]

    def late(delay, call):
        return lambda: (time.sleep(delay), call())[1]

    bounced, noted = at_once([late(bounce_delay, lambda: bounce(lambdas, partner, payment)),
                              late(note_delay, lambda: credit_note(lambdas, partner, inv, 2_000))])
    results = {"bounce": bounced, "note": noted}

    # Then both succeeded
    assert results["bounce"][0] == 200 and results["note"][0] == 201, results
    note = results["note"][1]
    first = "note" if note["wallet_credited"] else "bounce"
    print(f"R5 round {round_}: {first} first (note due_reduced {note['due_reduced']}, "
          f"wallet_credited {note['wallet_credited']})")
    assert (note["due_reduced"], note["wallet_credited"]) in ((0, 2_000), (2_000, 0))
    # And the invoice is unpaid, 3,000 due, whichever came first
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_paid"], got["amount_credited"], got["amount_due"], got["status"]) == (
        0, 2_000, 3_000, "unpaid"), got
    # And the wallet is at 0: a note's wallet credit came back in the bounce's one reversal
    balance, entries = wallet(lambdas, partner, org)
    assert balance == 0
    assert_ledger_consistent(balance, entries)
    expected = [("reversal", -2_000), ("credit_note", 2_000)] if first == "note" else []
    assert [(e["type"], e["amount"]) for e in entries] == expected, entries


# --- R6 -----------------------------------------------------------------------------------------------------
def test_r6_concurrent_withdrawals_with_one_idempotency_key_withdraw_once(lambdas, partner):
    """R6: six withdrawals with the same Idempotency-Key and body, at once: one withdrawal and one `withdrawal`
    entry; every answer is the first one replayed (201, same body) or 409 idempotency_request_in_progress."""
    # Given a wallet holding 10,000
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    assert top_up(lambdas, partner, payment, 10_000)[0] == 200

    # When the same withdrawal of 1,500 is sent six times at once with one key
    def send():
        return lambdas.accounts("withdraw", path={"org_id": org["id"]}, body={"amount": 1_500, "method": "cash"},
                                headers={"idempotency-key": f"wdr-{partner}"}, **admin(partner))

    results = at_once([send] * 6)

    # Then one withdrawal was made, the others replayed it or were told it is in progress
    codes = [code(r) for r in results]
    made = {b["id"] for s, b in results if s == 201}
    in_progress = codes.count((409, "idempotency_request_in_progress"))
    print(f"R6 same-key withdrawals: {codes.count((201, None))} 201 (one withdrawal) / {in_progress} in progress")
    assert codes.count((201, None)) + in_progress == 6 and len(made) == 1, codes
    balance, entries = wallet(lambdas, partner, org)
    assert balance == 8_500
    assert_ledger_consistent(balance, entries)
    assert [(e["type"], e["amount"]) for e in entries] == [("withdrawal", -1_500), ("top_up", 10_000)]
    # And a later replay answers the same
    status, again = send()
    assert status == 201 and again["id"] in made


# --- R7 -----------------------------------------------------------------------------------------------------
def test_r7_two_payments_of_a_credited_invoice_bouncing_at_once_take_its_wallet_credit_back_once(lambdas, partner):
    """R7: an invoice paid in full by two cheques, then credited (the credit note's whole amount went to the
    wallet: nothing was due). Both cheques bounce at once: between their two reversals the wallet gives the
    credit note's wallet credit back exactly once (with whichever bounced first), never twice, so the wallet
    ends at 0 and the invoice at its net amount due."""
    # Given an invoice of 10,000 paid by cheques of 6,000 and 4,000, and a credit note of 3,000 on it
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    cheques = [record(lambdas, partner, org_id=org["id"], amount=a) for a in (6_000, 4_000)]
    for cheque in cheques:
        allocate(lambdas, partner, cheque, (inv, cheque["amount"]))
    status, note = credit_note(lambdas, partner, inv, 3_000)
    assert (status, note["due_reduced"], note["wallet_credited"]) == (201, 0, 3_000)

    # When both cheques bounce at once
    results = at_once([lambda: bounce(lambdas, partner, cheques[0]), lambda: bounce(lambdas, partner, cheques[1])])

    # Then both bounced
    assert [s for s, _ in results] == [200, 200], results
    # And the wallet gave the 3,000 back in one reversal, referencing the cheque that bounced first
    balance, entries = wallet(lambdas, partner, org)
    reversals = [(e["amount"], e["reference"]) for e in entries if e["type"] == "reversal"]
    print(f"R7 reversals: {reversals}")
    assert balance == 0
    assert_ledger_consistent(balance, entries)
    assert len(reversals) == 1 and reversals[0][0] == -3_000
    assert reversals[0][1] in {c["id"] for c in cheques}
    # And the invoice is unpaid, its net amount (7,000) due
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_paid"], got["amount_credited"], got["amount_due"], got["status"]) == (
        0, 3_000, 7_000, "unpaid"), got


# --- R8 -----------------------------------------------------------------------------------------------------
def test_r8_two_payments_of_a_provisioned_top_up_invoice_bouncing_at_once_reverse_it_once(lambdas, partner):
    """R8: a top-up invoice of 10,000 provisioned by two cheques (6,000 + 4,000). Both bounce at once: the one
    that bounces first takes the provisioning back (a `reversal` of the whole invoice amount), the other only
    releases its allocation; never two reversals. The wallet ends at 0 and the invoice is unpaid."""
    # Given a provisioned top-up invoice, paid by two cheques
    org = create_org(lambdas, partner)
    top_inv = invoice(lambdas, partner, org, 10_000, "top_up")
    cheques = [record(lambdas, partner, org_id=org["id"], amount=a) for a in (6_000, 4_000)]
    for cheque in cheques:
        allocate(lambdas, partner, cheque, (top_inv, cheque["amount"]))
    assert get_invoice(lambdas, partner, top_inv)["status"] == "provisioned"
    assert wallet(lambdas, partner, org)[0] == 10_000

    # When both cheques bounce at once
    results = at_once([lambda: bounce(lambdas, partner, cheques[0]), lambda: bounce(lambdas, partner, cheques[1])])

    # Then both bounced, and the wallet gave the invoice's amount back once
    assert [s for s, _ in results] == [200, 200], results
    balance, entries = wallet(lambdas, partner, org)
    reversals = [(e["amount"], e["reference"]) for e in entries if e["type"] == "reversal"]
    print(f"R8 reversals: {reversals}")
    assert balance == 0
    assert_ledger_consistent(balance, entries)
    assert len(reversals) == 1 and reversals[0][0] == -10_000
    got = get_invoice(lambdas, partner, top_inv)
    assert (got["amount_paid"], got["amount_due"], got["allocations"], got["status"]) == (0, 10_000, [], "unpaid")


# --- R9 -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("round_", [0, 1, 2], ids=["release_first", "plain_race", "note_first"])
def test_r9_a_release_racing_a_credit_note_never_leaves_credit_without_money(lambdas, partner, round_):
    """R9: an invoice of 10,000 paid in full; its allocation is released while a credit note of 3,000 is made.
    Release first: the note only reduces what is due. Note first: its 3,000 goes to the wallet (nothing was
    due) and the release is refused (409 payment_credit_delivered): the wallet credit always equals
    max(0, amount_paid + amount_credited - amount)."""
    # Given an invoice of 10,000 paid in full by a cheque
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    cheque = record(lambdas, partner, org_id=org["id"], amount=10_000)
    allocate(lambdas, partner, cheque, (inv, 10_000))

    # When the allocation is released while the credit note is made (one of them 0.3 s later, or a plain race)
    release_delay, note_delay = ((0, 0.3), (0, 0), (0.3, 0))[round_]

    def release():
        time.sleep(release_delay)
        return lambdas.allocation("release_allocation", path={"payment_id": cheque["id"], "invoice_id": inv["id"]},
                                  **admin(partner))

    def note():
        time.sleep(note_delay)
        return credit_note(lambdas, partner, inv, 3_000)

    released, noted = at_once([release, note])

    # Then the note was made, and the release either made or refused because the note's credit is in the wallet
    assert noted[0] == 201, noted
    made = noted[1]
    assert code(released) in ((200, None), (409, "payment_credit_delivered")), released
    print(f"R9 round {round_}: release {code(released)}; note due_reduced {made['due_reduced']}, "
          f"wallet_credited {made['wallet_credited']}")
    expected = ((200, None), 3_000, 0) if made["wallet_credited"] == 0 else (
        (409, "payment_credit_delivered"), 0, 3_000)
    assert (code(released), made["due_reduced"], made["wallet_credited"]) == expected
    # And the wallet credit is what was paid above the net amount
    got = get_invoice(lambdas, partner, inv)
    balance, entries = wallet(lambdas, partner, org)
    assert_ledger_consistent(balance, entries)
    assert balance == made["wallet_credited"] == max(0, got["amount_paid"] + got["amount_credited"] - 10_000)
    assert got["amount_due"] == max(0, 10_000 - got["amount_credited"] - got["amount_paid"])
    assert got["amount_paid"] == (0 if code(released) == (200, None) else 10_000)
