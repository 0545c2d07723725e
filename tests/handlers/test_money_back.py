"""Money that comes back (contract: "Money that comes back"): credit notes and void invoices (AllocationFunction),
withdrawals (AccountsFunction) and bounced payments (AllocationFunction), through the real handlers.

Invariants proven here:
  M1 a wallet's balance equals the sum of its ledger entries.
  M2 a wallet goes below zero only by a `reversal`; a negative wallet refuses debits and withdrawals.
  M3 amount_due = max(0, amount - amount_credited - amount_paid); a void invoice is never due.
  M4 a refused write writes nothing (the table is the same before and after).
  M5 an Idempotency-Key replays the first response and writes once; another body under it is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clock import utc_now_str
from shared.container import Container
from shared.domain.payment import Payment
from shared.ids import new_id
from shared.repositories.registry import item_of
from tests.handlers.conftest import NO_KEY, admin, allocate, balance, create_org, record, viewer
from tests.handlers.test_allocation import invoice, wallet

KEY = {"idempotency-key": "k1"}
UNKNOWN_INVOICE = "inv_01JZ8Q5V4K7W3M2N1P0R9S8T7V"


# --- given-steps -------------------------------------------------------------------------------------------
def credit_note(lambdas, partner, inv, amount, reason="billing_error", headers=NO_KEY, **extra):
    return lambdas.allocation("create_credit_note", path={"invoice_id": inv["id"]}, headers=headers,
                              body={"amount": amount, "reason": reason, **extra}, **admin(partner))


def credited(lambdas, partner, inv, amount, reason="billing_error", **extra) -> dict[str, Any]:
    status, note = credit_note(lambdas, partner, inv, amount, reason, **extra)
    assert status == 201, note
    return note


def get_invoice(lambdas, partner, inv) -> dict[str, Any]:
    status, body = lambdas.allocation("get_invoice", path={"invoice_id": inv["id"]}, **viewer(partner))
    assert status == 200, body
    return body


def void(lambdas, partner, inv, reason="Issued to the wrong organization", headers=NO_KEY, who=None):
    return lambdas.allocation("void_invoice", path={"invoice_id": inv["id"]}, body={"reason": reason},
                              headers=headers, **(who or admin(partner)))


def top_up(lambdas, partner, payment, amount) -> dict[str, Any]:
    status, body = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]},
                                      body={"amount": amount}, headers=NO_KEY, **admin(partner))
    assert status == 200, body
    return body


def withdraw(lambdas, partner, org, amount, method="cheque", headers=NO_KEY, who=None, **extra):
    return lambdas.accounts("withdraw", path={"org_id": org["id"]}, body={"amount": amount, "method": method, **extra},
                            headers=headers, **(who or admin(partner)))


def debit(lambdas, partner, org, amount):
    return lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, body={"amount": amount, "reference": "cdr"},
                            headers=NO_KEY, **admin(partner))


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def days_from_today(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def bounce(lambdas, partner, payment, bounced_date=None, reason="Cheque returned: insufficient funds",
           headers=NO_KEY, who=None, body=None):
    return lambdas.allocation("bounce_payment", path={"payment_id": payment["id"]}, headers=headers,
                              body=body if body is not None else {"bounced_date": bounced_date or today(),
                                                                  "reason": reason},
                              **(who or admin(partner)))


def bounced(lambdas, partner, payment, **kw) -> dict[str, Any]:
    status, body = bounce(lambdas, partner, payment, **kw)
    assert status == 200, body
    return body


def refused(lambdas, call: Callable[[], tuple[int, Any]], status: int, code: str | None = None) -> Any:
    """M4: the request is refused with `status` (and `code`) and the table is unchanged."""
    before = lambdas.snapshot()
    got, body = call()
    assert got == status, body
    if code is not None:
        assert body["error"]["code"] == code, body
    assert lambdas.snapshot() == before
    return body


def refused_all(lambdas, cases: list[tuple[Callable[[], tuple[int, Any]], int, str | None]]) -> None:
    """M4 for a run of refusals: each is refused as told and the table stays as it was before the first (one
    scan per refusal)."""
    before = lambdas.snapshot()
    for call, status, code in cases:
        got, body = call()
        assert got == status, body
        if code is not None:
            assert body["error"]["code"] == code, body
        assert lambdas.snapshot() == before, body


def ledger_sums(lambdas, partner, org) -> tuple[int, list[dict[str, Any]]]:
    """M1: the wallet's balance, checked equal to the sum of its ledger entries (newest first)."""
    bal, entries = wallet(lambdas, partner, org)
    assert bal == sum(e["amount"] for e in entries)
    return bal, entries


def numbers_of(items) -> list[str]:
    return [i["number"] for i in items]


def invoice_ids(lambdas, partner, **query) -> list[str]:
    status, page = lambdas.allocation("list_invoices", query=query, **viewer(partner))
    assert status == 200, page
    return [i["id"] for i in page["items"]]


def stripe_payment(partner, org, amount=5_000) -> dict[str, Any]:
    """Given-step: a `stripe` payment as the webhook stores it (written directly)."""
    at = utc_now_str()
    payment = Payment(id=new_id("pay"), partner_id=partner, org_id=org["id"], amount=amount, currency="SGD",
                      received_date="2026-11-20", method="stripe", reference=f"pi_{new_id('pay')[4:]}",
                      assignment_edits=1, created_at=at, created_by="stripe", updated_at=at)
    deps = Container.from_env()
    deps.db.transact([deps.db.put_new(item_of(payment))])
    return {"id": payment.id}


