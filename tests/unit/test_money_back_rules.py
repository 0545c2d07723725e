"""Money that comes back (issue 10; contract "Money that comes back": credit notes and void invoices,
withdrawals, bounced payments), the pure rules: shared.domain.money_back, the credit-note parts of the invoice,
the bounced payment, the wallet that only a reversal takes below zero, and the allocation and payment rules a
bounce or a credit note changes.

Pure: no DynamoDB, no network, no processes; `make mutation` runs these against every mutant of shared/domain
(docs/benchmarks.md, "Mutation testing"). Errors are pinned by their whole contract body (code, message,
details), versions by their exact move, records by equality. The builders and `refused` are test_rules'.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.allocation import (
    MAX_INVOICES_PER_PAYMENT,
    InvoiceChange,
    allocate,
    assign,
    release,
    top_up,
    unassign,
)
from shared.domain.invoice import CreditNote, CreditNoteCounter, CreditNoteRef, Invoice, credit_note_number
from shared.domain.money_back import MAX_CREDIT_NOTES_PER_INVOICE, Bounce, bounce, credit, void
from shared.domain.payment import Payment
from shared.domain.payments import apply_patch, check_deletable
from shared.domain.wallet import Posting, post
from shared.errors import Conflict, NotFound, Unprocessable
from shared.money import format_amount
from tests.unit.test_rules import (
    AT,
    T0,
    a_payment,
    an_invoice,
    an_org,
    entry_fields,
    held_invoices,
    paid_by,
    refused,
    to_invoice,
    to_wallet,
)

BOUNCED_ON = "2026-11-10"


# --- builders --------------------------------------------------------------------------------------------

def a_ref(n: int, amount: int, reason: str = "billing_error") -> CreditNoteRef:
    return CreditNoteRef(id=f"crn_{n}", number=credit_note_number(n), amount=amount, reason=reason, created_at=T0)


def an_invoice_with(invoice_id: str = "inv_a", *, paid: tuple[tuple[str, int], ...] = (),
                    credits: tuple[int, ...] = (), **changes) -> Invoice:
    """An invoice paid by `paid` ((payment id, amount) each) and credited by `credits`, its sums consistent."""
    return an_invoice(invoice_id, allocations=[paid_by(p, a) for p, a in paid], amount_paid=sum(a for _, a in paid),
                      credit_notes=[a_ref(n, c) for n, c in enumerate(credits, 1)], amount_credited=sum(credits),
                      **changes)


def a_bounced_payment(**changes) -> Payment:
    return a_payment(**({"allocations": [], "bounced_date": BOUNCED_ON, "bounce_reason": "NSF"} | changes))


def credit_of(invoice: Invoice, amount: int, **changes) -> tuple[Invoice, CreditNote]:
    fields = {"credit_note_id": "crn_new", "number": "CN-000007", "amount": amount, "reason": "service_issue",
              "memo": "late delivery", "actor": "usr_b", "at": AT}
    return credit(invoice, **(fields | changes))


# --- the invoice with credit notes ---------------------------------------------------------------------

@pytest.mark.parametrize(("paid", "credited", "voided_at", "provisioned_at", "net", "due", "wallet", "status"), [
    (0, 0, None, None, 5_000, 5_000, 0, "unpaid"),
    (1_000, 0, None, None, 5_000, 4_000, 0, "partially_paid"),
    (0, 2_000, None, None, 3_000, 3_000, 0, "unpaid"),
    (1_000, 2_000, None, None, 3_000, 2_000, 0, "partially_paid"),
    (2_999, 2_000, None, None, 3_000, 1, 0, "partially_paid"),
    (3_000, 2_000, None, None, 3_000, 0, 0, "paid"),
    (3_001, 2_000, None, None, 3_000, 0, 1, "paid"),  # never below 0: the excess is wallet credit
    (5_000, 2_000, None, None, 3_000, 0, 2_000, "paid"),
    (0, 5_000, None, None, 0, 0, 0, "paid"),  # fully credited and nobody paid: nothing is due
    (5_000, 5_000, None, None, 0, 0, 5_000, "paid"),
    (0, 0, T0, None, 5_000, 0, 0, "void"),  # a void invoice is never due
    (5_000, 0, None, T0, 5_000, 0, 0, "provisioned"),
    (5_000, 0, T0, T0, 5_000, 0, 0, "void"),  # void comes before provisioned
    (1_000, 0, None, T0, 5_000, 4_000, 0, "provisioned"),  # provisioned comes before partially_paid
])
def test_an_invoices_amounts_and_status_follow_its_payments_credit_notes_and_void(
        paid, credited, voided_at, provisioned_at, net, due, wallet, status):
    # Given an invoice of 5,000 (rule: net_amount = amount - amount_credited; amount_due = max(0, net - paid), 0
    # when void; wallet_credit = max(0, paid - net); status void > provisioned > paid > unpaid > partially_paid)
    invoice = an_invoice(amount_paid=paid, amount_credited=credited, voided_at=voided_at,
                         provisioned_at=provisioned_at)
    # Then each is derived from the money
    assert (invoice.net_amount, invoice.amount_due, invoice.wallet_credit, invoice.status) == (net, due, wallet,
                                                                                             status)


@pytest.mark.parametrize(("org_id", "allocations"), [(None, []), ("org_1", []), ("org_1", [to_wallet(10_000)])])
def test_a_bounced_payment_is_bounced_whatever_its_organization_and_allocations(org_id, allocations):
    # Given a payment with a bounced date (rule: bounced comes before every other payment status)
    payment = a_payment(org_id=org_id, allocations=allocations, bounced_date=BOUNCED_ON)
    # Then it is bounced, and without the date it is not
    assert payment.status == "bounced"
    assert payment.model_copy(update={"bounced_date": None}).status != "bounced"


def test_credit_note_numbers_are_cn_and_a_six_digit_sequence():
    # Given the partner's credit note sequence (rule: `CN-` and six digits, per partner)
    assert [credit_note_number(n) for n in (1, 42, 999_999, 1_000_000)] == [
        "CN-000001", "CN-000042", "CN-999999", "CN-1000000"]
    # And a partner's counter starts unstored, at 0
    counter = CreditNoteCounter(partner_id="ptn_a")
    assert (counter.last, counter.version) == (0, 0)


def test_a_credit_note_ref_takes_only_the_contracts_reasons():
    # Given the five reasons (rule: duplicate, billing_error, service_issue, goodwill, other)
    for n, reason in enumerate(("duplicate", "billing_error", "service_issue", "goodwill", "other"), 1):
        assert a_ref(n, 1, reason).reason == reason
    # Then any other is refused
    with pytest.raises(ValidationError):
        a_ref(9, 1, "refund")


def test_the_item_bounds_are_the_documented_ones():
    # Given the bounds a bounce and an invoice's item depend on (rule: a bounce releases every invoice of the
    # payment in one transaction of at most 100 items, 90 + 6; an invoice lists at most 50 credit notes)
    assert (MAX_INVOICES_PER_PAYMENT, MAX_CREDIT_NOTES_PER_INVOICE) == (90, 50)


# --- credit notes ---------------------------------------------------------------------------------------

def test_a_credit_on_an_unpaid_invoice_only_reduces_what_is_due():
    # Given an unpaid invoice of 5,000 at version 2 (rule: a credit first reduces what is still due)
    invoice = an_invoice()
    # When 2,000 is credited
    after, note = credit_of(invoice, 2_000)
    # Then the invoice lists the credit note, its credited amount grows by it, its version moves by one
    assert after == invoice.model_copy(update={
        "amount_credited": 2_000, "version": 3, "updated_at": AT,
        "credit_notes": [CreditNoteRef(id="crn_new", number="CN-000007", amount=2_000, reason="service_issue",
                                       created_at=AT)]})
    assert (after.amount_due, after.wallet_credit, after.status) == (3_000, 0, "unpaid")
    # And the credit note reduced what was due by all of it, crediting nothing
    assert note == CreditNote(id="crn_new", number="CN-000007", partner_id="ptn_a", invoice_id="inv_a",
                              org_id="org_1", amount=2_000, currency="SGD", reason="service_issue",
                              memo="late delivery", due_reduced=2_000, wallet_credited=0, ledger_entry_id=None,
                              created_at=AT, created_by="usr_b")


def test_a_credit_on_a_paid_invoice_credits_the_wallet_and_keeps_the_payments():
    # Given an invoice of 5,000 paid in full by pay_1 (rule: what a credit cannot take off what is due credits
    # the wallet; the allocations stay: that money really paid the invoice)
    invoice = an_invoice_with(paid=(("pay_1", 5_000),))
    # When 2,000 is credited, without a memo
    after, note = credit_of(invoice, 2_000, memo=None, reason="goodwill")
    # Then nothing was due, so all 2,000 goes to the wallet
    assert (note.due_reduced, note.wallet_credited, note.memo, note.reason) == (0, 2_000, None, "goodwill")
    assert (after.allocations, after.amount_paid) == (invoice.allocations, 5_000)
    assert (after.amount_due, after.wallet_credit, after.status, after.net_amount) == (0, 2_000, "paid", 3_000)


def test_a_credit_on_a_partly_paid_invoice_reduces_what_is_due_then_credits_the_rest():
    # Given an invoice of 5,000 with 4,000 paid and an earlier credit note of 500 (so 500 due)
    invoice = an_invoice_with(paid=(("pay_1", 3_000), ("pay_2", 1_000)), credits=(500,))
    # When 1,500 more is credited
    after, note = credit_of(invoice, 1_500)
    # Then 500 of it clears what was due and 1,000 goes to the wallet; the notes are listed in order
    assert (note.due_reduced, note.wallet_credited) == (500, 1_000)
    assert [(r.id, r.amount) for r in after.credit_notes] == [("crn_1", 500), ("crn_new", 1_500)]
    assert (after.amount_credited, after.amount_due, after.wallet_credit) == (2_000, 0, 1_000)


def test_the_whole_creditable_amount_may_be_credited_but_not_one_unit_more():
    # Given an invoice of 5,000 already credited 2,000 (rule: credit notes credit at most the invoice's amount)
    invoice = an_invoice_with(credits=(2_000,))
    # When 3,001 is credited
    with pytest.raises(Conflict) as raised:
        credit_of(invoice, 3_001)
    # Then 409 credit_exceeds_invoice says how much is left, with both figures
    refused(raised, Conflict, "credit_exceeds_invoice", "At most SGD 30.00 of this invoice can still be credited.",
            [{"invoice_id": "inv_a", "creditable": 3_000, "requested": 3_001}])
    # And exactly 3,000 is accepted, leaving nothing due on an unpaid invoice: it is paid
    after, note = credit_of(invoice, 3_000)
    assert (after.net_amount, after.amount_due, after.status, note.due_reduced) == (0, 0, "paid", 3_000)
    # And then not a single unit more
    with pytest.raises(Conflict) as raised:
        credit_of(after, 1)
    refused(raised, Conflict, "credit_exceeds_invoice", "At most SGD 0.00 of this invoice can still be credited.",
            [{"invoice_id": "inv_a", "creditable": 0, "requested": 1}])


@pytest.mark.parametrize(("changes", "message"), [
    ({"type": "top_up"}, "Only a standard invoice takes a credit note; a top-up invoice buys prepaid credit."),
    ({"voided_at": T0}, "A void invoice takes no credit note."),
    ({"type": "top_up", "voided_at": T0},  # the type is checked first
     "Only a standard invoice takes a credit note; a top-up invoice buys prepaid credit."),
])
def test_only_a_standard_invoice_that_is_not_void_takes_a_credit_note(changes, message):
    # Given a top-up invoice, a void one, or both (rule: credit_note_not_allowed)
    # When even more than its amount is credited (the type and void are checked before the amount)
    with pytest.raises(Conflict) as raised:
        credit_of(an_invoice(**changes), 5_001)
    # Then 409 credit_note_not_allowed says why
    refused(raised, Conflict, "credit_note_not_allowed", message)


def test_an_invoice_takes_at_most_fifty_credit_notes():
    # Given an invoice with 49 credit notes of 1 (rule: an invoice lists at most 50 inside its item)
    invoice = an_invoice_with(credits=(1,) * 49)
    # When a 50th is credited, it is accepted
    after, _ = credit_of(invoice, 1)
    assert len(after.credit_notes) == MAX_CREDIT_NOTES_PER_INVOICE and after.amount_credited == 50
    # But a 51st is refused with 409 credit_note_limit_reached naming the limit
    with pytest.raises(Conflict) as raised:
        credit_of(after, 1)
    refused(raised, Conflict, "credit_note_limit_reached", "An invoice can take at most 50 credit notes.",
            [{"invoice_id": "inv_a", "limit": 50}])
    # And asking beyond the amount as well answers credit_exceeds_invoice (the amount is checked first)
    with pytest.raises(Conflict) as raised:
        credit_of(after, 4_951)
    assert raised.value.code == "credit_exceeds_invoice"


def credited_state():
    """Any invoice state a standard invoice can reach: paid up to its amount, credited up to its amount, by up
    to 49 earlier credit notes."""
    return st.integers(1, 10_000).flatmap(lambda amount: st.tuples(
        st.just(amount), st.integers(0, amount), st.lists(st.integers(0, amount), max_size=3)))


def an_invoice_in(amount: int, paid: int, credits: list[int]) -> Invoice:
    credits = [c for c in credits if c] if sum(credits) <= amount else []
    return an_invoice_with(amount=amount, paid=(("pay_1", paid),) if paid else (), credits=tuple(credits))


@given(credited_state(), st.integers(1, 12_000))
def test_a_credit_splits_into_what_was_due_and_what_goes_to_the_wallet(state, amount):
    """Invariant CN1: for any invoice state and any accepted credit, due_reduced + wallet_credited == amount,
    due_reduced == amount_due before - amount_due after, wallet_credited == wallet_credit after - before, both
    >= 0; the invoice moves by exactly one version and one listed note; a credit is refused exactly when it is
    above what earlier notes left creditable."""
    invoice = an_invoice_in(*state)
    creditable = invoice.amount - invoice.amount_credited
    try:
        after, note = credit_of(invoice, amount)
    except Conflict as err:
        assert err.code == "credit_exceeds_invoice" and amount > creditable
        assert err.details == [{"invoice_id": "inv_a", "creditable": creditable, "requested": amount}]
        return
    assert amount <= creditable
    assert note.due_reduced + note.wallet_credited == note.amount == amount
    assert note.due_reduced == invoice.amount_due - after.amount_due >= 0
    assert note.wallet_credited == after.wallet_credit - invoice.wallet_credit >= 0
    assert after.amount_credited == invoice.amount_credited + amount == sum(r.amount for r in after.credit_notes)
    assert after.credit_notes == [*invoice.credit_notes, CreditNoteRef(id="crn_new", number="CN-000007",
                                                                       amount=amount, reason="service_issue",
                                                                       created_at=AT)]
    assert (after.version, after.updated_at, after.amount_paid) == (invoice.version + 1, AT, invoice.amount_paid)


@given(st.integers(1, 10_000), st.integers(0, 10_000), st.lists(st.integers(1, 6_000), min_size=1, max_size=6))
def test_credits_in_turn_never_credit_more_than_the_invoice(amount, paid, credits):
    """Invariant CN2: over any sequence of credits, the accepted ones sum to amount_credited <= amount, the
    refused ones are exactly those above what was left, and the wallet credit the notes gave in turn adds up to
    the invoice's wallet_credit (max(0, paid - net)) while amount_due never goes below 0."""
    invoice = an_invoice_with(amount=amount, paid=(("pay_1", min(paid, amount)),) if paid else ())
    given_to_wallet, accepted = 0, {}
    for n, asked in enumerate(credits):
        left = invoice.amount - invoice.amount_credited
        try:
            invoice, note = credit_of(invoice, asked, credit_note_id=f"crn_{n}")
        except Conflict as err:
            assert err.code == "credit_exceeds_invoice" and asked > left
            continue
        assert asked <= left
        accepted[note.id] = asked
        given_to_wallet += note.wallet_credited
        assert invoice.amount_due >= 0
    assert invoice.amount_credited == sum(accepted.values()) <= amount
    assert {r.id: r.amount for r in invoice.credit_notes} == accepted
    assert given_to_wallet == invoice.wallet_credit == max(0, invoice.amount_paid - invoice.net_amount)
    assert invoice.version == 2 + len(accepted)


