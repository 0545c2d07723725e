"""Stripe webhook signatures, verified with the standard library (no `import stripe` in the webhook).

Stripe signs `"{t}.{raw body}"` with HMAC-SHA256 under the endpoint's secret and sends
`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`. A delivery is accepted when one
`v1` matches and `t` is within the tolerance of now on *both* sides: the SDK only refuses old
timestamps; a timestamp far in the future is refused here too (a captured request replayed later
would otherwise carry a pre-dated window).
"""

from __future__ import annotations

import hashlib
import hmac

TOLERANCE_SECONDS = 300
MAX_HEADER = 2048
# The one answer to every delivery that does not verify (no header, a malformed one, no matching signature, a
# timestamp outside the tolerance): saying which would tell a caller holding a captured signature that it was
# otherwise valid. The reason is logged only (shared.webhook_edge).
REFUSED_CODE = "invalid_signature"
REFUSED_MESSAGE = "The webhook could not be verified."


class SignatureError(Exception):
    """The delivery is not provably from Stripe; `reason` says why (it is logged, not returned)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `v1` signature Stripe sends (used by tests, the local Stripe and the benchmark)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def header_for(payload: bytes, secret: str, timestamp: int) -> str:
    return f"t={timestamp},v1={sign(payload, secret, timestamp)}"


def verify(payload: bytes, header: str | None, secret: str, now: int, tolerance: int = TOLERANCE_SECONDS) -> int:
    """Return the signed timestamp, or raise SignatureError."""
    if not header:
        raise SignatureError("no Stripe-Signature header")
    if len(header) > MAX_HEADER:
        raise SignatureError("Stripe-Signature header too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            if not (value.isascii() and value.isdigit()) or len(value) > 12:  # "²" passes isdigit()
                raise SignatureError("malformed timestamp")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError("no timestamp")
    if not signatures:
        raise SignatureError("no v1 signature")
    expected = sign(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected.encode(), s.encode()) for s in signatures):
        raise SignatureError("no signature matches the payload")
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    return timestamp
