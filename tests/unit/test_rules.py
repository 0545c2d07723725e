"""Rules of the domain, each pinned by a test that fails when the rule is broken (mutation testing).

Pure: no DynamoDB, no network, no processes. `make mutation` runs these with the other pure unit tests
against every mutant of shared/domain, shared/money.py and shared/repositories/keys.py
(docs/benchmarks.md, "Mutation testing (issue 18)"). Errors are pinned by their whole contract body
(code, message, details), versions by their exact move, records by equality.
"""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.allocation import (
    MAX_INVOICES_PER_PAYMENT,
    MAX_PAYMENTS_PER_INVOICE,
    AllocationResult,
    InvoiceChange,
    allocate,
    assign,
    check_organization,
    release,
    top_up,
    unassign,
)
from shared.domain.attempt import business_date_of
from shared.domain.invoice import Invoice, InvoiceAllocation, invoice_number
from shared.domain.organization import LedgerEntry, Organization, PaymentSettings, name_key
from shared.domain.partner_wallet import PartnerLedgerEntry, PartnerWallet
from shared.domain.payment import Allocation, Payment
from shared.domain.payments import (
    apply_patch,
    check_assignable_currency,
    check_date_range,
    check_deletable,
    check_received_date,
    check_version,
    parse_if_match,
)
from shared.domain.settings import change_settings, default_settings, settings_changed, stripe_settings
from shared.domain.wallet import Posting, post, post_partner
from shared.errors import ApiError, Conflict, NotFound, PreconditionFailed, Unprocessable
from shared.ids import is_id
from shared.money import _known_currency, format_amount
from shared.repositories.keys import UnsafeKeyPart, hashed, join, key

T0 = "2026-11-01T08:00:00.000Z"  # when the records were written
AT = "2026-11-21T09:30:00.000Z"  # when the rule runs


# --- builders --------------------------------------------------------------------------------------------

def a_payment(**changes) -> Payment:
    fields = {"id": "pay_1", "partner_id": "ptn_a", "org_id": "org_1", "amount": 10_000, "currency": "SGD",
              "received_date": "2026-11-01", "method": "cheque", "reference": "TT-1", "allocations": [],
              "assignment_edits": 1, "created_at": T0, "created_by": "usr_a", "updated_at": T0, "version": 3}
    return Payment(**(fields | changes))


def to_invoice(invoice_id: str, amount: int, number: str | None = "INV-000001") -> Allocation:
    return Allocation(invoice_id=invoice_id, invoice_number=number, kind="invoice", amount=amount, allocated_at=T0)


def to_wallet(amount: int) -> Allocation:
    return Allocation(invoice_id=None, kind="wallet_top_up", amount=amount, allocated_at=T0)


def an_invoice(invoice_id: str = "inv_a", **changes) -> Invoice:
    fields = {"id": invoice_id, "partner_id": "ptn_a", "org_id": "org_1", "org_name": "Acme", "number": "INV-000001",
              "type": "standard", "amount": 5_000, "currency": "SGD", "issued_date": "2026-11-01", "allocations": [],
              "amount_paid": 0, "created_at": T0, "created_by": "usr_a", "updated_at": T0, "version": 2}
    return Invoice(**(fields | changes))


def paid_by(payment_id: str, amount: int, at: str = T0) -> InvoiceAllocation:
    return InvoiceAllocation(payment_id=payment_id, amount=amount, allocated_at=at)


def an_org(**changes) -> Organization:
    fields = {"id": "org_1", "partner_id": "ptn_a", "name": "Acme", "currency": "SGD", "created_at": T0,
              "created_by": "usr_a", "version": 4, "balance": 0, "ledger_seq": 0, "wallet_updated_at": T0,
              "settings": PaymentSettings(updated_at=T0)}
    return Organization(**(fields | changes))


def a_wallet(**changes) -> PartnerWallet:
    fields = {"partner_id": "ptn_a", "currency": "SGD", "balance": 1_000, "ledger_seq": 3, "updated_at": T0,
              "version": 2}
    return PartnerWallet(**(fields | changes))


def refused(raised: pytest.ExceptionInfo, kind: type[ApiError], code: str, message: str, details=()) -> None:
    """The error is of `kind` and its contract body is exactly this code, message and details."""
    assert type(raised.value) is kind
    assert raised.value.body() == {"error": {"code": code, "message": message, "details": list(details)}}


# --- assignment ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("org", [None, an_org(partner_id="ptn_b")], ids=["missing", "another_partner"])
def test_an_unknown_or_foreign_organization_is_refused_as_not_found(org):
    # Given no organization, or one of another partner (rule: an organization is only the partner's own)
    # When it is checked for the partner, or a payment is assigned to it
    # Then both answer 422 organization_not_found on the org_id field
    for attempt in (lambda: check_organization(org, "ptn_a"), lambda: assign(a_payment(org_id=None), org, AT)):
        with pytest.raises(Unprocessable) as raised:
            attempt()
        refused(raised, Unprocessable, "organization_not_found", "The organization does not exist.",
                [{"field": "org_id", "message": "unknown organization"}])


def test_the_partners_own_organization_is_returned_as_is():
    # Given the partner's organization (rule: an organization is only the partner's own)
    org = an_org()
    # Then the check hands it back unchanged
    assert check_organization(org, "ptn_a") is org


def test_assigning_an_unassigned_payment_moves_its_version_and_costs_one_edit():
    # Given an unassigned payment with one edit used (rule: assignment costs one edit and moves the version)
    payment = a_payment(org_id=None, assignment_edits=1)
    # When it is assigned to an organization of its currency
    assigned = assign(payment, an_org(), AT)
    # Then only the organization, the edit count, the version and updated_at move
    assert assigned == payment.model_copy(update={"org_id": "org_1", "assignment_edits": 2, "version": 4,
                                                  "updated_at": AT})
    assert assigned.status == "assigned" and payment.status == "unassigned"


def test_assigning_to_an_organization_of_another_currency_is_refused():
    # Given an SGD payment and a USD organization (rule: a payment is assigned in its own currency)
    # When it is assigned
    with pytest.raises(Unprocessable) as raised:
        assign(a_payment(org_id=None), an_org(currency="USD"), AT)
    # Then 422 currency_mismatch names the organization's currency
    refused(raised, Unprocessable, "currency_mismatch", "The organization's currency is USD; the payment is in SGD.",
            [{"field": "currency", "message": "must be USD"}])


def test_the_assignable_currency_check_passes_the_same_currency():
    # Given the same currency on both sides (rule: a payment is assigned in its own currency)
    # Then nothing is refused
    assert check_assignable_currency("SGD", "SGD") is None


def test_assigning_again_to_the_same_organization_is_a_no_op_even_without_edits_left():
    # Given a payment already assigned to the organization, its edits used up (rule: a no-op costs no edit)
    # When it is assigned to that organization again
    # Then nothing is to be written
    assert assign(a_payment(assignment_edits=5), an_org(), AT) is None


