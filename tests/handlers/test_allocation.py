"""AllocationFunction (and wallet debits): invoices, assignment, allocation, release, top-ups, provisioning."""

from __future__ import annotations

import pytest

from tests.handlers.conftest import NO_KEY, admin, allocate, create_org, record, viewer


def invoice(lambdas, partner, org, amount=10_000, type_="standard", issued="2026-11-01", **extra):
    body = {"org_id": org["id"], "type": type_, "amount": amount, "currency": org["currency"],
            "issued_date": issued, **extra}
    status, inv = lambdas.allocation("create_invoice", body=body, headers=NO_KEY, **admin(partner))
    assert status == 201, inv
    return inv


def assign(lambdas, partner, payment, org):
    return lambdas.allocation("assign_payment", path={"payment_id": payment["id"]}, body={"org_id": org["id"]},
                              **admin(partner))


def unassign(lambdas, partner, payment):
    return lambdas.allocation("unassign_payment", path={"payment_id": payment["id"]}, **admin(partner))


def get_invoice(lambdas, partner, inv):
    status, body = lambdas.allocation("get_invoice", path={"invoice_id": inv["id"]}, **viewer(partner))
    assert status == 200
    return body


def wallet(lambdas, partner, org):
    _, w = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **viewer(partner))
    _, txns = lambdas.accounts("list_wallet_transactions", path={"org_id": org["id"]}, query={"limit": "100"},
                               **viewer(partner))
    return w["balance"], txns["items"]


# --- invoices --------------------------------------------------------------------------------------
def test_invoice_numbers_are_generated_in_sequence_and_unique_per_partner(lambdas, partner):
    org = create_org(lambdas, partner)
    first, second = invoice(lambdas, partner, org), invoice(lambdas, partner, org)
    assert (first["number"], second["number"]) == ("INV-000001", "INV-000002")
    # Given a number taken by hand that the sequence would generate next
    invoice(lambdas, partner, org, number="INV-000003")
    # Then the sequence moves past it
    assert invoice(lambdas, partner, org)["number"] == "INV-000004"
    before = lambdas.snapshot()
    status, body = lambdas.allocation("create_invoice", headers=NO_KEY, **admin(partner), body={
        "org_id": org["id"], "type": "standard", "amount": 1, "currency": "SGD", "issued_date": "2026-11-01",
        "number": "INV-000001"})
    assert status == 409 and body["error"]["code"] == "invoice_number_taken"
    assert lambdas.snapshot() == before
    # And another partner has its own sequence
    other = f"{partner}x"
    assert invoice(lambdas, other, create_org(lambdas, other))["number"] == "INV-000001"


def test_invoice_shape_and_validation(lambdas, partner):
    org = create_org(lambdas, partner)
    inv = invoice(lambdas, partner, org, amount=5_000, type_="top_up", due_date="2026-11-30")
    assert {k: inv[k] for k in ("org_id", "org_name", "type", "amount", "currency", "amount_paid", "amount_due",
                                "status", "issued_date", "due_date", "allocations")} == {
        "org_id": org["id"], "org_name": "Acme Telecom", "type": "top_up", "amount": 5_000, "currency": "SGD",
        "amount_paid": 0, "amount_due": 5_000, "status": "unpaid", "issued_date": "2026-11-01",
        "due_date": "2026-11-30", "allocations": []}
    before = lambdas.snapshot()
    base = {"org_id": org["id"], "type": "standard", "amount": 100, "currency": "SGD", "issued_date": "2026-11-01"}
    for bad, code in (({**base, "currency": "USD"}, "currency_mismatch"),
                      ({**base, "due_date": "2026-10-31"}, "validation_error"),
                      ({**base, "type": "credit_note"}, "validation_error"),
                      ({**base, "amount": 0}, "validation_error"),
                      ({**base, "org_id": create_org(lambdas, f"{partner}x")["id"]}, "organization_not_found")):
        snapshot = lambdas.snapshot()
        status, body = lambdas.allocation("create_invoice", body=bad, headers=NO_KEY, **admin(partner))
        assert (status, body["error"]["code"]) == (422, code), bad
        assert lambdas.snapshot() == snapshot
    assert len(lambdas.snapshot()) > len(before)  # only the other partner's organization was added