# --- void invoices -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["standard", "top_up"])
def test_voiding_an_untouched_invoice_stamps_it_and_it_is_never_due(kind):
    # Given an invoice nobody paid or credited, of either type (rule: a top-up invoice may be voided too)
    invoice = an_invoice(type=kind)
    # When it is voided
    voided = void(invoice, "issued twice", AT)
    # Then only the void stamp, its reason, updated_at and the version (by one) move
    assert voided == invoice.model_copy(update={"voided_at": AT, "void_reason": "issued twice", "updated_at": AT,
                                                "version": 3})
    assert (voided.status, voided.amount_due) == ("void", 0)


def test_a_void_invoice_cannot_be_voided_again():
    # Given a void invoice (rule: voiding a void invoice is invoice_void)
    with pytest.raises(Conflict) as raised:
        void(an_invoice(voided_at=T0, void_reason="first"), "again", AT)
    refused(raised, Conflict, "invoice_void", "The invoice is already void.")
    # And that is checked before what it holds
    with pytest.raises(Conflict) as raised:
        void(an_invoice_with(paid=(("pay_1", 1),), voided_at=T0), "again", AT)
    assert raised.value.code == "invoice_void"


@pytest.mark.parametrize("changes", [
    {"allocations": [paid_by("pay_1", 1)], "amount_paid": 1},
    {"allocations": [paid_by("pay_1", 0)]},  # each of the three is enough on its own
    {"amount_paid": 1},
    {"credit_notes": [a_ref(1, 1)], "amount_credited": 1},
    {"credit_notes": [a_ref(1, 0)]},
], ids=["paid", "allocation_only", "amount_paid_only", "credited", "credit_note_only"])
def test_an_invoice_with_allocations_or_credit_notes_cannot_be_voided(changes):
    # Given an invoice something was allocated to or credited (rule: void only what nothing touched)
    with pytest.raises(Conflict) as raised:
        void(an_invoice(**changes), "wrong customer", AT)
    # Then 409 invoice_has_allocations
    refused(raised, Conflict, "invoice_has_allocations", "Only an invoice with nothing allocated and no credit note "
            "can be voided; release its allocations first.")


