"""The daily automatic top-up end to end on the local stack: the sweep invoked through the Lambda
Invoke API with a chosen `time`; the stack delivers the queue to the worker as SQS would."""

from __future__ import annotations

import json
import threading
import time

import boto3

from local.auth import mint
from local.dynamodb import LOCAL_CREDENTIALS
from tests.conftest import new_partner
from tests.e2e.conftest import Api, as_admin, invoke_sweep, wait_for


def test_sweep_through_the_invoke_api_tops_up_and_publishes_domain_events(stack):
    # Given a partner with a funded master wallet, a master-account and a cheque customer, both due
    partner = new_partner()
    api = as_admin(stack, partner)
    platform = Api(stack.api, mint("ops@platform.example", None, ["platform-admin"]))
    assert platform("POST", f"/partners/{partner}/wallet/credits",
                    {"amount": 50_000, "currency": "SGD", "reference": "wire"}).status_code == 201
    master = api("POST", "/organizations", {"name": "Master", "currency": "SGD"}).json()
    cheque = api("POST", "/organizations", {"name": "Cheque", "currency": "SGD"}).json()
    funded = api("POST", "/organizations", {"name": "Funded", "currency": "SGD"}).json()
    for org, method in ((master, "master_account"), (cheque, "cheque_or_tt"), (funded, "master_account")):
        res = api("PUT", f"/organizations/{org['id']}/payment-settings",
                  {"method": method, "trigger_amount": 15_000, "limit_threshold": 20_000, "auto_trigger": True})
        assert res.status_code == 200
    # (the funded one is above its threshold: not due)
    pay = api("POST", "/payments", {"org_id": funded["id"], "amount": 25_000, "currency": "SGD",
                                    "received_date": "2026-11-20", "method": "cheque"}).json()
    assert api("POST", f"/payments/{pay['id']}/top-ups", {"amount": 25_000}).status_code == 200
    # And a rule on the domain-event bus forwarding to a queue we can read
    sqs = boto3.client("sqs", endpoint_url=stack.sqs, **LOCAL_CREDENTIALS)
    events = boto3.client("events", endpoint_url=stack.events, **LOCAL_CREDENTIALS)
    tap = sqs.create_queue(QueueName=f"tap-{partner}")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"tap-{partner}", EventBusName="payments-local",
                    EventPattern=json.dumps({"source": ["payments.auto-top-up"], "detail": {"partner_id": [partner]}}))
    events.put_targets(Rule=f"tap-{partner}", EventBusName="payments-local", Targets=[{"Id": "tap", "Arn": tap_arn}])

    # When the sweep is invoked for 2026-11-21 (a late run: the event's time decides the day)
    result = invoke_sweep(stack, "2026-11-21T23:59:00Z")
    assert result["business_date"] == "2026-11-21" and result["queued"] >= 2

    # Then the worker, fed by the queue, tops both up
    def statuses():
        got = {o["name"]: [a["status"] for a in api("GET", f"/organizations/{o['id']}/auto-top-ups").json()["items"]]
               for o in (master, cheque)}
        return got if all(got.values()) else None

    expected = {"Master": ["credited"], "Cheque": ["invoice_issued"]}
    assert wait_for(lambda: statuses() == expected)
    assert api("GET", f"/organizations/{funded['id']}/auto-top-ups").json()["items"] == []
    assert api("GET", f"/organizations/{master['id']}/wallet").json()["balance"] == 15_000
    assert api("GET", f"/partners/{partner}/wallet").json()["balances"] == [{"currency": "SGD", "balance": 35_000}]
    # And each outcome's domain event reached the bus
    received = wait_for(lambda: sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages"))
    received += sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", [])
    kinds = sorted(json.loads(m["Body"])["detail-type"] for m in received)
    assert kinds == ["AutoTopUpCredited", "AutoTopUpInvoiceIssued"]

    # When the same day is swept again: nothing more
    invoke_sweep(stack, "2026-11-21T01:00:00Z")
    time.sleep(2)
    assert statuses() == {"Master": ["credited"], "Cheque": ["invoice_issued"]}
    assert api("GET", f"/organizations/{master['id']}/wallet").json()["balance"] == 15_000

    # When three sweeps for the next day run at once: the master customer (still due: 15,000 <= 20,000) is
    # credited exactly once more; the cheque customer's unpaid invoice holds its next one back
    threads = [threading.Thread(target=invoke_sweep, args=(stack, "2026-11-22T01:00:00Z")) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {"Master": ["credited", "credited"], "Cheque": ["skipped", "invoice_issued"]}
    assert wait_for(lambda: statuses() == expected)
    time.sleep(2)  # let the duplicates drain
    assert statuses() == expected
    assert api("GET", f"/organizations/{master['id']}/wallet").json()["balance"] == 30_000
    assert api("GET", f"/partners/{partner}/wallet").json()["balances"] == [{"currency": "SGD", "balance": 20_000}]