def test_invoice_search_by_org_name_number_dates_status_and_type(lambdas, partner):
    acme, bolt = create_org(lambdas, partner, "Acme Telecom"), create_org(lambdas, partner, "Bolt Mobile")
    a1 = invoice(lambdas, partner, acme, issued="2026-10-05")
    a2 = invoice(lambdas, partner, acme, issued="2026-11-05", type_="top_up")
    b1 = invoice(lambdas, partner, bolt, issued="2026-11-10")
    payment = record(lambdas, partner, org_id=acme["id"], amount=100_000)
    allocate(lambdas, partner, payment, (a1, 4_000))

    def numbers(query):
        status, page = lambdas.allocation("list_invoices", query=query, **viewer(partner))
        assert status == 200, page
        return [i["number"] for i in page["items"]]

    assert numbers({}) == [b1["number"], a2["number"], a1["number"]]  # newest issued first
    assert numbers({"org_name": "aCm"}) == [a2["number"], a1["number"]]
    assert numbers({"org_name": "acme", "issued_from": "2026-11-01"}) == [a2["number"]]
    assert numbers({"org_id": bolt["id"]}) == [b1["number"]]
    assert numbers({"number": a1["number"]}) == [a1["number"]]
    assert numbers({"number": a1["number"], "org_name": "bolt"}) == []
    assert numbers({"issued_from": "2026-11-01", "issued_to": "2026-11-06"}) == [a2["number"]]
    assert numbers({"status": "partially_paid"}) == [a1["number"]]
    assert numbers({"type": "top_up"}) == [a2["number"]]
    assert numbers({"number": "INV-999999"}) == []
    # Another partner finds nothing, whatever it searches
    status, page = lambdas.allocation("list_invoices", query={"org_name": "acme"}, **viewer(f"{partner}x"))
    assert status == 200 and page["items"] == []


# --- assignment ------------------------------------------------------------------------------------
def test_five_assignment_edits_then_refused(lambdas, partner):
    # Given an unassigned payment
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner)
    # When assign-unassign-assign-unassign-assign
    for n, step in enumerate([assign, unassign, assign, unassign, assign], start=1):
        status, body = step(lambdas, partner, payment, org) if step is assign else step(lambdas, partner, payment)
        assert status == 200 and body["assignment_edits"] == n and body["assignment_edits_remaining"] == 5 - n
    # Then assigning to the same organization again is a free no-op
    status, body = assign(lambdas, partner, payment, org)
    assert status == 200 and body["assignment_edits"] == 5
    # And the sixth edit is refused, writing nothing
    before = lambdas.snapshot()
    status, body = unassign(lambdas, partner, payment)
    assert status == 409 and body["error"]["code"] == "assignment_edit_limit_reached"
    assert lambdas.snapshot() == before
    _, history = lambdas.payments("payment_history", path={"payment_id": payment["id"]}, **viewer(partner))
    assert [h["action"] for h in history["items"]].count("payment.assigned") == 3


def test_assignment_refusals(lambdas, partner):
    sgd, usd, other = (create_org(lambdas, partner, "S"), create_org(lambdas, partner, "U", "USD"),
                       create_org(lambdas, partner, "O"))
    payment = record(lambdas, partner, org_id=sgd["id"])
    before = lambdas.snapshot()
    status, body = assign(lambdas, partner, payment, other)
    assert (status, body["error"]["code"]) == (409, "already_assigned")
    assert lambdas.snapshot() == before
    free = record(lambdas, partner)
    for org, code in ((usd, "currency_mismatch"), (create_org(lambdas, f"{partner}x"), "organization_not_found")):
        snapshot = lambdas.snapshot()
        status, body = assign(lambdas, partner, free, org)
        assert (status, body["error"]["code"]) == (422, code)
        assert lambdas.snapshot() == snapshot
    status, body = unassign(lambdas, partner, free)
    assert (status, body["error"]["code"]) == (409, "payment_not_assigned")


def test_unassign_releases_invoice_allocations_atomically(lambdas, partner):
    org = create_org(lambdas, partner)
    inv1, inv2 = invoice(lambdas, partner, org, 5_000), invoice(lambdas, partner, org, 5_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=8_000)
    allocate(lambdas, partner, payment, (inv1, 5_000), (inv2, 3_000))
    assert (get_invoice(lambdas, partner, inv1)["status"], get_invoice(lambdas, partner, inv2)["status"]) == (
        "paid", "partially_paid")
    status, body = unassign(lambdas, partner, payment)
    assert status == 200 and body["status"] == "unassigned" and body["allocations"] == []
    for inv in (inv1, inv2):
        got = get_invoice(lambdas, partner, inv)
        assert (got["status"], got["amount_paid"], got["allocations"]) == ("unpaid", 0, [])