# --- bounced payments ------------------------------------------------------------------------------------

def test_a_bounce_undoes_every_allocation_in_one_step():
    # Given a payment of 10,000 paying 3,000 of inv_a (also paid 1,000 by pay_2), 2,000 to the wallet, and 4,000
    # of the top-up invoice inv_t, which pay_3's 1,000 completed and provisioned (rule: a bounce releases every
    # allocation, takes back the provisioning of a top-up invoice it paid and the wallet top-up)
    payment = a_payment(allocations=[to_invoice("inv_a", 3_000), to_wallet(2_000), to_invoice("inv_t", 4_000)],
                        assignment_edits=2)
    inv_a = an_invoice_with("inv_a", paid=(("pay_2", 1_000), ("pay_1", 3_000)))
    inv_t = an_invoice_with("inv_t", type="top_up", paid=(("pay_1", 4_000), ("pay_3", 1_000)), provisioned_at=T0)
    # When it bounces on its received date
    outcome = bounce(payment, {"inv_a": inv_a, "inv_t": inv_t, "inv_z": an_invoice("inv_z")},
                     bounced_date="2026-11-01", reason="NSF", at=AT)
    # Then the payment keeps its organization and edits, has nothing allocated, and carries the bounce
    assert outcome.payment == payment.model_copy(update={"allocations": [], "bounced_date": "2026-11-01",
                                                         "bounce_reason": "NSF", "version": 4, "updated_at": AT})
    assert (outcome.payment.status, outcome.payment.unallocated_amount, outcome.payment.org_id) == (
        "bounced", 10_000, "org_1")
    # And each invoice's entry is released, the top-up invoice's provisioning taken back
    assert outcome.changes == [InvoiceChange(inv_a, "pay_1", None, unprovision=False),
                               InvoiceChange(inv_t, "pay_1", None, unprovision=True)]
    after_a, after_t = (change.after(AT) for change in outcome.changes)
    assert (after_a.allocations, after_a.amount_paid, after_a.status) == ([paid_by("pay_2", 1_000)], 1_000,
                                                                          "partially_paid")
    assert after_t == inv_t.model_copy(update={"allocations": [paid_by("pay_3", 1_000)], "amount_paid": 1_000,
                                               "provisioned_at": None, "updated_at": AT, "version": 3})
    assert after_t.status == "partially_paid"
    # And the wallet gives back the top-up and the whole provisioned invoice, in the allocations' order
    assert outcome.reversed == [{"kind": "wallet_top_up", "amount": 2_000},
                                {"kind": "provisioned_invoice", "invoice_id": "inv_t", "amount": 5_000}]
    assert outcome.reversal == 7_000