def test_assigning_a_payment_assigned_elsewhere_is_refused():
    # Given a payment assigned to another organization (rule: un-assign first)
    # When it is assigned to this one
    with pytest.raises(Conflict) as raised:
        assign(a_payment(org_id="org_2"), an_org(), AT)
    # Then 409 already_assigned
    refused(raised, Conflict, "already_assigned",
            "The payment is assigned to another organization; un-assign it first.")


def test_the_fifth_edit_is_the_last():
    # Given an unassigned payment with four edits used (rule: at most MAX_ASSIGNMENT_EDITS = 5 edits)
    # When it is assigned, it uses the fifth
    assert assign(a_payment(org_id=None, assignment_edits=4), an_org(), AT).assignment_edits == 5
    # Then with five used, assigning and un-assigning are refused, naming the limit
    message = "The assignment of a payment can be edited 5 times; this one has no edits left."
    with pytest.raises(Conflict) as raised:
        assign(a_payment(org_id=None, assignment_edits=5), an_org(), AT)
    refused(raised, Conflict, "assignment_edit_limit_reached", message)
    with pytest.raises(Conflict) as raised:
        unassign(a_payment(assignment_edits=5), {}, AT)
    refused(raised, Conflict, "assignment_edit_limit_reached", message)


def test_after_the_fifth_edit_assigning_elsewhere_names_the_limit_not_un_assign_first():
    # Given a payment assigned to another organization, its five edits used (issue 26: "un-assign it first" sent
    # the caller to an edit the limit refuses too)
    # When it is assigned to this one
    with pytest.raises(Conflict) as raised:
        assign(a_payment(org_id="org_2", assignment_edits=5), an_org(), AT)
    # Then 409 assignment_edit_limit_reached: the limit is checked before already_assigned
    refused(raised, Conflict, "assignment_edit_limit_reached",
            "The assignment of a payment can be edited 5 times; this one has no edits left.")


def test_unassigning_releases_every_invoice_allocation_in_the_same_step():
    # Given an assigned payment allocated to two invoices (rule: un-assignment releases every allocation)
    payment = a_payment(allocations=[to_invoice("inv_a", 1_000), to_invoice("inv_b", 2_000)], assignment_edits=2)
    invoices = {i.id: i for i in (an_invoice("inv_a", allocations=[paid_by("pay_1", 1_000)], amount_paid=1_000),
                                  an_invoice("inv_b", allocations=[paid_by("pay_1", 2_000)], amount_paid=2_000),
                                  an_invoice("inv_c"))}
    # When it is un-assigned
    updated, released = unassign(payment, invoices, AT)
    # Then it has no organization and no allocation, one more edit, and each invoice's entry is released
    assert updated == payment.model_copy(update={"org_id": None, "allocations": [], "assignment_edits": 3,
                                                 "version": 4, "updated_at": AT})
    assert released == [InvoiceChange(invoices["inv_a"], "pay_1", None),
                        InvoiceChange(invoices["inv_b"], "pay_1", None)]
    assert [change.delta for change in released] == [-1_000, -2_000]
    assert all(change.provision is False for change in released)


def test_unassigning_a_payment_without_allocations_releases_nothing():
    # Given an assigned payment with nothing allocated (rule: un-assignment releases every allocation)
    updated, released = unassign(a_payment(), {}, AT)
    # Then no invoice changes and the payment is unassigned
    assert released == [] and updated.org_id is None and updated.version == 4


def test_an_unassigned_payment_cannot_be_unassigned_allocated_or_topped_up():
    # Given a payment with no organization (rule: assign the payment first)
    payment = a_payment(org_id=None)
    # When it is un-assigned, allocated or allocated to the wallet
    # Then each answers 409 payment_not_assigned
    for attempt in (lambda: unassign(payment, {}, AT), lambda: allocate(payment, {"inv_a": an_invoice()},
                                                                          [("inv_a", 1)], AT),
                    lambda: top_up(payment, 1, AT)):
        with pytest.raises(Conflict) as raised:
            attempt()
        refused(raised, Conflict, "payment_not_assigned", "Assign the payment to an organization first.")


@pytest.mark.parametrize("delivered", ["wallet_top_up", "provisioned_invoice"])
def test_a_payment_whose_money_reached_the_wallet_cannot_be_unassigned(delivered):
    # Given a payment with a wallet top-up, or allocated to a provisioned invoice (rule: delivered credit stays)
    if delivered == "wallet_top_up":
        payment, invoices = a_payment(allocations=[to_wallet(500)]), {}
    else:
        payment = a_payment(allocations=[to_invoice("inv_a", 1_000), to_invoice("inv_b", 5_000)])
        invoices = {"inv_a": an_invoice("inv_a"), "inv_b": an_invoice("inv_b", type="top_up", provisioned_at=T0)}
    # When it is un-assigned
    with pytest.raises(Conflict) as raised:
        unassign(payment, invoices, AT)
    # Then 409 payment_credit_delivered
    refused(raised, Conflict, "payment_credit_delivered",
            "Some of this payment's money has reached the wallet; it cannot be un-assigned.")


# --- allocation ------------------------------------------------------------------------------------------

def test_every_invoice_problem_is_listed_and_the_first_names_the_error():
    # Given a request naming a missing invoice, one of another partner, another organization's and a USD one
    # (rule: field problems are 422, every one listed, the first one's code answers)
    invoices = {"inv_p": an_invoice("inv_p", partner_id="ptn_b"), "inv_o": an_invoice("inv_o", org_id="org_2"),
                "inv_u": an_invoice("inv_u", currency="USD"), "inv_ok": an_invoice("inv_ok")}
    requested = [("inv_missing", 1), ("inv_p", 1), ("inv_o", 1), ("inv_u", 1), ("inv_ok", 1)]
    # When it is allocated
    with pytest.raises(Unprocessable) as raised:
        allocate(a_payment(), invoices, requested, AT)
    # Then each problem is in the details, in request order
    refused(raised, Unprocessable, "invoice_not_found", "An invoice does not exist.", [
        {"invoice_id": "inv_missing", "code": "invoice_not_found"},
        {"invoice_id": "inv_p", "code": "invoice_not_found"},
        {"invoice_id": "inv_o", "code": "invoice_not_in_organization"},
        {"invoice_id": "inv_u", "code": "currency_mismatch"}])


@pytest.mark.parametrize(("changes", "code", "message"), [
    ({"partner_id": "ptn_b"}, "invoice_not_found", "An invoice does not exist."),
    ({"org_id": "org_2"}, "invoice_not_in_organization",
     "An invoice belongs to another organization than the payment."),
    ({"currency": "USD"}, "currency_mismatch", "An invoice is in another currency than the payment."),
])
def test_each_invoice_problem_has_its_own_code_and_message(changes, code, message):
    # Given one invoice with one problem (rule: the first problem's code and message answer)
    # When it is allocated to
    with pytest.raises(Unprocessable) as raised:
        allocate(a_payment(), {"inv_a": an_invoice(**changes)}, [("inv_a", 1)], AT)
    # Then 422 with that problem alone
    refused(raised, Unprocessable, code, message, [{"invoice_id": "inv_a", "code": code}])


