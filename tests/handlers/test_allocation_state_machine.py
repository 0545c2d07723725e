"""A hypothesis state machine over the allocation API and the money that comes back, with the real handlers and
DynamoDB.

Steps: record, assign, un-assign, allocate, release, top up, debit, edit amount, delete; credit note, void,
withdraw, bounce. After every step, from the table (consistent reads by id), these invariants hold:
  I1 a payment's allocated amount <= its amount, and its status matches its money; a bounced payment has no
     allocation left;
  I2 an invoice's paid amount <= its amount less its credit notes, plus exactly the credit its credit notes put in
     the wallet (paid + credited - amount, when positive); credited <= amount; its status matches its money; a void
     invoice has nothing paid or credited;
  I3 what payments allocated to an invoice equals what the invoice shows as paid;
  I4 a wallet's balance equals the sum of its ledger entries, and goes below zero only by a `reversal`;
  I5 each top-up invoice has exactly one more `provision` entry than bounces took back from it (1 while
     provisioned, 0 otherwise, counting the reversals' breakdown in the audit);
  I6 no payment's assignment was edited more than five times;
  I7 money adds up: each wallet holds exactly the wallet top-ups of live payments, plus its provisioned top-up
     invoices, plus its invoices' credit-note credit, less its usage and withdrawals;
  I8 credit note numbers are CN-000001.. with no gap and no repeat;
and no request ever answers 5xx.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from local.aws import LOCAL_CREDENTIALS_ENV, LocalAws
from local.lambdas import FunctionHost
from local.stripe import NO_STRIPE
from local.template import Template
from shared.container import Container
from shared.domain.invoice import Invoice
from shared.domain.organization import LedgerEntry, Organization
from shared.domain.payment import Payment
from shared.repositories.dynamo import values
from shared.repositories.registry import record_of
from shared.settings import Settings
from tests.conftest import new_partner
from tests.handlers.conftest import NO_KEY, Lambdas, admin

STEPS: Counter[str] = Counter()
ENV: dict[str, Any] = {}
# `make test` runs at least MIN_STEPS steps (the test after the machine checks it); more with the variables.
EXAMPLES = int(os.environ.get("STATE_MACHINE_EXAMPLES", 45))
STEP_COUNT = int(os.environ.get("STATE_MACHINE_STEPS", 50))
MIN_STEPS = int(os.environ.get("STATE_MACHINE_MIN_STEPS", 2_000))  # ~41 steps an example on average


class AllocationMachine(RuleBasedStateMachine):
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.api, self.deps = ENV["lambdas"], ENV["deps"]
        self.partner = new_partner()
        self.who = admin(self.partner)
        self.orgs = [self._call("accounts", "create_organization", body={"name": n, "currency": "SGD"},
                                headers=NO_KEY)[1] for n in ("A", "B")]
        self.invoices = []
        for org in self.orgs:
            for amount, kind in ((3_000, "standard"), (5_000, "standard"), (2_000, "top_up"), (4_000, "top_up")):
                self.invoices.append(self._call("allocation", "create_invoice", headers=NO_KEY, body={
                    "org_id": org["id"], "type": kind, "amount": amount, "currency": "SGD",
                    "issued_date": "2026-11-01"})[1])
        self.payment_ids: list[str] = []
        self.ledgers: dict[str, list] = {}
        self.unprovisioned: Counter[str] = Counter()  # per top-up invoice: how many bounces took its provisioning

    def _call(self, function: str, event: str, **kw):
        status, body = getattr(self.api, function)(event, **self.who, **kw)
        assert status < 500, (event, status, body)
        return status, body

    @rule(target=payments, amount=st.integers(1, 12_000), org=st.none() | st.sampled_from([0, 1]))
    def record(self, amount, org):
        body = {"amount": amount, "currency": "SGD", "received_date": "2026-11-20", "method": "cheque"}
        if org is not None:
            body["org_id"] = self.orgs[org]["id"]
        status, payment = self._call("payments", "create_payment", body=body, headers=NO_KEY)
        assert status == 201
        STEPS["record"] += 1
        self.payment_ids.append(payment["id"])
        return payment["id"]

    @rule(payment=payments, org=st.sampled_from([0, 1]))
    def assign(self, payment, org):
        status, _ = self._call("allocation", "assign_payment", path={"payment_id": payment},
                               body={"org_id": self.orgs[org]["id"]})
        assert status in (200, 404, 409)
        STEPS["assign"] += 1

    @rule(payment=payments)
    def unassign(self, payment):
        status, _ = self._call("allocation", "unassign_payment", path={"payment_id": payment})
        assert status in (200, 404, 409)
        STEPS["unassign"] += 1

    @rule(payment=payments, picks=st.lists(st.tuples(st.integers(0, 7), st.integers(1, 5_000)), min_size=1,
                                           max_size=3, unique_by=lambda t: t[0]))
    def allocate(self, payment, picks):
        body = {"allocations": [{"invoice_id": self.invoices[i]["id"], "amount": a} for i, a in picks]}
        status, _ = self._call("allocation", "allocate_payment", path={"payment_id": payment}, body=body,
                               headers=NO_KEY)
        assert status in (200, 404, 409, 422)
        STEPS["allocate"] += 1

    @rule(payment=payments, invoice=st.integers(0, 7))
    def release(self, payment, invoice):
        status, _ = self._call("allocation", "release_allocation",
                               path={"payment_id": payment, "invoice_id": self.invoices[invoice]["id"]})
        assert status in (200, 404, 409)
        STEPS["release"] += 1

    @rule(payment=payments, amount=st.integers(1, 6_000))
    def top_up(self, payment, amount):
        status, _ = self._call("allocation", "top_up_from_payment", path={"payment_id": payment},
                               body={"amount": amount}, headers=NO_KEY)
        assert status in (200, 404, 409)
        STEPS["top_up"] += 1

    @precondition(lambda self: self.payment_ids)  # no wallet has money before a payment exists
    @rule(org=st.sampled_from([0, 1]), amount=st.integers(1, 6_000))
    def debit(self, org, amount):
        status, _ = self._call("accounts", "debit_wallet", path={"org_id": self.orgs[org]["id"]},
                               body={"amount": amount, "reference": "usage"}, headers=NO_KEY)
        assert status in (201, 409)
        STEPS["debit"] += 1

    @rule(payment=payments, amount=st.integers(1, 12_000))
    def edit_amount(self, payment, amount):
        status, _ = self._call("payments", "patch_payment", path={"payment_id": payment}, body={"amount": amount},
                               headers={"if-match": None})
        assert status in (200, 404, 409)
        STEPS["edit_amount"] += 1

    @rule(payment=payments)
    def delete(self, payment):
        status, _ = self._call("payments", "delete_payment", path={"payment_id": payment})
        assert status in (204, 404, 409)
        STEPS["delete"] += 1

    @rule(invoice=st.integers(0, 7), amount=st.integers(1, 6_000),
          reason=st.sampled_from(["duplicate", "billing_error", "service_issue", "goodwill", "other"]))
    def credit_note(self, invoice, amount, reason):
        status, body = self._call("allocation", "create_credit_note", path={"invoice_id": self.invoices[invoice]["id"]},
                                  body={"amount": amount, "reason": reason}, headers=NO_KEY)
        assert status in (201, 409), body
        if status == 201:
            assert body["due_reduced"] + body["wallet_credited"] == amount
        STEPS["credit_note"] += 1

    @rule(invoice=st.sampled_from([1, 5]))  # one standard invoice of each organization: voiding the others too
    def void(self, invoice):                # would leave the other steps little to pay
        status, body = self._call("allocation", "void_invoice", path={"invoice_id": self.invoices[invoice]["id"]},
                                  body={"reason": "issued in error"}, headers=NO_KEY)
        assert status in (200, 409), body
        STEPS["void"] += 1

    @rule(org=st.sampled_from([0, 1]), amount=st.integers(1, 6_000))
    def withdraw(self, org, amount):
        status, body = self._call("accounts", "withdraw", path={"org_id": self.orgs[org]["id"]},
                                  body={"amount": amount, "method": "cheque"}, headers=NO_KEY)
        assert status in (201, 409), body
        STEPS["withdraw"] += 1

    @rule(payment=payments)
    def bounce(self, payment):
        before = self.deps.store.get(Payment, payment)
        paid = [a.invoice_id for a in before.allocations if a.invoice_id] if before else []
        provisioned = [i for i, inv in self.deps.store.get_many(Invoice, paid).items() if inv.provisioned_at]
        status, body = self._call("allocation", "bounce_payment", path={"payment_id": payment},
                                  body={"bounced_date": "2026-11-25", "reason": "cheque returned"}, headers=NO_KEY)
        assert status in (200, 404, 409), body
        if status == 200:
            self.unprovisioned.update(provisioned)
        STEPS["bounce"] += 1

    def _ledger(self, org_id: str) -> list:
        """The organization's ledger, oldest first: entries are immutable, so each check reads only the new ones
        (a strongly consistent Query after the last entry seen)."""
        seen = self.ledgers.setdefault(org_id, [])
        lower = f"LEDGER#{seen[-1].seq + 1:012d}" if seen else "LEDGER#"
        items, _ = self.deps.db.query(key_condition="pk = :pk AND sk BETWEEN :lo AND :hi", names={},
                                      vals=values(pk=f"ORG#{org_id}", lo=lower, hi="LEDGER#~"), consistent=True)
        seen += [record_of(LedgerEntry, i) for i in items]
        return seen

    @invariant()
    def money_adds_up(self):
        found = (self.deps.store.batch().add_all(Payment, self.payment_ids)  # consistent reads, one round trip
                 .add_all(Invoice, (i["id"] for i in self.invoices)).add_all(Organization, (o["id"] for o in self.orgs))
                 .fetch())
        payments = [p for p in (found.get(Payment, i) for i in self.payment_ids) if p is not None]
        invoices = [found.get(Invoice, i["id"]) for i in self.invoices]
        allocated_to: Counter[str] = Counter()
        topped_up: Counter[str] = Counter()
        for p in payments:
            assert 0 <= p.allocated_amount <= p.amount  # I1
            assert p.status == ("bounced" if p.bounced_date else "unassigned" if p.org_id is None else
                                "assigned" if p.allocated_amount == 0 else
                                "allocated" if p.allocated_amount == p.amount else "partially_allocated")
            assert p.org_id is not None or not p.allocations
            assert not (p.bounced_date and p.allocations)  # I1: a bounced payment has no allocation left
            assert p.assignment_edits <= 5  # I6
            for a in p.allocations:
                if a.invoice_id:
                    allocated_to[a.invoice_id] += a.amount
                else:
                    topped_up[p.org_id] += a.amount
        numbers = []
        for inv in invoices:
            credit = max(0, inv.amount_paid + inv.amount_credited - inv.amount)  # what its credit notes put in
            assert 0 <= inv.amount_credited <= inv.amount  # I2: never over-credited
            assert inv.amount_credited == sum(c.amount for c in inv.credit_notes)
            assert 0 <= inv.amount_paid <= inv.amount - inv.amount_credited + credit  # I2: never overpaid
            assert credit == 0 or inv.amount_paid <= inv.amount  # credit only from money that really paid it
            if inv.voided_at:
                assert inv.amount_paid == inv.amount_credited == 0 and not inv.allocations
            due = max(0, inv.amount - inv.amount_credited - inv.amount_paid)
            expected = ("void" if inv.voided_at else
                        "provisioned" if inv.type == "top_up" and inv.amount_paid == inv.amount else
                        "paid" if due == 0 else "unpaid" if inv.amount_paid == 0 else "partially_paid")
            assert inv.status == expected, (inv.status, expected)
            assert inv.amount_due == (0 if inv.voided_at else due)
            assert inv.amount_paid == allocated_to[inv.id]  # I3
            numbers += [c.number for c in inv.credit_notes]
        assert sorted(numbers) == [f"CN-{n:06d}" for n in range(1, len(numbers) + 1)]  # I8
        for org in self.orgs:
            stored = found.get(Organization, org["id"])
            entries = self._ledger(org["id"])
            assert stored.balance == sum(e.amount for e in entries)  # I4
            # I4: below zero only by a reversal (a credit to a negative wallet may leave it negative)
            assert all(e.balance_after >= 0 for e in entries if e.amount < 0 and e.type != "reversal")
            provisions = Counter(e.reference for e in entries if e.type == "provision")
            mine = [inv for inv in invoices if inv.org_id == org["id"]]
            for inv in mine:
                if inv.type == "top_up":
                    assert provisions[inv.id] - self.unprovisioned[inv.id] == (  # I5
                        1 if inv.status == "provisioned" else 0)
            spent = sum(-e.amount for e in entries if e.type in ("usage", "withdrawal"))
            assert stored.balance == (topped_up[org["id"]]  # I7
                                      + sum(inv.amount for inv in mine if inv.status == "provisioned")
                                      + sum(max(0, inv.amount_paid + inv.amount_credited - inv.amount) for inv in mine)
                                      - spent), stored.balance
        STEPS["invariant checks"] += 1


@pytest.fixture(scope="module", autouse=True)
def _environment():
    """The machine's own DynamoDB Local and execution environments: its thousands of items stay out of the table
    the other handler tests snapshot (a refusal's proof scans the whole table)."""
    template = Template.load()
    aws = LocalAws.start().provision(template)
    overrides = {**aws.overrides("ERROR"), **NO_STRIPE}
    host = FunctionHost(template, overrides)
    for name, value in LOCAL_CREDENTIALS_ENV.items():  # this process reads the table too, as the functions do
        os.environ.setdefault(name, value)
    ENV["lambdas"] = Lambdas(host, aws, None)
    ENV["deps"] = Container(Settings.from_env({**os.environ, **overrides}))
    try:
        yield
    finally:
        host.stop()
        aws.stop()
    print(f"\nallocation state machine: {sum(v for k, v in STEPS.items() if k != 'invariant checks')} steps "
          f"{dict(STEPS)}")


# Derandomized (the same steps every run, so `make test` always checks its 2,000); STATE_MACHINE_RANDOM=1 explores.
AllocationMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=STEP_COUNT, deadline=None,
                                               derandomize=not os.environ.get("STATE_MACHINE_RANDOM"),
                                               suppress_health_check=[HealthCheck.too_slow])
TestAllocationMachine = AllocationMachine.TestCase


def test_the_machine_ran_its_steps():
    """The invariants above were checked after at least MIN_STEPS steps (2,000 in `make test`), and every kind of
    step ran (runs after TestAllocationMachine, in file order)."""
    steps = sum(v for k, v in STEPS.items() if k != "invariant checks")
    assert steps >= MIN_STEPS, dict(STEPS)
    assert {"credit_note", "void", "withdraw", "bounce", "allocate", "top_up"} <= set(STEPS), dict(STEPS)
