"""Opaque, prefixed, time-sortable ids (ULID body: 48-bit milliseconds + 80 random bits)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
PREFIXES = frozenset({"org", "pay", "inv", "ptn", "txn", "aud", "att", "otu", "crn", "wdr", "rfd",
                      "evt", "whe", "whd"})  # evt, whe, whd: notices, webhook endpoints, their deliveries
_BODY = "[0-9A-HJKMNP-TV-Z]{26}"  # the ULID body new_id mints
_ID = re.compile(rf"^(?P<prefix>[a-z]{{3}})_{_BODY}$")


def id_pattern(prefix: str) -> str:
    """The pattern of an id of one type: what a query filter must match (else 422)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return rf"^{prefix}_{_BODY}$"


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def new_id(prefix: str, *, now_ms: int | None = None) -> str:
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{prefix}_{_encode(ms, 10)}{_encode(secrets.randbits(80), 16)}"


def derived_id(source_id: str, *parts: str) -> str:
    """An id made from another id and what it is derived for: the same inputs give the same id (a redelivered
    event writes the same key), and it sorts with its source (the source's 48-bit time, 80 bits of SHA-256)."""
    prefix, body = source_id.split("_", 1)
    digest = hashlib.sha256("|".join((source_id, *parts)).encode()).digest()
    return f"{prefix}_{body[:10]}{_encode(int.from_bytes(digest[:10]), 16)}"


def is_id(value: str, prefix: str) -> bool:
    m = _ID.match(value)
    return bool(m and m.group("prefix") == prefix)


def newest_first(value: str) -> str:
    """A key part that sorts an id's records newest first in an ascending read: its ULID body with every digit
    complemented (the prefix dropped)."""
    body = value.split("_", 1)[1]
    return "".join(_ALPHABET[31 - _ALPHABET.index(ch)] for ch in body)
