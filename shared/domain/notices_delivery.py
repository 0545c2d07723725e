"""A partner's webhook endpoints and the deliveries of notices to them (pure): the records, the signature, the
retry schedule and the address rule.

A delivery is one notice to one endpoint. A 2xx answer within the timeout delivers it; anything else is tried again
with the same body and event id: the first retry 30 s after the first try, then each wait twice the one before, at
most an hour, until three days after the delivery started (its first try, or a person's retry of a failed one); a
try that would come later marks it `failed` instead.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from shared.domain.base import Record
from shared.domain.notices import NoticeType
from shared.errors import Conflict

DeliveryStatus = Literal["pending", "delivered", "failed"]
TIMEOUT_SECONDS = 10
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 3_600
WINDOW = timedelta(days=3)
SIGNATURE_HEADER = "Payments-Signature"
MAX_URL = 2_048


class WebhookEndpoint(Record):
    id: str
    partner_id: str
    url: str
    events: list[NoticeType]
    secret: str  # whsec_...: shown once, in the answer that created it; kept to sign every delivery
    created_at: str
    created_by: str


class StoredNotice(Record):
    """A notice as sent: its body is kept as the bytes every try sends (and signs)."""

    id: str
    partner_id: str
    type: NoticeType
    created_at: str
    body: str


class WebhookDelivery(Record):
    id: str
    partner_id: str
    event_id: str
    endpoint_id: str
    type: NoticeType
    body: str  # the notice's body as every try sends (and signs) it
    status: DeliveryStatus = "pending"
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None  # `http_<status>`, `timeout`, `connection_failed`, `address_not_allowed`, ...
    next_attempt_at: str | None = None
    window_started_at: str  # its retries end three days after this
    window_tries_before: int = 0  # the tries made before this window (a person's retry starts the schedule again)
    created_at: str
    updated_at: str
    version: int = 1


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.upper())


def retry_wait(attempts: int, first: int = FIRST_RETRY_SECONDS) -> int:
    """Seconds to wait after the `attempts`-th failed try: 30, 60, 120, ... at most 3600 (`first`: the first wait,
    shorter only in the local stack's tests)."""
    return min(first * 2 ** max(attempts - 1, 0), LONGEST_WAIT_SECONDS)


def delivered(d: WebhookDelivery, now: datetime, status_code: int) -> WebhookDelivery:
    return d.model_copy(update={"status": "delivered", "attempts": d.attempts + 1, "last_status_code": status_code,
                                "last_error": None, "next_attempt_at": None, "updated_at": _at(now),
                                "version": d.version + 1})


def tried_and_failed(d: WebhookDelivery, now: datetime, status_code: int | None, error: str, *,
                     first_retry: int = FIRST_RETRY_SECONDS) -> WebhookDelivery:
    """After a failed try: pending until its next try, or `failed` when that would fall past its three days."""
    attempts = d.attempts + 1
    next_try = now + timedelta(seconds=retry_wait(attempts - d.window_tries_before, first_retry))
    over = next_try > _moment(d.window_started_at) + WINDOW
    return d.model_copy(update={"status": "failed" if over else "pending", "attempts": attempts,
                                "last_status_code": status_code, "last_error": error,
                                "next_attempt_at": None if over else _at(next_try), "updated_at": _at(now),
                                "version": d.version + 1})


def given_up(d: WebhookDelivery, now: datetime, error: str) -> WebhookDelivery:
    """Failed without a try (its endpoint was deleted): nothing more is sent."""
    return d.model_copy(update={"status": "failed", "last_error": error, "next_attempt_at": None,
                                "updated_at": _at(now), "version": d.version + 1})


def retried(d: WebhookDelivery, now: datetime) -> WebhookDelivery:
    """A person sends a failed delivery again: pending now, with three more days of retries."""
    if d.status != "failed":
        raise Conflict("webhook_delivery_not_failed", f"Only a failed delivery is sent again; this one is {d.status}.")
    return d.model_copy(update={"status": "pending", "next_attempt_at": _at(now), "window_started_at": _at(now),
                                "window_tries_before": d.attempts, "updated_at": _at(now), "version": d.version + 1})


def seconds_until(timestamp: str | None, now: datetime) -> int:
    """Whole seconds from `now` until `timestamp` (0 when it is past or absent)."""
    if timestamp is None:
        return 0
    return max(0, int((_moment(timestamp) - now).total_seconds() + 0.999))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Payments-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed with the
    endpoint's whole secret (`whsec_...`) as UTF-8."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


# --- where a notice may be sent ---------------------------------------------------------------------------------
LOOPBACK = "127.0.0.1"


class UrlRefused(ValueError):
    """The URL may not receive notices; the message says why (for a person to read)."""


def check_url_shape(url: str, *, allow_loopback: bool) -> tuple[str, int]:
    """The host and port a notice URL names, or UrlRefused: `https` with a host; with `allow_loopback` (the local
    stack) also `http://127.0.0.1:<port>/...`. The addresses the host resolves to are checked apart
    (`address_allowed`)."""
    if len(url) > MAX_URL:
        raise UrlRefused(f"must be at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"is not a URL ({error})") from None
    host = parts.hostname or ""
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("must not carry a user name or password")
    if parts.fragment or any(c.isspace() for c in url):
        raise UrlRefused("must not hold a fragment or spaces")
    loopback_allowed = allow_loopback and host == LOOPBACK and port is not None
    if parts.scheme == "http" and loopback_allowed:
        return host, port or 80
    if parts.scheme != "https":
        raise UrlRefused("must be an https URL" + (" (or http://127.0.0.1:<port>/...)" if allow_loopback else ""))
    if not host:
        raise UrlRefused("must name a host")
    return host, port or 443


def address_allowed(address: str, *, allow_loopback: bool) -> bool:
    """A public address (not private, loopback, link-local, shared, reserved or multicast); 127.0.0.1 too when
    `allow_loopback` (the local stack)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_loopback and str(ip) == LOOPBACK:
        return True
    return ip.is_global and not ip.is_multicast
