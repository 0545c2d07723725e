"""Money writes and reads per second through the local HTTP API, beside the same DynamoDB requests sent
straight to the same DynamoDB Local (issue 19).

The stack is `python -m local.stack --no-seed` in its own process (as bench/hot_invoice.py starts it).
At 1, 8 and 32 concurrent clients, each with its own kept-alive connection (http.client, the standard
library's: no retries, and no client library's own cost in the API figure; requests.Session adds about
1-2 ms a request here):

- write: `POST /payments/{id}/top-ups` of 1 (no Idempotency-Key). There are 32 organizations, each with
  one assigned payment; client `c` of `n` tops up the payments `j` with `j % n == c` in turn, so no two
  clients ever touch the same payment or organization (no conflict retries); a payment's top-ups add
  into its one wallet allocation, so its item keeps its size.
- read: `GET /organizations/{id}/wallet`, client `c` reading organization `c`'s wallet.

Directly, from as many threads (each its own boto3 client), the requests those routes make
(shared/services/allocation.py `top_up`, shared/services/accounts.py `get_wallet`, through
shared/repositories; bench/requests.py counts them): a top-up is GetItem(payment) + GetItem(organization),
both strongly consistent, then one TransactWriteItems of four Puts (the payment with the new
allocation and the organization with the new balance, each conditioned on the version read; the ledger
entry and the audit record, each `attribute_not_exists(pk)`); a wallet read is one strongly consistent
GetItem(organization). Captured from botocore on the handlers, the routes' requests and these have the
same operations, keys, conditions and attribute names. The direct side has its own 32 organizations and
payments, made the same way. API and direct run in alternating windows, so the machine's other load
falls on both alike.

Everything runs on this machine (2 cores shared by the clients, the stack, its environments and Java):
the ratio API / direct is what the HTTP API, the Lambda Runtime API round trip and the handler cost
over the DynamoDB requests themselves, not a figure for AWS.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests

from local.auth import mint
from local.aws import TABLE_NAME
from local.dynamodb import LOCAL_CREDENTIALS
from local.process import StackProcess, start_stack

LEVELS = [int(n) for n in os.environ.get("BENCH_THROUGHPUT_LEVELS", "1,8,32").split(",")]
SECONDS = float(os.environ.get("BENCH_THROUGHPUT_SECONDS", 4))  # per row and side
ROUNDS = 2
PAIRS = max(LEVELS)  # organizations (each with one payment) per side

type Op = Callable[[], None]  # one request of one client


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Figures:
    done: int = 0
    seconds: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def line(self) -> str:
        lat = sorted(self.latencies)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return f"{self.rate:>7.0f}/s {statistics.median(lat):>6.1f} {p99:>6.1f}"

    @property
    def rate(self) -> float:
        return self.done / self.seconds


def _window(ops: list[Op], seconds: float, figures: Figures) -> None:
    """Every client doing its op in a loop for `seconds` (each request in flight at the end completes)."""
    latencies: list[list[float]] = [[] for _ in ops]
    errors = [0] * len(ops)
    barrier = threading.Barrier(len(ops) + 1)
    stop = threading.Event()

    def loop(c: int) -> None:
        barrier.wait()
        while not stop.is_set():
            t = time.perf_counter()
            try:
                ops[c]()
            except Exception:  # noqa: BLE001 - counted, the loop goes on
                errors[c] += 1
            latencies[c].append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in range(len(ops))]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    figures.seconds += time.perf_counter() - began
    figures.done += sum(len(per) for per in latencies)
    figures.errors += sum(errors)
    figures.latencies += [x for per in latencies for x in per]


def _compare(clients: int, api: list[Op], direct: list[Op]) -> tuple[Figures, Figures]:
    """API and direct in alternating windows (ROUNDS each), so the machine's other load falls on both."""
    a, d = Figures(), Figures()
    for _ in range(ROUNDS):
        _window(api, SECONDS / ROUNDS, a)
        _window(direct, SECONDS / ROUNDS, d)
    return a, d


