"""A fault proxy for DynamoDB: on 127.0.0.1, in front of a DynamoDB (Local), it forwards each HTTP request of the
DynamoDB API and, while armed, fails some of them on a seeded random schedule, as DynamoDB and the network do:

  reset        the connection is reset before the request is forwarded (DynamoDB never saw it)
  lost         the request is forwarded, DynamoDB acts on it, and the answer is dropped (the connection reset)
  delay        the request is forwarded and its answer held past the function's timeout (a stalled connection)
  throttle     DynamoDB's own 400 `ThrottlingException` (the request is not forwarded)
  provisioned  DynamoDB's own 400 `ProvisionedThroughputExceededException` (not forwarded)
  cancelled    for a TransactWriteItems: DynamoDB's 400 `TransactionCanceledException` whose reasons say one item was
               throttled (`ThrottlingError`, the others `None`; not forwarded)

The throttling answers are DynamoDB's bodies, which botocore parses and retries itself: the errors a function sees are
botocore's own. Requests to DynamoDB Streams and the table's administration (CreateTable, DescribeTable, ...) are
never failed: only what the functions' code calls. It reads HTTP/1.1 framing (Content-Length, or chunked answers) so
that it fails one request of a kept-alive connection, not a byte stream; each client connection has its own
connection upstream. The schedule is seeded: the same seed draws the same faults in the same order of requests (which
request comes first is the clients' concurrency). Used by the fault drill (tests/e2e/test_faults.py):

    proxy = FaultProxy("127.0.0.1", dynamodb_port, seed=31).start()   # then DYNAMODB_ENDPOINT=proxy.endpoint
    proxy.armed.set(); ...; proxy.armed.clear(); print(proxy.counts); proxy.stop()
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

# The DynamoDB operations whose requests may fail (the data plane the functions call).
FAULTABLE = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                       "BatchWriteItem", "TransactWriteItems", "TransactGetItems"})
TARGET_PREFIX = "DynamoDB_20120810."
THROTTLING: dict[str, object] = {"__type": "com.amazon.coral.availability#ThrottlingException",
              "message": "Rate of requests exceeds the allowed throughput."}
PROVISIONED: dict[str, object] = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
               "message": "The level of configured provisioned throughput for the table was exceeded. Consider "
                          "increasing your provisioning level with the UpdateTable API."}


@dataclass(frozen=True)
class Rates:
    """The chance of each fault for one faultable request while armed (`cancelled`: of a TransactWriteItems)."""

    reset: float = 0.05
    lost: float = 0.04
    delay: float = 0.02
    throttle: float = 0.08
    provisioned: float = 0.06
    cancelled: float = 0.08


@dataclass
class _Request:
    head: bytes
    body: bytes
    target: str  # the X-Amz-Target header's operation, "" for none

    @property
    def raw(self) -> bytes:
        return self.head + self.body


class _Closed(Exception):
    """The peer closed the connection."""


def _read_until(sock: socket.socket, buffer: bytearray, delimiter: bytes) -> bytes:
    """What the peer sends up to and with `delimiter` (the rest stays in `buffer`)."""
    while delimiter not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise _Closed
        buffer += chunk
    end = buffer.index(delimiter) + len(delimiter)
    out = bytes(buffer[:end])
    del buffer[:end]
    return out


def _read_exact(sock: socket.socket, buffer: bytearray, size: int) -> bytes:
    while len(buffer) < size:
        chunk = sock.recv(65536)
        if not chunk:
            raise _Closed
        buffer += chunk
    out = bytes(buffer[:size])
    del buffer[:size]
    return out


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if ":" in line)}


def _read_message(sock: socket.socket, buffer: bytearray) -> tuple[bytes, bytes]:
    """One HTTP/1.1 message (head, body as it came on the wire)."""
    head = _read_until(sock, buffer, b"\r\n\r\n")
    headers = _headers(head)
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size_line = _read_until(sock, buffer, b"\r\n")
            body += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            body += _read_exact(sock, buffer, size + 2)
            if size == 0:
                return head, bytes(body)
    return head, _read_exact(sock, buffer, int(headers.get("content-length", "0")))


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a dropped connection reaches the client."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _answer(status: int, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    return (f"HTTP/1.1 {status} Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\n"
            f"x-amzn-RequestId: FAULTPROXY{random.getrandbits(32):08X}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def _cancelled(request: _Request, rng: random.Random) -> dict[str, object]:
    try:
        count = len(json.loads(request.body).get("TransactItems", [])) or 1
    except ValueError:
        count = 1
    throttled = rng.randrange(count)
    reasons = [{"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity for one or more global "
                "secondary indexes."} if i == throttled else {"Code": "None"} for i in range(count)]
    codes = ", ".join(r["Code"] for r in reasons)
    return {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
            "CancellationReasons": reasons}


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    seed: int = 31
    rates: Rates = field(default_factory=Rates)
    # A stalled connection: held past the functions' own timeout (10 s), so that only the client's read timeout (2 s:
    # shared.repositories.dynamo.CLIENT_CONFIG) gets the function an answer to give in time.
    delay_s: float = 12
    armed: threading.Event = field(default_factory=threading.Event)
    counts: Counter[str] = field(default_factory=Counter)  # faults by kind; "forwarded", "faultable" while armed
    seen: Counter[str] = field(default_factory=Counter)  # every request by operation, armed or not

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - a fault schedule, not a secret
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._sockets: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._planned: dict[str, list[str | None]] = {}

    @property
    def port(self) -> int:
        return int(self._server.getsockname()[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        threading.Thread(target=self._accept, name="faultproxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="faultproxy-conn", daemon=True).start()

    def _track(self, *sockets: socket.socket, add: bool = True) -> None:
        with self._lock:
            for sock in sockets:
                (self._sockets.add if add else self._sockets.discard)(sock)

    def quiet(self, operation: str, *, for_s: float = 1.0, within_s: float = 30.0) -> None:
        """Returns once no `operation` request has come for `for_s` (the stream consumers settled, say), or raises
        TimeoutError after `within_s`."""
        deadline, last, since = time.monotonic() + within_s, -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                now_seen = self.seen[operation]
            if now_seen != last:
                last, since = now_seen, time.monotonic()
            elif time.monotonic() - since >= for_s:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{operation} requests kept coming for {within_s} s")

    def plan(self, operation: str, *faults: str | None) -> None:
        """The next requests of `operation` (e.g. "TransactWriteItems") get `faults` in order (None: forwarded as it
        is), armed or not: a test's exact sequence, beside the random schedule."""
        with self._lock:
            self._planned.setdefault(operation, []).extend(faults)

    def _draw(self, request: _Request) -> str | None:
        """The fault for this request, or None; counted."""
        with self._lock:
            self.seen[request.target] += 1
            planned = self._planned.get(request.target)
            if planned:
                kind = planned.pop(0)
                self.counts[kind or "planned_none"] += 1
                return kind
        if not self.armed.is_set() or request.target not in FAULTABLE:
            return None
        with self._lock:
            self.counts["faultable"] += 1
            roll = self._rng.random()
            kinds = [("reset", self.rates.reset), ("lost", self.rates.lost), ("delay", self.rates.delay),
                     ("throttle", self.rates.throttle), ("provisioned", self.rates.provisioned)]
            if request.target == "TransactWriteItems":
                kinds.append(("cancelled", self.rates.cancelled))
            for kind, rate in kinds:
                if roll < rate:
                    self.counts[kind] += 1
                    return kind
                roll -= rate
        return None

    def _serve(self, client: socket.socket) -> None:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream: socket.socket | None = None
        inbound, outbound = bytearray(), bytearray()
        self._track(client)
        try:
            while not self._stopped.is_set():
                head, body = _read_message(client, inbound)
                target = _headers(head).get("x-amz-target", "")
                request = _Request(head, body, target.removeprefix(TARGET_PREFIX) if target.startswith(
                    TARGET_PREFIX) else "")
                fault = self._draw(request)
                if fault == "reset":
                    _reset(client)
                    return
                if fault in ("throttle", "provisioned", "cancelled"):
                    error = {"throttle": THROTTLING, "provisioned": PROVISIONED}.get(fault) or _cancelled(
                        request, self._rng)
                    client.sendall(_answer(400, error))
                    continue
                if upstream is None:
                    upstream = socket.create_connection((self.upstream_host, self.upstream_port), timeout=30)
                    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self._track(upstream)
                upstream.sendall(request.raw)
                answer_head, answer_body = _read_message(upstream, outbound)
                with self._lock:
                    self.counts["forwarded"] += 1
                if fault == "lost":
                    _reset(client)
                    return
                if fault == "delay":
                    self._stopped.wait(self.delay_s)
                    _reset(client)  # the client gave up at its read timeout: the late answer goes nowhere
                    return
                client.sendall(answer_head + answer_body)
        except (_Closed, OSError, ValueError):
            return
        finally:
            self._track(client, *(s for s in (upstream,) if s is not None), add=False)
            for sock in (client, upstream):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass

