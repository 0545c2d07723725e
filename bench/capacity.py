"""The capacity plan's load simulation (docs/capacity.md): the daily sweep and the worker over a growing table, on
DynamoDB Local, with every DynamoDB request and write unit counted (bench.requests.Counted, bench.units).

For each size N (`BENCH_CAPACITY_SIZES`, default 10,000 / 30,000 / 100,000 organizations) a fresh DynamoDB Local
and SQS (moto) are provisioned from template.yaml and N organizations are written in bulk (BatchWriteItem of the
repositories' own items, `item_of`), over `BENCH_CAPACITY_PARTNERS` partners (default 50) each with a master
wallet: `BENCH_CAPACITY_DUE_PERCENT` (default 1) of them due (half `master_account`, half `cheque_or_tt`), a fifth
of the rest with automatic top-up switched on but above their threshold. Then, in this process, through the
functions' own handlers:
  - the sweep of the scheduled event (events/sweep/): its wall time, queries, items read and read units;
  - the worker over every queued message, ten a batch as the event source mapping gives them: top-ups/s of one
    execution environment, requests and units per top-up, outcomes;
  - the sweep again for the same date: it must find nobody due (every due organization was topped up).
The sweep's reads must grow with the due organizations, never with the table. Wall times are this machine's
(2 cores shared with other work, DynamoDB Local's SQLite, moto's SQS behind one lock), not AWS's.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.requests import READS, Counted
from local.aws import TABLE_NAME, LocalAws, sqs_event
from local.dynamodb import client
from local.lambdas import FunctionHost
from local.stripe import NO_STRIPE
from local.template import Template
from shared.domain.organization import Organization, PaymentSettings
from shared.domain.partner_wallet import PartnerWallet
from shared.ids import new_id
from shared.repositories.dynamo import to_av
from shared.repositories.registry import item_of
from tests.conftest import load_event

SIZES = [int(n) for n in os.environ.get("BENCH_CAPACITY_SIZES", "10000,30000,100000").split(",")]
PARTNERS = int(os.environ.get("BENCH_CAPACITY_PARTNERS", "50"))
DUE_PERCENT = float(os.environ.get("BENCH_CAPACITY_DUE_PERCENT", "1"))
DUE = int(os.environ.get("BENCH_CAPACITY_DUE", "0"))  # due organizations at every size (0: DUE_PERCENT of each)
SEEDERS = 4  # BatchWriteItem requests in flight at once while seeding
AT = "2026-11-21T00:00:00.000Z"
warnings.filterwarnings("ignore", message="No application metrics to publish")


def organizations(n: int, partners: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """N organizations' items (every 1/DUE_PERCENT-th due) and the ids of the due ones."""
    every = max(1, n // DUE if DUE else round(100 / DUE_PERCENT))
    items, due = [], []
    for i in range(n):
        is_due, enabled = i % every == 0, i % 5 == 0
        method = "master_account" if (i // every) % 2 else "cheque_or_tt"
        settings = PaymentSettings(method=method, trigger_amount=1_000, limit_threshold=500,
                                   auto_trigger=is_due or enabled, updated_at=AT)
        org = Organization(id=new_id("org"), partner_id=partners[i % len(partners)], name=f"Org {i}",
                           currency="SGD", created_at=AT, created_by="bench", listed_by_lock=True, wallet_updated_at=AT,
                           settings=settings, balance=0 if is_due else 5_000)
        assert org.due == is_due, org
        items.append(item_of(org))
        if is_due:
            due.append(org.id)
    return items, due


def seed(endpoint: str, items: list[dict[str, Any]]) -> None:
    batches = [items[i:i + 25] for i in range(0, len(items), 25)]

    def write(part: list[list[dict[str, Any]]]) -> None:
        ddb = client(endpoint)
        for batch in part:
            request = {TABLE_NAME: [{"PutRequest": {"Item": to_av(item)}} for item in batch]}
            while request:
                request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(SEEDERS) as pool:
        list(pool.map(write, [batches[i::SEEDERS] for i in range(SEEDERS)]))


def per(counted: Counter[str], n: int, keys: set[str] | None = None) -> float:
    return sum(v for k, v in counted.items() if keys is None or k in keys) / max(n, 1)


def run(n: int) -> dict[str, Any]:
    template = Template.load()
    aws = LocalAws.start().provision(template)
    host = FunctionHost(template, {**aws.overrides("ERROR"), **NO_STRIPE})
    try:
        partners = [f"ptn_cap{uuid.uuid4().hex[:6]}{p}" for p in range(PARTNERS)]
        items, due = organizations(n, partners)
        items += [item_of(PartnerWallet(partner_id=p, currency="SGD", balance=10**12, updated_at=AT, version=1))
                  for p in partners]
        sweep, worker = Counted(host, "SweepFunction", units=True), Counted(host, "WorkerFunction", units=True)
        event = load_event("sweep/scheduled.json")
        sweep.raw(event)  # warm (its clients made) on the empty table: the timed sweep is a warm one
        t = time.perf_counter()
        seed(aws.dynamodb.endpoint, items)
        seeded = time.perf_counter() - t
        t = time.perf_counter()
        swept = sweep.raw(event)
        sweep_s = time.perf_counter() - t
        sweep_calls, sweep_units, sweep_dynamo_s = Counter(sweep.calls), Counter(sweep.units), sweep.dynamo_s
        sqs = client(aws.sqs.endpoint, "sqs")
        url = aws.queue_urls["AutoTopUpQueue"]  # moto keeps its queues per process: a size's queue is the last's
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        handled, failures, batches, worker_s, calls, units = drain(sqs, url, arn, worker)
        again = sweep.raw(event)  # the same date again: the cheque/TT ones are still due (invoiced, not credited)
        repeated, _, _, _, _, repeated_units = drain(sqs, url, arn, worker)
        return {"n": n, "due": len(due), "seeded_s": seeded, "seed_items": len(items), "sweep_s": sweep_s,
                "sweep_dynamo_s": sweep_dynamo_s,
                "queries": swept["queries"], "items_read": swept["items_read"], "queued": swept["queued"],
                "sweep_rcu": sweep_units["read"], "sweep_requests": sum(sweep_calls.values()),
                "handled": handled, "failures": failures, "batches": batches, "worker_s": worker_s,
                "worker_reads": per(calls, handled, READS), "worker_writes": per(calls, handled) - per(
                    calls, handled, READS), "worker_rcu": per(units, handled, {"read"}),
                "worker_wcu": per(units, handled, {"write"}), "again_read": again["items_read"],
                "repeated": repeated, "repeated_wcu": per(repeated_units, repeated, {"write"})}
    finally:
        host.stop()
        aws.stop()


def drain(sqs: Any, url: str, arn: str, worker: Counted) -> tuple[int, int, int, float, Counter[str], Counter[str]]:
    """The worker over every message in the queue, ten a batch: handled, failed, batches, its seconds, requests
    and units (the messages it handled are deleted, as the event source mapping does)."""
    calls: Counter[str] = Counter()
    units: Counter[str] = Counter()
    handled = failures = batches = 0
    worker_s = 0.0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return handled, failures, batches, worker_s, calls, units
        t = time.perf_counter()
        out = worker.raw(sqs_event(messages, arn))
        worker_s += time.perf_counter() - t - worker._hooks  # the units' own reads are not the worker's
        calls, units, batches = calls + worker.calls, units + worker.units, batches + 1
        failed = {f["itemIdentifier"] for f in out.get("batchItemFailures", [])}
        failures += len(failed)
        handled += len(messages) - len(failed)
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            if m["MessageId"] not in failed])