class Api:
    """The HTTP side: each client its own kept-alive http.client connection (the standard library's: no
    retries, no client library's own cost in the figure)."""

    def __init__(self, stack: StackProcess, token: str, orgs: list[str], payments: list[str]):
        url = urlsplit(stack.api)
        self.host, self.port, self.orgs, self.payments = url.hostname or "127.0.0.1", url.port, orgs, payments
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _client(self) -> Callable[[str, str, bytes | None], None]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

        def call(method: str, path: str, body: bytes | None) -> None:
            try:
                conn.request(method, path, body=body, headers=self.headers)
                res = conn.getresponse()
                res.read()
            except (OSError, http.client.HTTPException):
                conn.close()  # the next request reconnects
                raise
            if res.status != 200:
                raise RuntimeError(res.status)
        return call

    def writers(self, clients: int) -> list[Op]:
        def op(c: int) -> Op:
            call, mine, turn = self._client(), self.payments[c::clients], itertools.count()
            body = json.dumps({"amount": 1}).encode()
            return lambda: call("POST", f"/payments/{mine[next(turn) % len(mine)]}/top-ups", body)
        return [op(c) for c in range(clients)]

    def readers(self, clients: int) -> list[Op]:
        def op(c: int) -> Op:
            call, org = self._client(), self.orgs[c % len(self.orgs)]
            return lambda: call("GET", f"/organizations/{org}/wallet", None)
        return [op(c) for c in range(clients)]


