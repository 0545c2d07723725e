"""The fault drill: a burst of money writes over HTTP while DynamoDB fails as AWS's does, and clients retry with their
keys (docs/local-stack.md, "The fault drill").

The local stack (`python -m local.stack`, what `make run` starts) runs with DYNAMODB_ENDPOINT pointed at a fault proxy
(local/faultproxy.py) in front of its own DynamoDB Local. While the proxy is armed it resets connections, holds
answers past the function's own timeout (a stalled connection), drops answers after DynamoDB acted, and answers
DynamoDB's own ThrottlingException, ProvisionedThroughputExceededException and a TransactWriteItems cancelled for
throttling, on a seeded schedule. Meanwhile each of ORGS clients, one per organization, sends its organization's
money writes (a payment, an invoice, an allocation, top-ups and usage debits), each with its own Idempotency-Key and
sent again with the same key after a 503 (waiting its Retry-After) or a 409 `idempotency_request_in_progress`, until
another answer.

Invariants:
  (D1) no answer is a 500: every fault reaches the client as 503 `service_unavailable` with Retry-After;
  (D2) every request settles exactly once: its final answer is its success, the organization holds exactly the
       records the requests made (one payment, one invoice, one allocation, TOP_UPS top-ups, DEBITS debits: counted
       from the API after the burst), and the same request with the same key then replays the same answer;
  (D3) every wallet's ledger entries sum to its balance, which is what the requests moved.

The random schedule reaches D2's hardest case only sometimes; the second test plans it exactly: a debit's transaction
commits, its answer is lost and the function's further tries are throttled, so its call fails for a debit that was
made; the function's answer (the debit, or 503) and the retry with the same key must all be that one debit. Without
the functions' read timeout the stalled connections outlive the function (500s); without the edge's 503 the faults
are 500 `internal_error` (both seen failing here).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local.dynamodb import DynamoDBLocal
from local.faultproxy import FaultProxy, Rates
from local.process import StackProcess, start_stack
from tests.conftest import new_partner
from tests.e2e.conftest import Api, as_admin

# Timing: read timeouts and backoffs are the drill's subject; alone on the machine they are the faults', not the load's
pytestmark = pytest.mark.serial

SEED = 31
ORGS = 7
TOP_UPS, TOP_UP = 2, 20_000
DEBITS, DEBIT = 2, 1_000
PAYMENT, INVOICE = 100_000, 10_000
MAX_TRIES = 40
DRILL_S = 45  # the burst's bound: the stack's start and the checks come on top


@dataclass
class Outcome:
    """One request as its client saw it: every answer's status, and the last one."""

    name: str
    statuses: list[int] = field(default_factory=list)
    body: Any = None
    bad: list[str] = field(default_factory=list)  # answers that break D1


@dataclass
class Client:
    api: Api
    org_id: str
    outcomes: list[Outcome] = field(default_factory=list)
    requests: dict[str, tuple[str, str, dict[str, Any], str]] = field(default_factory=dict)  # name -> request

    def send(self, name: str, method: str, path: str, body: dict[str, Any]) -> Any:
        """The request with its own key, sent again with the same key until an answer that is not a retry's."""
        key = f"drill-{uuid.uuid4()}"
        self.requests[name] = (method, path, body, key)
        outcome = Outcome(name)
        self.outcomes.append(outcome)
        for _ in range(MAX_TRIES):
            try:
                res = self.api(method, path, body, headers={"Idempotency-Key": key})
            except requests.RequestException as error:  # the local API itself: never expected
                outcome.bad.append(f"{name}: {type(error).__name__}")
                continue
            outcome.statuses.append(res.status_code)
            code = (res.json().get("error") or {}).get("code") if res.content else None
            if res.status_code == 503:
                if code != "service_unavailable" or not res.headers.get("Retry-After", "").isdigit():
                    outcome.bad.append(f"{name}: 503 {code} Retry-After={res.headers.get('Retry-After')}")
                time.sleep(int(res.headers.get("Retry-After") or 1))
                continue
            if res.status_code == 409 and code == "idempotency_request_in_progress":
                time.sleep(1)
                continue
            if res.status_code >= 500:
                outcome.bad.append(f"{name}: {res.status_code} {res.text[:200]}")
                time.sleep(1)
                continue
            outcome.body = res.json()
            return outcome.body
        outcome.bad.append(f"{name}: no final answer in {MAX_TRIES} tries")
        return None

    def burst(self) -> None:
        """The organization's money writes, one after another."""
        org = self.org_id
        payment = self.send("payment", "POST", "/payments", {"org_id": org, "amount": PAYMENT, "currency": "SGD",
                                                            "received_date": "2026-11-20", "method": "cheque"})
        invoice = self.send("invoice", "POST", "/invoices", {"org_id": org, "type": "standard", "amount": INVOICE,
                                                            "currency": "SGD", "issued_date": "2026-11-01"})
        if not payment or not invoice:
            return
        self.send("allocation", "POST", f"/payments/{payment['id']}/allocations",
                  {"allocations": [{"invoice_id": invoice["id"], "amount": INVOICE}]})
        for n in range(TOP_UPS):
            self.send(f"top-up {n}", "POST", f"/payments/{payment['id']}/top-ups", {"amount": TOP_UP})
        for n in range(DEBITS):
            self.send(f"debit {n}", "POST", f"/organizations/{org}/wallet/debits",
                      {"amount": DEBIT, "reference": f"usage-{n}"})