# --- credit notes ------------------------------------------------------------------------------------------
def test_credit_note_on_an_unpaid_invoice_reduces_what_is_due(lambdas, partner):
    """M3 amount_due = amount - amount_credited - amount_paid; the invoice is never paid beyond its net amount."""
    # Given an unpaid invoice of SGD 100.00
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    # When a credit note of SGD 25.00 is written
    status, note = credit_note(lambdas, partner, inv, 2_500, "billing_error", memo="  Double-billed SMS bundle ")
    # Then it only reduced what is due; nothing reached the wallet
    assert status == 201, note
    assert {k: note[k] for k in ("number", "invoice_id", "org_id", "amount", "currency", "reason", "memo",
                                 "due_reduced", "wallet_credited", "created_by")} == {
        "number": "CN-000001", "invoice_id": inv["id"], "org_id": org["id"], "amount": 2_500, "currency": "SGD",
        "reason": "billing_error", "memo": "Double-billed SMS bundle", "due_reduced": 2_500, "wallet_credited": 0,
        "created_by": "admin@example.com"}
    assert note["id"].startswith("crn_") and note["created_at"]
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount"], got["amount_credited"], got["amount_paid"], got["amount_due"], got["status"]) == (
        10_000, 2_500, 0, 7_500, "unpaid")
    assert got["credit_notes"] == [{"id": note["id"], "number": "CN-000001", "amount": 2_500,
                                    "reason": "billing_error", "created_at": note["created_at"]}]
    assert ledger_sums(lambdas, partner, org) == (0, [])
    status, read = lambdas.allocation("get_credit_note", path={"credit_note_id": note["id"]}, **viewer(partner))
    assert status == 200 and read == note
    # And a payment cannot be allocated beyond the net amount
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    refused(lambdas, lambda: lambdas.allocation("allocate_payment", path={"payment_id": payment["id"]},
                                                body={"allocations": [{"invoice_id": inv["id"], "amount": 7_501}]},
                                                headers=NO_KEY, **admin(partner)), 409, "invoice_overpaid")
    allocate(lambdas, partner, payment, (inv, 7_500))
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_paid"], got["amount_due"], got["status"]) == (7_500, 0, "paid")


def test_credit_note_beyond_what_is_due_credits_the_wallet(lambdas, partner):
    """M1 a wallet's balance equals the sum of its ledger entries: a credit note's wallet credit is one
    `credit_note` entry referencing the credit note."""
    # Given an invoice of SGD 100.00 of which SGD 90.00 is paid
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=9_000)
    allocate(lambdas, partner, payment, (inv, 9_000))
    # When a credit note of SGD 30.00 is written
    note = credited(lambdas, partner, inv, 3_000, "service_issue")
    # Then SGD 10.00 of it reduced what was due and SGD 20.00 credited the wallet
    assert (note["due_reduced"], note["wallet_credited"]) == (1_000, 2_000)
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 2_000
    assert [(e["type"], e["amount"], e["balance_after"], e["reference"]) for e in entries] == [
        ("credit_note", 2_000, 2_000, note["id"])]
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], got["amount_paid"], got["amount_due"], got["status"]) == (
        3_000, 9_000, 0, "paid")
    # When a second credit note follows, all of it credits the wallet
    second = credited(lambdas, partner, inv, 1_000, "goodwill")
    assert (second["number"], second["due_reduced"], second["wallet_credited"]) == ("CN-000002", 0, 1_000)
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 3_000 and [(e["type"], e["amount"], e["reference"]) for e in entries] == [
        ("credit_note", 1_000, second["id"]), ("credit_note", 2_000, note["id"])]
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], got["amount_due"]) == (4_000, 0)
    assert [c["number"] for c in got["credit_notes"]] == ["CN-000001", "CN-000002"]
    # And the paid invoice takes no more allocation
    other = record(lambdas, partner, org_id=org["id"], amount=1_000)
    refused(lambdas, lambda: lambdas.allocation("allocate_payment", path={"payment_id": other["id"]},
                                                body={"allocations": [{"invoice_id": inv["id"], "amount": 1}]},
                                                headers=NO_KEY, **admin(partner)), 409, "invoice_overpaid")


def test_a_fully_credited_unpaid_invoice_is_paid_and_takes_no_more_credit(lambdas, partner):
    """M3: fully credited and nothing paid, nothing is due, so the invoice is `paid` (and listed so)."""
    org = create_org(lambdas, partner)
    inv, open_ = invoice(lambdas, partner, org, 5_000), invoice(lambdas, partner, org, 5_000)
    # When the whole invoice is credited
    note = credited(lambdas, partner, inv, 5_000, "duplicate")
    # Then nothing is due, nothing reached the wallet, and it is paid
    assert (note["due_reduced"], note["wallet_credited"]) == (5_000, 0)
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], got["amount_paid"], got["amount_due"], got["status"]) == (5_000, 0, 0, "paid")
    assert balance(lambdas, partner, org) == 0
    assert invoice_ids(lambdas, partner, status="paid") == [inv["id"]]
    assert invoice_ids(lambdas, partner, status="unpaid") == [open_["id"]]
    # And not one more cent can be credited
    body = refused(lambdas, lambda: credit_note(lambdas, partner, inv, 1), 409, "credit_exceeds_invoice")
    assert body["error"]["details"][0]["creditable"] == 0


def test_credit_note_refusals_write_nothing_and_numbers_stay_gap_free(lambdas, partner):
    """M4 every refused credit note writes nothing; numbers are CN-000001... per partner without gaps."""
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    assert credited(lambdas, partner, inv, 4_000)["number"] == "CN-000001"
    top_up_inv = invoice(lambdas, partner, org, 5_000, "top_up")
    void_inv = invoice(lambdas, partner, org, 5_000)
    assert void(lambdas, partner, void_inv)[0] == 200
    foreign = invoice(lambdas, f"{partner}x", create_org(lambdas, f"{partner}x"), 10_000)
    cases = [
        (lambda: credit_note(lambdas, partner, top_up_inv, 100), 409, "credit_note_not_allowed"),
        (lambda: credit_note(lambdas, partner, void_inv, 100), 409, "credit_note_not_allowed"),
        (lambda: credit_note(lambdas, partner, inv, 6_001), 409, "credit_exceeds_invoice"),
        (lambda: credit_note(lambdas, partner, inv, 100, "refund"), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, inv, 0), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, inv, -100), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, inv, 10**15 + 1), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, inv, "100"), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, inv, 1.5), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, inv, 100, memo=""), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, inv, 100, invoice_id=inv["id"]), 422, "validation_error"),
        (lambda: credit_note(lambdas, partner, foreign, 100), 404, None),
        (lambda: credit_note(lambdas, partner, {"id": UNKNOWN_INVOICE}, 100), 404, None),
        (lambda: credit_note(lambdas, partner, {"id": "nope"}, 100), 404, None),
        (lambda: lambdas.allocation("create_credit_note", path={"invoice_id": inv["id"]}, headers=NO_KEY,
                                    body={"amount": 100, "reason": "other"}, **viewer(partner)), 403, None),
    ]
    refused_all(lambdas, cases)
    body = refused(lambdas, lambda: credit_note(lambdas, partner, inv, 6_001), 409, "credit_exceeds_invoice")
    assert body["error"]["details"] == [{"invoice_id": inv["id"], "creditable": 6_000, "requested": 6_001}]
    # Then the invoice is as it was, and the next credit note takes the next number: no gap
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], got["amount_due"], len(got["credit_notes"])) == (4_000, 6_000, 1)
    last = credited(lambdas, partner, inv, 6_000, "other")
    assert last["number"] == "CN-000002"
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], got["amount_due"], got["status"]) == (10_000, 0, "paid")
    # And another partner has its own sequence
    assert credited(lambdas, f"{partner}x", foreign, 100)["number"] == "CN-000001"
    assert credited(lambdas, partner, invoice(lambdas, partner, org, 100), 100)["number"] == "CN-000003"


