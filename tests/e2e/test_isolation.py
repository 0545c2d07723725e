"""Tenant isolation under concurrency, through the local stack as `make run` starts it.

Invariant T1: whatever requests run at once, every response a partner's client gets and every item the
table holds belongs to one partner: no response names another partner or another partner's
organization, payment or invoice, and no stored item mixes two partners.

Each client is its own partner and walks every route family (organizations, settings, wallets, payments,
history, invoices, allocation, wallet top-ups and debits, the partner's master wallet, automatic top-up
attempts, online top-ups with Stripe). First 8 clients hit a fresh stack at once, so their requests
land on cold environments; then 32 clients at once on the warm ones. On a host that runs execution
environments as threads of one process this fails: Powertools keeps the current event on a class
attribute, so concurrent requests read each other's claims, path and body.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.auth import mint
from local.process import StackProcess, start_stack
from tests.conftest import new_partner
from tests.e2e.conftest import Api, table_of

ID = re.compile(r"\b(?:(?:org|pay|inv)_[0-9A-HJKMNP-TV-Z]{26}|ptn_[0-9a-f]{12})\b")  # minted ids, not field names
REPORT: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def fresh() -> Iterator[StackProcess]:
    process = start_stack("--no-seed")  # no request has reached any function yet: all cold
    try:
        yield process
    finally:
        process.stop()


class Client:
    """One partner's finance admin, walking every route family; it keeps every answer it got."""

    def __init__(self, stack: StackProcess, index: int):
        self.partner = new_partner()
        self.api = Api(stack.api, mint(f"admin-{self.partner}@example.com", self.partner, ["finance-admin"]))
        self.platform = Api(stack.api, mint(f"platform-{self.partner}@example.com", self.partner,
                                            ["platform-admin"]))
        self.index = index
        self.mine: set[str] = {self.partner}  # ids this client created
        self.answers: list[tuple[str, int, Any]] = []
        self.unexpected: list[tuple[str, int, Any]] = []

    def call(self, method: str, path: str, body: Any = None, expect: int = 200, api: Api | None = None) -> Any:
        res = (api or self.api)(method, path, body)
        data = res.json() if res.content else None
        self.answers.append((f"{method} {path}", res.status_code, data))
        if res.status_code != expect:
            self.unexpected.append((f"{method} {path}", res.status_code, data))
        for key in ("id", "org_id"):
            if isinstance(data, dict) and isinstance(data.get(key), str) and res.status_code < 300 and method == "POST":
                self.mine.add(data[key])
        return data

    def walk(self, start: threading.Barrier) -> None:
        start.wait()
        name = f"Customer of {self.partner}"
        org = self.call("POST", "/organizations", {"name": name, "currency": "SGD"}, 201)
        if not org or "id" not in org:
            return
        o = org["id"]
        self.call("PUT", f"/organizations/{o}/payment-settings",
                  {"method": "cheque_or_tt", "trigger_amount": 1_000 + self.index, "limit_threshold": 100,
                   "auto_trigger": True})
        self.call("GET", f"/organizations/{o}/payment-settings")
        self.call("GET", f"/organizations/{o}")
        self.call("GET", f"/organizations?name={name[:12]}")
        pay = self.call("POST", "/payments", {"org_id": o, "amount": 10_000 + self.index, "currency": "SGD",
                                              "received_date": "2026-11-20", "method": "cheque",
                                              "reference": f"CHQ-{self.partner}"}, 201)
        inv = self.call("POST", "/invoices", {"org_id": o, "type": "standard", "amount": 4_000, "currency": "SGD",
                                              "issued_date": "2026-11-01"}, 201)
        if pay and "id" in pay and inv and "id" in inv:
            p = pay["id"]
            self.call("PATCH", f"/payments/{p}", {"remark": f"checked by {self.partner}"})
            self.call("POST", f"/payments/{p}/allocations", {"allocations": [{"invoice_id": inv["id"],
                                                                               "amount": 4_000}]})
            self.call("POST", f"/payments/{p}/top-ups", {"amount": 3_000})
            self.call("GET", f"/payments/{p}")
            self.call("GET", f"/payments/{p}/history")
            self.call("GET", f"/payments?org_id={o}")
            self.call("GET", f"/invoices/{inv['id']}")
            self.call("GET", f"/invoices?org_id={o}")
        self.call("POST", f"/organizations/{o}/wallet/debits", {"amount": 500, "reference": f"cdr-{self.partner}"},
                  201)
        self.call("GET", f"/organizations/{o}/wallet")
        self.call("GET", f"/organizations/{o}/wallet/transactions")
        self.call("GET", f"/organizations/{o}/auto-top-ups")
        self.call("POST", f"/partners/{self.partner}/wallet/credits",
                  {"amount": 50_000, "currency": "SGD", "reference": f"float-{self.partner}"}, 201, self.platform)
        self.call("GET", f"/partners/{self.partner}/wallet")
        self.call("POST", f"/organizations/{o}/online-top-ups",
                  {"amount": 5_000, "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": True}, 201)
        self.call("GET", "/organizations")

    def foreign_ids(self) -> list[tuple[str, str]]:
        """Ids in this client's answers that another partner created (a response it must never see)."""
        return [(route, found) for route, _, data in self.answers
                for found in ID.findall(json.dumps(data)) if found not in self.mine]


