"""Allocations per second on one hot invoice, over HTTP against the local stack (`python -m local.stack`
in its own process, as `make run` starts it).

Many payments allocate small amounts to the same invoice at once. Each allocation changes the invoice
with a conditional update that conflicts only with one that would overpay it, so they do not retry
each other. The local stack runs each execution environment as its own process (at most 8 per function)
against DynamoDB Local, all on this 2-core machine, so the figure is a floor for the code path here, not
a figure for AWS.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import requests

from local.auth import mint
from local.process import start_stack

CLIENTS = int(os.environ.get("BENCH_HOT_CLIENTS", 8))
PER_CLIENT = int(os.environ.get("BENCH_HOT_PER_CLIENT", 25))


def main() -> list[str]:
    process = start_stack("--no-seed")
    api = process.api
    try:
        partner = f"ptn_hot{uuid.uuid4().hex[:6]}"
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {mint('bench', partner, ['finance-admin'])}"
        org = s.post(f"{api}/organizations", json={"name": "Hot", "currency": "SGD"}).json()
        inv = s.post(f"{api}/invoices", json={"org_id": org["id"], "type": "standard", "amount": 10**9,
                                              "currency": "SGD", "issued_date": "2026-11-01"}).json()
        payments = [s.post(f"{api}/payments", json={"org_id": org["id"], "amount": 10**6, "currency": "SGD",
                                                    "received_date": "2026-11-20", "method": "cheque"}).json()
                    for _ in range(CLIENTS)]
        latencies: list[float] = []
        errors: list[int] = []
        barrier = threading.Barrier(CLIENTS + 1)

        def client(payment: dict) -> None:
            session = requests.Session()
            session.headers.update(s.headers)
            barrier.wait()
            for _ in range(PER_CLIENT):
                t = time.perf_counter()
                res = session.post(f"{api}/payments/{payment['id']}/allocations",
                                   json={"allocations": [{"invoice_id": inv["id"], "amount": 1}]})
                latencies.append(time.perf_counter() - t)
                if res.status_code != 200:
                    errors.append(res.status_code)

        threads = [threading.Thread(target=client, args=(p,)) for p in payments]
        for t in threads:
            t.start()
        barrier.wait()
        began = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        paid = s.get(f"{api}/invoices/{inv['id']}").json()["amount_paid"]
        latencies.sort()
        done = CLIENTS * PER_CLIENT - len(errors)
        return [f"Hot invoice: {CLIENTS} clients x {PER_CLIENT} allocations of 1 to one invoice (local stack)",
                f"  {done / elapsed:.0f} allocations/s; p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
                f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms; refused {len(errors)}; "
                f"invoice paid {paid} (= allocations made: {paid == done})"]
    finally:
        process.stop()


if __name__ == "__main__":
    print("\n".join(main()))
