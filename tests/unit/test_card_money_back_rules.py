"""Card money that comes back (issue 11; contract "Card refunds and disputes (Stripe)"), the pure rules:
shared.domain.card_money_back, the payment's refund and dispute sums, and the wallet's refund hold.

Pure: no DynamoDB, no network; `make mutation` runs these against every mutant of shared/domain. Named invariants:
  RF1  whatever views of one refund Stripe showed, in any order and any number of times, the wallet moved exactly
       -amount if the latest of them is `succeeded`, else nothing; a hold is released once a final view is seen.
  DS1  whatever views of one dispute, in any order and repeated, the wallet moved -amount if funds were ever shown
       withdrawn, and +amount back if ever shown reinstated, each once.
  RQ1  a refund asked for here never takes refunded + pending + disputed above the payment, nor holds more than
       the wallet can give.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain import card_money_back as rules
from shared.domain.card_money_back import SeenDispute, SeenRefund
from shared.domain.payment import Dispute, Payment, Refund
from shared.domain.wallet import Posting, post
from shared.errors import Conflict
from tests.unit.test_rules import AT, T0, a_payment, an_org, refused

AMOUNT = 5_000


def a_card_payment(**changes) -> Payment:
    fields = {"method": "stripe", "reference": "pi_1", "amount": AMOUNT, "version": 1}
    return a_payment(**(fields | changes))


def a_refund(**changes) -> Refund:
    fields = {"id": "rfd_1", "amount": 2_000, "status": "pending", "origin": "api", "held": True,
              "created_at": T0, "created_by": "usr_a", "updated_at": T0}
    return Refund(**(fields | changes))


def seen_refund(status: str, **changes) -> SeenRefund:
    fields = {"id": "re_1", "amount": 2_000, "status": status, "refund_id": "rfd_1"}
    return SeenRefund(**(fields | changes))


def seen_dispute(status: str = "needs_response", withdrawn: bool = True, reinstated: bool = False) -> SeenDispute:
    return SeenDispute(id="du_1", amount=AMOUNT, status=status, reason="fraudulent", withdrawn=withdrawn,
                       reinstated=reinstated)


def money(change: rules.Change | None) -> int:
    return sum(p.amount for p in change.postings) if change else 0


# --- reading what Stripe answered ----------------------------------------------------------------------------

def test_a_stripe_refund_is_read_with_its_status_mapped_and_our_id_from_its_metadata():
    obj = {"object": "refund", "id": "re_9", "amount": 700, "currency": "sgd", "status": "requires_action",
           "reason": "duplicate", "metadata": {"refund_id": "rfd_9"}, "failure_reason": None}
    assert SeenRefund.from_stripe(obj) == SeenRefund(id="re_9", amount=700, status="pending", refund_id="rfd_9",
                                                     reason="duplicate", failure_reason=None)
    assert SeenRefund.from_stripe(obj | {"status": "canceled", "metadata": None}) == SeenRefund(
        id="re_9", amount=700, status="failed", refund_id=None, reason="duplicate")
    assert SeenRefund.from_stripe(obj | {"status": "succeeded"}).status == "succeeded"  # type: ignore[union-attr]
    assert SeenRefund.from_stripe(obj | {"status": "failed", "failure_reason": "lost_or_stolen_card"}) == SeenRefund(
        id="re_9", amount=700, status="failed", refund_id="rfd_9", reason="duplicate",
        failure_reason="lost_or_stolen_card")


@pytest.mark.parametrize("bad", [None, [], {"object": "charge", "id": "re_1", "amount": 1, "status": "succeeded"},
                                 {"object": "refund", "id": "", "amount": 1, "status": "succeeded"},
                                 {"object": "refund", "id": "re_1", "amount": 0, "status": "succeeded"},
                                 {"object": "refund", "id": "re_1", "amount": True, "status": "succeeded"},
                                 {"object": "refund", "id": "re_1", "amount": 1.5, "status": "succeeded"},
                                 {"object": "refund", "id": "re_1", "amount": 1, "status": "weird"},
                                 {"object": "refund", "id": None, "amount": 1, "status": "failed"}])
def test_what_is_not_a_refund_stripe_could_send_is_not_read(bad):
    assert SeenRefund.from_stripe(bad) is None


def test_a_dispute_is_withdrawn_and_reinstated_by_its_balance_transactions():
    def dispute(*categories: str, status: str = "needs_response") -> dict:
        moves = [{"object": "balance_transaction", "reporting_category": c} for c in categories]
        return {"object": "dispute", "id": "du_1", "amount": 900, "currency": "sgd", "status": status,
                "reason": "fraudulent", "balance_transactions": [*moves, "txn_not_expanded"]}

    assert SeenDispute.from_stripe(dispute(status="warning_needs_response")) == SeenDispute(
        id="du_1", amount=900, status="warning_needs_response", reason="fraudulent", withdrawn=False,
        reinstated=False)
    assert SeenDispute.from_stripe(dispute("dispute")) == SeenDispute(
        id="du_1", amount=900, status="needs_response", reason="fraudulent", withdrawn=True, reinstated=False)
    assert SeenDispute.from_stripe(dispute("dispute", "dispute_reversal", status="won")) == SeenDispute(
        id="du_1", amount=900, status="won", reason="fraudulent", withdrawn=True, reinstated=True)
    # a reversal alone (its withdrawal not shown) still says the funds had been withdrawn
    assert SeenDispute.from_stripe(dispute("dispute_reversal")).withdrawn is True  # type: ignore[union-attr]
    for bad in (None, dispute() | {"object": "charge"}, dispute() | {"amount": -1}, dispute() | {"status": None},
                dispute() | {"id": 5}):
        assert SeenDispute.from_stripe(bad) is None


# --- the payment's sums ---------------------------------------------------------------------------------------

def test_the_payment_sums_refunds_by_status_and_disputes_not_reinstated():
    payment = a_card_payment(
        refunds=[a_refund(id="rfd_1", amount=100, status="succeeded"), a_refund(id="rfd_2", amount=200),
                 a_refund(id="rfd_3", amount=400, status="failed")],
        disputes=[Dispute(id="du_1", amount=1_000, status="lost", withdrawn=True, created_at=T0, updated_at=T0),
                  Dispute(id="du_2", amount=2_000, status="won", withdrawn=True, reinstated=True, created_at=T0,
                          updated_at=T0),
                  Dispute(id="du_3", amount=800, status="warning_needs_response", created_at=T0, updated_at=T0)])
    assert (payment.refunded_amount, payment.refund_pending_amount, payment.disputed_amount) == (100, 200, 1_000)
    assert payment.refundable_amount == AMOUNT - 100 - 200 - 1_000


# --- asking for a refund --------------------------------------------------------------------------------------

def test_a_refund_asked_for_is_pending_and_holds_its_amount():
    payment, org = a_card_payment(), an_org(balance=3_000, refund_held=500, version=4)
    change = rules.request_refund(payment, org, amount=2_000, reason="requested_by_customer", refund_id="rfd_1",
                                  request_key="k", actor="usr_a", at=AT)
    assert change.payment.refunds == [Refund(id="rfd_1", amount=2_000, reason="requested_by_customer",
                                             status="pending", origin="api", held=True, request_key="k",
                                             created_at=AT, created_by="usr_a", updated_at=AT)]
    assert (change.payment.version, change.payment.updated_at) == (2, AT)
    assert (change.postings, change.hold, change.action) == ([], 2_000, "payment.refund_requested")
    assert change.details == {"refund_id": "rfd_1", "amount": 2_000, "reason": "requested_by_customer"}
    held, entries = change.apply(org, actor="usr_a", at=AT)
    assert (held.balance, held.refund_held, held.version, entries) == (3_000, 2_500, 5, [])


def test_a_refund_beyond_what_is_left_of_the_payment_is_refused():
    payment = a_card_payment(refunds=[a_refund(amount=1_000, status="succeeded"), a_refund(id="rfd_2", amount=500)])
    with pytest.raises(Conflict) as raised:
        rules.request_refund(payment, an_org(balance=10_000), amount=3_501, reason=None, refund_id="rfd_3",
                             request_key=None, actor="usr_a", at=AT)
    refused(raised, Conflict, "refund_exceeds_payment",
            "SGD 35.00 of this payment can still be refunded (refunded SGD 10.00, pending SGD 5.00, disputed "
            "SGD 0.00).")
    ok = rules.request_refund(payment, an_org(balance=10_000), amount=3_500, reason=None, refund_id="rfd_3",
                              request_key=None, actor="usr_a", at=AT)
    assert ok.payment.refundable_amount == 0


def test_a_refund_beyond_the_wallet_is_refused_credit_already_used_cannot_be_refunded():
    org = an_org(balance=3_000, refund_held=1_000)
    with pytest.raises(Conflict) as raised:
        rules.request_refund(a_card_payment(), org, amount=2_001, reason=None, refund_id="rfd_1", request_key=None,
                             actor="usr_a", at=AT)
    refused(raised, Conflict, "insufficient_balance",
            "The wallet can give back SGD 20.00: credit already used cannot be refunded.")
    with pytest.raises(Conflict) as below_zero:
        rules.request_refund(a_card_payment(), an_org(balance=-50), amount=1, reason=None, refund_id="rfd_1",
                             request_key=None, actor="usr_a", at=AT)
    refused(below_zero, Conflict, "insufficient_balance",
            "The wallet can give back SGD 0.00: credit already used cannot be refunded.")
    assert rules.request_refund(a_card_payment(), org, amount=2_000, reason=None, refund_id="rfd_1", request_key=None,
                                actor="usr_a", at=AT).hold == 2_000


@pytest.mark.parametrize("payment", [a_payment(), a_card_payment(org_id=None)], ids=["cheque", "unassigned"])
def test_only_a_card_payment_is_refunded(payment):
    with pytest.raises(Conflict) as raised:
        rules.request_refund(payment, an_org(balance=10_000), amount=1, reason=None, refund_id="rfd_1",
                             request_key=None, actor="usr_a", at=AT)
    refused(raised, Conflict, "not_a_card_payment",
            "Only a payment taken by card through Stripe can be refunded to the card.")
    rules.check_card_payment(a_card_payment())


def test_a_payment_is_refunded_only_from_the_wallet_it_credited():
    with pytest.raises(ValueError, match="the wallet it credited"):
        rules.request_refund(a_card_payment(org_id="org_2"), an_org(balance=10_000), amount=1, reason=None,
                             refund_id="rfd_1", request_key=None, actor="usr_a", at=AT)


def test_a_payment_takes_a_bounded_number_of_refunds_asked_for_here():
    many = [a_refund(id=f"rfd_{n}", amount=1, status="failed") for n in range(rules.MAX_REFUNDS_PER_PAYMENT - 1)]
    dashboard = [a_refund(id="rfd_d", amount=1, status="succeeded", origin="stripe", held=False)]
    payment = a_card_payment(refunds=many + dashboard)
    rules.request_refund(payment, an_org(balance=10_000), amount=1, reason=None, refund_id="rfd_x", request_key=None,
                         actor="usr_a", at=AT)  # the Dashboard's refund does not count
    full = a_card_payment(refunds=[*many, a_refund(id="rfd_last", amount=1, status="failed")])
    with pytest.raises(Conflict) as raised:
        rules.request_refund(full, an_org(balance=10_000), amount=1, reason=None, refund_id="rfd_x", request_key=None,
                             actor="usr_a", at=AT)
    refused(raised, Conflict, "refund_limit_reached", "A payment takes at most 50 refunds.")


@given(amounts=st.lists(st.integers(1, 3_000), max_size=8), balance=st.integers(-1_000, 8_000),
       disputed=st.sampled_from([0, 1_000]))
def test_rq1_refunds_asked_for_never_exceed_the_payment_or_the_wallet(amounts, balance, disputed):
    disputes = [Dispute(id="du_1", amount=disputed, status="lost", withdrawn=True, created_at=T0, updated_at=T0)
                ] if disputed else []
    payment, org = a_card_payment(disputes=disputes), an_org(balance=balance)
    for n, amount in enumerate(amounts):
        try:
            change = rules.request_refund(payment, org, amount=amount, reason=None, refund_id=f"rfd_{n}",
                                          request_key=None, actor="usr_a", at=AT)
        except Conflict as error:
            assert error.code in ("refund_exceeds_payment", "insufficient_balance")
            assert amount > payment.refundable_amount or amount > org.available
            continue
        payment, (org, _) = change.payment, change.apply(org, actor="usr_a", at=AT)
        assert payment.refunded_amount + payment.refund_pending_amount + payment.disputed_amount <= AMOUNT
        assert 0 <= org.refund_held <= max(balance, 0) and org.balance == balance


# --- what Stripe shows of a refund ----------------------------------------------------------------------------

def test_stripe_confirming_a_refund_asked_for_here_debits_it_and_releases_its_hold():
    payment = a_card_payment(refunds=[a_refund()])
    change = rules.apply_refund(payment, seen_refund("succeeded"), actor="system:stripe", at=AT)
    assert change is not None
    assert change.payment.refunds == [a_refund(status="succeeded", stripe_refund_id="re_1", held=False,
                                               updated_at=AT)]
    assert (change.postings, change.hold, change.action) == (
        [Posting("reversal", -2_000, "rfd_1")], -2_000, "payment.refunded")
    assert change.details == {"refund_id": "rfd_1", "stripe_refund_id": "re_1", "amount": 2_000,
                              "status": "succeeded", "origin": "api", "failure_reason": None}
    org, entries = change.apply(an_org(balance=2_500, refund_held=2_000), actor="system:stripe", at=AT)
    assert (org.balance, org.refund_held, [e.amount for e in entries], entries[0].type) == (500, 0, [-2_000],
                                                                                           "reversal")
    assert rules.apply_refund(change.payment, seen_refund("succeeded"), actor="system:stripe", at=AT) is None


def test_a_refund_made_in_stripes_dashboard_is_recorded_and_debited_once():
    payment = a_card_payment()
    change = rules.apply_refund(payment, seen_refund("succeeded", id="re_dash", refund_id=None, amount=700,
                                                     reason="duplicate"), actor="system:stripe", at=AT)
    assert change is not None
    [refund] = change.payment.refunds
    assert (refund.origin, refund.stripe_refund_id, refund.amount, refund.status, refund.held, refund.reason) == (
        "stripe", "re_dash", 700, "succeeded", False, "duplicate")
    assert refund.id.startswith("rfd_") and (refund.created_at, refund.created_by) == (AT, "system:stripe")
    assert (change.postings, change.hold, change.action) == ([Posting("reversal", -700, refund.id)], 0,
                                                             "payment.refund_recorded")
    # a Dashboard refund below the wallet's balance may take it below zero (the card already has the money)
    org, _ = change.apply(an_org(balance=100), actor="system:stripe", at=AT)
    assert org.balance == -600
    assert rules.apply_refund(change.payment, seen_refund("succeeded", id="re_dash", refund_id=None, amount=700),
                              actor="system:stripe", at=AT) is None
    pending = rules.apply_refund(payment, seen_refund("pending", id="re_p", refund_id=None), actor="s", at=AT)
    assert pending is not None and (pending.postings, pending.payment.refunds[0].status) == ([], "pending")


def test_another_payments_refund_id_in_the_metadata_is_a_refund_of_its_own():
    payment = a_card_payment(refunds=[a_refund(stripe_refund_id="re_1", status="succeeded", held=False)])
    change = rules.apply_refund(payment, seen_refund("succeeded", id="re_2", refund_id="rfd_1"), actor="s", at=AT)
    assert change is not None and [r.stripe_refund_id for r in change.payment.refunds] == ["re_1", "re_2"]


def test_a_refund_stripe_fails_releases_its_hold_or_gives_its_money_back():
    payment = a_card_payment(refunds=[a_refund()])
    failed = rules.apply_refund(payment, seen_refund("failed", failure_reason="expired_or_canceled_card"),
                                actor="s", at=AT)
    assert failed is not None
    assert (failed.postings, failed.hold, failed.action) == ([], -2_000, "payment.refund_failed")
    assert failed.payment.refunds[0].failure_reason == "expired_or_canceled_card"
    assert rules.apply_refund(failed.payment, seen_refund("succeeded"), actor="s", at=AT) is None  # failed is final
    succeeded = rules.apply_refund(payment, seen_refund("succeeded"), actor="s", at=AT)
    assert succeeded is not None
    back = rules.apply_refund(succeeded.payment, seen_refund("failed"), actor="s", at=AT)
    assert back is not None
    assert (back.postings, back.hold, back.action) == ([Posting("reinstatement", 2_000, "rfd_1")], 0,
                                                       "payment.refund_failed")
    assert rules.apply_refund(succeeded.payment, seen_refund("pending"), actor="s", at=AT) is None


def test_a_pending_answer_links_the_stripe_refund_and_keeps_the_hold():
    change = rules.apply_refund(a_card_payment(refunds=[a_refund()]), seen_refund("pending"), actor="s", at=AT)
    assert change is not None
    assert (change.postings, change.hold, change.action) == ([], 0, "payment.refund_updated")
    assert change.payment.refunds[0] == a_refund(stripe_refund_id="re_1", updated_at=AT)
    assert change.apply(an_org(balance=9), actor="s", at=AT) == (change.apply(an_org(balance=9), actor="s", at=AT)[0],
                                                                 [])


def test_stripe_refusing_a_refund_fails_it_and_releases_its_hold_once():
    payment = a_card_payment(refunds=[a_refund()])
    change = rules.refuse_refund(payment, "rfd_1", "charge_disputed", at=AT)
    assert change is not None
    assert change.payment.refunds == [a_refund(status="failed", failure_reason="charge_disputed", held=False,
                                               updated_at=AT)]
    assert (change.postings, change.hold, change.action) == ([], -2_000, "payment.refund_failed")
    assert rules.refuse_refund(change.payment, "rfd_1", "again", at=AT) is None
    assert rules.refuse_refund(payment, "rfd_9", "x", at=AT) is None
    linked = a_card_payment(refunds=[a_refund(stripe_refund_id="re_1")])
    assert rules.refuse_refund(linked, "rfd_1", "x", at=AT) is None
    unheld = rules.refuse_refund(a_card_payment(refunds=[a_refund(held=False)]), "rfd_1", "x", at=AT)
    assert unheld is not None and unheld.hold == 0


HISTORIES = [("pending", "succeeded"), ("pending", "failed"), ("pending", "succeeded", "failed"), ("succeeded",),
             ("succeeded", "failed")]
RANK = {"pending": 0, "succeeded": 1, "failed": 2}


@given(history=st.sampled_from(HISTORIES), data=st.data(), ours=st.booleans())
def test_rf1_any_order_and_repetition_of_a_refunds_views_moves_its_money_once(history, data, ours):
    views = data.draw(st.lists(st.sampled_from(history), min_size=1, max_size=8))
    payment = a_card_payment(refunds=[a_refund()] if ours else [])
    org = an_org(balance=10_000, refund_held=2_000 if ours else 0)
    start = org.balance
    for status in views:
        change = rules.apply_refund(payment, seen_refund(status, refund_id="rfd_1" if ours else None),
                                    actor="s", at=AT)
        if change is not None:
            payment, (org, _) = change.payment, change.apply(org, actor="s", at=AT)
    latest = max(views, key=RANK.__getitem__)
    first_final = next((v for v in views if v != "pending"), None)
    # money: a refund first seen final as `failed` never moved any; one seen `succeeded` first moves -amount,
    # and comes back if it is later shown failed
    expected = 0 if first_final in (None, "failed") or latest == "failed" else -2_000
    assert org.balance - start == expected
    assert org.refund_held == (2_000 if ours and first_final is None else 0)
    assert len(payment.refunds) == 1


# --- what Stripe shows of a dispute ---------------------------------------------------------------------------

def test_a_disputes_withdrawal_debits_once_and_its_reinstatement_credits_once():
    opened = rules.apply_dispute(a_card_payment(), seen_dispute(), at=AT)
    assert opened is not None
    assert opened.payment.disputes == [Dispute(id="du_1", amount=AMOUNT, status="needs_response",
                                               reason="fraudulent", withdrawn=True, created_at=AT, updated_at=AT)]
    assert (opened.postings, opened.action) == ([Posting("reversal", -AMOUNT, "du_1")],
                                                "payment.dispute_funds_withdrawn")
    assert opened.details == {"dispute_id": "du_1", "amount": AMOUNT, "status": "needs_response",
                              "withdrawn": True, "reinstated": False}
    assert opened.payment.disputed_amount == AMOUNT
    assert rules.apply_dispute(opened.payment, seen_dispute(), at=AT) is None
    won = rules.apply_dispute(opened.payment, seen_dispute("won", reinstated=True), at=AT)
    assert won is not None
    assert (won.postings, won.action) == ([Posting("reinstatement", AMOUNT, "du_1")],
                                          "payment.dispute_funds_reinstated")
    assert won.payment.disputed_amount == 0 and won.payment.disputes[0].status == "won"
    # a late view from before (needs_response, not yet reinstated) changes nothing: won is final, flags only add
    assert rules.apply_dispute(won.payment, seen_dispute(), at=AT) is None


def test_an_inquiry_moves_no_money_until_funds_are_withdrawn():
    inquiry = rules.apply_dispute(a_card_payment(), seen_dispute("warning_needs_response", withdrawn=False), at=AT)
    assert inquiry is not None and (inquiry.postings, inquiry.action) == ([], "payment.dispute_updated")
    review = rules.apply_dispute(inquiry.payment, seen_dispute("warning_under_review", withdrawn=False), at=AT)
    assert review is not None and review.payment.disputes[0].status == "warning_under_review"
    both = rules.apply_dispute(a_card_payment(), seen_dispute("won", reinstated=True), at=AT)
    assert both is not None and both.postings == [Posting("reversal", -AMOUNT, "du_1"),
                                                  Posting("reinstatement", AMOUNT, "du_1")]
    assert both.action == "payment.dispute_funds_reinstated"
    org, entries = both.apply(an_org(balance=0), actor="s", at=AT)
    assert (org.balance, [e.balance_after for e in entries]) == (0, [-AMOUNT, 0])


DISPUTE_VIEWS = {"created": ("warning_needs_response", False, False), "withdrawn": ("needs_response", True, False),
                 "review": ("under_review", True, False), "won": ("won", True, True), "lost": ("lost", True, False)}


@given(data=st.data(), outcome=st.sampled_from(["won", "lost"]))
def test_ds1_any_order_and_repetition_of_a_disputes_views_moves_each_direction_once(data, outcome):
    names = data.draw(st.lists(st.sampled_from(["created", "withdrawn", "review", outcome]), min_size=1,
                               max_size=10))
    payment, org = a_card_payment(), an_org(balance=AMOUNT)
    reversals = reinstatements = 0
    for name in names:
        status, withdrawn, reinstated = DISPUTE_VIEWS[name]
        change = rules.apply_dispute(payment, seen_dispute(status, withdrawn, reinstated), at=AT)
        if change is not None:
            reversals += sum(p.type == "reversal" for p in change.postings)
            reinstatements += sum(p.type == "reinstatement" for p in change.postings)
            payment, (org, _) = change.payment, change.apply(org, actor="s", at=AT)
    was_withdrawn = any(DISPUTE_VIEWS[n][1] for n in names)
    was_reinstated = any(DISPUTE_VIEWS[n][2] for n in names)
    assert (reversals, reinstatements) == (int(was_withdrawn), int(was_reinstated))
    assert org.balance == AMOUNT - AMOUNT * was_withdrawn + AMOUNT * was_reinstated
    if outcome in names:
        assert payment.disputes[0].status == outcome  # final, whatever came after


# --- the wallet's hold ----------------------------------------------------------------------------------------

def test_held_refund_money_cannot_be_spent_but_a_reversal_may_go_below():
    org = an_org(balance=3_000, refund_held=2_000)
    with pytest.raises(Conflict) as raised:
        post(org, [Posting("usage", -1_001, None)], actor="usr_a", at=AT)
    refused(raised, Conflict, "insufficient_balance",
            "The wallet holds SGD 30.00, of which SGD 20.00 is held for card refunds; SGD 10.01 would take it "
            "below zero.")
    assert post(org, [Posting("usage", -1_000, None)], actor="usr_a", at=AT)[0].balance == 2_000
    assert post(org, [Posting("reversal", -5_000, None)], actor="usr_a", at=AT)[0].balance == -2_000
    assert org.available == 1_000


# --- what the mutants showed untested ---------------------------------------------------------------------

def test_the_smallest_amount_stripe_sends_is_read():
    obj = {"object": "refund", "id": "re_1", "amount": 1, "currency": "sgd", "status": "succeeded"}
    assert SeenRefund.from_stripe(obj) == SeenRefund(id="re_1", amount=1, status="succeeded", refund_id=None)


def test_amounts_stripe_shows_are_read_in_this_services_minor_units_and_never_rounded():
    # Given an ISK refund and dispute as Stripe shows them (ISK is two-decimal at Stripe: 70000 is ISK 700)
    refund = {"object": "refund", "id": "re_1", "amount": 70_000, "currency": "isk", "status": "succeeded"}
    dispute = {"object": "dispute", "id": "du_1", "amount": 90_000, "currency": "isk", "status": "needs_response"}
    # Then they are read as ISK 700 and ISK 900
    assert SeenRefund.from_stripe(refund).amount == 700  # type: ignore[union-attr]
    assert SeenDispute.from_stripe(dispute).amount == 900  # type: ignore[union-attr]
    # And a fraction of a krona is an error, never a rounded amount; an unknown currency is not ours
    with pytest.raises(ValueError, match="not a whole number"):
        SeenRefund.from_stripe(refund | {"amount": 70_050})
    assert SeenRefund.from_stripe(refund | {"currency": "xyz"}) is None
    assert SeenRefund.from_stripe({k: v for k, v in refund.items() if k != "currency"}) is None


def test_a_change_moves_only_its_own_refund_or_dispute_and_stamps_the_payment():
    others = [a_refund(id="rfd_0", status="succeeded", stripe_refund_id="re_0", held=False)]
    payment = a_card_payment(refunds=[*others, a_refund()], disputes=[
        Dispute(id="du_0", amount=100, status="lost", withdrawn=True, created_at=T0, updated_at=T0),
        Dispute(id="du_1", amount=AMOUNT, status="needs_response", withdrawn=True, created_at=T0, updated_at=T0)])
    refunded = rules.apply_refund(payment, seen_refund("succeeded"), actor="s", at=AT)
    assert refunded is not None and refunded.payment.refunds[0] == others[0]
    assert (refunded.payment.updated_at, refunded.payment.version) == (AT, 2)
    refused_ = rules.refuse_refund(payment, "rfd_1", "charge_disputed", at=AT)
    assert refused_ is not None and refused_.payment.refunds[0] == others[0]
    assert refused_.payment.updated_at == AT
    assert refused_.details == {"refund_id": "rfd_1", "stripe_refund_id": None, "amount": 2_000, "status": "failed",
                                "origin": "api", "failure_reason": "charge_disputed"}
    won = rules.apply_dispute(payment, seen_dispute("won", reinstated=True), at=AT)
    assert won is not None and won.payment.disputes[0] == payment.disputes[0]
    assert won.payment.disputes[1].updated_at == AT and won.payment.disputes[1].created_at == T0
    assert (won.payment.updated_at, won.postings) == (AT, [Posting("reinstatement", AMOUNT, "du_1")])


def test_a_refund_first_seen_in_stripe_keeps_stripes_failure_reason_and_says_so():
    change = rules.apply_refund(a_card_payment(), seen_refund("failed", refund_id=None,
                                                              failure_reason="lost_or_stolen_card"), actor="s", at=AT)
    assert change is not None
    [refund] = change.payment.refunds
    assert (refund.status, refund.failure_reason, change.postings, change.payment.updated_at) == (
        "failed", "lost_or_stolen_card", [], AT)
    assert change.details == {"refund_id": refund.id, "stripe_refund_id": "re_1", "amount": 2_000,
                              "status": "failed", "origin": "stripe", "failure_reason": "lost_or_stolen_card"}


def test_a_hold_alone_does_not_touch_the_ledger_or_its_time():
    org = an_org(balance=3_000, wallet_updated_at=T0)
    change = rules.request_refund(a_card_payment(), org, amount=1_000, reason=None, refund_id="rfd_1",
                                  request_key=None, actor="u", at=AT)
    held, entries = change.apply(org, actor="u", at=AT)
    assert (held.wallet_updated_at, held.ledger_seq, entries, held.refund_held) == (T0, 0, [], 1_000)


def test_a_payment_of_another_wallet_is_a_bug_named_as_such():
    with pytest.raises(ValueError, match=r"^a payment is refunded from the wallet it credited$"):
        rules.request_refund(a_card_payment(org_id="org_2"), an_org(balance=10), amount=1, reason=None,
                             refund_id="rfd_1", request_key=None, actor="u", at=AT)


def test_a_future_date_is_a_validation_error_unless_told_otherwise():
    from datetime import date

    from shared.domain.payments import check_not_future
    from shared.errors import Unprocessable

    with pytest.raises(Unprocessable) as raised:
        check_not_future("2026-11-23", date(2026, 11, 21), "bounced_date")
    refused(raised, Unprocessable, "validation_error", "bounced_date cannot be in the future.",
            [{"field": "bounced_date", "message": "is in the future"}])


# --- the reconciliation's schedule (shared.domain.reconciling) ------------------------------------------

def test_a_waiting_record_is_first_looked_at_15_minutes_on_then_later_and_later():
    from datetime import UTC, datetime

    from shared.domain.reconciling import Reconciling, due, first_look, key_expired, next_look

    since = "2026-11-21T09:00:00.000Z"
    assert first_look(since) == "2026-11-21T09:15:00.000Z" == due(since, None)
    now = datetime(2026, 11, 21, 9, 15, tzinfo=UTC)
    gaps, schedule = [], None
    for _ in range(8):
        schedule = next_look(since, schedule, now, may_stop=True)
        gaps.append(datetime.fromisoformat(schedule.next_at) - now)
    assert [int(g.total_seconds() // 60) for g in gaps] == [15, 30, 60, 120, 240, 360, 360, 360]
    assert schedule == Reconciling(next_at="2026-11-21T15:15:00.000Z", looks=8, stopped=False, since=since)
    assert due(since, schedule) == "2026-11-21T15:15:00.000Z"
    # after 3 days it stops, unless it may not (a held refund is never given up)
    late = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert next_look(since, schedule, late, may_stop=True).stopped is True
    assert next_look(since, schedule, late, may_stop=False).stopped is False
    assert next_look(since, schedule, datetime(2026, 11, 24, 8, 59, tzinfo=UTC), may_stop=True).stopped is False
    assert due(since, Reconciling(next_at="x", looks=9, stopped=True)) is None
    # a request first sent 23 hours ago may no longer be resent with its key
    assert key_expired(since, datetime(2026, 11, 22, 8, 0, tzinfo=UTC)) is True
    assert key_expired(since, datetime(2026, 11, 22, 7, 59, tzinfo=UTC)) is False
    assert next_look(since, None, now, may_stop=True).looks == 1