def test_allocating_beyond_the_unallocated_amount_is_refused_with_both_figures():
    # Given a payment of 10,000 with 4,000 allocated (rule: allocations never exceed the payment)
    payment = a_payment(allocations=[to_invoice("inv_z", 4_000)])
    invoices = {"inv_a": an_invoice("inv_a"), "inv_b": an_invoice("inv_b")}
    # When 3,000 + 3,001 are requested
    with pytest.raises(Conflict) as raised:
        allocate(payment, invoices, [("inv_a", 3_000), ("inv_b", 3_001)], AT)
    # Then 409 over_allocation names what is left and what was asked
    refused(raised, Conflict, "over_allocation", "The payment has 6000 unallocated; 6001 was requested.")
    # And exactly what is left is accepted
    result = allocate(payment, invoices, [("inv_a", 3_000), ("inv_b", 3_000)], AT)
    assert result.payment.unallocated_amount == 0 and result.payment.status == "allocated"


def test_an_allocation_keeps_its_invoices_number_and_an_older_one_gets_it_when_added_to():
    # Given a payment with an allocation made before numbers were kept, and two invoices (issue 26)
    payment = a_payment(allocations=[to_invoice("inv_a", 1_000, number=None)])
    invoices = {"inv_a": an_invoice("inv_a", number="INV-7", allocations=[paid_by("pay_1", 1_000)], amount_paid=1_000),
                "inv_b": an_invoice("inv_b", number="inv-8")}
    # When both are allocated to
    result = allocate(payment, invoices, [("inv_a", 500), ("inv_b", 700)], AT)
    # Then each allocation shows its invoice's number beside its id
    assert [(a.invoice_id, a.invoice_number, a.amount) for a in result.payment.allocations] == [
        ("inv_a", "INV-7", 1_500), ("inv_b", "inv-8", 700)]


def test_paying_an_invoice_beyond_its_amount_due_is_refused_per_invoice():
    # Given invoices with 3,000 and 5,000 due (rule: an invoice is never paid beyond its amount)
    invoices = {"inv_a": an_invoice("inv_a", allocations=[paid_by("pay_2", 2_000)], amount_paid=2_000),
                "inv_b": an_invoice("inv_b"), "inv_c": an_invoice("inv_c", amount=1_000)}
    # When 3,001, 5,000 and 1,001 are requested
    with pytest.raises(Conflict) as raised:
        allocate(a_payment(amount=20_000), invoices, [("inv_a", 3_001), ("inv_b", 5_000), ("inv_c", 1_001)], AT)
    # Then 409 invoice_overpaid lists each overpaid invoice with its amount due
    refused(raised, Conflict, "invoice_overpaid", "An invoice would be paid beyond its amount.", [
        {"invoice_id": "inv_a", "amount_due": 3_000, "requested": 3_001},
        {"invoice_id": "inv_c", "amount_due": 1_000, "requested": 1_001}])
    # And paying exactly the amount due is accepted
    paid = allocate(a_payment(amount=20_000), invoices, [("inv_a", 3_000)], AT).changes[0].after(AT)
    assert (paid.amount_paid, paid.amount_due, paid.status) == (5_000, 0, "paid")


def test_adding_to_an_invoice_the_payment_already_pays_keeps_every_other_allocation():
    # Given a payment paying inv_a, then the wallet, then inv_b; inv_a also paid by another payment
    # (rule: adding to an existing allocation grows it in place and drops nothing listed after it)
    payment = a_payment(allocations=[to_invoice("inv_a", 1_000), to_wallet(500), to_invoice("inv_b", 700)])
    invoices = {"inv_a": an_invoice("inv_a", allocations=[paid_by("pay_2", 500), paid_by("pay_1", 1_000)],
                                    amount_paid=1_500),
                "inv_c": an_invoice("inv_c", amount=3_000)}
    # When 2,000 more goes to inv_a and 3,000 to a new inv_c
    result = allocate(payment, invoices, [("inv_a", 2_000), ("inv_c", 3_000)], AT)
    # Then inv_a's allocation grows where it stands (keeping its date), inv_c's is appended, nothing is lost
    assert result.payment == payment.model_copy(update={
        "allocations": [to_invoice("inv_a", 3_000), to_wallet(500), to_invoice("inv_b", 700),
                        Allocation(invoice_id="inv_c", invoice_number="INV-000001", kind="invoice", amount=3_000,
                                   allocated_at=AT)],
        "version": 4, "updated_at": AT})
    # And each invoice's entry for this payment becomes the new total (a standard invoice is never provisioned)
    assert result == AllocationResult(result.payment, [
        InvoiceChange(invoices["inv_a"], "pay_1", paid_by("pay_1", 3_000, T0), provision=False),
        InvoiceChange(invoices["inv_c"], "pay_1", paid_by("pay_1", 3_000, AT), provision=False)], [])
    assert [change.delta for change in result.changes] == [2_000, 3_000]
    after_a = result.changes[0].after(AT)
    assert after_a.allocations == [paid_by("pay_2", 500), paid_by("pay_1", 3_000)]
    assert (after_a.amount_paid, after_a.status, after_a.provisioned_at) == (3_500, "partially_paid", None)


def test_a_new_invoice_is_appended_even_after_another_invoices_allocation():
    # Given a payment paying inv_b only (rule: an allocation is matched by its invoice, not by its kind alone)
    payment = a_payment(allocations=[to_wallet(100), to_invoice("inv_b", 700)])
    # When inv_a is allocated to
    result = allocate(payment, {"inv_a": an_invoice("inv_a")}, [("inv_a", 200)], AT)
    # Then inv_b's allocation is untouched and inv_a's is new
    assert result.payment.allocations == [to_wallet(100), to_invoice("inv_b", 700), Allocation(
        invoice_id="inv_a", invoice_number="INV-000001", kind="invoice", amount=200, allocated_at=AT)]
    assert result.payment.status == "partially_allocated" and result.payment.unallocated_amount == 9_000


def test_the_allocation_that_completes_a_top_up_invoice_provisions_it():
    # Given a top-up invoice of 5,000 with 2,000 paid by another payment (rule: a fully paid top-up invoice is
    # provisioned by the request that completes it)
    invoice = an_invoice("inv_t", type="top_up", allocations=[paid_by("pay_2", 2_000)], amount_paid=2_000)
    # When this payment pays the remaining 3,000
    result = allocate(a_payment(), {"inv_t": invoice}, [("inv_t", 3_000)], AT)
    # Then the change provisions it and the provisioned invoice is returned, stamped now
    change = InvoiceChange(invoice, "pay_1", paid_by("pay_1", 3_000, AT), provision=True)
    assert result.changes == [change]
    assert result.provisioned == [change.after(AT)]
    provisioned = result.provisioned[0]
    assert (provisioned.provisioned_at, provisioned.updated_at, provisioned.version) == (AT, AT, 3)
    assert (provisioned.amount_paid, provisioned.status) == (5_000, "provisioned")


