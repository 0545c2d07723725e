"""The daily sweep at scale on the local stack (`python -m local.stack` in its own process).

N organizations of which 20% have auto top-up enabled and 1% are due (half master-account, half
cheque/TT), written straight into the stack's DynamoDB; then the sweep is invoked through the Lambda
Invoke API and the stack's queue delivery runs the worker until the queue is empty. Items read by the
sweep come from the sweep's own count (a table scan would read all N); the wall time is DynamoDB
Local's and this machine's (2 cores shared by the stack, its environments and Java), not DynamoDB's.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import boto3

from local.aws import TABLE_NAME
from local.dynamodb import LOCAL_CREDENTIALS
from local.process import start_stack
from shared.domain.organization import Organization, PaymentSettings
from shared.domain.partner_wallet import PartnerWallet
from shared.ids import new_id
from shared.repositories.dynamo import to_av
from shared.repositories.registry import item_of

SIZES = [int(n) for n in os.environ.get("BENCH_SWEEP_SIZES", "10000,100000").split(",")]
AT = "2026-11-21T00:00:00.000Z"


def seed(ddb, n: int, partner: str) -> int:
    requests, due = [], 0
    for i in range(n):
        enabled, is_due = i % 5 == 0, i % 100 == 0
        due += is_due
        method = "master_account" if i % 200 == 0 else "cheque_or_tt"
        settings = PaymentSettings(method=method, trigger_amount=1_000, limit_threshold=500 if enabled else 0,
                                   auto_trigger=enabled, updated_at=AT)
        org = Organization(id=new_id("org"), partner_id=partner, name=f"Org {i}", currency="SGD", created_at=AT,
                           created_by="bench", listed_by_lock=True, wallet_updated_at=AT, settings=settings,
                           balance=0 if is_due else 5_000)
        requests.append({"PutRequest": {"Item": to_av(item_of(org))}})
    wallet = PartnerWallet(partner_id=partner, currency="SGD", balance=10**12, updated_at=AT, version=1)
    requests.append({"PutRequest": {"Item": to_av(item_of(wallet))}})
    for i in range(0, len(requests), 25):
        ddb.batch_write_item(RequestItems={TABLE_NAME: requests[i:i + 25]})
    return due


def run(n: int) -> str:
    stack = start_stack("--no-seed")
    try:
        ddb = boto3.client("dynamodb", endpoint_url=stack.dynamodb, **LOCAL_CREDENTIALS)
        sqs = boto3.client("sqs", endpoint_url=stack.sqs, **LOCAL_CREDENTIALS)
        lam = boto3.client("lambda", endpoint_url=stack.lambda_url, **LOCAL_CREDENTIALS,
                           config=__import__("botocore.config").config.Config(read_timeout=900))
        t = time.perf_counter()
        due = seed(ddb, n, f"ptn_sweep{uuid.uuid4().hex[:6]}")
        seeded = time.perf_counter() - t
        event = json.loads(open("events/sweep/scheduled.json").read())
        t = time.perf_counter()
        result = json.loads(lam.invoke(FunctionName="SweepFunction", Payload=json.dumps(event))["Payload"].read())
        swept = time.perf_counter() - t
        url = sqs.get_queue_url(QueueName="AutoTopUpQueue")["QueueUrl"]
        while True:
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            if attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0":
                break
            time.sleep(0.5)
        total = time.perf_counter() - t
        return (f"  {n:>7} orgs: {due} due; sweep read {result['items_read']} items in {result['queries']} queries "
                f"= {result['items_read'] / max(due, 1):.2f} per due org (a scan: {n}); queued {result['queued']}; "
                f"sweep {swept:.1f} s, sweep + worker {total:.1f} s ({due / total:.0f} orgs/s); seeding {seeded:.0f} s")
    finally:
        stack.stop()


def main() -> list[str]:
    return ["Sweep at scale (local stack; 20% auto top-up enabled, 1% due)", *(run(n) for n in SIZES)]


if __name__ == "__main__":
    print("\n".join(main()))
