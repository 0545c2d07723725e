"""The daily automatic top-up with the real sweep and worker: due index -> SQS -> worker, once a day.

Invariant: for each organization and business date there is at most one attempt, and at most one
top-up (invoice or credit), whatever the duplicates, concurrency or crashes.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.aws import sqs_event
from local.dynamodb import client
from local.lambdas import LambdaContext
from shared.container import Container
from tests.conftest import EVENTS
from tests.handlers.conftest import NO_KEY, admin, allocate, balance, create_org, credit, record, viewer

DAY1, DAY2, DAY3 = "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z", "2026-11-23T01:00:00Z"


class AutoTopUp:
    def __init__(self, lambdas):
        self.lambdas = lambdas
        self.sweep_fn = lambdas.host.load_module("SweepFunction")
        self.worker_fn = lambdas.host.load_module("WorkerFunction")
        self.sqs = client(lambdas.aws.sqs.endpoint, "sqs")
        self.url = lambdas.aws.queue_urls["AutoTopUpQueue"]

    @staticmethod
    def ctx(name):
        return LambdaContext(name, 512, 30, str(uuid.uuid4()))

    def sweep(self, time: str) -> dict[str, Any]:
        event = json.loads((EVENTS / "sweep/scheduled.json").read_text()) | {"time": time}
        return self.sweep_fn.lambda_handler(event, self.ctx("SweepFunction"))

    def receive(self) -> list[dict[str, Any]]:
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                             AttributeNames=["All"]).get("Messages", [])
            if not batch:
                return out
            for m in batch:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            out += batch

    def deliver(self, messages, worker=None) -> dict[str, Any]:
        return (worker or self.worker_fn).lambda_handler(sqs_event(messages, "arn:aws:sqs:us-east-1:0:q"),
                                                         self.ctx("WorkerFunction"))

    def run_day(self, time: str) -> dict[str, Any]:
        result = self.sweep(time)
        messages = self.receive()
        for i in range(0, len(messages), 10):
            assert self.deliver(messages[i:i + 10]) == {"batchItemFailures": []}
        return result


@pytest.fixture(scope="module")
def auto(lambdas):
    return AutoTopUp(lambdas)


def configure(lambdas, partner, org, method, trigger, threshold, auto_trigger=True):
    body = {"method": method, "trigger_amount": trigger, "limit_threshold": threshold, "auto_trigger": auto_trigger}
    status, res = lambdas.accounts("put_payment_settings", path={"org_id": org["id"]}, body=body, **admin(partner))
    assert status == 200, res


def attempts(lambdas, partner, org):
    status, page = lambdas.accounts("list_auto_top_ups", path={"org_id": org["id"]}, query={}, **viewer(partner))
    assert status == 200
    return [(a["business_date"], a["status"], a["reason"]) for a in page["items"]]


def partner_balance(lambdas, partner, currency="SGD"):
    _, wallet = lambdas.accounts("get_partner_wallet", path={"partner_id": partner}, **viewer(partner))
    return {b["currency"]: b["balance"] for b in wallet["balances"]}.get(currency, 0)


def auto_invoices(lambdas, partner, org):
    _, page = lambdas.allocation("list_invoices", query={"org_id": org["id"], "type": "top_up"}, **viewer(partner))
    return page["items"]


def test_one_sweep_tops_up_each_due_organization_in_its_way_once_a_day(lambdas, auto, partner):
    # Given a partner with 100,000 in its master wallet and organizations of each method
    credit(lambdas, partner, 100_000)
    tt = create_org(lambdas, partner, "Cheque customer")
    configure(lambdas, partner, tt, "cheque_or_tt", 10_000, 20_000)
    master = create_org(lambdas, partner, "Master customer")
    configure(lambdas, partner, master, "master_account", 20_000, 50_000)
    rich = create_org(lambdas, partner, "Funded customer")
    configure(lambdas, partner, rich, "master_account", 5_000, 1_000)
    pay = record(lambdas, partner, org_id=rich["id"], amount=2_000)
    lambdas.allocation("top_up_from_payment", path={"payment_id": pay["id"]}, body={"amount": 2_000},
                       headers=NO_KEY, **admin(partner))  # above its threshold: not due
    off = create_org(lambdas, partner, "Manual customer")
    configure(lambdas, partner, off, "master_account", 5_000, 1_000, auto_trigger=False)
    greedy = create_org(lambdas, partner, "Greedy customer")
    configure(lambdas, partner, greedy, "master_account", 1_000_000, 1)

    # When the sweep runs for day 1
    auto.run_day(DAY1)
    # Then the cheque customer got a top-up invoice, the master customer a transfer, the others nothing
    invoices = auto_invoices(lambdas, partner, tt)
    assert [(i["amount"], i["status"], i["issued_date"]) for i in invoices] == [(10_000, "unpaid", "2026-11-21")]
    assert attempts(lambdas, partner, tt) == [("2026-11-21", "invoice_issued", None)]
    assert balance(lambdas, partner, master) == 20_000 and partner_balance(lambdas, partner) == 80_000
    assert attempts(lambdas, partner, master) == [("2026-11-21", "credited", None)]
    assert attempts(lambdas, partner, rich) == [] and attempts(lambdas, partner, off) == []
    assert attempts(lambdas, partner, greedy) == [("2026-11-21", "failed", "partner_insufficient_funds")]
    assert balance(lambdas, partner, greedy) == 0

    # When day 1 is swept again: nothing changes
    auto.run_day(DAY1)
    assert len(auto_invoices(lambdas, partner, tt)) == 1
    assert balance(lambdas, partner, master) == 20_000 and partner_balance(lambdas, partner) == 80_000

    # When day 2 comes: the unpaid invoice holds the next one back; the master customer is credited again
    auto.run_day(DAY2)
    assert attempts(lambdas, partner, tt)[0] == ("2026-11-22", "skipped", "previous_invoice_unpaid")
    assert len(auto_invoices(lambdas, partner, tt)) == 1
    assert balance(lambdas, partner, master) == 40_000 and partner_balance(lambdas, partner) == 60_000

    # When the first invoice is paid (provisioned), day 3 issues the next one
    payment = record(lambdas, partner, org_id=tt["id"], amount=10_000)
    allocate(lambdas, partner, payment, (invoices[0], 10_000))
    assert balance(lambdas, partner, tt) == 10_000  # still at or below its 20,000 threshold
    auto.run_day(DAY3)
    assert [i["issued_date"] for i in auto_invoices(lambdas, partner, tt)] == ["2026-11-23", "2026-11-21"]
    # And the partner's ledger and the organization's add up
    assert balance(lambdas, partner, master) + partner_balance(lambdas, partner) == 100_000


def test_a_worker_crashing_after_its_claim_is_recovered_once(lambdas, auto, partner, monkeypatch):
    # Given a due master-account customer
    credit(lambdas, partner, 50_000)
    org = create_org(lambdas, partner)
    configure(lambdas, partner, org, "master_account", 10_000, 10_000)
    auto.sweep(DAY1)
    mine = [m for m in auto.receive() if json.loads(m["Body"])["org_id"] == org["id"]]
    assert len(mine) == 1
    # When the worker crashes between its claim and its side effect (a fault injected as its funding method)
    class Crash:
        def fund(self, claim):
            raise RuntimeError("injected crash after claim")

    with monkeypatch.context() as patched:
        patched.setitem(auto.worker_fn.deps.funding, "master_account", Crash())
        # Then the batch fails (Powertools raises when every record failed: SQS redelivers them all)
        with pytest.raises(BatchProcessingError):
            auto.deliver(mine)
        # and in a batch with a healthy record, only the crashed one is reported for redelivery
        healthy = dict(mine[0], MessageId="other", Body=json.dumps(
            {"org_id": "org_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "business_date": "2026-11-21"}))  # unknown org: done
        other = auto.deliver([*mine, healthy])
        assert other == {"batchItemFailures": [{"itemIdentifier": mine[0]["MessageId"]}]}
    # And the claim exists while nothing moved
    stored = Container.from_env().db.get({"pk": f"ORG#{org['id']}", "sk": "ATTEMPT#2026-11-21"})
    assert stored["status"] == "claimed" and balance(lambdas, partner, org) == 0
    # When SQS redelivers it (twice): the top-up happens exactly once
    assert auto.deliver(mine) == {"batchItemFailures": []}
    assert auto.deliver(mine) == {"batchItemFailures": []}
    assert balance(lambdas, partner, org) == 10_000 and partner_balance(lambdas, partner) == 40_000
    assert attempts(lambdas, partner, org) == [("2026-11-21", "credited", None)]


def test_concurrent_sweeps_and_duplicate_deliveries_top_up_once(lambdas, auto, partner):
    # Given five due master-account customers
    credit(lambdas, partner, 1_000_000)
    orgs = []
    for i in range(5):
        org = create_org(lambdas, partner, f"Customer {i}")
        configure(lambdas, partner, org, "master_account", 7_000, 7_000)
        orgs.append(org)
    # When three sweeps run at once for the same day, and every message is delivered concurrently
    sweeps = [threading.Thread(target=auto.sweep, args=(DAY1,)) for _ in range(3)]
    for t in sweeps:
        t.start()
    for t in sweeps:
        t.join()
    messages = [m for m in auto.receive() if json.loads(m["Body"])["org_id"] in {o["id"] for o in orgs}]
    assert len(messages) == 15
    results: list = []

    def deliver(m):  # each delivery in its own execution environment, as Lambda would run them
        event = sqs_event([m], "arn:aws:sqs:us-east-1:0:q")
        results.append(lambdas.host.invoke("WorkerFunction", copy.deepcopy(event)))

    threads = [threading.Thread(target=deliver, args=(m,)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then each organization was credited exactly once, and the partner paid exactly five times
    assert all(r == {"batchItemFailures": []} for r in results)
    assert [balance(lambdas, partner, o) for o in orgs] == [7_000] * 5
    assert partner_balance(lambdas, partner) == 1_000_000 - 5 * 7_000
    assert all(attempts(lambdas, partner, o) == [("2026-11-21", "credited", None)] for o in orgs)


def test_sweep_reads_only_due_organizations(lambdas, auto, partner):
    # Given 30 organizations of which 3 are due
    for i in range(30):
        org = create_org(lambdas, partner, f"Org {i}")
        if i % 10 == 0:
            configure(lambdas, partner, org, "cheque_or_tt", 1_000, 1_000)
    auto.receive()
    due_in_table = sum(1 for _ in iter_due(lambdas))
    # When the sweep runs, it reads the due index only: one item per due organization in the table
    result = auto.sweep(DAY1)
    auto.receive()
    assert result["items_read"] == result["queued"] == due_in_table >= 3
    assert result["queries"] == 16


def iter_due(lambdas):
    ddb = lambdas.ddb
    for shard in range(16):
        yield from ddb.query(TableName="payments-local", IndexName="GSI3", KeyConditionExpression="gsi3pk = :p",
                              ExpressionAttributeValues={":p": {"S": f"DUE#{shard}"}})["Items"]