def test_a_partly_paid_top_up_invoice_is_not_provisioned():
    # Given a top-up invoice of 5,000 (rule: only the allocation that completes it provisions it)
    invoice = an_invoice("inv_t", type="top_up")
    # When 4,999 is allocated
    result = allocate(a_payment(), {"inv_t": invoice}, [("inv_t", 4_999)], AT)
    # Then nothing is provisioned
    assert result.provisioned == [] and result.changes[0].provision is False
    assert result.changes[0].after(AT).provisioned_at is None


def test_a_fully_paid_standard_invoice_is_not_provisioned():
    # Given a standard invoice of 5,000 (rule: only top-up invoices are provisioned)
    result = allocate(a_payment(), {"inv_a": an_invoice("inv_a")}, [("inv_a", 5_000)], AT)
    # Then paying all of it provisions nothing
    assert result.provisioned == [] and result.changes[0].provision is False


@given(st.integers(1, 20_000), st.lists(st.tuples(st.integers(0, 6_000), st.integers(1, 8_000)), min_size=1,
                                         max_size=4))
def test_accepted_allocations_never_overpay_a_payment_or_an_invoice(amount, lines):
    """Invariant I1: after any accepted allocation, the payment's allocations sum to at most its amount, each
    invoice's amount paid is at most its amount, and each invoice moved by exactly what was requested of it."""
    invoices = {f"inv_{i}": an_invoice(f"inv_{i}", amount=due + 1_000, amount_paid=1_000,
                                       allocations=[paid_by("pay_2", 1_000)]) for i, (due, _) in enumerate(lines)}
    requested = [(f"inv_{i}", asked) for i, (_, asked) in enumerate(lines)]
    try:
        result = allocate(a_payment(amount=amount), invoices, requested, AT)
    except Conflict as err:
        assert err.code in ("over_allocation", "invoice_overpaid")
        assert sum(a for _, a in requested) > amount or any(a > due for (due, _), (_, a) in zip(lines, requested,
                                                                                               strict=True))
        return
    assert result.payment.allocated_amount == sum(a for _, a in requested) <= result.payment.amount
    for change, (_, asked) in zip(result.changes, requested, strict=True):
        after = change.after(AT)
        assert after.amount_paid <= after.amount and after.amount_paid == change.invoice.amount_paid + asked
        assert sum(a.amount for a in after.allocations) == after.amount_paid


# --- the invoice change ----------------------------------------------------------------------------------

def test_an_invoice_change_rewrites_only_this_payments_entry():
    # Given an invoice paid 500 by pay_2 and 1,000 by pay_1 (rule: a payment changes only its own entry)
    invoice = an_invoice(allocations=[paid_by("pay_1", 1_000), paid_by("pay_2", 500)], amount_paid=1_500)
    grown = InvoiceChange(invoice, "pay_1", paid_by("pay_1", 1_600))
    # Then its prior entry and delta are read from the invoice
    assert grown.prior == paid_by("pay_1", 1_000) and grown.delta == 600
    # And after it, the others are kept, its entry replaced, the amount paid moved by the delta, the version by one
    assert grown.after(AT) == invoice.model_copy(update={
        "allocations": [paid_by("pay_2", 500), paid_by("pay_1", 1_600)], "amount_paid": 2_100, "updated_at": AT,
        "version": 3, "provisioned_at": None})
    # And a release removes its entry and its amount
    released = InvoiceChange(invoice, "pay_1", None)
    assert released.delta == -1_000
    assert released.after(AT).allocations == [paid_by("pay_2", 500)] and released.after(AT).amount_paid == 500
    # And a first entry has no prior and moves the amount paid by all of it
    first = InvoiceChange(invoice, "pay_3", paid_by("pay_3", 200), provision=True)
    assert first.prior is None and first.delta == 200
    assert first.after(AT).provisioned_at == AT and first.after(AT).amount_paid == 1_700


# --- release and wallet top-up ---------------------------------------------------------------------------

def test_releasing_an_allocation_removes_only_that_invoices():
    # Given a payment paying inv_a, the wallet and inv_b (rule: a release removes one invoice's allocation)
    payment = a_payment(allocations=[to_invoice("inv_a", 1_000), to_wallet(500), to_invoice("inv_b", 700)])
    invoice = an_invoice("inv_a", allocations=[paid_by("pay_1", 1_000)], amount_paid=1_000)
    # When inv_a's is released
    updated, change = release(payment, invoice, "inv_a", AT)
    # Then the others stay, the version moves by one, and the invoice's entry is released
    assert updated == payment.model_copy(update={"allocations": [to_wallet(500), to_invoice("inv_b", 700)],
                                                 "version": 4, "updated_at": AT})
    assert change == InvoiceChange(invoice, "pay_1", None)
    assert change.after(AT).status == "unpaid"


@pytest.mark.parametrize("case", ["invoice_missing", "not_allocated_to_it"])
def test_releasing_an_allocation_that_does_not_exist_is_not_found(case):
    # Given a payment paying the wallet and inv_b, and inv_a missing or not paid by it
    # (rule: only an existing allocation to an existing invoice is released)
    payment = a_payment(allocations=[to_wallet(500), to_invoice("inv_b", 700), to_invoice("inv_a", 1)])
    invoice = None
    if case == "not_allocated_to_it":
        payment = a_payment(allocations=[to_wallet(500), to_invoice("inv_b", 700)])
        invoice = an_invoice("inv_a")
    # When inv_a's allocation is released
    with pytest.raises(NotFound) as raised:
        release(payment, invoice, "inv_a", AT)
    # Then 404 allocation_not_found
    refused(raised, NotFound, "allocation_not_found", "The payment has no allocation to this invoice.")


def test_a_provisioned_invoice_cannot_be_released():
    # Given a payment allocated to a provisioned top-up invoice (rule: provisioned credit is in the wallet)
    payment = a_payment(allocations=[to_invoice("inv_t", 5_000)])
    invoice = an_invoice("inv_t", type="top_up", allocations=[paid_by("pay_1", 5_000)], amount_paid=5_000,
                         provisioned_at=T0)
    # When it is released
    with pytest.raises(Conflict) as raised:
        release(payment, invoice, "inv_t", AT)
    # Then 409 invoice_provisioned
    refused(raised, Conflict, "invoice_provisioned",
            "The invoice is provisioned: its credit is in the wallet and cannot be released.")