def test_a_top_up_invoice_the_bounced_payment_alone_paid_is_unpaid_again():
    # Given a provisioned top-up invoice paid only by this payment (rule: back to unpaid, no longer provisioned)
    payment = a_payment(allocations=[to_invoice("inv_t", 5_000)])
    inv_t = an_invoice_with("inv_t", type="top_up", paid=(("pay_1", 5_000),), provisioned_at=T0)
    # When the payment bounces
    outcome = bounce(payment, {"inv_t": inv_t}, bounced_date=BOUNCED_ON, reason="stopped", at=AT)
    # Then the invoice is unpaid and not provisioned, and its whole amount is reversed
    after = outcome.changes[0].after(AT)
    assert (after.status, after.provisioned_at, after.allocations, after.amount_due) == ("unpaid", None, [], 5_000)
    assert (outcome.reversal, outcome.payment.bounce_reason, outcome.payment.bounced_date) == (5_000, "stopped",
                                                                                               BOUNCED_ON)


def test_a_bounce_takes_back_the_wallet_credit_a_credit_note_gave_on_its_money():
    # Given inv_a of 5,000 paid in full by this payment and then credited 2,000 (2,000 went to the wallet), and
    # inv_b credited 1,000 with 1,000 of 4,000 paid by it (nothing went to the wallet) (rule: a bounce also
    # takes back a credit note's wallet credit that stood on this payment's money)
    payment = a_payment(allocations=[to_invoice("inv_a", 5_000), to_invoice("inv_b", 1_000)])
    inv_a = an_invoice_with("inv_a", paid=(("pay_1", 5_000),), credits=(2_000,))
    inv_b = an_invoice_with("inv_b", paid=(("pay_1", 1_000),), credits=(1_000,))
    # When it bounces
    outcome = bounce(payment, {"inv_a": inv_a, "inv_b": inv_b}, bounced_date=BOUNCED_ON, reason="NSF", at=AT)
    # Then inv_a owes its net amount again and its wallet credit is reversed; inv_b adds nothing to reverse
    assert outcome.reversed == [{"kind": "credit_note_credit", "invoice_id": "inv_a", "amount": 2_000}]
    assert outcome.reversal == 2_000
    after_a, after_b = (change.after(AT) for change in outcome.changes)
    assert (after_a.amount_due, after_a.wallet_credit, after_a.status) == (3_000, 0, "unpaid")
    assert (after_b.amount_due, after_b.wallet_credit, after_b.status) == (4_000, 0, "unpaid")
    assert [change.unprovision for change in outcome.changes] == [False, False]


@pytest.mark.parametrize(("credited", "taken_back", "stays"), [(3_000, 1_000, 2_000), (1, 1, 0)])
def test_a_bounce_takes_back_only_the_wallet_credit_its_own_money_carried(credited, taken_back, stays):
    # Given inv_a of 5,000 paid 1,000 by this payment and 4,000 by pay_2, then credited 3,000 (3,000 went to the
    # wallet; without this payment's 1,000 it would have been 2,000), or credited 1 (the smallest wallet credit)
    payment = a_payment(allocations=[to_invoice("inv_a", 1_000)])
    inv_a = an_invoice_with("inv_a", paid=(("pay_1", 1_000), ("pay_2", 4_000)), credits=(credited,))
    # When it bounces
    outcome = bounce(payment, {"inv_a": inv_a}, bounced_date=BOUNCED_ON, reason="NSF", at=AT)
    # Then this payment's share of the wallet credit is taken back and the rest stays
    assert outcome.reversed == [{"kind": "credit_note_credit", "invoice_id": "inv_a", "amount": taken_back}]
    assert (outcome.reversal, outcome.changes[0].after(AT).wallet_credit) == (taken_back, stays)