@pytest.fixture(scope="module")
def drill() -> Iterator[tuple[StackProcess, FaultProxy]]:
    dynamodb = DynamoDBLocal().start()
    proxy = FaultProxy("127.0.0.1", dynamodb.port, seed=SEED, rates=Rates()).start()
    try:
        stack = start_stack("--no-seed", dynamodb_endpoint=proxy.endpoint)
    except RuntimeError as error:
        proxy.stop()
        dynamodb.stop()
        pytest.fail(str(error))
    try:
        yield stack, proxy
    finally:
        stack.stop()
        proxy.stop()
        dynamodb.stop()


def every_page(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        res = api("GET", path, params={"limit": 100, **params, **({"cursor": cursor} if cursor else {})})
        assert res.status_code == 200, res.text
        items += res.json()["items"]
        cursor = res.json().get("next_cursor")
        if not cursor:
            return items


def test_money_writes_settle_exactly_once_through_dynamodb_faults_and_no_answer_is_a_500(drill):
    stack, proxy = drill
    partner = new_partner()
    api = as_admin(stack, partner)
    # Given ORGS organizations (made before the faults start), each with a client of its own
    orgs = [api("POST", "/organizations", {"name": f"Drill {n}", "currency": "SGD"}) for n in range(ORGS)]
    assert all(o.status_code == 201 for o in orgs), [o.text for o in orgs]
    clients = [Client(as_admin(stack, partner), o.json()["id"]) for o in orgs]

    # When DynamoDB fails under them (the proxy armed) while each sends its organization's money writes at once,
    # retrying each with its key
    proxy.armed.set()
    started = time.monotonic()
    threads = [threading.Thread(target=c.burst) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DRILL_S * 3)
    burst_s = time.monotonic() - started
    proxy.armed.clear()
    outcomes = [o for c in clients for o in c.outcomes]
    statuses = Counter(s for o in outcomes for s in o.statuses)
    faults = {k: v for k, v in proxy.counts.items() if k not in ("forwarded", "faultable")}
    print(f"\nfault drill (seed {SEED}): {sum(faults.values())} faults injected in {proxy.counts['faultable']} "
          f"DynamoDB requests ({dict(sorted(faults.items()))}); {len(outcomes)} money writes, "
          f"{sum(len(o.statuses) for o in outcomes)} answers ({dict(sorted(statuses.items()))}), "
          f"{sum(len(o.statuses) - 1 for o in outcomes)} retries; burst {burst_s:.1f} s")
    assert all(not t.is_alive() for t in threads)
    assert sum(faults.values()) >= 20, "the drill injected too few faults to prove anything"

    # Then no answer was a 500, and every 503 was service_unavailable with Retry-After (D1)
    assert [b for o in outcomes for b in o.bad] == []
    assert 500 not in statuses
    # and every request got its success in the end (D2)
    expected = 3 + TOP_UPS + DEBITS
    assert [(c.org_id, len(c.outcomes)) for c in clients if len(c.outcomes) != expected] == []
    finals = Counter((o.name.split()[0], o.statuses[-1]) for o in outcomes)
    assert finals == {("payment", 201): ORGS, ("invoice", 201): ORGS, ("allocation", 200): ORGS,
                      ("top-up", 200): ORGS * TOP_UPS, ("debit", 201): ORGS * DEBITS}, finals
    for client in clients:
        org = client.org_id
        # and each organization holds exactly what its requests made, once each (D2)
        payments = every_page(api, "/payments", org_id=org)
        invoices = every_page(api, "/invoices", org_id=org)
        assert (len(payments), len(invoices)) == (1, 1), (org, payments, invoices)
        allocated = INVOICE + TOP_UPS * TOP_UP  # the invoice's allocation and the wallet's top-ups
        assert (payments[0]["allocated_amount"], invoices[0]["amount_paid"]) == (allocated, INVOICE), org
        entries = every_page(api, f"/organizations/{org}/wallet/transactions")
        kinds = Counter(e["type"] for e in entries)
        assert kinds == {"top_up": TOP_UPS, "usage": DEBITS}, (org, kinds)
        # and its wallet's ledger sums to its balance, which is what the requests moved (D3)
        balance = api("GET", f"/organizations/{org}/wallet").json()["balance"]
        assert balance == sum(e["amount"] for e in entries) == TOP_UPS * TOP_UP - DEBITS * DEBIT, (org, balance)
        # and the same requests with the same keys, sent again now, replay their answers and write nothing (D2)
        for outcome in client.outcomes:
            method, path, body, key = client.requests[outcome.name]
            again = client.api(method, path, body, headers={"Idempotency-Key": key})
            assert (again.status_code, again.json()) == (outcome.statuses[-1], outcome.body), outcome.name
        assert len(every_page(api, f"/organizations/{org}/wallet/transactions")) == len(entries)


def test_a_money_move_that_committed_while_its_answer_was_lost_is_not_done_again_by_the_retry(drill):
    """(D2), one fault sequence at a time: the debit's transaction commits, DynamoDB's answer is lost, and the
    function's further tries of it are throttled, so the transaction's call fails although the debit was made. The
    function answers either the debit (it found its idempotency record completed by that transaction) or 503; the
    client's retry with the same key must replay the debit, never make a second one."""
    stack, proxy = drill
    partner = new_partner()
    api = as_admin(stack, partner)
    # Given an organization whose wallet holds 20,000 (written before any fault), the stream consumers settled
    org = api("POST", "/organizations", {"name": "Lost answer", "currency": "SGD"}).json()
    payment = api("POST", "/payments", {"org_id": org["id"], "amount": PAYMENT, "currency": "SGD",
                                        "received_date": "2026-11-20", "method": "cheque"}).json()
    assert api("POST", f"/payments/{payment['id']}/top-ups", {"amount": TOP_UP}).status_code == 200
    proxy.quiet("TransactWriteItems")  # nothing else's transaction takes the faults planned for the debit's
    # When a debit's transaction commits but its answer is lost, and both tries after it are throttled
    proxy.plan("TransactWriteItems", "lost", "throttle", "throttle")
    key = {"Idempotency-Key": f"drill-{uuid.uuid4()}"}
    first = api("POST", f"/organizations/{org['id']}/wallet/debits", {"amount": DEBIT, "reference": "usage"},
                headers=key)
    # Then the function answers the debit it made: its transaction committed, its record COMPLETED by this very
    # request, whose failure (the throttled tries after the lost answer) came after the money moved
    assert first.status_code == 201, first.text
    # And the same request with the same key, sent again, answers that one debit, unchanged
    again = api("POST", f"/organizations/{org['id']}/wallet/debits", {"amount": DEBIT, "reference": "usage"},
                headers=key)
    assert again.status_code == 201 and again.json() == first.json(), again.text
    entries = every_page(api, f"/organizations/{org['id']}/wallet/transactions")
    assert Counter(e["type"] for e in entries) == {"top_up": 1, "usage": 1}, entries
    assert api("GET", f"/organizations/{org['id']}/wallet").json()["balance"] == TOP_UP - DEBIT