def test_invoice_status_filters_agree_with_the_status_after_credit_notes(lambdas, partner):
    """The list's status filters read the stored net amount: after credit notes they agree with each invoice's
    status."""
    org = create_org(lambdas, partner)
    half, part, whole = (invoice(lambdas, partner, org, 10_000), invoice(lambdas, partner, org, 10_000),
                         invoice(lambdas, partner, org, 10_000))
    payment = record(lambdas, partner, org_id=org["id"], amount=20_000)
    allocate(lambdas, partner, payment, (half, 5_000), (part, 2_000))
    # When the half-paid invoice is credited its other half, the other two a part
    credited(lambdas, partner, half, 5_000)
    credited(lambdas, partner, part, 3_000)
    credited(lambdas, partner, whole, 9_999)
    # Then each status filter lists exactly the invoices of that status
    statuses = {i["id"]: get_invoice(lambdas, partner, i)["status"] for i in (half, part, whole)}
    assert statuses == {half["id"]: "paid", part["id"]: "partially_paid", whole["id"]: "unpaid"}
    for status in ("unpaid", "partially_paid", "paid", "provisioned", "void"):
        assert set(invoice_ids(lambdas, partner, status=status)) == {i for i, s in statuses.items() if s == status}
    assert get_invoice(lambdas, partner, whole)["amount_due"] == 1
    # And several statuses list the invoices of any of them (the aged receivables' drill-down), each once
    for several in ("unpaid,partially_paid", "partially_paid,unpaid,unpaid", "paid,void", "unpaid,paid,partially_paid"):
        listed = invoice_ids(lambdas, partner, status=several)
        assert sorted(listed) == sorted(i for i, s in statuses.items() if s in several.split(",")), several
    assert invoice_ids(lambdas, partner, status="unpaid,partially_paid", org_id=org["id"], limit="1") == [whole["id"]]
    for bad in ("unpaid,", ",unpaid", "unpaid,due", "unpaid partially_paid", "UNPAID"):
        status, body = lambdas.allocation("list_invoices", query={"status": bad}, **viewer(partner))
        assert status == 422 and body["error"]["code"] == "validation_error", (bad, body)


def test_credit_note_of_the_largest_amount(lambdas, partner):
    """Amounts go up to 10^15 minor units: a credit note of exactly that is taken."""
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10**15)
    note = credited(lambdas, partner, inv, 10**15)
    assert (note["amount"], note["due_reduced"], note["wallet_credited"]) == (10**15, 10**15, 0)
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], got["amount_due"], got["status"]) == (10**15, 0, "paid")


def test_an_invoice_takes_at_most_fifty_credit_notes(lambdas, partner):
    """An invoice's item stays bounded: the 51st credit note is refused, writing nothing."""
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 1_000)
    for _ in range(50):
        credited(lambdas, partner, inv, 1, "goodwill")
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], got["amount_due"], len(got["credit_notes"])) == (50, 950, 50)
    assert got["credit_notes"][-1]["number"] == "CN-000050"
    body = refused(lambdas, lambda: credit_note(lambdas, partner, inv, 1), 409, "credit_note_limit_reached")
    assert body["error"]["details"] == [{"invoice_id": inv["id"], "limit": 50}]
    # And the sequence did not move: another invoice's note is CN-000051
    assert credited(lambdas, partner, invoice(lambdas, partner, org, 10), 1)["number"] == "CN-000051"


def test_release_and_unassign_refused_once_a_credit_note_put_the_overpaid_amount_in_the_wallet(lambdas, partner):
    """M1 holds because money a credit note moved to the wallet cannot silently leave the invoice."""
    # Given an invoice paid SGD 90.00 of 100.00, then credited SGD 30.00 (SGD 20.00 to the wallet)
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=9_000)
    allocate(lambdas, partner, payment, (inv, 9_000))
    assert credited(lambdas, partner, inv, 3_000)["wallet_credited"] == 2_000
    # When the allocation is released or the payment un-assigned: refused, nothing written
    refused(lambdas, lambda: lambdas.allocation("release_allocation", **admin(partner),
                                                path={"payment_id": payment["id"], "invoice_id": inv["id"]}),
            409, "payment_credit_delivered")
    refused(lambdas, lambda: lambdas.allocation("unassign_payment", path={"payment_id": payment["id"]},
                                                **admin(partner)), 409, "payment_credit_delivered")
    assert ledger_sums(lambdas, partner, org)[0] == 2_000
    # But where a credit note only reduced what was due, the allocation can be released
    other = invoice(lambdas, partner, org, 10_000)
    second = record(lambdas, partner, org_id=org["id"], amount=5_000)
    allocate(lambdas, partner, second, (other, 5_000))
    assert credited(lambdas, partner, other, 3_000)["wallet_credited"] == 0
    status, res = lambdas.allocation("release_allocation", path={"payment_id": second["id"], "invoice_id": other["id"]},
                                     **admin(partner))
    assert status == 200 and res["allocations"] == []
    got = get_invoice(lambdas, partner, other)
    assert (got["amount_paid"], got["amount_credited"], got["amount_due"], got["status"]) == (
        0, 3_000, 7_000, "unpaid")
    assert ledger_sums(lambdas, partner, org)[0] == 2_000


