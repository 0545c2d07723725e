"""Gap-free invoice numbers under concurrency (issue 19, finding 5).

Invariant N1: generated numbers are unique per partner and consecutive, skipping only the numbers taken by
hand; a lost race on the partner's counter is re-read, never read as "number taken".
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor

from shared.container import Container
from shared.domain.invoice import Invoice
from shared.ids import new_id
from shared.repositories.invoice_numbers import check
from shared.repositories.invoices import NUMBER_LOCKS, InvoiceNumberLock
from shared.repositories.registry import item_of
from tests.handlers.conftest import NO_KEY, admin, create_org, record
from tests.handlers.test_allocation import invoice

AT = "2026-11-01T08:00:00.000Z"


def test_fifty_concurrent_creates_with_hand_taken_numbers_leave_no_gap(lambdas, partner):
    # Given an organization, and numbers 3, 10 and 25 to be taken by hand among the creates
    org = create_org(lambdas, partner)
    hand = {3, 10, 25}
    bodies = [{"org_id": org["id"], "type": "standard", "amount": 1_000, "currency": "SGD",
               "issued_date": "2026-11-01"} for _ in range(47)]
    bodies[5:5] = [{**bodies[0], "number": f"INV-{n:06d}"} for n in sorted(hand)]

    def create(body):
        return lambdas.allocation("create_invoice", body=body, headers=NO_KEY, **admin(partner))

    # When 50 creates run at once (8 execution environments)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(create, bodies))
    # Then every generated create succeeded; a hand-taken number may have been generated first (409)
    generated = [r for r, b in zip(results, bodies, strict=True) if "number" not in b]
    by_hand = [r for r, b in zip(results, bodies, strict=True) if "number" in b]
    assert [s for s, _ in generated] == [201] * 47, [b for s, b in generated if s != 201][:3]
    assert all(s == 201 or (s, b["error"]["code"]) == (409, "invoice_number_taken") for s, b in by_hand)
    numbers = [b["number"] for s, b in results if s == 201]
    assert len(set(numbers)) == len(numbers)  # unique per partner
    # and the numbers in use are 1..N with no gap: generated ones skip only those taken by hand (N1)
    sequence = sorted(int(re.fullmatch(r"INV-(\d{6})", n).group(1)) for n in numbers)
    assert sequence == list(range(1, len(sequence) + 1)), sequence
    assert len(sequence) >= 47


# --- issue 26: numbers are one number case-insensitively; allocation by number -----------------------------------
def legacy_invoice(partner: str, org: dict, number: str) -> str:
    """An invoice and its number lock as stored before issue 26: the lock keyed by the number as given."""
    deps = Container.from_env()
    invoice = Invoice(id=new_id("inv"), partner_id=partner, org_id=org["id"], org_name=org["name"], number=number,
                      type="standard", amount=1_000, currency="SGD", issued_date="2026-11-01", created_at=AT,
                      created_by="old@example.com", updated_at=AT)
    lock = NUMBER_LOCKS.to_item(InvoiceNumberLock(partner_id=partner, number=number, invoice_id=invoice.id))
    lock["pk"] = f"INVNUM#{partner}#{hashlib.sha256(number.encode()).hexdigest()}"
    deps.db.transact([deps.db.put_new(item_of(invoice)), deps.db.put_new(lock)])
    return invoice.id


def test_a_number_in_another_case_is_taken_and_found(lambdas, partner):
    # Given an invoice numbered by hand in lower case
    org = create_org(lambdas, partner)
    first = invoice(lambdas, partner, org, number="inv-77")
    # When another is created as INV-77
    status, body = lambdas.allocation("create_invoice", body={"org_id": org["id"], "type": "standard", "amount": 500,
                                      "currency": "SGD", "issued_date": "2026-11-01", "number": "INV-77"},
                                      headers=NO_KEY, **admin(partner))
    # Then it is the same number: 409 invoice_number_taken
    assert (status, body["error"]["code"]) == (409, "invoice_number_taken"), body
    # And ?number= finds the first in any case
    for asked in ("INV-77", "Inv-77", "inv-77"):
        status, found = lambdas.allocation("list_invoices", query={"number": asked}, **admin(partner))
        assert status == 200 and [i["id"] for i in found["items"]] == [first["id"]], (asked, found)


def test_an_allocation_may_name_its_invoice_by_number_and_shows_the_number(lambdas, partner):
    # Given an assigned payment and two invoices of its organization
    org = create_org(lambdas, partner)
    by_number = invoice(lambdas, partner, org, amount=3_000, number="ACME/2026/9")
    by_id = invoice(lambdas, partner, org)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    path = {"payment_id": payment["id"]}
    # When one is named by its number in another case, the other by its id
    body = {"allocations": [{"invoice_number": "acme/2026/9", "amount": 3_000},
                            {"invoice_id": by_id["id"], "amount": 1}]}
    status, paid = lambdas.allocation("allocate_payment", path=path, body=body, headers=NO_KEY, **admin(partner))
    # Then both are allocated, each allocation showing its invoice's number beside its id
    assert status == 200, paid
    assert [(a["invoice_id"], a["invoice_number"], a["amount"]) for a in paid["allocations"]] == [
        (by_number["id"], "ACME/2026/9", 3_000), (by_id["id"], by_id["number"], 1)]


def test_an_allocation_line_names_exactly_one_invoice_that_exists(lambdas, partner):
    # Given an assigned payment and an invoice numbered N-1
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, number="N-1")
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    path = {"payment_id": payment["id"]}
    before = lambdas.snapshot()
    for lines, code in (([{"invoice_id": inv["id"], "invoice_number": "N-1", "amount": 1}], "validation_error"),
                        ([{"amount": 1}], "validation_error"),
                        ([{"invoice_id": inv["id"], "amount": 1}, {"invoice_number": "n-1", "amount": 1}],
                         "validation_error"),
                        ([{"invoice_number": "N-404", "amount": 1}], "invoice_not_found")):
        # When a line names both, neither, the same invoice twice or a number of no invoice
        status, body = lambdas.allocation("allocate_payment", path=path, body={"allocations": lines}, headers=NO_KEY,
                                          **admin(partner))
        # Then 422 and nothing is written
        assert (status, body["error"]["code"]) == (422, code), (lines, body)
    assert lambdas.snapshot() == before


def test_the_number_check_finds_clashes_and_missing_locks_in_stored_data(lambdas, partner):
    # Given invoices stored before issue 26: abc-1 and ABC-1 (one number now), and xyz-2 alone
    org = create_org(lambdas, partner)
    clash = sorted([legacy_invoice(partner, org, "abc-1"), legacy_invoice(partner, org, "ABC-1")])
    alone = legacy_invoice(partner, org, "xyz-2")
    db = Container.from_env().db
    # When the check runs
    found = check(db, partner)
    # Then it reports the clash, and the lower-case numbers whose lock is not under the new key
    assert {k: sorted(i for i, _ in v) for k, v in found.clashes.items()} == {"ABC-1": clash}
    assert found.missing == [(alone, "xyz-2")]
    # And with fix it writes the missing lock, after which the number is found in any case and taken
    assert check(db, partner, fix=True).written == [(alone, "xyz-2")]
    status, listed = lambdas.allocation("list_invoices", query={"number": "XYZ-2"}, **admin(partner))
    assert status == 200 and [i["id"] for i in listed["items"]] == [alone], listed
    assert check(db, partner).missing == []
