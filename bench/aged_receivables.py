"""Aged receivables at scale on the local stack (`python -m local.stack` in its own process).

For each size N: a partner with N open invoices over N/20 organizations and N settled ones, among 8N invoices of
other partners (10N in all), written straight into the stack's DynamoDB as the invoice mapper writes them (the
item, its index keys and its paid log; not the number locks and audit records, which the report never reads).
Then `GET /reports/aged-receivables` through ReportsFunction (the Lambda Invoke API), warm, the best and the median
of RUNS invocations. Items read: the report's own
Query counted again (`Select=COUNT`: ScannedCount, the items DynamoDB reads and bills, and ConsumedCapacity);
wall time: the invocation, on DynamoDB Local and this machine, not DynamoDB's.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config

from local.aws import TABLE_NAME
from local.dynamodb import LOCAL_CREDENTIALS
from local.process import start_stack
from shared.domain.invoice import Invoice
from shared.ids import new_id
from shared.repositories.dynamo import to_av
from shared.repositories.receivables_index import RECEIVABLES_SHARDS, receivables_pk
from shared.repositories.registry import item_of
from tests.conftest import load_event

SIZES = [int(n) for n in os.environ.get("BENCH_AR_SIZES", "5000,15000,50000").split(",")]
TARGET_OPEN, TARGET_ORGS = 100_000, 5_000
RUNS = 5


def invoice(partner: str, org: int, i: int, settled: bool) -> Invoice:
    today = datetime.now(UTC).date()
    issued = (today - timedelta(days=i % 150)).isoformat()
    at = f"{today.isoformat()}T00:00:00.000Z"
    amount = 1_000 + i % 9_000
    return Invoice(id=new_id("inv"), partner_id=partner, org_id=f"org_{partner}_{org}", org_name=f"Org {org}",
                   number=f"INV-{i:06d}", type="standard", amount=amount, currency="SGD" if i % 3 else "USD",
                   issued_date=issued, due_date=(today - timedelta(days=i % 150) + timedelta(days=30)).isoformat(),
                   amount_paid=amount if settled else i % 2 * (amount // 2),
                   paid_by_day={issued: amount if settled else i % 2 * (amount // 2)},
                   created_at=at, created_by="bench", updated_at=at)


def seed(ddb, partner: str, n: int) -> None:
    orgs = max(1, n // 20)
    items = [invoice(partner, i % orgs, i, False) for i in range(n)]
    items += [invoice(partner, i % orgs, i, True) for i in range(n)]
    items += [invoice(f"{partner}o{i % 8}", i % orgs, i, i % 2 == 0) for i in range(8 * n)]
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={TABLE_NAME: [{"PutRequest": {"Item": to_av(item_of(r))}}
                                                        for r in items[start:start + 25]]})


def counted(ddb, partner: str, as_of: str) -> tuple[int, float, int]:
    """The report's Queries again, every shard: items read (ScannedCount), RCU, and the pages (Query calls)."""
    scanned, units, pages = 0, 0.0, 0
    for shard in range(RECEIVABLES_SHARDS):
        start = None
        while True:
            args = {"TableName": TABLE_NAME, "IndexName": "GSI4", "Select": "COUNT",
                    "ReturnConsumedCapacity": "TOTAL", "KeyConditionExpression": "gsi4pk = :p AND gsi4sk > :a",
                    "ExpressionAttributeValues": {":p": {"S": receivables_pk(partner, shard)},
                                                  ":a": {"S": f"{as_of}#~"}}}
            if start:
                args["ExclusiveStartKey"] = start
            res = ddb.query(**args)
            scanned, pages = scanned + res["ScannedCount"], pages + 1
            units += (res.get("ConsumedCapacity") or {}).get("CapacityUnits", 0.0)
            start = res.get("LastEvaluatedKey")
            if not start:
                break
    return scanned, units, pages


def main() -> list[str]:
    lines = ["Aged receivables (local stack; a partner's N open invoices among 10N of all partners)"]
    stack = start_stack("--no-seed")
    try:
        ddb = boto3.client("dynamodb", endpoint_url=stack.dynamodb, **LOCAL_CREDENTIALS)
        lam = boto3.client("lambda", endpoint_url=stack.lambda_url, **LOCAL_CREDENTIALS,
                           config=Config(read_timeout=900))
        as_of = datetime.now(UTC).date().isoformat()
        points = []
        for n in SIZES:
            partner = f"ptnar{uuid.uuid4().hex[:6]}"
            t = time.perf_counter()
            seed(ddb, partner, n)
            seeded = time.perf_counter() - t
            event = load_event("reports/aged_receivables.json", query={"as_of": as_of},
                               claims={"partner_id": partner})
            lam.invoke(FunctionName="ReportsFunction", Payload=json.dumps(event))  # warm
            runs = []
            for _ in range(RUNS):  # the best of RUNS: the least disturbed by whatever else the machine runs
                t = time.perf_counter()
                res = json.loads(lam.invoke(FunctionName="ReportsFunction",
                                            Payload=json.dumps(event))["Payload"].read())
                runs.append(time.perf_counter() - t)
            took, median = min(runs), statistics.median(runs)
            body = json.loads(res["body"])
            read, units, pages = counted(ddb, partner, as_of)
            points.append((n, took))
            lines.append(f"  {n:>6} open ({10 * n:>7} invoices, {max(1, n // 20):>5} orgs): {read} items read = "
                         f"{read / n:.3f} per open invoice ({units:.0f} RCU, {pages} queries over "
                         f"{RECEIVABLES_SHARDS} shards); report {took:.2f} s (best of {RUNS}; median {median:.2f} s); "
                         f"{sum(r['invoices'] for r in body['rows'])} invoices in {len(body['rows'])} rows; "
                         f"seeding {seeded:.0f} s ({10 * n / seeded:.0f} items/s)")
        (n0, t0), (n1, t1) = points[0], points[-1]
        per = (t1 - t0) / (n1 - n0)
        lines.append("  per open invoice at each size: " + ", ".join(f"{t / n * 1000:.3f} ms" for n, t in points))
        lines.append(f"  growth: {per * 1000:.3f} ms per open invoice; linear to {TARGET_OPEN:,} open invoices over "
                     f"{TARGET_ORGS:,} organizations: {t1 + per * (TARGET_OPEN - n1):.1f} s, "
                     f"{TARGET_OPEN:,} items read")
    finally:
        stack.stop()
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