def test_credit_notes_list_newest_first_paged_and_only_the_partners_own(lambdas, partner):
    acme, bolt = create_org(lambdas, partner, "Acme"), create_org(lambdas, partner, "Bolt")
    a1, a2, b1 = (invoice(lambdas, partner, acme, 10_000), invoice(lambdas, partner, acme, 10_000),
                  invoice(lambdas, partner, bolt, 10_000))
    n1 = credited(lambdas, partner, a1, 100)
    n2 = credited(lambdas, partner, b1, 200)
    n3 = credited(lambdas, partner, a1, 300)
    n4 = credited(lambdas, partner, a2, 400)

    def listed(who=None, limit=2, **filters) -> list[str]:
        """Every page's numbers, following the cursors (pages of `limit`)."""
        pages, query = [], {**filters, "limit": str(limit)}
        while True:
            status, body = lambdas.allocation("list_credit_notes", query=query, **(who or viewer(partner)))
            assert status == 200, body
            assert len(body["items"]) <= limit
            pages.append(numbers_of(body["items"]))
            if body["next_cursor"] is None:
                return pages
            query = {**filters, "limit": str(limit), "cursor": body["next_cursor"]}

    numbers = {n["id"]: n["number"] for n in (n1, n2, n3, n4)}
    assert listed() == [[numbers[n4["id"]], numbers[n3["id"]]], [numbers[n2["id"]], numbers[n1["id"]]]]
    assert listed(limit=3, invoice_id=a1["id"]) == [[n3["number"], n1["number"]]]
    assert listed(limit=2, org_id=acme["id"]) == [[n4["number"], n3["number"]], [n1["number"]]]
    assert listed(org_id=bolt["id"]) == [[n2["number"]]]
    assert listed(org_id=acme["id"], invoice_id=a1["id"]) == [[n3["number"], n1["number"]]]
    assert listed(org_id=bolt["id"], invoice_id=a1["id"]) == [[]]
    status, page = lambdas.allocation("list_credit_notes", query={"invoice_id": a1["id"]}, **viewer(partner))
    assert status == 200 and page["items"] == [n3, n1]  # the list shows the credit notes as created
    # Another partner lists none of them, whatever it filters
    other = viewer(f"{partner}x")
    assert listed(who=other) == [[]] and listed(who=other, invoice_id=a1["id"]) == [[]]
    assert listed(who=other, org_id=acme["id"]) == [[]]
    # Malformed filters are refused
    for query in ({"org_id": "acme"}, {"invoice_id": "inv-1"}, {"invoice_id": acme["id"]}, {"org_id": a1["id"]}):
        status, body = lambdas.allocation("list_credit_notes", query=query, **viewer(partner))
        assert (status, body["error"]["code"]) == (422, "validation_error"), query
    # One credit note: the partner's own only; a malformed id names nothing
    status, body = lambdas.allocation("get_credit_note", path={"credit_note_id": n2["id"]}, **viewer(partner))
    assert status == 200 and body == n2
    for who, credit_note_id in ((other, n2["id"]), (viewer(partner), "crn-1"), (viewer(partner), "nope"),
                                (viewer(partner), "crn_01JZ8Q5V4K7W3M2N1P0R9S8T7V")):
        status, body = lambdas.allocation("get_credit_note", path={"credit_note_id": credit_note_id}, **who)
        assert status == 404, (credit_note_id, body)


def test_credit_note_idempotency(lambdas, partner):
    """M5: the same key and body replay the first credit note; its wallet credit is written once."""
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    allocate(lambdas, partner, payment, (inv, 10_000))
    first = credit_note(lambdas, partner, inv, 1_000, "goodwill", headers=KEY)
    assert first[0] == 201 and first[1]["wallet_credited"] == 1_000
    after_first = lambdas.snapshot()
    second = credit_note(lambdas, partner, inv, 1_000, "goodwill", headers=KEY)
    assert second == first
    assert lambdas.snapshot() == after_first
    refused(lambdas, lambda: credit_note(lambdas, partner, inv, 1_001, "goodwill", headers=KEY), 409,
            "idempotency_key_reused")
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 1_000 and [(e["type"], e["reference"]) for e in entries] == [("credit_note", first[1]["id"])]
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_credited"], len(got["credit_notes"])) == (1_000, 1)
    assert credited(lambdas, partner, inv, 1)["number"] == "CN-000002"


# --- void invoices -----------------------------------------------------------------------------------------
def test_void_an_invoice(lambdas, partner):
    """M3: a void invoice is never due, takes no allocation and no credit note, and lists as void only."""
    org = create_org(lambdas, partner)
    inv, open_ = invoice(lambdas, partner, org, 10_000), invoice(lambdas, partner, org, 4_000)
    # When the invoice is voided
    status, voided = void(lambdas, partner, inv, "  Issued to the wrong organization ")
    # Then it is void, nothing due
    assert status == 200, voided
    assert (voided["id"], voided["status"], voided["amount"], voided["amount_due"], voided["amount_paid"],
            voided["void_reason"]) == (inv["id"], "void", 10_000, 0, 0, "Issued to the wrong organization")
    assert voided["voided_at"] and voided["version"] == inv["version"] + 1
    assert get_invoice(lambdas, partner, inv) == voided
    # And the lists know it
    assert invoice_ids(lambdas, partner, status="void") == [inv["id"]]
    assert invoice_ids(lambdas, partner, status="unpaid") == [open_["id"]]
    assert invoice_ids(lambdas, partner, status="paid") == []
    # And it refuses another void, an allocation and a credit note, writing nothing
    refused(lambdas, lambda: void(lambdas, partner, inv), 409, "invoice_void")
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    refused(lambdas, lambda: lambdas.allocation("allocate_payment", path={"payment_id": payment["id"]},
                                                body={"allocations": [{"invoice_id": inv["id"], "amount": 1}]},
                                                headers=NO_KEY, **admin(partner)), 409, "invoice_void")
    refused(lambdas, lambda: credit_note(lambdas, partner, inv, 1), 409, "credit_note_not_allowed")
    # And an unpaid top-up invoice can be voided too
    status, voided_top_up = void(lambdas, partner, invoice(lambdas, partner, org, 2_000, "top_up"))
    assert status == 200 and voided_top_up["status"] == "void" and voided_top_up["amount_due"] == 0


