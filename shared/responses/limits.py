"""The bodies of a partner's auto-credit limits (`/partners/{partner_id}/auto-credit-limits`)."""

from __future__ import annotations

from shared.responses.base import Out


class AutoCreditLimitOut(Out):
    partner_id: str
    currency: str
    daily_limit: int  # minor units: the most its master wallet gives its organizations automatically in a day
    created_at: str
    updated_at: str
    updated_by: str


class AutoCreditLimitPage(Out):
    items: list[AutoCreditLimitOut]
    next_cursor: str | None
