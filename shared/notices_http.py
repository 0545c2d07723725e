"""The outside boundaries of the notices: where a host name leads (DNS), the POST to a partner's endpoint, and the
queue of deliveries (SQS).

A notice URL is checked when it is registered and again before every try: the host may resolve elsewhere since
(DNS rebinding), so each try resolves it, refuses it when any address is private, loopback, link-local or otherwise
not public, and connects to the address it checked (TLS still verifies the host's own name). Redirects are not
followed (a redirect could lead anywhere); the answer's body is not read beyond its first 64 KB.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, SSLError, TimeoutError

from shared.domain.notices_delivery import TIMEOUT_SECONDS, UrlRefused, address_allowed, check_url_shape

READ_LIMIT = 64 * 1024
USER_AGENT = "PrepaidPayments-Notices/1"


class Resolver:
    """The host's addresses (DNS)."""

    def addresses(self, host: str, port: int) -> list[str]:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise UrlRefused(f"its host {host!r} does not resolve") from None
        return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked address the connection goes to
    path: str


def checked_target(url: str, resolver: Resolver, *, allow_loopback: bool) -> Target:
    """Where `url` leads, or UrlRefused: its shape, then every address its host resolves to."""
    from urllib.parse import urlsplit

    host, port = check_url_shape(url, allow_loopback=allow_loopback)
    addresses = resolver.addresses(host, port)
    refused = [a for a in addresses if not address_allowed(a, allow_loopback=allow_loopback)]
    if not addresses or refused:
        raise UrlRefused(f"its host resolves to an address that may not receive notices ({', '.join(refused)}): "
                         "private, loopback and link-local addresses are refused")
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, addresses[0], path)


@dataclass(frozen=True)
class Answer:
    status: int | None  # the HTTP status, None when there was no answer
    error: str | None  # why it did not deliver: `http_<status>`, `timeout`, `tls_error`, ...

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """POSTs a notice to an endpoint within TIMEOUT_SECONDS (connecting and answering together)."""

    def __init__(self, resolver: Resolver, *, allow_loopback: bool, timeout: float = TIMEOUT_SECONDS):
        self.resolver = resolver
        self.allow_loopback = allow_loopback
        self.timeout = timeout
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def _pool(self, t: Target) -> urllib3.HTTPConnectionPool:
        with self._lock:
            pool = self._pools.get((t.scheme, t.address, t.port, t.host))
            if pool is None:
                if t.scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(t.address, t.port, maxsize=10, server_hostname=t.host,
                                                       assert_hostname=t.host, cert_reqs="CERT_REQUIRED")
                else:
                    pool = urllib3.HTTPConnectionPool(t.address, t.port, maxsize=10)
                self._pools[(t.scheme, t.address, t.port, t.host)] = pool
            return pool

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """The try's answer; an answer later than the timeout from the start (DNS included) is a `timeout`, whatever
        it says: urllib3's timeouts bound each socket operation, not the whole (a slow drip of bytes)."""
        started = time.monotonic()
        answer = self._send(url, body, headers)
        if answer.status is not None and time.monotonic() - started > self.timeout:
            return Answer(None, "timeout")
        return answer

    def _send(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        try:
            target = checked_target(url, self.resolver, allow_loopback=self.allow_loopback)
        except UrlRefused:
            return Answer(None, "address_not_allowed")
        default_port = 443 if target.scheme == "https" else 80
        host = target.host if target.port == default_port else f"{target.host}:{target.port}"
        try:
            response = self._pool(target).urlopen(
                "POST", target.path, body=body, redirect=False, retries=False, preload_content=False,
                timeout=urllib3.Timeout(total=self.timeout),
                headers={**headers, "Host": host, "Content-Type": "application/json", "User-Agent": USER_AGENT})
        except TimeoutError:
            return Answer(None, "timeout")
        except SSLError:
            return Answer(None, "tls_error")
        except HTTPError:
            return Answer(None, "connection_failed")
        try:
            response.read(READ_LIMIT)
        except HTTPError:
            pass  # the status was answered: what follows it does not change the outcome
        finally:
            response.release_conn()
        status = int(response.status)
        return Answer(status, None if 200 <= status < 300 else f"http_{status}")


class DeliveryQueue:
    """The queue of deliveries to try (one message per delivery: `{partner_id, delivery_id}`)."""

    def __init__(self, sqs: Any, queue_url: str | None):
        self.sqs = sqs
        self.queue_url = queue_url

    def _url(self) -> str:
        if not self.queue_url:
            raise RuntimeError("WEBHOOK_QUEUE_URL is not set")
        return self.queue_url

    def send(self, partner_id: str, delivery_id: str) -> None:
        self.sqs.send_message(QueueUrl=self._url(),
                              MessageBody=json.dumps({"partner_id": partner_id, "delivery_id": delivery_id}))

    def hide(self, receipt_handle: str, seconds: int) -> None:
        """The received message comes back after `seconds` (SQS allows up to 12 hours)."""
        self.sqs.change_message_visibility(QueueUrl=self._url(), ReceiptHandle=receipt_handle,
                                           VisibilityTimeout=max(0, min(seconds, 43_200)))