def test_void_refused_while_anything_is_allocated_or_credited(lambdas, partner):
    """M4: each refusal writes nothing; once its allocation is released the invoice can be voided."""
    org = create_org(lambdas, partner)
    allocated, noted = invoice(lambdas, partner, org, 10_000), invoice(lambdas, partner, org, 10_000)
    provisioned = invoice(lambdas, partner, org, 2_000, "top_up")
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    allocate(lambdas, partner, payment, (allocated, 1_000), (provisioned, 2_000))
    assert get_invoice(lambdas, partner, provisioned)["status"] == "provisioned"
    credited(lambdas, partner, noted, 100)
    plain = invoice(lambdas, partner, org, 10_000)
    foreign = invoice(lambdas, f"{partner}x", create_org(lambdas, f"{partner}x"))
    refused_all(lambdas, [
        *((lambda inv=inv: void(lambdas, partner, inv), 409, "invoice_has_allocations")
          for inv in (allocated, noted, provisioned)),
        (lambda: void(lambdas, partner, foreign), 404, None),
        (lambda: void(lambdas, partner, {"id": UNKNOWN_INVOICE}), 404, None),
        (lambda: void(lambdas, partner, plain, who=viewer(partner)), 403, None),
        (lambda: void(lambdas, partner, plain, reason="   "), 422, "validation_error"),
        (lambda: lambdas.allocation("void_invoice", path={"invoice_id": plain["id"]}, body={}, headers=NO_KEY,
                                    **admin(partner)), 422, "validation_error"),
    ])
    # When the allocation is released, the invoice can be voided
    status, _ = lambdas.allocation("release_allocation", path={"payment_id": payment["id"],
                                                               "invoice_id": allocated["id"]}, **admin(partner))
    assert status == 200
    status, voided = void(lambdas, partner, allocated)
    assert status == 200 and (voided["status"], voided["amount_due"], voided["allocations"]) == ("void", 0, [])


def test_void_idempotency(lambdas, partner):
    """M5: the same key and body replay the first 200 (not `invoice_void`), once."""
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    first = void(lambdas, partner, inv, headers=KEY)
    assert first[0] == 200
    after_first = lambdas.snapshot()
    assert void(lambdas, partner, inv, headers=KEY) == first
    assert lambdas.snapshot() == after_first
    refused(lambdas, lambda: void(lambdas, partner, inv, reason="Another reason", headers=KEY), 409,
            "idempotency_key_reused")


# --- withdrawals -------------------------------------------------------------------------------------------
def test_withdrawal_pays_back_unspent_credit(lambdas, partner):
    """M1 a wallet's balance equals the sum of its ledger entries: a withdrawal is one negative `withdrawal`
    entry referencing it."""
    # Given a wallet of SGD 100.00
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    top_up(lambdas, partner, payment, 10_000)
    # When SGD 40.00 is withdrawn
    status, wd = withdraw(lambdas, partner, org, 4_000, "telegraphic_transfer", reference=" TT-2026-1187 ",
                          remark="Unused credit returned")
    # Then the withdrawal is recorded with its ledger entry
    assert status == 201, wd
    assert {k: wd[k] for k in ("org_id", "amount", "currency", "method", "reference", "remark", "created_by")} == {
        "org_id": org["id"], "amount": 4_000, "currency": "SGD", "method": "telegraphic_transfer",
        "reference": "TT-2026-1187", "remark": "Unused credit returned", "created_by": "admin@example.com"}
    assert wd["id"].startswith("wdr_") and wd["created_at"]
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 6_000
    assert [(e["id"], e["type"], e["amount"], e["balance_after"], e["reference"]) for e in entries[:1]] == [
        (wd["ledger_entry_id"], "withdrawal", -4_000, 6_000, wd["id"])]
    assert [e["type"] for e in entries] == ["withdrawal", "top_up"]
    # And the whole rest can be withdrawn, to exactly zero
    status, rest = withdraw(lambdas, partner, org, 6_000, "cash")
    assert status == 201 and (rest["reference"], rest["remark"], rest["method"]) == (None, None, "cash")
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 0 and [(e["type"], e["amount"]) for e in entries] == [
        ("withdrawal", -6_000), ("withdrawal", -4_000), ("top_up", 10_000)]


def test_withdrawal_refusals_write_nothing(lambdas, partner):
    """M2/M4: never beyond the balance; field, role and tenant refusals write nothing."""
    org = create_org(lambdas, partner)
    top_up(lambdas, partner, record(lambdas, partner, org_id=org["id"], amount=5_000), 5_000)
    empty = create_org(lambdas, partner, "Empty Co")
    foreign = create_org(lambdas, f"{partner}x")
    cases = [
        (lambda: withdraw(lambdas, partner, org, 5_001), 409, "insufficient_balance"),
        (lambda: withdraw(lambdas, partner, empty, 1), 409, "insufficient_balance"),
        (lambda: withdraw(lambdas, partner, org, 100, "stripe"), 422, "validation_error"),
        (lambda: withdraw(lambdas, partner, org, 100, "bank"), 422, "validation_error"),
        (lambda: withdraw(lambdas, partner, org, 0), 422, "validation_error"),
        (lambda: withdraw(lambdas, partner, org, -100), 422, "validation_error"),
        (lambda: withdraw(lambdas, partner, org, 10**15 + 1), 422, "validation_error"),
        (lambda: withdraw(lambdas, partner, org, 100, reference=""), 422, "validation_error"),
        (lambda: withdraw(lambdas, partner, org, 100, currency="SGD"), 422, "validation_error"),
        (lambda: withdraw(lambdas, partner, foreign, 100), 404, None),
        (lambda: withdraw(lambdas, partner, {"id": "org_01JZ8Q5V4K7W3M2N1P0R9S8T7V"}, 100), 404, None),
        (lambda: withdraw(lambdas, partner, org, 100, who=viewer(partner)), 403, None),
    ]
    refused_all(lambdas, cases)
    assert ledger_sums(lambdas, partner, org)[0] == 5_000
    status, page = lambdas.accounts("list_withdrawals", path={"org_id": org["id"]}, query={}, **viewer(partner))
    assert status == 200 and page["items"] == []


def test_withdrawals_list_newest_first_and_paged(lambdas, partner):
    org = create_org(lambdas, partner)
    top_up(lambdas, partner, record(lambdas, partner, org_id=org["id"], amount=10_000), 10_000)
    made = []
    for amount, method in ((1_000, "cheque"), (2_000, "telegraphic_transfer"), (3_000, "other")):
        status, wd = withdraw(lambdas, partner, org, amount, method)
        assert status == 201, wd
        made.append(wd)
    pages, query = [], {"limit": "2"}
    while True:
        status, body = lambdas.accounts("list_withdrawals", path={"org_id": org["id"]}, query=query,
                                        **viewer(partner))
        assert status == 200, body
        pages.append(body["items"])
        if body["next_cursor"] is None:
            break
        query = {"limit": "2", "cursor": body["next_cursor"]}
    assert pages == [[made[2], made[1]], [made[0]]]
    status, body = lambdas.accounts("list_withdrawals", path={"org_id": org["id"]}, query={"limit": "3"},
                                    **viewer(partner))
    assert status == 200 and (body["items"], body["next_cursor"]) == (made[::-1], None)
    assert ledger_sums(lambdas, partner, org)[0] == 4_000
    # Another partner does not see the organization's withdrawals
    status, _ = lambdas.accounts("list_withdrawals", path={"org_id": org["id"]}, query={}, **viewer(f"{partner}x"))
    assert status == 404


