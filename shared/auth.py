"""Who is calling: JWT claims as API Gateway's HTTP API JWT authorizer hands them to Lambda.

API Gateway verifies the token (issuer, audience, signature, expiry) before Lambda runs; locally the
stack does the same (local/auth.py). Here we only read the verified claims, and treat a request
without them as unauthenticated (defence in depth).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shared.errors import Forbidden, NotFound, Unauthorized

FINANCE_ADMIN = "finance-admin"
FINANCE_VIEWER = "finance-viewer"
PLATFORM_ADMIN = "platform-admin"
KNOWN_GROUPS = frozenset({FINANCE_ADMIN, FINANCE_VIEWER, PLATFORM_ADMIN})


def parse_groups(raw: Any) -> frozenset[str]:
    """Groups as a JSON list, or as API Gateway flattens list claims: the string "[a b]"."""
    if raw is None:
        return frozenset()
    if isinstance(raw, list | tuple):
        return frozenset(str(g) for g in raw)
    if not isinstance(raw, str):
        return frozenset()
    text = raw.strip()
    if text.startswith("[") and '"' in text:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            return frozenset(str(g) for g in loaded)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return frozenset(part for part in text.replace(",", " ").split() if part)


@dataclass(frozen=True)
class Principal:
    sub: str
    partner_id: str | None
    groups: frozenset[str]

    @property
    def can_write(self) -> bool:
        return FINANCE_ADMIN in self.groups and self.partner_id is not None

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.groups

    def require_member(self) -> None:
        if not self.groups & KNOWN_GROUPS:
            raise Forbidden("Your account has no finance role.")

    def require_writer(self) -> str:
        """The caller's partner id, if the caller may write its partner's data."""
        if not self.can_write:
            raise Forbidden("Your role may not change finance data.")
        assert self.partner_id is not None
        return self.partner_id

    def require_platform_admin(self) -> None:
        if not self.is_platform_admin:
            raise Forbidden("Only a platform administrator may do this.")

    def home_partner(self) -> str:
        """The partner whose lists the caller reads."""
        self.require_member()
        if self.partner_id is None:
            raise Forbidden("Your token names no partner.")
        return self.partner_id

    def can_read(self, partner_id: str) -> bool:
        return self.is_platform_admin or (self.partner_id == partner_id and bool(self.groups & KNOWN_GROUPS))

    def check_read(self, partner_id: str, what: str) -> None:
        """Another partner's record answers exactly as a missing one does."""
        if not self.can_read(partner_id):
            raise NotFound(f"{what} not found.")

    def check_write(self, partner_id: str, what: str) -> str:
        """404 for another partner's record (never reveal it exists), 403 for a reader of its own."""
        if self.partner_id != partner_id and not self.is_platform_admin:
            raise NotFound(f"{what} not found.")
        if self.partner_id != partner_id:
            raise Forbidden("Only the partner's own finance administrators may change this.")
        return self.require_writer()


PARTNER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what a partner id may look like (docs/security.md)


def principal_from_event(event: dict[str, Any]) -> Principal:
    ctx = event.get("requestContext") or {}
    claims = ((ctx.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not sub:
        raise Unauthorized("A valid bearer token is required.")
    partner = claims.get("partner_id") or None
    if partner is not None and not (isinstance(partner, str) and PARTNER_ID.fullmatch(partner)):
        raise Unauthorized("The token's partner_id is not a partner id.")
    return Principal(sub=str(sub), partner_id=str(partner) if partner else None,
                     groups=parse_groups(claims.get("groups")))
