"""Items that stay bounded (issue 19): 5,000 top-ups of SGD 0.01 from one payment, over HTTP against the
local stack (`python -m local.stack`, as `make run` starts it), one after another on a kept-alive
connection.

Prints the errors (the proof wants 0), the wallet against the sum of the top-ups and of its ledger, the
history's record count against 1 + top-ups, the payment item's size after the first and the last top-up
(read straight from DynamoDB Local), and top-ups per second with p50/p99. BENCH_TOP_UPS sets the count.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from typing import Any

import requests

from local.auth import mint
from local.aws import TABLE_NAME
from local.dynamodb import client
from local.process import start_stack
from shared.repositories.dynamo import to_av
from shared.repositories.payments import PAYMENTS

TOP_UPS = int(os.environ.get("BENCH_TOP_UPS", 5_000))


def _item_size(endpoint: str, payment_id: str) -> int:
    item = client(endpoint).get_item(TableName=TABLE_NAME, Key=to_av(PAYMENTS.key(payment_id)),
                                     ConsistentRead=True)["Item"]
    return len(json.dumps(item, separators=(",", ":")).encode())


def _all(s: requests.Session, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = s.get(url, params=params, timeout=30).json()
        items.extend(page["items"])
        if not page["next_cursor"]:
            return items
        params = {"limit": 100, "cursor": page["next_cursor"]}


def main() -> list[str]:
    process = start_stack("--no-seed")
    api = process.api
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {mint('bench', f'ptn_bound{uuid.uuid4().hex[:6]}', ['finance-admin'])}"
        org = s.post(f"{api}/organizations", json={"name": "Bounded", "currency": "SGD"}, timeout=30).json()
        pay = s.post(f"{api}/payments", json={"org_id": org["id"], "amount": TOP_UPS, "currency": "SGD",
                                              "received_date": "2026-11-20", "method": "cheque"}, timeout=30).json()
        url = f"{api}/payments/{pay['id']}/top-ups"
        latencies: list[float] = []
        errors: dict[int, int] = {}
        size_first = 0
        began = time.perf_counter()
        for n in range(TOP_UPS):
            t = time.perf_counter()
            res = s.post(url, json={"amount": 1}, timeout=30)
            latencies.append(time.perf_counter() - t)
            if res.status_code != 200:
                errors[res.status_code] = errors.get(res.status_code, 0) + 1
            if n == 0:
                size_first = _item_size(process.dynamodb, pay["id"])
        elapsed = time.perf_counter() - began
        size_last = _item_size(process.dynamodb, pay["id"])
        wallet = s.get(f"{api}/organizations/{org['id']}/wallet", timeout=30).json()["balance"]
        ledger = _all(s, f"{api}/organizations/{org['id']}/wallet/transactions")
        history = _all(s, f"{api}/payments/{pay['id']}/history")
        payment = s.get(f"{api}/payments/{pay['id']}", timeout=30).json()
    finally:
        process.stop()
    q = statistics.quantiles(latencies, n=100)
    return [
        f"Items that stay bounded: {TOP_UPS} top-ups of SGD 0.01 from one payment, over HTTP (local stack)",
        f"  errors                     {sum(errors.values())} {errors or ''}".rstrip(),
        f"  wallet balance             {wallet} (sum of top-ups {TOP_UPS - sum(errors.values())}, "
        f"of its {len(ledger)} ledger entries {sum(e['amount'] for e in ledger)})",
        f"  history records            {len(history)} (expected {1 + TOP_UPS}; oldest: {history[-1]['action']})",
        f"  payment allocations        {len(payment['allocations'])} "
        f"({', '.join(f'{a['kind']} {a['amount']}' for a in payment['allocations'])})",
        f"  payment item bytes         after the 1st top-up {size_first}, after the last {size_last}",
        f"  top-ups/s                  {TOP_UPS / elapsed:.1f}  p50 {q[49] * 1000:.1f} ms  p99 {q[98] * 1000:.1f} ms",
    ]


if __name__ == "__main__":
    print("\n".join(main()))