def test_a_payment_with_nothing_allocated_bounces_with_nothing_to_reverse():
    # Given an unassigned payment (rule: any payment but a Stripe one may bounce)
    payment = a_payment(org_id=None, method="cash", received_date=BOUNCED_ON)
    # When it bounces on its received date
    outcome = bounce(payment, {}, bounced_date=BOUNCED_ON, reason="counterfeit", at=AT)
    # Then there is nothing to release or reverse
    assert outcome == Bounce(payment.model_copy(update={"bounced_date": BOUNCED_ON, "bounce_reason": "counterfeit",
                                                        "version": 4, "updated_at": AT}), [], [])
    assert outcome.reversal == 0 and outcome.payment.status == "bounced"


@pytest.mark.parametrize(("payment", "bounced_date", "kind", "code", "message", "details"), [
    (a_bounced_payment(), BOUNCED_ON, Conflict, "payment_bounced", "The payment has already bounced.", []),
    (a_bounced_payment(method="stripe"), "2026-10-01", Conflict, "payment_bounced",  # bounced is checked first
     "The payment has already bounced.", []),
    (a_payment(method="stripe"), BOUNCED_ON, Conflict, "stripe_payment_locked",
     "A Stripe payment cannot bounce; it is refunded or disputed.", []),
    (a_payment(method="stripe"), "2026-10-31", Conflict, "stripe_payment_locked",  # before the date
     "A Stripe payment cannot bounce; it is refunded or disputed.", []),
    (a_payment(), "2026-10-31", Unprocessable, "validation_error",
     "bounced_date cannot be before the payment was received.",
     [{"field": "bounced_date", "message": "is before received_date"}]),
], ids=["again", "again_before_stripe", "stripe", "stripe_before_date", "before_received"])
def test_a_bounce_is_refused_once_bounced_for_stripe_and_before_the_payment_was_received(
        payment, bounced_date, kind, code, message, details):
    # Given a payment already bounced, a Stripe one, or a date before the payment was received
    with pytest.raises(kind) as raised:
        bounce(payment, {}, bounced_date=bounced_date, reason="NSF", at=AT)
    # Then the first rule broken answers, with its whole body
    refused(raised, kind, code, message, details)


def bounce_case():
    """A payment's allocations: an optional wallet top-up and up to 5 invoices, each standard or top-up, each
    with this payment's share, other payments' share, what is still due and (standard) a credit applied after."""
    invoice = st.tuples(st.sampled_from(["standard", "top_up"]), st.integers(1, 5_000), st.integers(0, 5_000),
                        st.integers(0, 3_000), st.integers(0, 10_000))
    return st.tuples(st.integers(0, 3_000), st.lists(invoice, max_size=5), st.integers(0, 2_000))


