"""Opaque, tamper-proof pagination cursors.

A cursor is base64url(JSON{k: last key, s: scope}) + "." + HMAC-SHA256. The scope binds it to the
list it came from (partner, route and filters): a forged, altered or foreign cursor is refused with
400 and can never read another tenant's rows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
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

    def decode(self, cursor: str, scope: str) -> dict[str, str]:
        bad = BadRequest("The cursor is not valid for this list.", code="invalid_cursor")
        if len(cursor) > MAX_CURSOR or not cursor.isascii() or cursor.count(".") != 1:
            raise bad
        payload, signature = cursor.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise bad
        try:
            data = json.loads(_unb64(payload))
        except ValueError:
            raise bad from None
        key = data.get("k") if isinstance(data, dict) else None
        if data.get("s") != scope or not isinstance(key, dict):
            raise bad
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in key.items()):
            raise bad
        return key
