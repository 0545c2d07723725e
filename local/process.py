"""Start `python -m local.stack` in its own process on free loopback ports, and stop it by pid.
Used by the end-to-end tests and the benchmarks."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from local.template import ROOT

READY = "local stack is up"


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port below the kernel's ephemeral range: a port handed out and then released by `bind(0)` can be
    taken again by any socket bound to port 0 (the stack's own private servers) before its owner binds it; a
    port below the range never is."""
    high = _ephemeral_low() - 1
    for _ in range(200):
        port = random.randint(max(1025, high - 12_000), high)  # noqa: S311 - a port, not a secret
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StackProcess:
    proc: subprocess.Popen[str]
    api: str
    lambda_url: str
    dynamodb: str
    sqs: str
    events: str
    stripe: str
    output: list[str] = field(default_factory=list)

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_stack(*args: str, ready: str = READY, timeout: float = 90, throttled: bool = False,
                dynamodb_endpoint: str | None = None) -> StackProcess:
    """Start the stack and wait until its banner line `ready` is printed (the seed runs before it).

    The tests and benchmarks that start it send far more than the stage's throttle lets through (bursts of 64
    clients, schemathesis, throughput runs), so it starts with API_THROTTLE_OFF=1 unless `throttled` (the
    stack as `make run` starts it: the template's throttle). It starts its own DynamoDB Local unless given
    `dynamodb_endpoint` (this process's DYNAMODB_ENDPOINT and TABLE_NAME are a handler test's own settings)."""
    ports = {"API_PORT": free_port(), "LAMBDA_PORT": free_port(), "DYNAMODB_PORT": free_port(),
             "SQS_PORT": free_port(), "EVENTS_PORT": free_port(), "STRIPE_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "PYTHONUNBUFFERED": "1"}
    for name in ("API_THROTTLE_OFF", "DYNAMODB_ENDPOINT", "TABLE_NAME"):
        env.pop(name, None)
    if dynamodb_endpoint:
        env["DYNAMODB_ENDPOINT"] = dynamodb_endpoint
    if not throttled:
        env["API_THROTTLE_OFF"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "local.stack", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    stack = StackProcess(proc, url["API_PORT"], url["LAMBDA_PORT"], dynamodb_endpoint or url["DYNAMODB_PORT"],
                         url["SQS_PORT"], url["EVENTS_PORT"], url["STRIPE_PORT"])
    seen = threading.Event()

    def drain() -> None:
        assert proc.stdout
        for line in proc.stdout:
            if len(stack.output) < 2000:
                stack.output.append(line)
            if ready in line:
                seen.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not seen.wait(0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            stack.stop() if proc.poll() is None else None
            raise RuntimeError("local stack did not start:\n" + "".join(stack.output))
    return stack