def test_withdrawal_idempotency(lambdas, partner):
    """M5: the same key and body replay the first withdrawal; one ledger entry."""
    org = create_org(lambdas, partner)
    top_up(lambdas, partner, record(lambdas, partner, org_id=org["id"], amount=10_000), 10_000)
    first = withdraw(lambdas, partner, org, 2_500, headers=KEY)
    assert first[0] == 201
    after_first = lambdas.snapshot()
    assert withdraw(lambdas, partner, org, 2_500, headers=KEY) == first
    assert lambdas.snapshot() == after_first
    refused(lambdas, lambda: withdraw(lambdas, partner, org, 2_501, headers=KEY), 409, "idempotency_key_reused")
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 7_500 and [e["type"] for e in entries] == ["withdrawal", "top_up"]
    # And a request refused by a rule keeps no record of its key: the key serves a later request
    other_key = {"idempotency-key": "k2"}
    refused(lambdas, lambda: withdraw(lambdas, partner, org, 7_501, headers=other_key), 409, "insufficient_balance")
    assert withdraw(lambdas, partner, org, 7_500, headers=other_key)[0] == 201
    assert ledger_sums(lambdas, partner, org)[0] == 0


# --- bounced payments --------------------------------------------------------------------------------------
def test_bounce_releases_every_invoice_allocation(lambdas, partner):
    # Given a cheque allocated to two invoices, nothing of it in the wallet
    org = create_org(lambdas, partner)
    inv1, inv2 = invoice(lambdas, partner, org, 6_000), invoice(lambdas, partner, org, 9_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    allocate(lambdas, partner, payment, (inv1, 6_000), (inv2, 3_000))
    # When it bounces
    res = bounced(lambdas, partner, payment, reason=" Cheque returned: account closed ")
    # Then it is bounced, nothing allocated
    assert (res["status"], res["bounced_date"], res["bounce_reason"], res["allocations"], res["allocated_amount"],
            res["unallocated_amount"], res["org_id"]) == (
        "bounced", today(), "Cheque returned: account closed", [], 0, 10_000, org["id"])
    status, got = lambdas.payments("get_payment", path={"payment_id": payment["id"]}, **viewer(partner))
    assert status == 200 and got == res
    # And both invoices are unpaid again
    for inv, amount in ((inv1, 6_000), (inv2, 9_000)):
        got = get_invoice(lambdas, partner, inv)
        assert (got["status"], got["amount_paid"], got["amount_due"], got["allocations"]) == (
            "unpaid", 0, amount, [])
    # And no money moved in the wallet (no reversal of nothing)
    assert ledger_sums(lambdas, partner, org) == (0, [])
    # And it stays in the lists and its history
    other = record(lambdas, partner, org_id=org["id"])
    status, page = lambdas.payments("list_payments", query={"status": "bounced"}, **viewer(partner))
    assert status == 200 and [p["id"] for p in page["items"]] == [payment["id"]]
    status, page = lambdas.payments("list_payments", query={}, **viewer(partner))
    assert {p["id"] for p in page["items"]} == {payment["id"], other["id"]}
    status, history = lambdas.payments("payment_history", path={"payment_id": payment["id"]}, **viewer(partner))
    assert status == 200 and history["items"][0]["action"] == "payment.bounced"
    changes = history["items"][0]["changes"]
    # (the one audit shape: what the bounce recorded reads as values set, issue 26)
    assert (changes["bounced_date"]["to"], changes["ledger_entry"]["to"]) == (today(), None)
    assert sorted((r["invoice_id"], r["amount"]) for r in changes["released"]["to"]) == sorted(
        [(inv1["id"], 6_000), (inv2["id"], 3_000)])


def test_bounce_takes_back_every_wallet_credit_in_one_reversal(lambdas, partner):
    """M1 and M2: a wallet top-up, a provisioned top-up invoice and a credit note's wallet credit standing on the
    payment all leave the wallet in ONE `reversal` entry; only it takes the wallet below zero, and a negative
    wallet then refuses debits and withdrawals but takes credits."""
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=20_000)
    # Given SGD 10.00 topped up from the payment
    top_up(lambdas, partner, payment, 1_000)
    # And a SGD 20.00 top-up invoice it provisioned
    provisioned = invoice(lambdas, partner, org, 2_000, "top_up")
    allocate(lambdas, partner, payment, (provisioned, 2_000))
    assert get_invoice(lambdas, partner, provisioned)["status"] == "provisioned"
    # And a SGD 100.00 invoice it half paid (another payment the other half), then credited SGD 30.00
    standard = invoice(lambdas, partner, org, 10_000)
    other = record(lambdas, partner, org_id=org["id"], amount=5_000)
    allocate(lambdas, partner, payment, (standard, 5_000))
    allocate(lambdas, partner, other, (standard, 5_000))
    assert credited(lambdas, partner, standard, 3_000)["wallet_credited"] == 3_000
    # And SGD 50.00 of the wallet's SGD 60.00 spent
    assert debit(lambdas, partner, org, 5_000)[0] == 201
    bal, before = ledger_sums(lambdas, partner, org)
    assert bal == 1_000
    # When the payment bounces
    res = bounced(lambdas, partner, payment)
    assert (res["status"], res["allocations"], res["unallocated_amount"]) == ("bounced", [], 20_000)
    # Then one reversal of SGD 60.00 (10 + 20 + 30) took the wallet to SGD -50.00
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == -5_000
    assert entries[1:] == before
    assert [(e["type"], e["amount"], e["balance_after"], e["reference"]) for e in entries[:1]] == [
        ("reversal", -6_000, -5_000, payment["id"])]
    # And the top-up invoice lost its provisioning; the credited invoice keeps only the other payment
    got = get_invoice(lambdas, partner, provisioned)
    assert (got["status"], got["amount_paid"], got["amount_due"], got["allocations"]) == ("unpaid", 0, 2_000, [])
    got = get_invoice(lambdas, partner, standard)
    assert (got["status"], got["amount_paid"], got["amount_credited"], got["amount_due"]) == (
        "partially_paid", 5_000, 3_000, 2_000)
    assert [a["payment_id"] for a in got["allocations"]] == [other["id"]]
    assert invoice_ids(lambdas, partner, status="provisioned") == []
    assert invoice_ids(lambdas, partner, status="unpaid") == [provisioned["id"]]
    assert invoice_ids(lambdas, partner, status="partially_paid") == [standard["id"]]
    _, history = lambdas.payments("payment_history", path={"payment_id": payment["id"]}, **viewer(partner))
    assert history["items"][0]["action"] == "payment.bounced"
    assert history["items"][0]["changes"]["ledger_entry"] == {"from": None, "to": entries[0]["id"]}
    # And the negative wallet refuses a debit and a withdrawal, writing nothing
    refused(lambdas, lambda: debit(lambdas, partner, org, 1), 409, "insufficient_balance")
    refused(lambdas, lambda: withdraw(lambdas, partner, org, 1), 409, "insufficient_balance")
    # But takes a credit, which brings it back toward zero
    top_up(lambdas, partner, record(lambdas, partner, org_id=org["id"], amount=1_000), 1_000)
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == -4_000 and [e["type"] for e in entries[:2]] == ["top_up", "reversal"]


