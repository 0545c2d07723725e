"""End to end: `python -m local.stack` (what `make run` starts) in its own process, on free loopback
ports, driven over HTTP; stopped by pid at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local.auth import mint
from local.dynamodb import client
from local.stack import TABLE_NAME
from tests.conftest import ROOT, snapshot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningStack:
    api: str
    lambda_url: str
    dynamodb: str
    output: list[str] = field(default_factory=list)

    def snapshot(self) -> list[dict[str, Any]]:
        return snapshot(client(self.dynamodb), TABLE_NAME)


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    ports = {"API_PORT": free_port(), "LAMBDA_PORT": free_port(), "DYNAMODB_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    running = RunningStack(f"http://127.0.0.1:{ports['API_PORT']}", f"http://127.0.0.1:{ports['LAMBDA_PORT']}",
                           f"http://127.0.0.1:{ports['DYNAMODB_PORT']}")
    ready = threading.Event()

    def drain() -> None:
        assert proc.stdout
        for line in proc.stdout:
            running.output.append(line)
            if "Demo data for partner" in line:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + 90
    while not ready.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("local stack did not start:\n" + "".join(running.output))
    try:
        yield running
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class Api:
    """A finance-console client: JSON bodies and a bearer token."""

    def __init__(self, base: str, token: str | None):
        self.base = base
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, body: Any = None, *, raw: str | None = None,
                 headers: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> requests.Response:
        h = {"Content-Type": "application/json", **(headers or {})}
        data = raw if raw is not None else (None if body is None else __import__("json").dumps(body))
        return self.session.request(method, self.base + path, data=data, headers=h, params=params, timeout=30)


def as_admin(stack: RunningStack, partner: str, sub: str = "admin@example.com") -> Api:
    return Api(stack.api, mint(sub, partner, ["finance-admin"]))


def as_viewer(stack: RunningStack, partner: str) -> Api:
    return Api(stack.api, mint("viewer@example.com", partner, ["finance-viewer"]))