def run_clients(stack: StackProcess, count: int) -> list[Client]:
    clients = [Client(stack, i) for i in range(count)]
    start = threading.Barrier(count)
    threads = [threading.Thread(target=c.walk, args=(start,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return clients


def mixed_items(stack: StackProcess, clients: list[Client]) -> list[dict[str, Any]]:
    """Stored items that name ids of more than one of these partners."""
    owner = {i: c.partner for c in clients for i in c.mine}
    mixed = []
    for item in table_of(stack):
        partners = {owner[i] for i in ID.findall(json.dumps(item)) if i in owner}
        if len(partners) > 1:
            mixed.append(item)
    return mixed


def check(stack: StackProcess, clients: list[Client], label: str) -> None:
    report = {
        "clients": len(clients), "requests": sum(len(c.answers) for c in clients),
        "unexpected statuses": sum(len(c.unexpected) for c in clients),
        "responses naming another partner's ids": sum(len(c.foreign_ids()) for c in clients),
        "stored items mixing partners": len(mixed_items(stack, clients)),
    }
    REPORT[label] = report
    print(f"\n{label}: {report}")
    # Then every client got exactly the answers its own requests call for, about its own data only
    assert [c.unexpected for c in clients] == [[]] * len(clients)
    assert [c.foreign_ids() for c in clients] == [[]] * len(clients)
    # and no stored item belongs to two partners
    assert mixed_items(stack, clients) == []
    # and each partner holds exactly what it made: one organization, wallet 10_000 + i - 4_000 (invoice)
    # - 500 (debit) is the payment's rest; the wallet itself is the top-up less the debit
    for c in clients:
        orgs = c.api("GET", "/organizations").json()["items"]
        assert [o["name"] for o in orgs] == [f"Customer of {c.partner}"]
        assert c.api("GET", f"/organizations/{orgs[0]['id']}/wallet").json()["balance"] == 3_000 - 500


def test_8_partners_at_once_on_cold_environments_each_see_and_write_only_their_own(fresh):
    # Given a fresh stack (every function cold)
    # When 8 partners' clients walk every route family at the same moment
    clients = run_clients(fresh, 8)
    # Then (T1)
    check(fresh, clients, "8 clients, cold")


def test_32_partners_at_once_on_warm_environments_each_see_and_write_only_their_own(fresh):
    # Given the same stack, its environments now warm (the test above ran first; this warms it if run alone)
    requests.get(fresh.api + "/organizations", timeout=10)
    # When 32 partners' clients walk every route family at the same moment
    clients = run_clients(fresh, 32)
    # Then (T1)
    check(fresh, clients, "32 clients, warm")