def test_a_wallet_top_up_takes_at_most_the_unallocated_money():
    # Given a payment of 10,000 with 4,000 allocated (rule: a top-up takes only unallocated money)
    payment = a_payment(allocations=[to_invoice("inv_a", 4_000)])
    # When 6,001 goes to the wallet
    with pytest.raises(Conflict) as raised:
        top_up(payment, 6_001, AT)
    # Then 409 over_allocation with both figures
    refused(raised, Conflict, "over_allocation", "The payment has 6000 unallocated; 6001 was requested.")
    # And all 6,000 is accepted as a wallet allocation, moving the version by one
    assert top_up(payment, 6_000, AT) == payment.model_copy(update={
        "allocations": [to_invoice("inv_a", 4_000), Allocation(kind="wallet_top_up", amount=6_000, allocated_at=AT)],
        "version": 4, "updated_at": AT})


def test_wallet_top_ups_add_to_the_payments_one_wallet_allocation():
    # Given a payment already topped up into the wallet once (rule: its item stays the same size however
    # many top-ups it makes; each stays its own ledger entry and audit record)
    payment = a_payment(allocations=[to_invoice("inv_a", 4_000), to_wallet(1)])
    # When one more cent goes to the wallet
    topped = top_up(payment, 1, AT)
    # Then the one wallet allocation holds both, keeping when it was first made; the invoice's is untouched
    assert topped.allocations == [to_invoice("inv_a", 4_000), to_wallet(2)]
    assert topped.allocated_amount == 4_002 and topped.version == 4


def held_invoices(count: int) -> list[Allocation]:
    return [to_invoice(f"inv_{n}", 1) for n in range(count)]


def test_a_payment_is_allocated_to_at_most_max_invoices():
    # Given a payment allocated to one invoice fewer than the cap (rule: the payment's item stays bounded)
    payment = a_payment(amount=1_000_000, allocations=held_invoices(MAX_INVOICES_PER_PAYMENT - 1))
    new, newer = an_invoice("inv_new"), an_invoice("inv_newer")
    # When it is allocated to one more, it reaches the cap
    at_cap = allocate(payment, {"inv_new": new}, [("inv_new", 10)], AT).payment
    assert len(at_cap.allocations) == MAX_INVOICES_PER_PAYMENT
    # And then a further invoice is refused with 409 allocation_limit_reached
    with pytest.raises(Conflict) as raised:
        allocate(at_cap, {"inv_newer": newer}, [("inv_newer", 10)], AT)
    refused(raised, Conflict, "allocation_limit_reached",
            f"A payment can be allocated to at most {MAX_INVOICES_PER_PAYMENT} invoices; this one has "
            f"{MAX_INVOICES_PER_PAYMENT}.", [{"payment_id": "pay_1", "limit": MAX_INVOICES_PER_PAYMENT}])
    # And two new ones at once from below the cap are refused as well (the sum counts)
    with pytest.raises(Conflict):
        allocate(payment, {"inv_new": new, "inv_newer": newer}, [("inv_new", 10), ("inv_newer", 10)], AT)
    # But adding to an invoice it already holds is not a new allocation
    more = allocate(at_cap, {"inv_new": new.model_copy(update={"allocations": [paid_by("pay_1", 10)],
                                                               "amount_paid": 10})}, [("inv_new", 5)], AT)
    assert len(more.payment.allocations) == MAX_INVOICES_PER_PAYMENT


def test_an_invoice_takes_allocations_from_at_most_max_payments():
    # Given an invoice paid by one payment fewer than the cap (rule: the invoice's item stays bounded)
    others = [paid_by(f"pay_{n}", 1) for n in range(2, MAX_PAYMENTS_PER_INVOICE + 1)]
    invoice = an_invoice("inv_a", amount=1_000_000, allocations=others, amount_paid=len(others))
    payment = a_payment()
    # When one more payment is allocated, it reaches the cap
    assert len(allocate(payment, {"inv_a": invoice}, [("inv_a", 10)], AT).changes[0].after(AT).allocations) == (
        MAX_PAYMENTS_PER_INVOICE)
    # And at the cap a new payment is refused with 409 allocation_limit_reached naming the invoice
    full = invoice.model_copy(update={"allocations": [*others, paid_by("pay_x", 1)]})
    with pytest.raises(Conflict) as raised:
        allocate(payment, {"inv_a": full}, [("inv_a", 10)], AT)
    refused(raised, Conflict, "allocation_limit_reached",
            f"An invoice can take allocations from at most {MAX_PAYMENTS_PER_INVOICE} payments.",
            [{"invoice_id": "inv_a", "limit": MAX_PAYMENTS_PER_INVOICE}])
    # But a payment already on the full invoice may add to its allocation
    mine = invoice.model_copy(update={"allocations": [*others, paid_by("pay_1", 1)]})
    assert allocate(a_payment(allocations=[to_invoice("inv_a", 1)]), {"inv_a": mine}, [("inv_a", 10)],
                    AT).payment.allocations == [to_invoice("inv_a", 11)]


# --- payments --------------------------------------------------------------------------------------------

def test_the_received_date_may_be_tomorrow_but_not_later():
    # Given today 2026-11-21 in UTC (rule: at most one day ahead, for partners a time zone ahead)
    today = date(2026, 11, 21)
    check_received_date("2026-11-21", today)
    check_received_date("2026-11-22", today)
    # When the day after tomorrow is given
    with pytest.raises(Unprocessable) as raised:
        check_received_date("2026-11-23", today)
    # Then 422 received_date_in_future on the field
    refused(raised, Unprocessable, "received_date_in_future", "received_date cannot be in the future.",
            [{"field": "received_date", "message": "is in the future"}])


def test_a_backwards_range_is_refused_naming_its_filter():
    # Given a range whose start is after its end (rule: ranges are inclusive and run forwards)
    with pytest.raises(Unprocessable) as raised:
        check_date_range("2026-11-02", "2026-11-01", "received")
    # Then 422 invalid_date_range names the two parameters
    refused(raised, Unprocessable, "invalid_date_range", "received_from must not be after received_to.")
    # And an open-ended range is never backwards
    check_date_range("2026-11-02", None, "received")
    check_date_range(None, None, "received")


@pytest.mark.parametrize(("header", "expected"), [(' W/"7" ', 7), (" 3 ", 3), ("9" * 12, 10**12 - 1),
                                                  ('"000000000042"', 42)])
def test_if_match_accepts_up_to_twelve_digits_in_any_form(header, expected):
    # Given a version in If-Match, bare, quoted or weak, with spaces around (rule: If-Match carries the version)
    # Then it is read as that number
    assert parse_if_match(header) == expected


@pytest.mark.parametrize("header", ["9" * 13, "X3", "3X", 'W/"3"x', "w/3"])
def test_if_match_with_anything_but_the_version_is_refused(header):
    # Given more than twelve digits or text around the number (rule: If-Match carries only the version)
    with pytest.raises(PreconditionFailed) as raised:
        parse_if_match(header)
    # Then 412 version_mismatch
    refused(raised, PreconditionFailed, "version_mismatch", "If-Match must carry the payment's version number.")