@pytest.mark.parametrize("delivery", ["wallet_top_up", "provisioned_invoice"])
def test_unassign_refused_once_money_reached_the_wallet(lambdas, partner, delivery):
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=8_000)
    if delivery == "wallet_top_up":
        status, _ = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]},
                                       body={"amount": 1_000}, headers=NO_KEY, **admin(partner))
        assert status == 200
    else:
        allocate(lambdas, partner, payment, (invoice(lambdas, partner, org, 2_000, "top_up"), 2_000))
    before = lambdas.snapshot()
    status, body = unassign(lambdas, partner, payment)
    assert (status, body["error"]["code"]) == (409, "payment_credit_delivered")
    assert lambdas.snapshot() == before


# --- allocation ------------------------------------------------------------------------------------
def test_allocate_across_invoices_partially_and_add_to_an_allocation(lambdas, partner):
    org = create_org(lambdas, partner)
    inv1, inv2 = invoice(lambdas, partner, org, 6_000), invoice(lambdas, partner, org, 9_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=12_000)
    res = allocate(lambdas, partner, payment, (inv1, 6_000), (inv2, 3_000))
    assert (res["status"], res["allocated_amount"], res["unallocated_amount"]) == ("partially_allocated", 9_000, 3_000)
    res = allocate(lambdas, partner, payment, (inv2, 3_000))
    assert [(a["invoice_id"], a["amount"]) for a in res["allocations"]] == [(inv1["id"], 6_000), (inv2["id"], 6_000)]
    got = get_invoice(lambdas, partner, inv2)
    assert (got["status"], got["amount_paid"], got["amount_due"]) == ("partially_paid", 6_000, 3_000)
    assert got["allocations"][0]["payment_id"] == payment["id"] and got["allocations"][0]["amount"] == 6_000
    assert get_invoice(lambdas, partner, inv1)["status"] == "paid"


def test_bad_allocations_are_refused_and_write_nothing(lambdas, partner):
    org, other_org = create_org(lambdas, partner, "Org"), create_org(lambdas, partner, "Other")
    usd_org = create_org(lambdas, partner, "Dollar", "USD")
    inv = invoice(lambdas, partner, org, 5_000)
    foreign_inv = invoice(lambdas, partner, other_org, 5_000)
    usd_inv = invoice(lambdas, partner, usd_org, 5_000)
    other_partner_inv = invoice(lambdas, f"{partner}x", create_org(lambdas, f"{partner}x"), 5_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=6_000)
    unassigned = record(lambdas, partner)
    many = [{"invoice_id": inv["id"], "amount": 1}] * 41
    cases = [
        (payment, [(inv["id"], 6_001)], 409, "over_allocation"),
        (payment, [(inv["id"], 5_001)], 409, "invoice_overpaid"),
        (unassigned, [(inv["id"], 1)], 409, "payment_not_assigned"),
        (payment, [("inv_01JZ8Q5V4K7W3M2N1P0R9S8T7V", 1)], 422, "invoice_not_found"),
        (payment, [(other_partner_inv["id"], 1)], 422, "invoice_not_found"),
        (payment, [(foreign_inv["id"], 1)], 422, "invoice_not_in_organization"),
        (payment, [(usd_inv["id"], 1)], 422, "invoice_not_in_organization"),
        (payment, [(inv["id"], 1), (inv["id"], 2)], 422, "validation_error"),
        (payment, [(inv["id"], 0)], 422, "validation_error"),
        (payment, [(inv["id"], -5)], 422, "validation_error"),
        (payment, [], 422, "validation_error"),
    ]
    before = lambdas.snapshot()
    for pay, lines, status_expected, code in cases:
        body = {"allocations": [{"invoice_id": i, "amount": a} for i, a in lines]}
        status, res = lambdas.allocation("allocate_payment", path={"payment_id": pay["id"]}, body=body,
                                         headers=NO_KEY, **admin(partner))
        assert (status, res["error"]["code"]) == (status_expected, code), lines
    status, res = lambdas.allocation("allocate_payment", path={"payment_id": payment["id"]},
                                     body={"allocations": many}, headers=NO_KEY, **admin(partner))
    assert status == 422
    status, res = lambdas.allocation("allocate_payment", path={"payment_id": payment["id"]}, headers=NO_KEY,
                                     body={"allocations": [{"invoice_id": inv["id"], "amount": 1}]}, **viewer(partner))
    assert status == 403
    assert lambdas.snapshot() == before


