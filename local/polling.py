"""What the local event source mappings share (local/queues.py: SQS, local/streams.py: DynamoDB Streams): pollers in
threads of their own that outlive a bad batch, wait when there was nothing to do, and stop together."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Self


class Pollers:
    def __init__(self, wait_seconds: float):
        self.wait_seconds = wait_seconds
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []

    def add(self, name: str, poll: Callable[[], object]) -> None:
        """A poller calling `poll()` until stopped; a falsy answer (nothing done) waits `wait_seconds` first."""
        self.threads.append(threading.Thread(target=self._run, args=(name, poll), name=name, daemon=True))

    def start(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def _run(self, name: str, poll: Callable[[], object]) -> None:
        while not self.stopped.is_set():
            try:
                busy = poll()
            except Exception as error:  # noqa: BLE001 - the poller must outlive one bad batch
                if self.stopped.is_set():
                    return
                print(f"{name} failed: {error}", file=sys.stderr)
                busy = False
            if not busy:
                self.stopped.wait(self.wait_seconds)