@pytest.mark.parametrize("header", ["²", "1³", "١٢", "W/\"²\""])
def test_if_match_with_a_non_ascii_digit_is_a_failed_precondition(header):
    # Given If-Match with Unicode digits str.isdigit() accepts (rule: an If-Match that is not a version this
    # service issued never matches: 412, never a server error; found by mutation testing, issue 19)
    with pytest.raises(PreconditionFailed):
        parse_if_match(header)


def test_a_stale_version_is_refused_with_both_versions():
    # Given a payment at version 3 (rule: optimistic concurrency through If-Match)
    # When version 2 is expected
    with pytest.raises(PreconditionFailed) as raised:
        check_version(a_payment(version=3), 2)
    # Then 412 version_mismatch names both
    refused(raised, PreconditionFailed, "version_mismatch",
            "The payment is at version 3, not 2; reload it and try again.")


def test_a_patch_writes_only_what_changed_and_moves_the_version_by_one():
    # Given a payment (rule: an edit records a from/to diff of the fields it really changes)
    payment = a_payment(allocations=[to_invoice("inv_a", 4_000)])
    # When the amount and remark change and the reference is sent unchanged
    edited, diff = apply_patch(payment, {"amount": 12_000, "remark": "late", "reference": "TT-1"}, AT)
    # Then the diff holds the two changes and the payment moves by one version
    assert diff == {"amount": {"from": 10_000, "to": 12_000}, "remark": {"from": None, "to": "late"}}
    assert edited == payment.model_copy(update={"amount": 12_000, "remark": "late", "version": 4, "updated_at": AT})


def test_an_allocated_payment_may_be_edited_down_to_exactly_its_allocations():
    # Given a payment of 10,000 with 4,000 allocated (rule: the amount never goes below what is allocated)
    payment = a_payment(allocations=[to_invoice("inv_a", 4_000)])
    # When other fields change, or the amount goes to exactly 4,000, it is accepted
    assert apply_patch(payment, {"remark": "noted"}, AT)[0].remark == "noted"
    assert apply_patch(payment, {"amount": 4_000}, AT)[0].status == "allocated"
    # But below it, 409 amount_below_allocated names the allocated figure
    with pytest.raises(Conflict) as raised:
        apply_patch(payment, {"amount": 3_999}, AT)
    refused(raised, Conflict, "amount_below_allocated", "The amount cannot go below the 4000 already allocated.")


def test_an_allocated_payment_cannot_be_deleted():
    # Given a payment with 1 allocated (rule: release the allocations first)
    with pytest.raises(Conflict) as raised:
        check_deletable(a_payment(allocations=[to_wallet(1)]))
    # Then 409 payment_has_allocations
    refused(raised, Conflict, "payment_has_allocations", "Release the payment's allocations before deleting it.")


# --- settings --------------------------------------------------------------------------------------------

def test_a_new_organization_pays_by_cheque_or_tt_with_nothing_automatic():
    # Given a new organization (rule: the default settings)
    assert default_settings(AT) == PaymentSettings(method="cheque_or_tt", trigger_amount=0, limit_threshold=0,
                                                   auto_trigger=False, updated_at=AT)


def test_a_settings_change_returns_exactly_what_was_put():
    # Given cheque_or_tt settings (rule: a PUT replaces the settings, stamped now)
    current = PaymentSettings(updated_at=T0)
    # When master_account with a trigger and a threshold is put
    after = change_settings(current, method="master_account", trigger_amount=20_000, limit_threshold=5_000,
                            auto_trigger=True, at=AT)
    # Then the settings are exactly those, and the audit diff lists the four changed fields only
    assert after == PaymentSettings(method="master_account", trigger_amount=20_000, limit_threshold=5_000,
                                    auto_trigger=True, updated_at=AT)
    assert settings_changed(current, after) == {
        "method": {"from": "cheque_or_tt", "to": "master_account"}, "trigger_amount": {"from": 0, "to": 20_000},
        "limit_threshold": {"from": 0, "to": 5_000}, "auto_trigger": {"from": False, "to": True}}
    assert settings_changed(after, after.model_copy(update={"updated_at": "later"})) == {}
    assert settings_changed(after, after.model_copy(update={"limit_threshold": 0})) == {
        "limit_threshold": {"from": 5_000, "to": 0}}


def test_stripe_is_refused_by_hand_and_its_values_are_locked():
    # Given cheque_or_tt settings and Stripe settings (rule: only an online top-up sets stripe and its values)
    stripe = stripe_settings(20_000, 5_000, True, T0)
    assert stripe == PaymentSettings(method="stripe", trigger_amount=20_000, limit_threshold=5_000, auto_trigger=True,
                                     updated_at=T0)
    # When stripe is put by hand
    with pytest.raises(Conflict) as raised:
        change_settings(PaymentSettings(updated_at=T0), method="stripe", trigger_amount=0, limit_threshold=0,
                        auto_trigger=False, at=AT)
    refused(raised, Conflict, "stripe_set_by_online_top_up",
            "The Stripe method is set by a successful online top-up, not here.")
    # When a Stripe customer's values are changed
    with pytest.raises(Conflict) as raised:
        change_settings(stripe, method="stripe", trigger_amount=20_000, limit_threshold=4_000, auto_trigger=True, at=AT)
    refused(raised, Conflict, "stripe_settings_locked", "Trigger amount and limit threshold of a Stripe customer are "
            "set during the online top-up and cannot be changed here.")
    # Then switching auto-trigger keeps the method and values
    assert change_settings(stripe, method="stripe", trigger_amount=20_000, limit_threshold=5_000, auto_trigger=False,
                           at=AT) == stripe.model_copy(update={"auto_trigger": False, "updated_at": AT})


# --- the wallet ------------------------------------------------------------------------------------------

def entry_fields(entry: LedgerEntry | PartnerLedgerEntry) -> dict:
    assert is_id(entry.id, "txn")
    return entry.model_dump(exclude={"id"})


def test_a_posting_writes_one_numbered_entry_and_moves_the_version_by_one():
    # Given a wallet holding 1,000 at ledger entry 7 (rule W1: each entry carries the balance after it)
    org = an_org(balance=1_000, ledger_seq=7)
    # When 2,500 is credited
    updated, entries = post(org, [Posting("top_up", 2_500, "pay_1")], actor="usr_b", at=AT)
    # Then the wallet holds 3,500 at entry 8, its version moved by one
    assert updated == org.model_copy(update={"balance": 3_500, "ledger_seq": 8, "version": 5,
                                             "wallet_updated_at": AT})
    assert [entry_fields(e) for e in entries] == [
        {"org_id": "org_1", "partner_id": "ptn_a", "seq": 8, "type": "top_up", "amount": 2_500, "balance_after": 3_500,
         "currency": "SGD", "reference": "pay_1", "created_at": AT, "created_by": "usr_b"}]


