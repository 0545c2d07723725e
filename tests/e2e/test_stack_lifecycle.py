"""`make run`'s stack starts ready and stops whole.

Invariants: (L1) the public API answers only once the seed is written: any answer it gives shows the
demo partner's three organizations; (L2) Ctrl-C (SIGINT) or SIGTERM, even with clients holding
kept-alive connections, stops the stack and every process it started (execution environments, Java).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from local.auth import mint
from local.process import free_port
from local.seed import DEMO_PARTNER
from local.template import ROOT

# Timing bounds: measured with the machine to itself (`make test` runs these after the parallel run).
pytestmark = pytest.mark.serial


def descendants(pid: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.add(child)
            todo.append(child)
    return out


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start(*args: str) -> tuple[subprocess.Popen[str], str, list[str], threading.Event]:
    ports = {k: str(free_port()) for k in ("API_PORT", "LAMBDA_PORT", "DYNAMODB_PORT", "SQS_PORT", "EVENTS_PORT",
                                           "STRIPE_PORT")}
    inherited = {k: v for k, v in os.environ.items() if k not in ("DYNAMODB_ENDPOINT", "TABLE_NAME")}  # a handler
    proc = subprocess.Popen([sys.executable, "-m", "local.stack", *args], cwd=ROOT, text=True,  # test's settings
                            env={**inherited, **ports, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    up = threading.Event()

    def drain() -> None:
        assert proc.stdout
        for line in proc.stdout:
            lines.append(line)
            if "local stack is up" in line:
                up.set()

    threading.Thread(target=drain, daemon=True).start()
    return proc, f"http://127.0.0.1:{ports['API_PORT']}", lines, up


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_stack_answers_only_when_seeded_and_stops_whole(signum):
    # Given `python -m local.stack` starting with its seed, and a client asking for the demo data meanwhile
    started = time.monotonic()
    proc, api, lines, up = start()
    demo = {"Authorization": f"Bearer {mint('probe@example.com', DEMO_PARTNER, ['finance-viewer'])}"}
    seen: list[int] = []
    while not up.wait(0.05):
        assert proc.poll() is None and time.monotonic() - started < 90, "".join(lines)
        try:
            answer = requests.get(f"{api}/organizations", headers=demo, timeout=5)
            assert "items" in answer.json(), (answer.status_code, answer.text)
            seen.append(len(answer.json()["items"]))
        except requests.ConnectionError:
            pass  # not listening yet
    ready_s = time.monotonic() - started
    # Then whatever it answered, it answered with the whole seed (L1)
    assert set(seen) <= {3}, seen
    assert len(requests.get(f"{api}/organizations", headers=demo, timeout=5).json()["items"]) == 3
    # Given 16 clients holding kept-alive connections after a burst of requests
    sessions = [requests.Session() for _ in range(16)]
    burst = [threading.Thread(target=lambda s=s: [s.get(f"{api}/organizations", headers=demo, timeout=10)
                                                  for _ in range(3)]) for s in sessions]
    for t in burst:
        t.start()
    for t in burst:
        t.join()
    children = descendants(proc.pid)
    assert len(children) >= 2  # at least Java and one environment
    # When it gets the signal
    stopping = time.monotonic()
    proc.send_signal(signum)
    proc.wait(timeout=30)
    stop_s = time.monotonic() - stopping
    # Then it exits cleanly and every process it started is gone (L2)
    assert proc.returncode == 0, "".join(lines[-30:])
    deadline = time.monotonic() + 5
    while any(running(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in children if running(p)] == []
    print(f"\nstack ready in {ready_s:.1f} s (seeded); stopped by {signal.Signals(signum).name} in {stop_s:.1f} s "
          f"with 16 kept-alive clients; {len(children)} child processes, none left")
    for s in sessions:
        s.close()
