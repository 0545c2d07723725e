"""End to end: `python -m local.stack` (what `make run` starts) in its own process, on free loopback
ports, driven over HTTP; stopped by pid at the end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests

from local.auth import mint
from local.aws import TABLE_NAME
from local.dynamodb import LOCAL_CREDENTIALS, client
from local.process import StackProcess
from shared.domain.invoice_history import DERIVED
from tests.conftest import EVENTS, seeded_stack, snapshot


def table_of(stack: StackProcess) -> list[dict[str, Any]]:
    """Every item of the stack's table a request writes: a refused request must leave it unchanged. The invoice
    history records that the stream consumer derives a moment after an earlier write (never by a request) are left
    out: they may land between two snapshots (tests/handlers/test_invoice_history.py proves them)."""
    return [i for i in snapshot(client(stack.dynamodb), TABLE_NAME)
            if not (i["pk"]["S"].startswith("INV#") and i.get("action", {}).get("S") in DERIVED.values())]


@pytest.fixture(autouse=True)
def _throttle_lifted_for_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stacks these tests start (start_stack, and test_stack_lifecycle's own `start` that test_burst uses)
    send bursts of 64 clients and schemathesis runs, far over the stage's throttle (100/s, burst 200): they run
    with API_THROTTLE_OFF=1. tests/e2e/test_gateway_fidelity.py starts the stack with the throttle on."""
    monkeypatch.setenv("API_THROTTLE_OFF", "1")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackProcess]:
    yield from seeded_stack()


class Api:
    """A finance-console client: JSON bodies and a bearer token."""

    def __init__(self, base: str, token: str | None):
        self.base = base
        self.session = requests.Session()
        self.session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))  # racing threads share it
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, body: Any = None, *, raw: str | None = None,
                 headers: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> requests.Response:
        h = {"Content-Type": "application/json", **(headers or {})}
        data = raw if raw is not None else (None if body is None else __import__("json").dumps(body))
        return self.session.request(method, self.base + path, data=data, headers=h, params=params, timeout=30)


def as_admin(stack: StackProcess, partner: str, sub: str = "admin@example.com") -> Api:
    return Api(stack.api, mint(sub, partner, ["finance-admin"]))


def as_viewer(stack: StackProcess, partner: str) -> Api:
    return Api(stack.api, mint("viewer@example.com", partner, ["finance-viewer"]))


def invoke_sweep(stack: StackProcess, when: str) -> dict[str, Any]:
    """The daily sweep through the stack's Lambda Invoke API, for the business date of `when`."""
    lam = boto3.client("lambda", endpoint_url=stack.lambda_url, **LOCAL_CREDENTIALS)
    event = json.loads((EVENTS / "sweep/scheduled.json").read_text()) | {"time": when}
    res = lam.invoke(FunctionName="SweepFunction", Payload=json.dumps(event))
    assert "FunctionError" not in res
    return json.loads(res["Payload"].read())


def wait_for[T](predicate: Callable[[], T], timeout: float = 30.0) -> T:
    """The first truthy value of `predicate` (the stack's queue and webhooks are asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")