def test_bounce_takes_back_only_the_credit_note_credit_standing_on_its_money(lambdas, partner):
    """M1: what a bounce takes back is exactly how much its release lowers the paid amount above the net amount."""
    # Given an invoice of SGD 100.00 paid 60 + 40 by two cheques, then credited SGD 50.00 (all to the wallet)
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    big, small = (record(lambdas, partner, org_id=org["id"], amount=6_000),
                  record(lambdas, partner, org_id=org["id"], amount=4_000))
    allocate(lambdas, partner, big, (inv, 6_000))
    allocate(lambdas, partner, small, (inv, 4_000))
    note = credited(lambdas, partner, inv, 5_000)
    assert note["wallet_credited"] == 5_000
    # When the SGD 40.00 cheque bounces, all of it leaves the wallet (60 paid still covers the net 50)
    bounced(lambdas, partner, small)
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 1_000 and [(e["type"], e["amount"], e["reference"]) for e in entries] == [
        ("reversal", -4_000, small["id"]), ("credit_note", 5_000, note["id"])]
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_paid"], got["amount_credited"], got["amount_due"], got["status"]) == (6_000, 5_000, 0, "paid")
    # And the SGD 10.00 still standing on the other cheque keeps its allocation from being released
    refused(lambdas, lambda: lambdas.allocation("release_allocation", **admin(partner),
                                                path={"payment_id": big["id"], "invoice_id": inv["id"]}),
            409, "payment_credit_delivered")
    # When that cheque bounces too, the last SGD 10.00 leaves and SGD 50.00 is due again
    bounced(lambdas, partner, big)
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 0 and [(e["type"], e["amount"], e["reference"]) for e in entries[:1]] == [
        ("reversal", -1_000, big["id"])]
    got = get_invoice(lambdas, partner, inv)
    assert (got["amount_paid"], got["amount_due"], got["status"], got["allocations"]) == (0, 5_000, "unpaid", [])


def test_bounce_of_one_of_two_payments_of_a_provisioned_top_up_invoice(lambdas, partner):
    """M1: the wallet is debited by the invoice's whole amount, and provisioning it again credits it again."""
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 5_000, "top_up")
    first, second = (record(lambdas, partner, org_id=org["id"], amount=3_000),
                     record(lambdas, partner, org_id=org["id"], amount=2_000))
    allocate(lambdas, partner, first, (inv, 3_000))
    allocate(lambdas, partner, second, (inv, 2_000))
    assert get_invoice(lambdas, partner, inv)["status"] == "provisioned"
    assert ledger_sums(lambdas, partner, org)[0] == 5_000
    # When the first payment bounces
    bounced(lambdas, partner, first)
    # Then the invoice is partially paid by the second, and the wallet lost the whole SGD 50.00
    got = get_invoice(lambdas, partner, inv)
    assert (got["status"], got["amount_paid"], got["amount_due"]) == ("partially_paid", 2_000, 3_000)
    assert [a["payment_id"] for a in got["allocations"]] == [second["id"]]
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 0 and [(e["type"], e["amount"], e["reference"]) for e in entries] == [
        ("reversal", -5_000, first["id"]), ("provision", 5_000, inv["id"])]
    # When another payment completes it, it is provisioned (and credited) again
    third = record(lambdas, partner, org_id=org["id"], amount=3_000)
    allocate(lambdas, partner, third, (inv, 3_000))
    assert get_invoice(lambdas, partner, inv)["status"] == "provisioned"
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 5_000 and [e["type"] for e in entries] == ["provision", "reversal", "provision"]


def test_bounce_of_an_unassigned_payment(lambdas, partner):
    payment = record(lambdas, partner)
    res = bounced(lambdas, partner, payment, bounced_date=days_from_today(1))
    assert (res["status"], res["org_id"], res["bounced_date"]) == ("bounced", None, days_from_today(1))
    org = create_org(lambdas, partner)
    refused(lambdas, lambda: lambdas.allocation("assign_payment", path={"payment_id": payment["id"]},
                                                body={"org_id": org["id"]}, **admin(partner)), 409, "payment_bounced")


def test_bounce_refusals_write_nothing(lambdas, partner):
    """M4: field, date, method, role and tenant refusals write nothing."""
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, 10_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000, received_date="2026-11-20")
    allocate(lambdas, partner, payment, (inv, 5_000))
    card = stripe_payment(partner, org)
    foreign = record(lambdas, f"{partner}x")
    cases = [
        (lambda: bounce(lambdas, partner, payment, bounced_date="2026-11-19"), 422, "validation_error"),
        (lambda: bounce(lambdas, partner, payment, bounced_date=days_from_today(2)), 422, "validation_error"),
        (lambda: bounce(lambdas, partner, payment, bounced_date="2026-02-30"), 422, "validation_error"),
        (lambda: bounce(lambdas, partner, payment, bounced_date="20261125"), 422, "validation_error"),
        (lambda: bounce(lambdas, partner, payment, reason="  "), 422, "validation_error"),
        (lambda: bounce(lambdas, partner, payment, body={"bounced_date": today()}), 422, "validation_error"),
        (lambda: bounce(lambdas, partner, payment, body={"bounced_date": today(), "reason": "r", "amount": 1}), 422,
         "validation_error"),
        (lambda: bounce(lambdas, partner, card), 409, "stripe_payment_locked"),
        (lambda: bounce(lambdas, partner, payment, who=viewer(partner)), 403, None),
        (lambda: bounce(lambdas, partner, foreign), 404, None),
        (lambda: bounce(lambdas, partner, {"id": "pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V"}), 404, None),
    ]
    refused_all(lambdas, cases)
    # And the payment still pays its invoice; on its received date it can bounce
    assert get_invoice(lambdas, partner, inv)["amount_paid"] == 5_000
    assert bounced(lambdas, partner, payment, bounced_date="2026-11-20")["bounced_date"] == "2026-11-20"