def test_currency_of_the_invoice_must_match(lambdas, partner):
    # An invoice of the payment's own organization but in another currency cannot exist (invoices take
    # their organization's currency), so the payment's currency is checked at assignment; this checks
    # the rule itself at the domain boundary.
    from shared.domain.allocation import allocate as rule
    from shared.domain.invoice import Invoice
    from shared.domain.payment import Payment
    from shared.errors import Unprocessable

    at = "2026-11-21T00:00:00.000Z"
    pay = Payment(id="pay_x", partner_id="p", org_id="org_x", amount=10, currency="SGD", received_date="2026-11-01",
                  method="cash", created_at=at, created_by="a", updated_at=at)
    inv = Invoice(id="inv_x", partner_id="p", org_id="org_x", org_name="X", number="1", type="standard", amount=10,
                  currency="USD", issued_date="2026-11-01", created_at=at, created_by="a", updated_at=at)
    with pytest.raises(Unprocessable) as err:
        rule(pay, {"inv_x": inv}, [("inv_x", 5)], at)
    assert err.value.code == "currency_mismatch"


def test_release_one_allocation(lambdas, partner):
    org = create_org(lambdas, partner)
    inv, top = invoice(lambdas, partner, org, 5_000), invoice(lambdas, partner, org, 1_000, "top_up")
    payment = record(lambdas, partner, org_id=org["id"], amount=8_000)
    allocate(lambdas, partner, payment, (inv, 4_000), (top, 1_000))
    path = {"payment_id": payment["id"], "invoice_id": inv["id"]}
    status, res = lambdas.allocation("release_allocation", path=path, **admin(partner))
    assert status == 200 and res["allocated_amount"] == 1_000
    assert get_invoice(lambdas, partner, inv)["status"] == "unpaid"
    before = lambdas.snapshot()
    status, res = lambdas.allocation("release_allocation", path=path, **admin(partner))
    assert (status, res["error"]["code"]) == (404, "allocation_not_found")
    status, res = lambdas.allocation("release_allocation", path={**path, "invoice_id": top["id"]}, **admin(partner))
    assert (status, res["error"]["code"]) == (409, "invoice_provisioned")
    assert lambdas.snapshot() == before


# --- the wallet ------------------------------------------------------------------------------------
def test_top_up_invoice_is_provisioned_once_when_fully_paid(lambdas, partner):
    org = create_org(lambdas, partner)
    top = invoice(lambdas, partner, org, 10_000, "top_up")
    p1 = record(lambdas, partner, org_id=org["id"], amount=6_000)
    p2 = record(lambdas, partner, org_id=org["id"], amount=6_000)
    allocate(lambdas, partner, p1, (top, 6_000))
    assert get_invoice(lambdas, partner, top)["status"] == "partially_paid"
    assert wallet(lambdas, partner, org)[0] == 0
    allocate(lambdas, partner, p2, (top, 4_000))
    assert get_invoice(lambdas, partner, top)["status"] == "provisioned"
    balance, entries = wallet(lambdas, partner, org)
    assert balance == 10_000
    assert [(e["type"], e["amount"], e["reference"]) for e in entries] == [("provision", 10_000, top["id"])]
    allocate(lambdas, partner, p2, (top, 1), expect=409)
    assert wallet(lambdas, partner, org)[0] == 10_000


def test_top_up_from_payment_and_usage_debits_keep_the_ledger_summing_to_the_balance(lambdas, partner):
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    status, res = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]},
                                     body={"amount": 3_000}, headers=NO_KEY, **admin(partner))
    assert status == 200 and res["allocations"][-1]["kind"] == "wallet_top_up" and res["unallocated_amount"] == 2_000
    status, res = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]},
                                     body={"amount": 2_001}, headers=NO_KEY, **admin(partner))
    assert (status, res["error"]["code"]) == (409, "over_allocation")
    status, entry = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, headers=NO_KEY,
                                     body={"amount": 1_200, "reference": "cdr-1"}, **admin(partner))
    assert status == 201 and (entry["type"], entry["amount"], entry["balance_after"]) == ("usage", -1_200, 1_800)
    before = lambdas.snapshot()
    status, res = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, headers=NO_KEY,
                                   body={"amount": 1_801, "reference": "cdr-2"}, **admin(partner))
    assert (status, res["error"]["code"]) == (409, "insufficient_balance")
    assert lambdas.snapshot() == before
    balance, entries = wallet(lambdas, partner, org)
    assert balance == 1_800 == sum(e["amount"] for e in entries)
    assert [e["type"] for e in entries] == ["usage", "top_up"]


def test_debit_is_idempotent(lambdas, partner):
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]}, body={"amount": 5_000},
                       headers=NO_KEY, **admin(partner))
    key = {"idempotency-key": f"rating-{partner}"}
    first = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, body={"amount": 100, "reference": "r"},
                             headers=key, **admin(partner))
    second = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, body={"amount": 100, "reference": "r"},
                              headers=key, **admin(partner))
    assert first == second and first[0] == 201
    assert wallet(lambdas, partner, org)[0] == 4_900
