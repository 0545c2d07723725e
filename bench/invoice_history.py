"""An invoice's history (issue 26): how long after an allocation's answer its record is in the invoice's history
on the local stack (the table's stream polled four times a second, as Lambda polls it, then one function call of
conditional puts), and how long the function takes for an allocation naming many invoices.

Deployed, Lambda reads a stream's records within a second of the write (typically ~0.2-0.5 s) and the function's
own time is the second figure: the history lags the payment's record by about a second."""

from __future__ import annotations

import os
import secrets
import statistics
import time
from typing import Any

import requests

from local.auth import mint
from local.stack import start

ALLOCATIONS = 20
INVOICES = 40  # one allocation naming this many invoices (the bound of one allocation request is in docs/api.md)


def api_caller(base: str, token: str) -> Any:
    """`call(method, path, body)` on the local API as the token's holder (a 2xx asserted; the JSON answer)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, body: Any = None) -> Any:
        res = session.request(method, base + path, json=body, timeout=30)
        assert res.status_code < 300, res.text
        return res.json() if res.text else None
    return call


def _wait(api: Any, invoice_id: str, count: int) -> float:
    started = time.perf_counter()
    while sum(i["action"] == "invoice.allocated" for i in api(
            "GET", f"/invoices/{invoice_id}/history?limit=100")["items"]) < count:
        if time.perf_counter() - started > 30:
            raise TimeoutError(invoice_id)
        time.sleep(0.01)
    return time.perf_counter() - started


def main() -> list[str]:
    os.environ["API_THROTTLE_OFF"] = "1"
    stack, _ = start(0, 0, 0)
    try:
        api = api_caller(stack.api_url, mint("bench@example.com", f"ptn_{secrets.token_hex(6)}", ["finance-admin"]))
        org = api("POST", "/organizations", {"name": "History Bench", "currency": "SGD"})
        invoice = {"org_id": org["id"], "type": "standard", "currency": "SGD", "issued_date": "2026-11-01"}
        payment = {"currency": "SGD", "received_date": "2026-11-20", "method": "cheque", "org_id": org["id"]}
        lags = []
        for _ in range(ALLOCATIONS):
            inv = api("POST", "/invoices", {**invoice, "amount": 1_000})
            pay = api("POST", "/payments", {**payment, "amount": 1_000})
            api("POST", f"/payments/{pay['id']}/allocations", {"allocations": [{"invoice_id": inv["id"],
                                                                                "amount": 1_000}]})
            lags.append(_wait(api, inv["id"], 1))
        many = [api("POST", "/invoices", {**invoice, "amount": 100}) for _ in range(INVOICES)]
        pay = api("POST", "/payments", {**payment, "amount": 100 * INVOICES})
        api("POST", f"/payments/{pay['id']}/allocations",
            {"allocations": [{"invoice_id": i["id"], "amount": 100} for i in many]})
        wide = _wait(api, many[-1]["id"], 1)  # written last: the records are written in the order named
    finally:
        stack.stop()
    lags.sort()
    return ["## Invoice history (python -m bench.invoice_history)",
            f"allocation answered -> in the invoice's history, {ALLOCATIONS} allocations: "
            f"p50 {statistics.median(lags) * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms "
            "(stream polled every 250 ms, as Lambda polls)",
            f"one allocation naming {INVOICES} invoices: all {INVOICES} records in {wide * 1000:.0f} ms after its "
            "answer"]


if __name__ == "__main__":
    print("\n".join(main()))