def test_a_debit_to_exactly_zero_is_allowed_and_several_postings_are_one_version():
    # Given a wallet holding 1,000 (rule W1: the balance never goes below zero, and zero is allowed)
    org = an_org(balance=1_000, ledger_seq=7)
    # When 500 is credited then 1,500 debited in one step
    updated, entries = post(org, [Posting("provision", 500, "inv_a"), Posting("usage", -1_500, None)],
                            actor="usr_b", at=AT)
    # Then it holds exactly zero, each entry numbered in turn, and the version moved once
    assert (updated.balance, updated.ledger_seq, updated.version) == (0, 9, 5)
    assert [(e.seq, e.amount, e.balance_after, e.reference) for e in entries] == [(8, 500, 1_500, "inv_a"),
                                                                                  (9, -1_500, 0, None)]
    assert len({e.id for e in entries}) == 2


def test_a_debit_below_zero_is_refused_with_the_figures():
    # Given a wallet holding SGD 10.00 (rule W1: the balance never goes below zero)
    # When SGD 10.01 is debited
    with pytest.raises(Conflict) as raised:
        post(an_org(balance=1_000), [Posting("usage", -1_001, "ref")], actor="usr_b", at=AT)
    # Then 409 insufficient_balance shows both amounts
    refused(raised, Conflict, "insufficient_balance",
            "The wallet holds SGD 10.00; SGD 10.01 would take it below zero.")


def test_a_posting_of_nothing_is_a_programming_error():
    # Given a zero posting (rule: a posting moves money)
    with pytest.raises(ValueError, match=r"^a posting moves money$"):
        post(an_org(balance=1_000), [Posting("usage", 0, None)], actor="usr_b", at=AT)


@given(st.integers(0, 10_000), st.lists(st.integers(-5_000, 5_000).filter(bool), min_size=1, max_size=6))
def test_the_balance_is_the_sum_of_its_entries_and_never_negative(opening, amounts):
    """Invariant W1: an accepted posting leaves balance == opening + sum of the entries' amounts, every entry's
    balance_after >= 0 and equal to the running sum, seq numbered consecutively, version moved by one; a refused
    one is exactly one whose running sum went below zero."""
    org = an_org(balance=opening, ledger_seq=2)
    running = [opening + sum(amounts[:i + 1]) for i in range(len(amounts))]
    try:
        updated, entries = post(org, [Posting("usage", a, None) for a in amounts], actor="usr_b", at=AT)
    except Conflict as err:
        assert err.code == "insufficient_balance" and min(running) < 0
        return
    assert min(running) >= 0
    assert updated.balance == opening + sum(e.amount for e in entries) == entries[-1].balance_after
    assert [e.balance_after for e in entries] == running
    assert [e.seq for e in entries] == list(range(3, 3 + len(amounts))) and updated.ledger_seq == 2 + len(amounts)
    assert updated.version == org.version + 1


def test_a_master_wallet_posting_writes_its_entry_and_moves_the_version_by_one():
    # Given a master wallet holding 1,000 at entry 3, version 2 (rule: every change is a numbered entry)
    wallet = a_wallet()
    # When 500 is credited
    credited, entry = post_partner(wallet, "credit", 500, "wire-1", actor="usr_p", at=AT)
    # Then it holds 1,500 at entry 4, version 3
    assert credited == wallet.model_copy(update={"balance": 1_500, "ledger_seq": 4, "version": 3, "updated_at": AT})
    assert entry_fields(entry) == {"partner_id": "ptn_a", "currency": "SGD", "seq": 4, "type": "credit", "amount": 500,
                                   "balance_after": 1_500, "reference": "wire-1", "created_at": AT,
                                   "created_by": "usr_p"}


def test_a_master_wallet_may_transfer_its_whole_balance_but_not_more():
    # Given a master wallet holding SGD 10.00 (rule: the master wallet never goes below zero)
    # When all of it is transferred, it is emptied
    emptied, entry = post_partner(a_wallet(), "auto_credit", -1_000, "att_1", actor="system", at=AT)
    assert (emptied.balance, entry.balance_after, entry.amount, entry.seq) == (0, 0, -1_000, 4)
    # But 1 more is refused with 409 partner_insufficient_funds, showing the balance
    with pytest.raises(Conflict) as raised:
        post_partner(a_wallet(), "auto_credit", -1_001, "att_1", actor="system", at=AT)
    refused(raised, Conflict, "partner_insufficient_funds", "The partner's master wallet holds SGD 10.00.")


# --- derived properties ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("org_id", "allocated", "status"), [
    (None, 0, "unassigned"), ("org_1", 0, "assigned"), ("org_1", 1, "partially_allocated"),
    ("org_1", 9_999, "partially_allocated"), ("org_1", 10_000, "allocated")])
def test_a_payments_status_follows_its_organization_and_allocations(org_id, allocated, status):
    # Given a payment of 10,000 (rule: the contract's payment statuses)
    payment = a_payment(org_id=org_id, allocations=[to_wallet(allocated)] if allocated else [])
    # Then its status and amounts are derived from its allocations
    assert payment.status == status
    assert (payment.allocated_amount, payment.unallocated_amount) == (allocated, 10_000 - allocated)


@pytest.mark.parametrize(("paid", "provisioned_at", "status"), [
    (0, None, "unpaid"), (1, None, "partially_paid"), (4_999, None, "partially_paid"), (5_000, None, "paid"),
    (5_000, T0, "provisioned")])
def test_an_invoices_status_follows_its_payments(paid, provisioned_at, status):
    # Given an invoice of 5,000 (rule: the contract's invoice statuses)
    invoice = an_invoice(amount_paid=paid, provisioned_at=provisioned_at)
    # Then its status and amount due are derived
    assert (invoice.status, invoice.amount_due) == (status, 5_000 - paid)


@pytest.mark.parametrize(("auto", "balance", "due"), [(True, 4_999, True), (True, 5_000, True), (True, 5_001, False),
                                                      (False, 0, False)])
def test_an_organization_is_due_at_or_below_its_threshold_with_auto_trigger_on(auto, balance, due):
    # Given a threshold of 5,000 (rule: due for the daily top-up when auto-trigger is on and balance <= threshold)
    settings = PaymentSettings(method="cheque_or_tt", trigger_amount=10_000, limit_threshold=5_000,
                               auto_trigger=auto, updated_at=T0)
    assert an_org(balance=balance, settings=settings).due is due


def test_names_are_compared_case_and_space_insensitively_and_numbers_are_padded():
    # Given names differing in case and spacing (rule: organization names are unique in name_key form)
    assert name_key("  ACME   Pte\tLtd ") == "acme pte ltd" == name_key("acme pte ltd")
    assert name_key("Straße") == "strasse"
    # And generated invoice numbers are zero-padded to six digits
    assert invoice_number(42) == "INV-000042"


