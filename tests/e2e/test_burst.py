"""A local host that holds a burst: `python -m local.stack` (what `make run` starts) under 64 clients at
once, each on its own kept-alive connection.

Invariants: (B1) 64 concurrent clients, each reusing one connection for all its requests (money writes
and wallet reads, or reads alone), get no transport error (no reset, refused connection or timeout) and
every answer has its expected status and body; (B2) a request on a kept-alive connection is as fast as
one on a fresh connection: the host writes each response in one piece, so no answer waits for the
client's delayed ACK (Nagle: with headers and body in two writes, every kept-alive request took ~40 ms
more); (B3) right after such a burst, with every client still holding its connection open, Ctrl-C
(SIGINT) or SIGTERM stops the stack and every process it started in under 5 s.

Each client is its own partner, so the burst loads the host, not one item. Clients use http.client,
which neither retries nor silently reconnects: a dropped connection is an error here, and the local port
of each request shows that the connection was kept. Each signal gets its own stack, started for it:
Ctrl-C after the money burst, SIGTERM after a burst of reads (each burst starts all 8 environments of
each function it reaches, the most a function runs).
"""

from __future__ import annotations

import http.client
import json
import signal
import statistics
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.auth import mint
from local.process import StackProcess
from tests.conftest import new_partner
from tests.e2e.test_stack_lifecycle import descendants, running, start

# Timing bounds: measured with the machine to itself (`make test` runs these after the parallel run).
pytestmark = pytest.mark.serial

CLIENTS = 64
TIMEOUT_S = 60  # far above any answer, cold starts included: only a stuck connection reaches it


class Client:
    """A finance admin of its own fresh partner, on one connection that it reuses for every request."""

    def __init__(self, api: str):
        url = urlsplit(api)
        self.conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=TIMEOUT_S)
        self.partner = new_partner()
        self.headers = {"Authorization": f"Bearer {mint('burst@example.com', self.partner, ['finance-admin'])}",
                        "Content-Type": "application/json"}
        self.ports: set[int] = set()  # local ports its requests went out on: one = the connection was kept
        self.errors: list[str] = []  # transport errors and unexpected answers

    def __call__(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        try:
            self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
            assert self.conn.sock is not None
            self.ports.add(self.conn.sock.getsockname()[1])
            res = self.conn.getresponse()
            data = res.read()
        except (OSError, http.client.HTTPException) as error:  # reset, refused, timed out, closed mid-answer
            self.errors.append(f"{method} {path}: {type(error).__name__}: {error}")
            self.conn.close()
            return None
        if res.status != expect:
            self.errors.append(f"{method} {path}: {res.status} {data[:200]!r}")
        return json.loads(data) if data else None

    def money(self) -> None:
        """An organization and an assigned payment, two top-ups from it, the wallet read after each."""
        org = self("POST", "/organizations", {"name": "Burst", "currency": "SGD"}, 201)
        pay = org and self("POST", "/payments", {"org_id": org["id"], "amount": 1_000, "currency": "SGD",
                                                 "received_date": "2026-11-20", "method": "cheque"}, 201)
        if not pay:
            return
        for amount, balance in ((100, 100), (50, 150)):
            self("POST", f"/payments/{pay['id']}/top-ups", {"amount": amount})
            wallet = self("GET", f"/organizations/{org['id']}/wallet")
            if wallet is not None and wallet.get("balance") != balance:
                self.errors.append(f"wallet of {org['id']}: {wallet}, balance {balance} expected")

    def reads(self) -> None:
        """Its partner's (empty) list of organizations, three times."""
        for _ in range(3):
            page = self("GET", "/organizations")
            if page is not None and page.get("items") != []:
                self.errors.append(f"organizations of {self.partner}: {page}")


def burst(api: str, work: str) -> list[Client]:
    """CLIENTS clients released at once, each doing `work` on its own connection; they stay connected."""
    clients = [Client(api) for _ in range(CLIENTS)]
    gate = threading.Barrier(CLIENTS)

    def run(client: Client) -> None:
        gate.wait()
        getattr(client, work)()

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return clients


@pytest.mark.parametrize(("signum", "work"), [(signal.SIGINT, "money"), (signal.SIGTERM, "reads")],
                         ids=["money-burst-then-ctrl-c", "read-burst-then-sigterm"])
def test_a_burst_of_64_kept_alive_clients_is_served_whole_and_a_signal_then_stops_the_stack(
        signum: signal.Signals, work: str):
    # Given a new stack, and 64 clients, each its own partner on its own connection, released at once
    proc, api, lines, up = start("--no-seed")
    try:
        assert up.wait(90), "".join(lines)
        started = time.monotonic()
        # When each does its work: records a payment, tops up its wallet from it twice and reads the wallet
        # after each (money), or reads its organizations three times (reads)
        clients = burst(api, work)
        burst_s = time.monotonic() - started
        # Then none saw a transport error and every answer was the expected one, each client on the one
        # connection it still holds open (B1)
        errors = [e for c in clients for e in c.errors]
        assert errors == [], f"{len(errors)} errors, first: {errors[:5]}"
        assert [c.ports for c in clients if len(c.ports) != 1] == []
        assert all(c.conn.sock is not None for c in clients)
        children = descendants(proc.pid)
        assert len(children) >= 2  # Java and the environments
        # When the stack gets the signal
        stopping = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=30)
        while any(running(p) for p in children) and time.monotonic() - stopping < 10:
            time.sleep(0.02)
        stop_s = time.monotonic() - stopping
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Then it exits cleanly, and it and every process it started are gone, in under 5 s (B3)
    assert proc.returncode == 0, "".join(lines[-30:])
    assert [p for p in children if running(p)] == []
    assert stop_s < 5, stop_s
    print(f"\n{work} burst of {CLIENTS} kept-alive clients: 0 errors in {burst_s:.1f} s; then "
          f"{signal.Signals(signum).name}: the stack and its {len(children)} processes gone in {stop_s:.1f} s")
    for c in clients:
        c.conn.close()


def test_a_kept_alive_request_is_as_fast_as_one_on_a_fresh_connection(stack: StackProcess):
    # Given an organization's wallet, one kept-alive connection, and a fresh connection per request
    client = Client(stack.api)
    org = client("POST", "/organizations", {"name": "Keep-alive", "currency": "SGD"}, 201)
    path = f"/organizations/{org['id']}/wallet"
    url = urlsplit(stack.api)

    def fresh() -> float:
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=TIMEOUT_S)
        t = time.perf_counter()
        conn.request("GET", path, headers=client.headers)
        res = conn.getresponse()
        res.read()
        elapsed = time.perf_counter() - t
        conn.close()
        assert res.status == 200
        return elapsed * 1000

    def kept() -> float:
        t = time.perf_counter()
        client("GET", path)
        return (time.perf_counter() - t) * 1000

    for _ in range(5):  # warm: the environment, and the connection past TCP's first quick ACKs
        fresh(), kept()
    # When 30 requests go out on each, interleaved (the machine's other load falls on both alike)
    samples = [(kept(), fresh()) for _ in range(30)]
    kept_ms = statistics.median(k for k, _ in samples)
    fresh_ms = statistics.median(f for _, f in samples)
    print(f"\nGET wallet, median of 30: kept-alive {kept_ms:.1f} ms, fresh connection {fresh_ms:.1f} ms")
    # Then the kept-alive median carries no delayed-ACK stall (~40 ms, whatever the load) (B2)
    assert client.errors == [] and len(client.ports) == 1
    assert kept_ms <= fresh_ms * 1.5 + 5, (kept_ms, fresh_ms)
    client.conn.close()