@given(bounce_case())
def test_a_bounce_reverses_exactly_what_reached_the_wallet(case):
    """Invariant BN1: a bounce's reversal == top-ups + provisioned invoice amounts + wallet credit taken back,
    and every invoice change releases exactly the payment's allocation (entry None, delta == -its amount, the
    other payments' entries kept), unprovisioning exactly the provisioned invoices; the bounced payment has no
    allocation, keeps its amount and organization, and moved by one version."""
    wallet_top_up, lines, unallocated = case
    invoices, allocations, expected = {}, [], 0
    for n, (kind, mine, others, due, credited) in enumerate(lines):
        amount = mine + others + due
        provisioned = kind == "top_up" and due == 0  # the allocation that completes a top-up invoice provisions it
        credits = (min(credited, amount),) if kind == "standard" and credited else ()
        invoice = an_invoice_with(f"inv_{n}", type=kind, amount=amount, provisioned_at=T0 if provisioned else None,
                                  paid=(("pay_2", others),) * bool(others) + (("pay_1", mine),), credits=credits)
        invoices[invoice.id] = invoice
        allocations.append(to_invoice(invoice.id, mine))
        net = amount - sum(credits)
        expected += amount if provisioned else max(0, mine + others - net) - max(0, others - net)
    if wallet_top_up:
        allocations.insert(len(allocations) // 2, to_wallet(wallet_top_up))
    payment = a_payment(amount=sum(a.amount for a in allocations) + unallocated, allocations=allocations)

    outcome = bounce(payment, invoices, bounced_date=BOUNCED_ON, reason="NSF", at=AT)

    assert outcome.reversal == wallet_top_up + expected == sum(r["amount"] for r in outcome.reversed)
    assert all(r["amount"] > 0 for r in outcome.reversed)
    assert [r["amount"] for r in outcome.reversed if r["kind"] == "wallet_top_up"] == [wallet_top_up] * bool(
        wallet_top_up)
    assert [r["invoice_id"] for r in outcome.reversed if r["kind"] == "provisioned_invoice"] == [
        i for i, inv in invoices.items() if inv.provisioned_at]
    assert [change.invoice for change in outcome.changes] == list(invoices.values())
    for change, allocation in zip(outcome.changes, [a for a in allocations if a.invoice_id], strict=True):
        after = change.after(AT)
        assert change.entry is None and change.provision is False
        assert change.unprovision == bool(change.invoice.provisioned_at)
        assert change.prior == paid_by("pay_1", allocation.amount) and change.delta == -allocation.amount
        assert after.allocations == [a for a in change.invoice.allocations if a.payment_id != "pay_1"]
        assert after.amount_paid == change.invoice.amount_paid - allocation.amount == sum(
            a.amount for a in after.allocations)
        assert after.provisioned_at is None and after.status != "provisioned" and after.amount_due >= 0
        assert change.invoice.wallet_credit - after.wallet_credit == change.wallet_credit_taken_back >= 0
        assert (after.version, after.updated_at) == (change.invoice.version + 1, AT)
    assert outcome.payment == payment.model_copy(update={"allocations": [], "bounced_date": BOUNCED_ON,
                                                         "bounce_reason": "NSF", "version": 4, "updated_at": AT})


# --- the invoice change ----------------------------------------------------------------------------------

def test_only_an_unprovisioning_change_clears_the_provisioning():
    # Given a provisioned top-up invoice paid by pay_1 and pay_2 (rule: only a bounce unprovisions)
    inv_t = an_invoice_with("inv_t", type="top_up", paid=(("pay_1", 2_000), ("pay_2", 3_000)), provisioned_at=T0)
    # Then a change that unprovisions clears it, and one that does not keeps it as it was
    assert InvoiceChange(inv_t, "pay_1", None, unprovision=True).after(AT).provisioned_at is None
    assert InvoiceChange(inv_t, "pay_1", None).after(AT).provisioned_at == T0
    assert InvoiceChange(inv_t, "pay_1", paid_by("pay_1", 2_000)).after(AT).provisioned_at == T0
    # And one that provisions stamps it now
    assert InvoiceChange(an_invoice("inv_u", type="top_up"), "pay_1", paid_by("pay_1", 5_000),
                         provision=True).after(AT).provisioned_at == AT


@pytest.mark.parametrize(("paid", "credits", "payment_id", "entry", "taken_back"), [
    ((("pay_1", 5_000),), (), "pay_1", None, 0),  # no credit note: nothing in the wallet
    ((("pay_1", 5_000),), (2_000,), "pay_1", None, 2_000),  # all of it
    ((("pay_1", 1_000), ("pay_2", 4_000)), (3_000,), "pay_1", None, 1_000),  # this payment's share of it
    ((("pay_1", 1_000), ("pay_2", 4_000)), (3_000,), "pay_2", None, 3_000),  # all of it, the rest still due
    ((("pay_1", 1_000), ("pay_2", 4_000)), (1,), "pay_1", None, 1),
    ((("pay_1", 1_000), ("pay_2", 3_000)), (1_000,), "pay_1", None, 0),  # the credit only reduced what was due
    ((("pay_1", 1_000), ("pay_2", 3_000)), (1_000,), "pay_1", paid_by("pay_1", 400), 0),  # shrinking, still due
    ((("pay_2", 4_000),), (2_000,), "pay_1", paid_by("pay_1", 1_000), -1_000),  # adding money takes nothing back
])
def test_a_change_takes_back_what_it_lowers_the_wallet_credit_by(paid, credits, payment_id, entry, taken_back):
    # Given an invoice of 5,000 paid and credited (rule: its wallet credit is max(0, paid - net); a change takes
    # back by how much it lowers it)
    invoice = an_invoice_with(paid=paid, credits=credits)
    change = InvoiceChange(invoice, payment_id, entry)
    # Then what it takes back is exactly the drop in the invoice's wallet credit
    assert change.wallet_credit_taken_back == taken_back == invoice.wallet_credit - change.after(AT).wallet_credit


# --- release and un-assignment of credited invoices ------------------------------------------------------

def test_releasing_an_allocation_whose_money_a_credit_note_moved_to_the_wallet_is_refused():
    # Given inv_a of 5,000 paid 1,000 by this payment and 4,000 by pay_2, credited 1: 1 went to the wallet
    # (rule: a release that would take back a credit note's wallet credit is payment_credit_delivered)
    payment = a_payment(allocations=[to_invoice("inv_a", 1_000)])
    invoice = an_invoice_with(paid=(("pay_1", 1_000), ("pay_2", 4_000)), credits=(1,))
    # When this payment's allocation is released
    with pytest.raises(Conflict) as raised:
        release(payment, invoice, "inv_a", AT)
    # Then 409 payment_credit_delivered
    refused(raised, Conflict, "payment_credit_delivered", "A credit note put this invoice's overpaid amount in the "
            "wallet; the allocation cannot be released.")


def test_releasing_an_allocation_of_a_credited_invoice_is_accepted_when_nothing_went_to_the_wallet():
    # Given inv_a of 5,000 paid 1,000 by this payment and 3,000 by pay_2, credited 1,000: nothing is due, nothing
    # went to the wallet
    payment = a_payment(allocations=[to_invoice("inv_a", 1_000)])
    invoice = an_invoice_with(paid=(("pay_1", 1_000), ("pay_2", 3_000)), credits=(1_000,))
    # When this payment's allocation is released
    updated, change = release(payment, invoice, "inv_a", AT)
    # Then it is, and 1,000 is due again
    assert updated.allocations == [] and change == InvoiceChange(invoice, "pay_1", None)
    assert (change.after(AT).amount_due, change.after(AT).status) == (1_000, "partially_paid")


def test_a_missing_allocation_is_not_found_before_the_credit_rule():
    # Given an invoice with wallet credit that this payment does not pay (rule: 404 comes first)
    invoice = an_invoice_with(paid=(("pay_2", 5_000),), credits=(2_000,))
    with pytest.raises(NotFound) as raised:
        release(a_payment(allocations=[to_invoice("inv_b", 1)]), invoice, "inv_a", AT)
    assert raised.value.code == "allocation_not_found"


def test_unassigning_a_payment_whose_invoice_money_a_credit_note_moved_to_the_wallet_is_refused():
    # Given a payment paying inv_b (plain) and inv_a, whose credit note of 1 put 1 in the wallet
    # (rule: un-assigning releases every allocation, so the same credit is delivered)
    payment = a_payment(allocations=[to_invoice("inv_b", 500), to_invoice("inv_a", 1_000)])
    invoices = {"inv_a": an_invoice_with("inv_a", paid=(("pay_1", 1_000), ("pay_2", 4_000)), credits=(1,)),
                "inv_b": an_invoice_with("inv_b", paid=(("pay_1", 500),))}
    # When it is un-assigned
    with pytest.raises(Conflict) as raised:
        unassign(payment, invoices, AT)
    # Then 409 payment_credit_delivered
    refused(raised, Conflict, "payment_credit_delivered",
            "Some of this payment's money has reached the wallet; it cannot be un-assigned.")
    # But when the credit note only reduced what was due, it is un-assigned, every allocation released
    invoices["inv_a"] = an_invoice_with("inv_a", paid=(("pay_1", 1_000), ("pay_2", 3_000)), credits=(1_000,))
    updated, released = unassign(payment, invoices, AT)
    assert (updated.org_id, updated.allocations, updated.assignment_edits) == (None, [], 2)
    assert released == [InvoiceChange(invoices["inv_b"], "pay_1", None), InvoiceChange(invoices["inv_a"], "pay_1",
                                                                                        None)]


# --- a bounced payment cannot change --------------------------------------------------------------------

BOUNCED = "The payment bounced: it cannot be assigned, allocated, edited, bounced again or deleted."


@pytest.mark.parametrize("attempt", [
    lambda p: assign(p, None, AT),  # would be organization_not_found
    lambda p: assign(p, an_org(), AT),  # would be a no-op: already assigned to it
    lambda p: assign(p.model_copy(update={"org_id": None, "assignment_edits": 5}), an_org(), AT),
    lambda p: unassign(p, {}, AT),
    lambda p: unassign(p.model_copy(update={"org_id": None}), {}, AT),  # would be payment_not_assigned
    lambda p: allocate(p, {}, [("inv_missing", 1)], AT),  # would be invoice_not_found
    lambda p: allocate(p.model_copy(update={"org_id": None}), {"inv_a": an_invoice()}, [("inv_a", 1)], AT),
    lambda p: allocate(p, {"inv_a": an_invoice()}, [("inv_a", 1)], AT),
    lambda p: release(p, None, "inv_a", AT),  # would be allocation_not_found
    lambda p: top_up(p, 1, AT),
    lambda p: top_up(p.model_copy(update={"org_id": None}), 10**9, AT),  # would be payment_not_assigned
], ids=["assign_unknown", "assign_same", "assign_no_edits", "unassign", "unassign_unassigned", "allocate_missing",
        "allocate_unassigned", "allocate", "release", "top_up", "top_up_unassigned"])
def test_a_bounced_payment_cannot_be_assigned_allocated_released_or_topped_up(attempt):
    # Given a bounced payment (rule: payment_bounced, before every other rule of these routes)
    with pytest.raises(Conflict) as raised:
        attempt(a_bounced_payment())
    refused(raised, Conflict, "payment_bounced", BOUNCED)


def test_a_bounced_payment_cannot_be_edited_but_an_unchanged_patch_is_no_edit():
    # Given a bounced payment (rule: a bounced payment cannot be edited)
    payment = a_bounced_payment()
    # When a remark or the amount changes, it is refused
    for changes in ({"remark": "fixed"}, {"amount": 6_000}):
        with pytest.raises(Conflict) as raised:
            apply_patch(payment, changes, AT)
        refused(raised, Conflict, "payment_bounced", "The payment bounced: it cannot be edited.")
    # And that comes before a Stripe payment's locked fields
    with pytest.raises(Conflict) as raised:
        apply_patch(a_bounced_payment(method="stripe"), {"amount": 6_000}, AT)
    assert raised.value.code == "payment_bounced"
    # But sending its values unchanged changes nothing, so nothing is refused (as for any payment)
    assert apply_patch(payment, {"remark": None, "amount": 10_000}, AT) == (payment, {})


def test_a_bounced_payment_stays_on_record():
    # Given a bounced payment, by cheque or (were it ever bounced) by Stripe (rule: it cannot be deleted; the
    # bounce is checked first)
    for payment in (a_bounced_payment(), a_bounced_payment(method="stripe")):
        with pytest.raises(Conflict) as raised:
            check_deletable(payment)
        refused(raised, Conflict, "payment_bounced",
                "The payment bounced: it stays on record and cannot be deleted.")


# --- allocating to void and credited invoices ------------------------------------------------------------

def test_a_void_invoice_takes_no_allocation_and_every_void_one_is_listed():
    # Given a request naming a payable invoice and two void ones (rule: invoice_void, with each void invoice)
    invoices = {"inv_ok": an_invoice("inv_ok"), "inv_v1": an_invoice("inv_v1", voided_at=T0),
                "inv_v2": an_invoice("inv_v2", voided_at=T0)}
    # When it is allocated
    with pytest.raises(Conflict) as raised:
        allocate(a_payment(), invoices, [("inv_v2", 100), ("inv_ok", 100), ("inv_v1", 100)], AT)
    # Then 409 invoice_void lists the void ones in request order
    refused(raised, Conflict, "invoice_void", "A void invoice takes no allocation.",
            [{"invoice_id": "inv_v2"}, {"invoice_id": "inv_v1"}])


@pytest.mark.parametrize(("payment", "invoices", "requested", "code"), [
    (a_payment(), {"inv_v": an_invoice("inv_v", voided_at=T0)}, [("inv_v", 1), ("inv_missing", 1)],
     "invoice_not_found"),
    (a_payment(), {"inv_v": an_invoice("inv_v", voided_at=T0, org_id="org_2")}, [("inv_v", 1)],
     "invoice_not_in_organization"),
    (a_payment(), {"inv_v": an_invoice("inv_v", voided_at=T0, currency="USD")}, [("inv_v", 1)], "currency_mismatch"),
    (a_payment(), {"inv_v": an_invoice("inv_v", voided_at=T0)}, [("inv_v", 10_001)], "invoice_void"),
    (a_payment(), {"inv_v": an_invoice("inv_v", voided_at=T0)}, [("inv_v", 1)], "invoice_void"),
    (a_payment(amount=1_000_000, allocations=held_invoices(MAX_INVOICES_PER_PAYMENT)),
     {"inv_v": an_invoice("inv_v", voided_at=T0)}, [("inv_v", 1)], "invoice_void"),
], ids=["after_not_found", "after_other_org", "after_currency", "before_over_allocation", "before_overpaid",
        "before_limits"])
def test_invoice_void_comes_after_the_field_problems_and_before_the_money_rules(payment, invoices, requested, code):
    # Given a void invoice with another problem (rule: 422 field problems first, then invoice_void, then
    # over_allocation, invoice_overpaid and the item caps)
    with pytest.raises((Unprocessable, Conflict)) as raised:
        allocate(payment, invoices, requested, AT)
    # Then the first rule in that order answers
    assert raised.value.code == code
    if code == "invoice_not_found":  # a void invoice is no field problem
        assert raised.value.details == [{"invoice_id": "inv_missing", "code": "invoice_not_found"}]


def test_a_credited_invoice_takes_only_what_is_still_due_on_its_net_amount():
    # Given inv_a of 5,000 credited 2,000, and inv_b whose credit note put money in the wallet
    # (rule: a payment is never allocated beyond the net amount, invoice_overpaid)
    invoices = {"inv_a": an_invoice_with("inv_a", credits=(2_000,)),
                "inv_b": an_invoice_with("inv_b", paid=(("pay_2", 5_000),), credits=(1_000,))}
    # When 3,001 goes to inv_a and 1 to inv_b
    with pytest.raises(Conflict) as raised:
        allocate(a_payment(), invoices, [("inv_a", 3_001), ("inv_b", 1)], AT)
    # Then both are overpaid, each with what it still asks for
    refused(raised, Conflict, "invoice_overpaid", "An invoice would be paid beyond its amount.",
            [{"invoice_id": "inv_a", "amount_due": 3_000, "requested": 3_001},
             {"invoice_id": "inv_b", "amount_due": 0, "requested": 1}])
    # And exactly the 3,000 due is accepted, paying it
    after = allocate(a_payment(), invoices, [("inv_a", 3_000)], AT).changes[0].after(AT)
    assert (after.amount_paid, after.amount_due, after.wallet_credit, after.status) == (3_000, 0, 0, "paid")


# --- the wallet below zero -------------------------------------------------------------------------------

def test_a_reversal_may_take_the_wallet_below_zero():
    # Given a wallet holding 1,000 at entry 7 (rule: only a reversal takes a wallet below zero)
    org = an_org(balance=1_000, ledger_seq=7)
    # When 3,000 is reversed
    updated, entries = post(org, [Posting("reversal", -3_000, "pay_1")], actor="usr_b", at=AT)
    # Then it holds -2,000 at entry 8, its version moved by one
    assert updated == org.model_copy(update={"balance": -2_000, "ledger_seq": 8, "version": 5,
                                             "wallet_updated_at": AT})
    assert [entry_fields(e) for e in entries] == [
        {"org_id": "org_1", "partner_id": "ptn_a", "seq": 8, "type": "reversal", "amount": -3_000,
         "balance_after": -2_000, "currency": "SGD", "reference": "pay_1", "created_at": AT, "created_by": "usr_b"}]


@pytest.mark.parametrize("type_", ["top_up", "provision", "auto_credit", "credit_note", "reinstatement"])
def test_a_negative_wallet_takes_every_credit_even_one_that_leaves_it_negative(type_):
    # Given a wallet at -2,000 (rule: a negative wallet takes credits; it stays negative until they cover it)
    org = an_org(balance=-2_000, ledger_seq=3)
    # When 500, then 1,500 are credited
    updated, entries = post(org, [Posting(type_, 500, "r1"), Posting(type_, 1_500, "r2")], actor="usr_b", at=AT)
    # Then it holds -1,500 after the first and exactly 0 after the second
    assert [(e.seq, e.amount, e.balance_after) for e in entries] == [(4, 500, -1_500), (5, 1_500, 0)]
    assert (updated.balance, updated.ledger_seq, updated.version) == (0, 5, 5)


@pytest.mark.parametrize(("balance", "postings", "message"), [
    (1_000, [Posting("usage", -1_001, None)], "The wallet holds SGD 10.00; SGD 10.01 would take it below zero."),
    (1_000, [Posting("withdrawal", -1_001, "wdr_1")],
     "The wallet holds SGD 10.00; SGD 10.01 would take it below zero."),
    (-500, [Posting("withdrawal", -1, "wdr_1")], "The wallet holds SGD -5.00; SGD 0.01 would take it below zero."),
    (-500, [Posting("usage", -1, None)], "The wallet holds SGD -5.00; SGD 0.01 would take it below zero."),
    (1_000, [Posting("reversal", -400, "pay_1"), Posting("usage", -601, None)],  # the balance before it
     "The wallet holds SGD 6.00; SGD 6.01 would take it below zero."),
    (1_000, [Posting("reversal", -1_500, "pay_1"), Posting("top_up", 200, "pay_2"), Posting("usage", -1, None)],
     "The wallet holds SGD -3.00; SGD 0.01 would take it below zero."),
])
def test_a_debit_that_is_not_a_reversal_never_leaves_the_wallet_below_zero(balance, postings, message):
    # Given a wallet (rule: a negative wallet refuses debits and withdrawals; insufficient_balance names the
    # balance before the debit)
    with pytest.raises(Conflict) as raised:
        post(an_org(balance=balance), postings, actor="usr_b", at=AT)
    refused(raised, Conflict, "insufficient_balance", message)


@given(st.integers(-5_000, 5_000), st.lists(st.tuples(st.sampled_from(["reversal", "usage", "withdrawal", "top_up",
                                                                       "credit_note"]),
                                                      st.integers(1, 5_000)), min_size=1, max_size=6))
def test_only_a_reversal_takes_a_wallet_below_zero(opening, moves):
    """Invariant W2: postings are accepted exactly when no debit but a reversal leaves the running balance below
    zero (credits always, reversals always); an accepted run leaves balance == opening + the entries, each entry
    carrying the running balance; a refused one names the balance before the first debit that broke the rule."""
    signed = [Posting(t, -a if t in ("reversal", "usage", "withdrawal") else a, None) for t, a in moves]
    running = [opening + sum(p.amount for p in signed[:i + 1]) for i in range(len(signed))]
    broken = [i for i, p in enumerate(signed) if p.amount < 0 and p.type != "reversal" and running[i] < 0]
    org = an_org(balance=opening, ledger_seq=2)
    try:
        updated, entries = post(org, signed, actor="usr_b", at=AT)
    except Conflict as err:
        assert err.code == "insufficient_balance" and broken
        first = broken[0]
        before = running[first] - signed[first].amount
        assert err.message == (f"The wallet holds {format_amount(before, 'SGD')}; "
                               f"{format_amount(-signed[first].amount, 'SGD')} would take it below zero.")
        return
    assert not broken
    assert [e.balance_after for e in entries] == running and updated.balance == opening + sum(
        e.amount for e in entries)
    assert [e.type for e in entries] == [p.type for p in signed] and updated.version == org.version + 1
