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
from shared.ids import id_pattern

FINANCE_ADMIN = "finance-admin"
FINANCE_VIEWER = "finance-viewer"
PLATFORM_ADMIN = "platform-admin"
ORG_ADMIN = "org-admin"  # a customer organization's own staff (their token carries `org_id`)
ORG_VIEWER = "org-viewer"
ORG_GROUPS = frozenset({ORG_ADMIN, ORG_VIEWER})
KNOWN_GROUPS = frozenset({FINANCE_ADMIN, FINANCE_VIEWER, PLATFORM_ADMIN}) | ORG_GROUPS

# What a customer's staff may call (contract, "The customer's own staff"): every other route is 403 for them, the
# role checked before anything is read. Reads are further held to their own organization by the services
# (`check_read_owned`, `list_owner`); the two writes are an org-admin's, for its own organization.
CUSTOMER_READS = frozenset({
    "GET /organizations", "GET /organizations/{org_id}", "GET /organizations/{org_id}/wallet",
    "GET /organizations/{org_id}/wallet/transactions", "GET /organizations/{org_id}/wallet/withdrawals",
    "GET /organizations/{org_id}/payment-settings", "GET /organizations/{org_id}/auto-top-ups",
    "GET /organizations/{org_id}/online-top-ups", "GET /organizations/{org_id}/history",
    "GET /invoices", "GET /invoices/{invoice_id}", "GET /invoices/{invoice_id}/history",
    "GET /payments", "GET /payments/{payment_id}", "GET /payments/{payment_id}/history", "GET /credit-notes"})
CUSTOMER_WRITES = frozenset({"POST /organizations/{org_id}/online-top-ups",
                             "PUT /organizations/{org_id}/payment-settings"})


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
    org_id: str | None = None  # a customer's own organization

    @property
    def is_customer(self) -> bool:
        """A customer organization's staff: a token holding an org group is the customer's, whatever else it holds."""
        return bool(self.groups & ORG_GROUPS)

    @property
    def can_write(self) -> bool:
        return FINANCE_ADMIN in self.groups and self.partner_id is not None and not self.is_customer

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.groups and not self.is_customer

    @property
    def tenant(self) -> str:
        """Whose lists a cursor of this caller belongs to: the partner, or the partner and the customer's
        organization (a customer's cursor is good for that organization's staff only)."""
        if self.is_customer:
            return f"{self.partner_id}:{self.org_id}"
        return self.partner_id or f"platform:{self.sub}"

    def require_member(self) -> None:
        if not self.groups & KNOWN_GROUPS:
            raise Forbidden("Your account has no finance role.")
        if self.is_customer and (self.org_id is None or self.partner_id is None):
            raise Forbidden("Your token names no organization.")

    def require_route(self, route_key: str) -> None:
        """The role first: a customer's staff call only the routes their role has (403 for any other, wherever it
        points); the services then hold each read to their own organization."""
        if not self.is_customer:
            return
        self.require_member()
        if route_key in CUSTOMER_READS:
            return
        if route_key in CUSTOMER_WRITES and ORG_ADMIN in self.groups:
            return
        raise Forbidden("Your role may not do this: a customer's staff read their own organization, and its "
                        "admin tops up by card.")

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
        """The partner whose lists the caller reads (a partner-wide list: 403 for a customer's staff, whose lists
        are their organization's: `list_owner`)."""
        self.require_member()
        if self.is_customer:
            raise Forbidden("Your role reads its own organization only.")
        if self.partner_id is None:
            raise Forbidden("Your token names no partner.")
        return self.partner_id

    def list_owner(self) -> tuple[str, str | None]:
        """The partner whose list the caller reads, and the organization it is held to (a customer's own, whatever
        the filters say; None for the partner's staff)."""
        if self.is_customer:
            self.require_member()
            assert self.partner_id is not None
            return self.partner_id, self.org_id
        return self.home_partner(), None

    def can_read(self, partner_id: str) -> bool:
        """May read a partner's records that belong to no organization (never a customer's staff)."""
        if self.is_customer:
            return False
        return self.is_platform_admin or (self.partner_id == partner_id and bool(self.groups & KNOWN_GROUPS))

    def may_page(self, partner_id: str) -> bool:
        """May read on a list of the partner's whose cursor it holds (the cursor's scope binds the caller's tenant:
        a customer's cursors were handed out for its own organization's lists only)."""
        return self.partner_id == partner_id if self.is_customer else self.can_read(partner_id)

    def can_read_owned(self, partner_id: str, org_id: str | None) -> bool:
        """May read a record of an organization (org_id None: of none yet, e.g. an unassigned payment)."""
        if self.is_customer:
            return self.partner_id == partner_id and org_id is not None and org_id == self.org_id
        return self.can_read(partner_id)

    def check_read(self, partner_id: str, what: str) -> None:
        """Another partner's record answers exactly as a missing one does; a customer's staff read no record that
        is not their organization's (403: not a read their role has)."""
        if self.is_customer:
            raise Forbidden("Your role reads its own organization only.")
        if not self.can_read(partner_id):
            raise NotFound(f"{what} not found.")

    def check_read_owned(self, partner_id: str, org_id: str | None, what: str) -> None:
        """A record of an organization: another partner's, or for a customer's staff another organization's (even
        of their own partner), answers exactly as a missing one does."""
        if not self.can_read_owned(partner_id, org_id):
            raise NotFound(f"{what} not found.")

    def check_top_up(self, partner_id: str, org_id: str) -> None:
        """An online top-up by card, or its automatic top-up switched: the partner's finance admin, or the
        organization's own admin (another organization's: 404, as a missing one)."""
        if self.is_customer:
            if ORG_ADMIN not in self.groups:
                raise Forbidden("Your role may not change finance data.")
            self.check_read_owned(partner_id, org_id, "Organization")
            return
        self.check_write(partner_id, "Organization")

    def check_write(self, partner_id: str, what: str) -> str:
        """404 for another partner's record (never reveal it exists), 403 for a reader of its own; a customer's
        staff write nothing here (403 wherever it points: the role first)."""
        if self.is_customer:
            raise Forbidden("Your role may not change finance data.")
        if self.partner_id != partner_id and not self.is_platform_admin:
            raise NotFound(f"{what} not found.")
        if self.partner_id != partner_id:
            raise Forbidden("Only the partner's own finance administrators may change this.")
        return self.require_writer()


PARTNER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what a partner id may look like (docs/security.md)
ORG_ID = re.compile(id_pattern("org"))


def principal_from_event(event: dict[str, Any]) -> Principal:
    ctx = event.get("requestContext") or {}
    claims = ((ctx.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not sub:
        raise Unauthorized("A valid bearer token is required.")
    partner = claims.get("partner_id") or None
    if partner is not None and not (isinstance(partner, str) and PARTNER_ID.fullmatch(partner)):
        raise Unauthorized("The token's partner_id is not a partner id.")
    org = claims.get("org_id") or None
    if org is not None and not (isinstance(org, str) and ORG_ID.fullmatch(org)):
        raise Unauthorized("The token's org_id is not an organization id.")
    found = Principal(sub=str(sub), partner_id=str(partner) if partner else None,
                      groups=parse_groups(claims.get("groups")), org_id=org)
    route = event.get("routeKey")
    if isinstance(route, str):
        found.require_route(route)
    return found
