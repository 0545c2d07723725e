"""What the notice tests share: a partner's receiver on 127.0.0.1 (a real HTTP server answering as it is told), the
documented signature check, and the pump that moves notices as the local stack does (the table's stream to the
notices function, the queue to the delivery function)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.queues import Mapping, QueueDelivery


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def verified(received: Received, secret: str, tolerance: int = 300) -> bool:
    """The check docs/notices.md gives a partner: HMAC-SHA256 of "<t>.<raw body>" keyed with the whole secret."""
    parts = dict(p.split("=", 1) for p in received.headers["payments-signature"].split(","))
    expected = hmac.new(secret.encode("utf-8"), f"{parts['t']}.".encode() + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance


class Receiver(ThreadingHTTPServer):
    """A partner's endpoint: records each POST, then answers the next status of `answers` (then `default`), after
    waiting for `hold` to be set when one is given."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, answers: list[int] | None = None, default: int = 200, hold: threading.Event | None = None,
                 delay: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers, self.default, self.hold, self.delay = list(answers or []), default, hold, delay
        self.received: list[Received] = []
        self.answered: list[tuple[int, float]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, name="receiver", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks"

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body, time.time()))
            status = self.server.answers.pop(0) if self.server.answers else self.server.default
        if self.server.hold is not None:
            self.server.hold.wait(30)
        time.sleep(self.server.delay)
        with self.server.lock:
            self.server.answered.append((status, time.time()))
        self.wfile.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode())


def pump(stream: Callable[[], int], queue: QueueDelivery, until: Callable[[], bool], timeout: float = 20) -> None:
    """The stream to the notices function and the delivery queue to its function, until `until()` holds."""
    [mapping] = [m for m in queue.mappings if m.function == "NoticeDeliveryFunction"]
    deadline = time.monotonic() + timeout
    while True:
        stream()
        deliver_once(queue, mapping)
        if until():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the notices to be delivered")
        time.sleep(0.1)


def deliver_once(queue: QueueDelivery, mapping: Mapping) -> bool:
    return queue.deliver(mapping)