class Direct:
    """The same DynamoDB requests, built here as the routes build them, one boto3 client per thread."""

    def __init__(self, stack: StackProcess, orgs: list[str], payments: list[str]):
        self.endpoint, self.orgs, self.payments = stack.dynamodb, orgs, payments

    def client(self) -> Any:
        return boto3.session.Session().client("dynamodb", endpoint_url=self.endpoint, **LOCAL_CREDENTIALS)

    @staticmethod
    def _get(ddb: Any, pk: str) -> dict[str, Any]:
        return ddb.get_item(TableName=TABLE_NAME, Key={"pk": {"S": pk}, "sk": {"S": "META"}},
                            ConsistentRead=True)["Item"]

    def top_up(self, ddb: Any, payment_id: str) -> None:
        payment = self._get(ddb, f"PAY#{payment_id}")
        org_id = payment["org_id"]["S"]
        org = self._get(ddb, f"ORG#{org_id}")
        at, amount = _now(), 1
        pv, ov, seq = int(payment["version"]["N"]), int(org["version"]["N"]), int(org["ledger_seq"]["N"]) + 1
        balance = int(org["balance"]["N"]) + amount
        allocated = int(payment["allocated_amount"]["N"]) + amount
        entry = {"M": {"kind": {"S": "wallet_top_up"}, "amount": {"N": str(amount)}, "allocated_at": {"S": at}}}
        paid = {**payment, "version": {"N": str(pv + 1)}, "updated_at": {"S": at},
                "allocated_amount": {"N": str(allocated)}, "allocations": {"L": [*payment["allocations"]["L"], entry]},
                "status": {"S": "partially_allocated"}}
        credited = {**org, "version": {"N": str(ov + 1)}, "balance": {"N": str(balance)},
                    "ledger_seq": {"N": str(seq)}, "wallet_updated_at": {"S": at}}
        txn, aud = f"txn_{uuid.uuid4().hex[:26]}", f"aud_{uuid.uuid4().hex[:26]}"
        common = {"partner_id": payment["partner_id"], "entity": {"S": "ledger_entry"}}
        ledger = {"pk": {"S": f"ORG#{org_id}"}, "sk": {"S": f"LEDGER#{seq:012d}"}, **common, "id": {"S": txn},
                  "amount": {"N": str(amount)}, "balance_after": {"N": str(balance)}, "created_at": {"S": at},
                  "type": {"S": "top_up"}, "created_by": {"S": "bench"}, "reference": {"S": payment_id},
                  "org_id": {"S": org_id}, "currency": org["currency"], "seq": {"N": str(seq)}}
        audit = {"pk": {"S": f"PAY#{payment_id}"}, "sk": {"S": f"AUDIT#{at}#{aud}"}, "id": {"S": aud},
                 "actor": {"S": "bench"}, "partner_id": payment["partner_id"], "entity_type": {"S": "payment"},
                 "at": {"S": at}, "action": {"S": "payment.wallet_top_up"}, "entity_id": {"S": payment_id},
                 "entity": {"S": "audit"},
                 "changes": {"M": {"ledger_entry": {"S": txn}, "amount": {"N": str(amount)}}}}

        def versioned(item: dict[str, Any], version: int) -> dict[str, Any]:
            return {"Put": {"TableName": TABLE_NAME, "Item": item, "ConditionExpression": "#v = :v",
                            "ExpressionAttributeValues": {":v": {"N": str(version)}},
                            "ExpressionAttributeNames": {"#v": "version"}}}

        def new(item: dict[str, Any]) -> dict[str, Any]:
            return {"Put": {"TableName": TABLE_NAME, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

        ddb.transact_write_items(TransactItems=[versioned(paid, pv), versioned(credited, ov), new(ledger), new(audit)])

    def writers(self, clients: int) -> list[Op]:
        def op(c: int) -> Op:
            ddb, mine, turn = self.client(), self.payments[c::clients], itertools.count()
            return lambda: self.top_up(ddb, mine[next(turn) % len(mine)])
        return [op(c) for c in range(clients)]

    def readers(self, clients: int) -> list[Op]:
        def op(c: int) -> Op:
            ddb, org = self.client(), self.orgs[c % len(self.orgs)]
            return lambda: self._get(ddb, f"ORG#{org}") and None
        return [op(c) for c in range(clients)]


def _setup(stack: StackProcess, token: str, tag: str) -> tuple[list[str], list[str]]:
    """PAIRS organizations of one partner, each with one assigned payment, made through the API."""
    def pair(n: int) -> tuple[str, str]:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        org = s.post(f"{stack.api}/organizations", json={"name": f"{tag} {n}", "currency": "SGD"}, timeout=30)
        assert org.status_code == 201, org.text
        pay = s.post(f"{stack.api}/payments", json={"org_id": org.json()["id"], "amount": 10**9, "currency": "SGD",
                                                    "received_date": "2026-11-20", "method": "cheque"}, timeout=30)
        assert pay.status_code == 201, pay.text
        return org.json()["id"], pay.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        pairs = list(pool.map(pair, range(PAIRS)))
    return [o for o, _ in pairs], [p for _, p in pairs]


def main() -> list[str]:
    stack = start_stack("--no-seed")
    try:
        token = mint("bench", f"ptn_tput{uuid.uuid4().hex[:6]}", ["finance-admin"])
        api = Api(stack, token, *_setup(stack, token, "Api"))
        direct = Direct(stack, *_setup(stack, token, "Direct"))
        for ops in (api.writers(PAIRS), api.readers(PAIRS)):  # the environments of the largest level, warm
            _window(ops, 1, Figures())
        lines = [f"Throughput (issue 19): local HTTP API vs the same DynamoDB requests sent directly to DynamoDB "
                 f"Local, {SECONDS:.0f} s each in {ROUNDS} alternating windows",
                 f"  {'kind':<6}{'clients':>8}  {'API req/s   p50    p99 ms':>26}  "
                 f"{'direct req/s   p50    p99 ms':>28}  {'API/direct':>10}{'errors':>7}"]
        for kind in ("write", "read"):
            for clients in LEVELS:
                if kind == "write":
                    a, d = _compare(clients, api.writers(clients), direct.writers(clients))
                else:
                    a, d = _compare(clients, api.readers(clients), direct.readers(clients))
                lines.append(f"  {kind:<6}{clients:>8}  {a.line():>26}  {d.line():>28}  {a.rate / d.rate:>10.2f}"
                             f"{a.errors + d.errors:>7}")
        lines += ["  write: POST /payments/{id}/top-ups of 1, each client its own payments (and their organizations)"
                  " / GetItem x2 + TransactWriteItems of 4 Puts",
                  "  read: GET /organizations/{id}/wallet, each client its own organization / GetItem"]
        return lines
    finally:
        stack.stop()


if __name__ == "__main__":
    print("\n".join(main()))
