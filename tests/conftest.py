"""Shared fixtures: events from events/, the embedded DynamoDB, table snapshots, tokens."""

from __future__ import annotations

import copy
import http.client
import json
import os
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Every DynamoDB Local a test starts (its own, or the stack's in a subprocess, which inherits this) runs its
# JVM without the optimizing compiler and with the serial collector: in runs of seconds to minutes, C2's
# compilations and the parallel collector cost more CPU than they save (the handler files run ~20% faster
# on 2 cores), and the emulator answers the same. `make run` and `make bench` keep the JVM's defaults.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


def load_event(name: str, *, body: Any = None, raw_body: str | None = None, path: dict[str, str] | None = None,
               query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
               claims: dict[str, Any] | None = None, drop_claims: bool = False) -> dict[str, Any]:
    """A sample event from events/, with the parts a test changes."""
    event = copy.deepcopy(json.loads((EVENTS / name).read_text()))
    if body is not None:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    if path is not None:
        event["pathParameters"] = path
        raw = event["routeKey"].split(" ", 1)[1]
        for key, value in path.items():
            raw = raw.replace("{" + key + "}", value)
        event["rawPath"] = event["requestContext"]["http"]["path"] = raw
    if query is not None:
        event["queryStringParameters"] = query or None
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if headers is not None:
        event["headers"] = {**event["headers"], **{k.lower(): v for k, v in headers.items()}}
        event["headers"] = {k: v for k, v in event["headers"].items() if v is not None}
    if claims is not None:
        jwt = event["requestContext"]["authorizer"]["jwt"]
        jwt["claims"] = {**jwt["claims"], **claims}
    if drop_claims:
        del event["requestContext"]["authorizer"]
    return event


def new_partner() -> str:
    return f"ptn_{secrets.token_hex(6)}"


_SCAN_HEADERS = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.Scan",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                                  "SignedHeaders=host, Signature=0"}
_CONNECTIONS: dict[str, http.client.HTTPConnection] = {}


def _scan_page(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """One Scan of DynamoDB Local over a kept-alive connection, read with json (botocore's parser costs ~5x more
    on the tables of thousands of items the handler suites leave behind)."""
    for attempt in range(2):
        conn = _CONNECTIONS.get(endpoint)
        try:
            if conn is None:
                host, port = endpoint.removeprefix("http://").split(":")
                conn = _CONNECTIONS[endpoint] = http.client.HTTPConnection(host, int(port), timeout=60)
            conn.request("POST", "/", json.dumps(body).encode(), _SCAN_HEADERS)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"Scan answered {response.status}: {data[:300]!r}")
            return json.loads(data)
        except (http.client.HTTPException, OSError):
            _CONNECTIONS.pop(endpoint, None)
            if attempt:
                raise
    raise AssertionError("unreachable")


def snapshot(client: Any, table: str) -> list[dict[str, Any]]:
    """Every item of the table (as DynamoDB's low-level JSON), in a stable order: used to prove a refused request
    wrote nothing. `client` is a DynamoDB client of the endpoint (DynamoDB Local)."""
    endpoint = client.meta.endpoint_url
    items, start = [], None
    while True:
        args: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        if start:
            args["ExclusiveStartKey"] = start
        page = _scan_page(endpoint, args)
        items.extend(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


@pytest.fixture
def partner() -> str:
    return new_partner()


# --- the parallel run's order (`make test`: -n 2 --dist loadfile) ---------------------------------------------------
# A unit of work is a test file, run whole on one worker with its module and session fixtures; the end-to-end files
# of the shared stack (tests/e2e/conftest.py's session fixture) are one unit, so that one worker starts that stack,
# not both (a start takes ~15 s of the two cores). xdist hands out the units with the most tests first, so the files
# of a few long tests (the state machine, the fuzzer, the isolation runs) came last and one worker could run the
# state machine alone for ~100 s after the other had finished. Here the longest unit goes first (longest
# processing time first): the two longest start at once and the short files fill the end, so that both workers end
# about together. Seconds per file on one of two busy workers (a fresh clone's `make test`, rounded; the first use
# of a session fixture is counted in its file); a file not listed is estimated from its number of tests. (Not
# `--dist loadgroup`: xdist 3.8 names a test's group in `item._nodeid`, which pytest 9 no longer reads, so its
# xdist_group marks are ignored and every other test is handed out alone, apart from its file's fixtures.)
FILE_SECONDS = {
    "tests/handlers/test_adversarial.py": 170,
    "tests/handlers/test_allocation_state_machine.py": 150,
    "tests/e2e/test_isolation.py": 80,
    "tests/e2e/test_fuzz.py": 60,
    "tests/handlers/test_bounded_items.py": 35,
    "tests/e2e/test_allocation_flow.py": 30,
    "tests/e2e/test_card_refund_flow.py": 30,
    "tests/handlers/test_money_back.py": 30,
    "tests/handlers/test_stripe_webhooks.py": 30,
    "tests/handlers/test_hostile_inputs.py": 25,
    "tests/handlers/test_money_back_races.py": 25,
    "tests/handlers/test_reconciliation.py": 25,
    "tests/e2e/test_http.py": 20,
    "tests/handlers/test_allocation.py": 20,
    "tests/e2e/test_auto_top_up_flow.py": 15,
    "tests/handlers/test_auto_top_up.py": 15,
    "tests/handlers/test_card_refunds.py": 15,
    "tests/unit/test_local_dynamodb.py": 15,
    "tests/e2e/test_stripe_flow.py": 10,
    "tests/handlers/test_money_back_auto_top_up.py": 10,
}
SECONDS_PER_TEST = {"tests/unit/": 0.05, "tests/handlers/": 1.5, "tests/e2e/": 5.0, "tests/browser/": 4.0}
SHARED_STACK = ("tests/e2e/", "tests/browser/")  # their files use the session's stack, but those with their own:
OWN_STACK = frozenset({"tests/e2e/test_isolation.py"})


def expected_seconds(nodeids: Iterable[str]) -> float:
    """What a unit of work is expected to take, from its files."""
    tests = Counter(nodeid.split("::", 1)[0] for nodeid in nodeids)
    return sum(FILE_SECONDS.get(path) or n * next((s for d, s in SECONDS_PER_TEST.items() if path.startswith(d)), 1.0)
               for path, n in tests.items())


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            shared = next((d for d in SHARED_STACK if path.startswith(d)), None)
            return shared if shared and path not in OWN_STACK else path

        def _assign_work_unit(self, node: Any) -> None:
            longest = max(self.workqueue, key=lambda unit: expected_seconds(self.workqueue[unit]))
            self.workqueue.move_to_end(longest, last=False)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)


@cache
def openapi_document() -> dict[str, Any]:
    """The document `python -m local.openapi` prints (and the stack serves), built here without leaving its
    settings behind (it imports every function with placeholder variables and caches their settings)."""
    from local.openapi import document
    from shared.settings import get_settings

    saved = dict(os.environ)
    try:
        return document()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def seeded_stack() -> Iterator[Any]:
    """The body of a session fixture: the stack as `make run` starts it (seeded), stopped afterwards; a stack that
    does not start fails the tests with its output."""
    from local.process import start_stack

    try:
        process = start_stack(ready="Demo data for partner")
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield process
    finally:
        process.stop()