def line(r: dict[str, Any]) -> str:
    return (f"  {r['n']:>7,} orgs, {r['due']:>5,} due: sweep {r['sweep_s']:5.1f} s ({r['sweep_dynamo_s']:.1f} s "
            f"waiting for DynamoDB, the rest SQS), {r['queries']} queries, "
            f"{r['items_read']:,} items read ({r['items_read'] / max(r['due'], 1):.2f}/due org; a scan: "
            f"{r['n'] + PARTNERS:,}), {r['sweep_rcu']:g} RCU ({r['sweep_rcu'] / max(r['due'], 1):.3f}/due org), "
            f"queued {r['queued']:,} | worker {r['handled']:,} top-ups in {r['worker_s']:.0f} s "
            f"({r['handled'] / max(r['worker_s'], 1e-9):.1f}/s, one environment, {r['batches']} batches), "
            f"{r['failures']} failed; per top-up {r['worker_reads']:.2f} reads + {r['worker_writes']:.2f} writes, "
            f"{r['worker_rcu']:.2f} RCU + {r['worker_wcu']:.2f} WCU | the date again: {r['again_read']:,} still "
            f"due (cheque/TT), {r['repeated']:,} repeated messages wrote {r['repeated_wcu']:.2f} WCU each | "
            f"seeded {r['seed_items']:,} items in {r['seeded_s']:.0f} s")


def main() -> list[str]:
    due = f"{DUE:,} due at each size" if DUE else f"{DUE_PERCENT:g}% due"
    lines = [f"Capacity simulation: the sweep and the worker on DynamoDB Local ({due}, {PARTNERS} "
             f"partners; wall times of this shared 2-core machine)"]
    results = []
    for n in SIZES:
        results.append(run(n))
        lines.append(line(results[-1]))
        print(lines[-1], file=sys.stderr, flush=True)  # a long run shows each size as it ends
    if len(results) > 1:
        first, last = results[0], results[-1]
        lines.append(f"  growth {first['n']:,} -> {last['n']:,} orgs (x{last['n'] / first['n']:g}), due "
                     f"x{last['due'] / max(first['due'], 1):g}: sweep items read x"
                     f"{last['items_read'] / max(first['items_read'], 1):.2f}, RCU x"
                     f"{last['sweep_rcu'] / max(first['sweep_rcu'], 1e-9):.2f}, queries "
                     f"{first['queries']} -> {last['queries']}; sweep time x{last['sweep_s'] / first['sweep_s']:.2f} "
                     f"(of which DynamoDB Local's x{last['sweep_dynamo_s'] / max(first['sweep_dynamo_s'], 1e-9):.2f})")
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