def test_a_bounced_payment_can_no_longer_change(lambdas, partner):
    """M4: after a bounce every change to the payment is refused with `payment_bounced`, writing nothing."""
    org, elsewhere = create_org(lambdas, partner, "Acme"), create_org(lambdas, partner, "Bolt")
    inv = invoice(lambdas, partner, org, 10_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    allocate(lambdas, partner, payment, (inv, 1_000))
    bounced(lambdas, partner, payment)
    pid = {"payment_id": payment["id"]}
    cases = [
        lambda: lambdas.allocation("assign_payment", path=pid, body={"org_id": org["id"]}, **admin(partner)),
        lambda: lambdas.allocation("assign_payment", path=pid, body={"org_id": elsewhere["id"]}, **admin(partner)),
        lambda: lambdas.allocation("unassign_payment", path=pid, **admin(partner)),
        lambda: lambdas.allocation("allocate_payment", path=pid, headers=NO_KEY, **admin(partner),
                                   body={"allocations": [{"invoice_id": inv["id"], "amount": 1_000}]}),
        lambda: lambdas.allocation("release_allocation", path={**pid, "invoice_id": inv["id"]}, **admin(partner)),
        lambda: lambdas.allocation("top_up_from_payment", path=pid, body={"amount": 1}, headers=NO_KEY,
                                   **admin(partner)),
        lambda: lambdas.payments("patch_payment", path=pid, body={"remark": "fixed"}, headers={"if-match": None},
                                 **admin(partner)),
        lambda: lambdas.payments("patch_payment", path=pid, body={"amount": 6_000}, headers={"if-match": None},
                                 **admin(partner)),
        lambda: lambdas.payments("delete_payment", path=pid, headers={"if-match": None}, **admin(partner)),
        lambda: bounce(lambdas, partner, payment),
    ]
    refused_all(lambdas, [(call, 409, "payment_bounced") for call in cases])
    status, got = lambdas.payments("get_payment", path=pid, **viewer(partner))
    assert status == 200 and (got["status"], got["allocations"]) == ("bounced", [])


def test_bounce_idempotency(lambdas, partner):
    """M5: the same key and body replay the first bounce (not `payment_bounced`); one reversal."""
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    top_up(lambdas, partner, payment, 2_000)
    first = bounce(lambdas, partner, payment, headers=KEY)
    assert first[0] == 200
    after_first = lambdas.snapshot()
    assert bounce(lambdas, partner, payment, headers=KEY) == first
    assert lambdas.snapshot() == after_first
    refused(lambdas, lambda: bounce(lambdas, partner, payment, reason="Another reason", headers=KEY), 409,
            "idempotency_key_reused")
    bal, entries = ledger_sums(lambdas, partner, org)
    assert bal == 0 and [(e["type"], e["amount"]) for e in entries] == [("reversal", -2_000), ("top_up", 2_000)]


def test_the_aged_receivables_drill_down_lists_what_is_due_oldest_due_first_page_by_page(lambdas, partner):
    """`GET /invoices?org_id=&status=unpaid,partially_paid&sort=due_date` (contract, "Aged receivables"): the
    organization's invoices with something due, the oldest due first (no due date: its issued date; ties by issued
    date, then id), paged with cursors bound to the sort; another organization's and settled ones never listed."""
    org, other = create_org(lambdas, partner), create_org(lambdas, partner, "Beta Logistics")
    due = {}  # invoice id -> the due date it sorts by
    for n, (issued, due_date) in enumerate((("2026-10-05", "2026-12-01"), ("2026-09-01", None),
                                            ("2026-10-01", "2026-10-20"), ("2026-08-15", "2026-11-30"),
                                            ("2026-10-02", "2026-10-20"), ("2026-07-01", "2027-01-01"))):
        extra = {"due_date": due_date} if due_date else {}
        inv = invoice(lambdas, partner, org, 1_000 + n, issued=issued, **extra)
        due[inv["id"]] = (due_date or issued, issued, inv["id"])
    paid, part = invoice(lambdas, partner, org, 500, issued="2026-06-01"), invoice(lambdas, partner, org, 800,
                                                                                   issued="2026-06-02")
    payment = record(lambdas, partner, org_id=org["id"], amount=900)
    allocate(lambdas, partner, payment, (paid, 500), (part, 400))
    due[part["id"]] = ("2026-06-02", "2026-06-02", part["id"])
    elsewhere = invoice(lambdas, partner, other, 700, issued="2026-01-01")
    expected = sorted(due, key=lambda i: due[i])
    query = {"org_id": org["id"], "status": "unpaid,partially_paid", "sort": "due_date"}
    assert invoice_ids(lambdas, partner, **query) == expected
    # page by page: the same order, each invoice once
    seen, cursor = [], None
    while True:
        status, page = lambdas.allocation("list_invoices", query={**query, "limit": "3",
                                                                  **({"cursor": cursor} if cursor else {})},
                                          **viewer(partner))
        assert status == 200, page
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    # a cursor of the due-date order is not one of the newest-issued order (400), and `sort` takes due_date only
    status, page = lambdas.allocation("list_invoices", query={**query, "limit": "3"}, **viewer(partner))
    del query["sort"]
    status, body = lambdas.allocation("list_invoices", query={**query, "cursor": page["next_cursor"]},
                                      **viewer(partner))
    assert status == 400, body
    status, body = lambdas.allocation("list_invoices", query={"sort": "amount"}, **viewer(partner))
    assert status == 422 and body["error"]["code"] == "validation_error", body
    # without an organization the due-date order is refused (it would read the partner's whole book for each
    # page): 422 naming org_id; the other organization's invoices in that order with its org_id
    status, body = lambdas.allocation("list_invoices", query={"sort": "due_date"}, **viewer(partner))
    assert status == 422 and body["error"]["code"] == "validation_error", body
    assert body["error"]["details"] == [{"field": "org_id", "message": "is required with sort=due_date"}]
    assert invoice_ids(lambdas, partner, org_id=other["id"], sort="due_date") == [elsewhere["id"]]
