"""Key parts joined into DynamoDB keys. The separator never appears inside a part: a part holding it
could name another aggregate's key (key injection), so building such a key is refused here, for every
key of every aggregate."""

from __future__ import annotations

import hashlib

SEPARATOR = "#"
META = "META"
LOCK = "LOCK"
MARKER = "MARKER"

type Key = dict[str, str]


class UnsafeKeyPart(ValueError):
    """A key part held the separator (or was empty): a bug or a caller's input that escaped validation."""


def join(*parts: str | int) -> str:
    out = []
    for part in parts:
        text = str(part)
        if not text or SEPARATOR in text:
            raise UnsafeKeyPart(f"unsafe key part {text!r}")
        out.append(text)
    return SEPARATOR.join(out)


def key(pk: str, sk: str) -> Key:
    return {"pk": pk, "sk": sk}


def hashed(text: str) -> str:
    """Free text as a key part: its SHA-256 (hex), so a name or number may hold any character (the separator
    included) and still name only its own key. Callers normalize the text first (case, spaces)."""
    return hashlib.sha256(text.encode()).hexdigest()
