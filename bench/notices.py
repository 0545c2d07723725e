"""Notices to partners' endpoints (issue 30): how many deliveries a second reach a partner's receiver on the local
stack, from the changes that make them (the table's stream polled four times a second, as Lambda polls it, the
notices function, the delivery queue's five pollers, the delivery function's batches), and how long after a change's
answer its notice arrives.

Deployed, Lambda scales the delivery function with the queue (up to 1,000 concurrent batches by default) where the
local stack runs five pollers; the figure here is a floor, set mostly by the local processes sharing two cores."""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.invoice_history import api_caller
from local.auth import mint
from local.stack import start

ORGANIZATIONS = 40  # each crosses its threshold once: one notice each
ENDPOINTS = 4  # each notice goes to each endpoint: ORGANIZATIONS * ENDPOINTS deliveries


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrivals: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, name="bench-receiver", daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.arrivals.values())


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        org = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))["data"]["org_id"]
        with self.server.lock:
            self.server.arrivals.setdefault(org, []).append(time.perf_counter())
        self.wfile.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def main() -> list[str]:
    os.environ["API_THROTTLE_OFF"] = "1"
    receiver = _Receiver()
    stack, _ = start(0, 0, 0)
    try:
        partner = f"ptn_{secrets.token_hex(6)}"
        token = mint("bench@example.com", partner, ["finance-admin"])
        api = api_caller(stack.api_url, token)
        for n in range(ENDPOINTS):
            api("POST", f"/partners/{partner}/webhook-endpoints",
                {"url": f"http://127.0.0.1:{receiver.server_address[1]}/hooks/{n}", "events": ["wallet.low_balance"]})
        orgs = []
        for n in range(ORGANIZATIONS + 1):  # each: SGD 20.00 in its wallet, threshold SGD 10.00
            org = api("POST", "/organizations", {"name": f"Notices Bench {n}", "currency": "SGD"})
            api("PUT", f"/organizations/{org['id']}/payment-settings",
                {"method": "cheque_or_tt", "trigger_amount": 0, "limit_threshold": 1_000, "auto_trigger": False})
            pay = api("POST", "/payments", {"amount": 2_000, "currency": "SGD", "received_date": "2026-11-20",
                                            "method": "cheque", "org_id": org["id"]})
            api("POST", f"/payments/{pay['id']}/top-ups", {"amount": 2_000})
            orgs.append(org)
        answered: dict[str, float] = {}

        def debit(org: dict[str, Any]) -> None:
            api_caller(stack.api_url, token)("POST", f"/organizations/{org['id']}/wallet/debits",
                                       {"amount": 1_500, "reference": "bench"})
            answered[org["id"]] = time.perf_counter()

        warm_up = orgs.pop()  # its notice starts the functions' environments (cold starts are coldstart.py's)
        debit(warm_up)
        while receiver.count() < ENDPOINTS:
            time.sleep(0.01)
        receiver.arrivals.clear()
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(debit, orgs))
        total = ORGANIZATIONS * ENDPOINTS
        while receiver.count() < total:
            if time.perf_counter() - started > 120:
                raise TimeoutError(f"{receiver.count()} of {total} deliveries arrived")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        lags = sorted(min(times) - answered[org] for org, times in receiver.arrivals.items())
    finally:
        stack.stop()
        receiver.shutdown()
        receiver.server_close()
    return ["## Notices to partners' endpoints (python -m bench.notices)",
            f"{ORGANIZATIONS} wallets crossing their threshold at once, {ENDPOINTS} endpoints each: {total} "
            f"deliveries in {elapsed:.1f} s = {total / elapsed:.0f} deliveries/s "
            f"({ORGANIZATIONS / elapsed:.1f} notices/s), every one signed and answered 204",
            f"a debit's answer -> its first delivery: p50 {statistics.median(lags) * 1000:.0f} ms, "
            f"max {lags[-1] * 1000:.0f} ms (stream polled every 250 ms, twice: the notice, then its deliveries' "
            "messages)"]


if __name__ == "__main__":
    print("\n".join(main()))