# --- the business date -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("event_time", "business_date"), [
    ("2026-11-21T01:00:00Z", "2026-11-21"), ("2026-11-21T23:59:59.999Z", "2026-11-21"),
    ("2026-11-21T00:30:00+08:00", "2026-11-20"), ("2026-11-21T23:30:00-02:00", "2026-11-22")])
def test_the_business_date_is_the_utc_date_of_the_event(event_time, business_date):
    # Given a scheduled event's time (rule: the sweep acts for the UTC date of its event)
    # Then the business date is that UTC date, whatever the machine's own time zone
    zone = os.environ.get("TZ")
    try:
        for local in ("XYZ-14", "XYZ+12"):  # POSIX zones: UTC+14 and UTC-12 (no tz database needed)
            os.environ["TZ"] = local
            time.tzset()
            assert business_date_of(event_time) == business_date
    finally:
        if zone is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = zone
        time.tzset()


def test_a_lower_case_z_is_utc_too():
    # Given an RFC 3339 time ending in a lower-case z (rule: RFC 3339 section 5.6, "Z" may be lower case)
    # Then it is read as UTC like "Z"
    assert business_date_of("2026-11-21T23:30:00z") == "2026-11-21"


def test_an_event_time_without_a_zone_is_refused():
    # Given a time with no offset (rule: the business date is only defined for a zoned time)
    with pytest.raises(ValueError, match=r"^the event time must carry its time zone$"):
        business_date_of("2026-11-21T01:00:00")


# --- money and keys --------------------------------------------------------------------------------------

def test_a_known_currency_passes_and_an_unknown_one_is_explained():
    # Given currency codes (rule: only the ISO-4217 codes of MINOR_UNITS)
    assert _known_currency("SGD") == "SGD"
    with pytest.raises(ValueError, match=r"^must be an upper-case ISO-4217 code this service supports, "
                                         r"for example 'SGD'$"):
        _known_currency("sgd")


@pytest.mark.parametrize(("value", "code", "text"), [
    (-5, "JPY", "JPY -5"), (-5, "SGD", "SGD -0.05"), (0, "JPY", "JPY 0"), (100, "SGD", "SGD 1.00"),
    (-1, "BHD", "BHD -0.001"), (1_000, "KWD", "KWD 1.000")])
def test_amounts_are_formatted_with_the_currencys_minor_units(value, code, text):
    # Given an amount in minor units (rule: messages show money in its currency's major units, sign first)
    assert format_amount(value, code) == text


def test_keys_are_parts_joined_by_the_separator():
    # Given safe parts, numbers included (rule K1: keys are parts joined by '#')
    assert join("P", "ptn_1", 3) == "P#ptn_1#3"
    assert join("META") == "META"
    assert key("ORG#org_1", "META") == {"pk": "ORG#org_1", "sk": "META"}


@pytest.mark.parametrize(("part", "shown"), [("a#b", "'a#b'"), ("", "''")])
def test_an_unsafe_key_part_is_refused_and_shown(part, shown):
    # Given a part holding the separator, or an empty one (rule K1: no part may name another key)
    with pytest.raises(UnsafeKeyPart) as raised:
        join("ORG", part)
    # Then the error shows the part
    assert str(raised.value) == f"unsafe key part {shown}"


@pytest.mark.parametrize("field,value", [("amount", 250_000), ("currency", "USD"), ("method", "cash"),
                                         ("reference", "edited"), ("received_date", "2026-10-01")])
def test_a_stripe_payment_keeps_what_stripe_received(field, value):
    # Given a stripe payment (rule: Stripe's record is Stripe's, issue 19)
    stripe = a_payment(method="stripe", reference="pi_1")
    # When one of the fields Stripe set is changed
    with pytest.raises(Conflict) as raised:
        apply_patch(stripe, {field: value}, AT)
    # Then stripe_payment_locked names exactly that field
    assert raised.value.body() == {"error": {
        "code": "stripe_payment_locked", "details": [{"field": field, "message": "set by Stripe"}],
        "message": "A Stripe payment's amount, method, reference and received date are what Stripe received and "
                   "cannot be changed."}}


def test_a_stripe_payment_takes_a_remark_and_an_unchanged_amount():
    # Given a stripe payment (rule: remark and invoice number stay editable; an unchanged value is no change)
    stripe = a_payment(method="stripe", reference="pi_1")
    updated, diff = apply_patch(stripe, {"remark": "card", "invoice_number": "INV-1", "amount": 10_000}, AT)
    assert diff == {"remark": {"from": None, "to": "card"}, "invoice_number": {"from": None, "to": "INV-1"}}
    assert (updated.remark, updated.version) == ("card", stripe.version + 1)
    # And another method's payment may change the same fields
    assert apply_patch(a_payment(), {"reference": "TT-2"}, AT)[0].reference == "TT-2"


def test_a_stripe_payment_is_never_deleted_even_with_nothing_allocated():
    # Given a stripe payment with nothing allocated (rule: it records money Stripe received)
    with pytest.raises(Conflict) as raised:
        check_deletable(a_payment(method="stripe", allocations=[]))
    refused(raised, Conflict, "stripe_payment_locked",
            "A Stripe payment records money Stripe received; it cannot be deleted.")
    check_deletable(a_payment(allocations=[]))  # any other payment with nothing allocated may go


def test_a_wallet_may_reach_max_amount_but_not_pass_it():
    # Given wallets one minor unit below MAX_AMOUNT (rule: bounded sums, issue 19; exact as JSON doubles)
    from shared.money import MAX_AMOUNT

    org, wallet = an_org(balance=MAX_AMOUNT - 1), a_wallet(balance=MAX_AMOUNT - 1)
    # When one more unit is credited: exactly MAX_AMOUNT is allowed
    assert post(org, [Posting("top_up", 1, "r")], actor="a", at=AT)[0].balance == MAX_AMOUNT
    assert post_partner(wallet, "credit", 1, "r", actor="a", at=AT)[0].balance == MAX_AMOUNT
    # And two more units are refused with balance_limit_exceeded, for both wallets
    for attempt in (lambda: post(org, [Posting("top_up", 2, "r")], actor="a", at=AT),
                    lambda: post_partner(wallet, "credit", 2, "r", actor="a", at=AT)):
        with pytest.raises(Conflict) as raised:
            attempt()
        assert raised.value.body() == {"error": {"code": "balance_limit_exceeded", "details": [],
                                                 "message": "The wallet may hold at most SGD 10000000000000.00."}}


def test_free_text_becomes_a_key_part_only_hashed():
    # Given names holding the separator and any character (rule: free text never names another key)
    names = ["x#shared", "Acme #ORGPAY# o", "\u3000", ""]
    # When they are hashed into key parts
    parts = [hashed(n) for n in names]
    # Then each is its SHA-256 in hex: 64 characters, no separator, joinable, one per text
    assert all(len(p) == 64 and set(p) <= set("0123456789abcdef") for p in parts)
    assert len(set(parts)) == len(names) and join("ORGNAME", "ptn_a", parts[1]).count("#") == 2
    assert hashed("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
