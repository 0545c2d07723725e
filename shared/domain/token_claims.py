"""What a Cognito user is to the API: the contract's claims, from the user's attributes and groups (pure).

Cognito names a user's groups `cognito:groups` and a custom attribute `custom:<name>`; the API reads the contract's
names (shared/auth.py): `partner_id` (the only source of the tenant), `groups` (the roles) and, for a customer
organization's staff, `org_id`. The pre token generation trigger (functions/pre_token, Cognito's V2_0 event) adds
what `claims_for` returns to the access token and the ID token.

- A user without a `custom:partner_id` gets no claim at all: no partner (the API refuses a token without one) and
  no groups (a role without a tenant means nothing).
- `groups` holds the user's groups that the contract names, in Cognito's order, once each; any other group of the
  pool (created by hand, for something else) is left out, so it can never reach the API as a role. A user in no
  such group gets `groups: []` (the API answers 403: no finance role).
- `org_id` is added only for a member of `org-admin` or `org-viewer` whose `custom:org_id` is set: finance staff
  are partner-wide, and an org_id on their token would mean nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

PARTNER_ATTRIBUTE: Final = "custom:partner_id"
ORG_ATTRIBUTE: Final = "custom:org_id"

FINANCE_GROUPS: Final = ("finance-admin", "finance-viewer", "platform-admin")
ORG_GROUPS: Final = ("org-admin", "org-viewer")
CONTRACT_GROUPS: Final = frozenset(FINANCE_GROUPS + ORG_GROUPS)

Claims = dict[str, str | list[str]]


def _attribute(attributes: Mapping[str, str], name: str) -> str | None:
    value = attributes.get(name)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def contract_groups(groups: Iterable[str] | None) -> list[str]:
    """The user's groups that the contract names, in the order given, each once."""
    out: list[str] = []
    for group in groups or ():
        if group in CONTRACT_GROUPS and group not in out:
            out.append(group)
    return out


def claims_for(attributes: Mapping[str, str] | None, groups: Iterable[str] | None) -> Claims:
    """The claims to add to the user's tokens (empty when the user names no partner)."""
    partner = _attribute(attributes or {}, PARTNER_ATTRIBUTE)
    if partner is None:
        return {}
    roles = contract_groups(groups)
    claims: Claims = {"partner_id": partner, "groups": roles}
    org = _attribute(attributes or {}, ORG_ATTRIBUTE)
    if org is not None and any(group in ORG_GROUPS for group in roles):
        claims["org_id"] = org
    return claims
