"""Opaque, tamper-proof pagination cursors.

A cursor is base64url(JSON{k: last key, s: scope}) + "." + HMAC-SHA256. The scope binds it to the
list it came from: its owner (the partner whose rows it holds and, for a list that belongs to one, the
organization or payment), the caller's tenant, the route and the filters. The owner is in the scope in
clear (`owned_scope`), so a cursor page checks that the caller may read it before anything is read
(shared.services.common): a forged, altered or foreign cursor is refused with 400 and can never read
another tenant's rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from shared.errors import BadRequest

# The longest real key: a 200-character name of 4-byte characters in gsi1sk plus ids (~1 KB of UTF-8),
# base64 (x4/3) and the signature stay well inside this.
MAX_CURSOR = 4096


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def scope_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Owner:
    """Whose rows a list holds: a partner, and the organization or payment when the list belongs to one."""

    partner_id: str
    resource: str | None = None


_SEP = "|"  # in neither a partner id (^[A-Za-z0-9_-]{1,64}$) nor an id this service mints


def owned_scope(owner: Owner, *parts: Any) -> str:
    """A scope naming its owner in clear (`partner|resource|digest`), the digest binding the owner and `parts`."""
    return _SEP.join((owner.partner_id, owner.resource or "", scope_of(owner.partner_id, owner.resource, *parts)))


def invalid_cursor() -> BadRequest:
    return BadRequest("The cursor is not valid for this list.", code="invalid_cursor")


class CursorCodec:
    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("cursor secret too short")
        self._secret = secret

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def encode(self, key: dict[str, str], scope: str) -> str:
        # UTF-8, not \u escapes: a non-Latin name costs 1-4 bytes a character instead of 6-12.
        payload = _b64(json.dumps({"k": key, "s": scope}, separators=(",", ":"), sort_keys=True,
                                  ensure_ascii=False).encode())
        return f"{payload}.{self._sign(payload)}"

    def _verified(self, cursor: str) -> dict[str, Any]:
        """The payload of a cursor this codec signed; 400 for anything else."""
        if len(cursor) > MAX_CURSOR or not cursor.isascii() or cursor.count(".") != 1:
            raise invalid_cursor()
        payload, signature = cursor.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise invalid_cursor()
        try:
            data = json.loads(_unb64(payload))
        except ValueError:
            raise invalid_cursor() from None
        if not isinstance(data, dict):
            raise invalid_cursor()
        return data

    def decode(self, cursor: str, scope: str) -> dict[str, str]:
        data = self._verified(cursor)
        key = data.get("k")
        if data.get("s") != scope or not isinstance(key, dict):
            raise invalid_cursor()
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in key.items()):
            raise invalid_cursor()
        return key

    def owner(self, cursor: str) -> Owner:
        """The owner a cursor we signed was issued for (its scope made by `owned_scope`); 400 for anything else."""
        scope = self._verified(cursor).get("s")
        parts = scope.split(_SEP) if isinstance(scope, str) else []
        if len(parts) != 3 or not parts[0]:
            raise invalid_cursor()
        return Owner(parts[0], parts[1] or None)

    def reissue(self, cursor: str | None, issued: str, scope: str) -> str | None:
        """The same position under another scope: a first page that learns its owner with its rows."""
        return None if cursor is None else self.encode(self.decode(cursor, issued), scope)
