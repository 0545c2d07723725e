"""Child processes of the local stack (execution environments, DynamoDB Local): each in its own session
(Ctrl-C in a terminal reaches the stack, which stops them), killed with its host even if the host dies
without stopping it, and stopped by pid."""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
from concurrent.futures import Future
from typing import Any

_prctl: Any = None
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
except (OSError, AttributeError):  # not Linux
    pass


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """SIGKILL when the host dies (Linux PR_SET_PDEATHSIG = 1)."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL)


class _Spawner:
    """Forks every child from one long-lived thread: PR_SET_PDEATHSIG fires when the *thread* that forked
    the child ends, so a child forked from a short-lived request thread would be killed with it."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[dict[str, Any], Future[subprocess.Popen[bytes]]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="process-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            kwargs, future = self._jobs.get()
            try:
                future.set_result(subprocess.Popen(**kwargs, start_new_session=True,
                                                   preexec_fn=_die_with_parent))
            except BaseException as error:  # noqa: BLE001 - handed to the caller
                future.set_exception(error)

    def popen(self, kwargs: dict[str, Any]) -> subprocess.Popen[bytes]:
        future: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((kwargs, future))
        return future.result()


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def popen(**kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(**kwargs)` in a new session, killed if this process dies."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.popen(kwargs)


def kill_group(pid: int, signum: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def stop(proc: subprocess.Popen[bytes], grace_s: float = 3) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; waits for the process."""
    if proc.poll() is not None:
        return
    kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
