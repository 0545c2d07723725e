"""A partner's daily limits on what its master wallet gives its organizations automatically, one per currency
(`/partners/{partner_id}/auto-credit-limits`). The automatic top-up holds them (shared.services.funding,
MasterWalletFunding): the `master_account` top-ups of all the partner's organizations in a currency on one business
date never add up to more than its limit."""

from __future__ import annotations

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.cursor import Owner
from shared.domain.guardrails import AutoCreditLimit
from shared.errors import NotFound, Unprocessable
from shared.money import MINOR_UNITS
from shared.repositories.guardrails import GuardrailRepository
from shared.repositories.store import Store
from shared.responses.limits import AutoCreditLimitOut, AutoCreditLimitPage
from shared.services.common import list_scope, with_retries
from shared.top_up_models import AutoCreditLimitIn


def _not_found() -> NotFound:
    return NotFound("Auto-credit limit not found.")


class AutoCreditLimitService:
    def __init__(self, store: Store, limits: GuardrailRepository):
        self.store, self.limits = store, limits

    def put(self, principal: Principal, partner_id: str, currency: str, body: AutoCreditLimitIn) -> AutoCreditLimitOut:
        """Set (or change) the limit of one currency: the partner's own finance-admin only."""
        principal.check_write(partner_id, "Partner")
        if currency not in MINOR_UNITS:
            raise Unprocessable("The request has invalid fields.", details=[{
                "field": "currency", "type": "value_error",
                "message": "must be an upper-case ISO-4217 code this service supports, for example 'SGD'"}])

        def attempt() -> AutoCreditLimitOut:
            current = self.store.get(AutoCreditLimit, partner_id, currency)
            if current is not None and current.daily_limit == body.daily_limit:
                return AutoCreditLimitOut.mirror(current)
            at = utc_now_str()
            if current is None:
                created = AutoCreditLimit(partner_id=partner_id, currency=currency, daily_limit=body.daily_limit,
                                          created_at=at, updated_at=at, updated_by=principal.sub)
                self.store.unit_of_work().create(created).commit()  # a racing PUT created it: re-read, change it
                return AutoCreditLimitOut.mirror(created)
            changed = current.model_copy(update={"daily_limit": body.daily_limit, "updated_at": at,
                                                 "updated_by": principal.sub, "version": current.version + 1})
            self.store.unit_of_work().save(changed, current.version).commit()
            return AutoCreditLimitOut.mirror(changed)

        return with_retries(attempt)

    def list(self, principal: Principal, partner_id: str, limit: int, cursor: str | None) -> AutoCreditLimitPage:
        """The partner's limits by currency: its own staff, or a platform-admin (another partner's: 404)."""
        principal.check_read(partner_id, "Partner")
        scope = list_scope(principal, "auto_credit_limits", owner=Owner(partner_id))
        items, next_cursor = self.limits.limits_page(partner_id, limit=limit, cursor=cursor, scope=scope)
        return AutoCreditLimitPage(items=[AutoCreditLimitOut.mirror(i) for i in items], next_cursor=next_cursor)

    def delete(self, principal: Principal, partner_id: str, currency: str) -> None:
        """Remove one currency's limit (404 when there is none): the partner's own finance-admin only."""
        principal.check_write(partner_id, "Partner")

        def attempt() -> None:
            current = self.store.get(AutoCreditLimit, partner_id, currency) if currency in MINOR_UNITS else None
            if current is None:
                raise _not_found()
            # (a condition of its own: the unit of work's delete always sends `:zero`)
            self.store.unit_of_work().delete(current, current.version, "daily_limit >= :zero").commit()

        with_retries(attempt)
