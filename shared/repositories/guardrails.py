"""Storage of the automatic top-up's guardrails, and the conditional writes that hold them inside the
transactions of the attempts (shared.services.guardrails):

  ORG#{org}      AUTOSUM#{YYYY-MM}             the organization's automatic top-ups of one month (its sum)
  PTN#{ptn}      AUTOLIMIT#{cur}               the partner's daily limit of automatic master-wallet credits
  PTN#{ptn}      AUTODAY#{cur}#{date}          what its master wallet gave automatically on one business date

A sum is changed by an UpdateItem whose condition is the bound itself (`total <= bound - amount`), so two
transactions can never together pass it; a bound that was read (the cap in the organization's settings, the
partner's limit) is held by a ConditionCheck on its item's version in the same transaction.
"""

from __future__ import annotations

from typing import Any

from shared.cursor import CursorCodec
from shared.domain.guardrails import DAY_SUM_DAYS, AutoCreditDay, AutoCreditLimit, MonthlyAutoTopUps
from shared.domain.organization import Organization
from shared.domain.partner_wallet import PartnerWallet
from shared.repositories.dynamo import Dynamo, to_av, values
from shared.repositories.keys import Key, UnsafeKeyPart, join, key
from shared.repositories.mapping import Mapper, mapper_for, register
from shared.repositories.organizations import org_pk
from shared.repositories.pages import PageQuery, read_page
from shared.repositories.partner_wallets import partner_pk

MONTH, LIMIT, DAY = "AUTOSUM", "AUTOLIMIT", "AUTODAY"


@register
class MonthlyMapper(Mapper[MonthlyAutoTopUps]):
    record, entity = MonthlyAutoTopUps, "auto_top_up_month"

    def key(self, *ids: str) -> Key:
        org_id, month = ids
        return key(org_pk(org_id), join(MONTH, month))

    def key_of(self, record: MonthlyAutoTopUps) -> Key:
        return self.key(record.org_id, record.month)


@register
class LimitMapper(Mapper[AutoCreditLimit]):
    record, entity = AutoCreditLimit, "auto_credit_limit"

    def key(self, *ids: str) -> Key:
        partner_id, currency = ids
        return key(partner_pk(partner_id), join(LIMIT, currency))

    def key_of(self, record: AutoCreditLimit) -> Key:
        return self.key(record.partner_id, record.currency)


@register
class DayMapper(Mapper[AutoCreditDay]):
    record, entity = AutoCreditDay, "auto_credit_day"

    def key(self, *ids: str) -> Key:
        partner_id, currency, business_date = ids
        return key(partner_pk(partner_id), join(DAY, currency, business_date))

    def key_of(self, record: AutoCreditDay) -> Key:
        return self.key(record.partner_id, record.currency, record.business_date)


MONTHS, LIMITS, DAYS = MonthlyMapper(), LimitMapper(), DayMapper()
_TOTAL = {"#t": "total"}


class GuardrailRepository:
    """Builds the items a unit of work commits (`uow.raw(...)`) and reads the partners' limits."""

    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db, self.cursors = db, cursors

    def _update(self, k: Key, expression: str, vals: dict[str, Any], condition: str | None) -> dict[str, Any]:
        update: dict[str, Any] = {"TableName": self.db.table, "Key": to_av(k), "UpdateExpression": expression,
                                  "ExpressionAttributeNames": dict(_TOTAL), "ExpressionAttributeValues": vals}
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    def _check(self, k: Key, condition: str, vals: dict[str, Any] | None = None,
               names: dict[str, str] | None = None) -> dict[str, Any]:
        check: dict[str, Any] = {"TableName": self.db.table, "Key": to_av(k), "ConditionExpression": condition}
        if vals:
            check["ExpressionAttributeValues"] = vals
        if names:
            check["ExpressionAttributeNames"] = names
        return {"ConditionCheck": check}

    # --- an organization's month ---------------------------------------------------------------------------
    def add_to_month(self, org: Organization, month: str, amount: int, cap: int | None, at: str) -> dict[str, Any]:
        """The month's sum grows by `amount`, only if it stays within `cap` (None: the organization has none, which
        the organization's own condition in the transaction holds)."""
        vals = values(amt=amount, zero=0, org=org.id, ptn=org.partner_id, month=month, cur=org.currency, at=at,
                      entity=MONTHS.entity)
        expression = ("SET #t = if_not_exists(#t, :zero) + :amt, org_id = :org, partner_id = :ptn, #m = :month, "
                      "currency = :cur, updated_at = :at, entity = :entity")
        item = self._update(MONTHS.key(org.id, month), expression, vals, None)
        item["Update"]["ExpressionAttributeNames"]["#m"] = "month"
        if cap is not None:
            item["Update"]["ConditionExpression"] = "attribute_not_exists(#t) OR #t <= :room"
            item["Update"]["ExpressionAttributeValues"] |= values(room=cap - amount)
        return item

    def release_from_month(self, org_id: str, month: str, amount: int, at: str) -> dict[str, Any]:
        """A reservation given back (a card charge that failed): the sum shrinks by it, never below zero."""
        return self._update(MONTHS.key(org_id, month), "SET #t = #t - :amt, updated_at = :at",
                            values(amt=amount, at=at), "#t >= :amt")

    def month_still_full(self, org_id: str, month: str, used: int) -> dict[str, Any]:
        """The month's sum is still at least what was read (a skip decided on it stays right)."""
        return self._check(MONTHS.key(org_id, month), "attribute_not_exists(#t) OR #t >= :used", values(used=used),
                           dict(_TOTAL))

    def organization_unchanged(self, org: Organization) -> dict[str, Any]:
        """The organization is as read (its settings, balance and auto_trigger): the decision made on it holds."""
        return self._check(mapper_for(Organization).key_of(org), "#v = :v", values(v=org.version), {"#v": "version"})

    # --- a partner's day ----------------------------------------------------------------------------------
    def add_to_day(self, partner_id: str, currency: str, business_date: str, amount: int, limit: int | None,
                   expiration: int) -> dict[str, Any]:
        vals = values(amt=amount, zero=0, ptn=partner_id, cur=currency, date=business_date, exp=expiration,
                      entity=DAYS.entity)
        expression = ("SET #t = if_not_exists(#t, :zero) + :amt, partner_id = :ptn, currency = :cur, "
                      "business_date = :date, expiration = :exp, entity = :entity")
        condition = None
        if limit is not None:
            condition = "attribute_not_exists(#t) OR #t <= :room"
            vals |= values(room=limit - amount)
        return self._update(DAYS.key(partner_id, currency, business_date), expression, vals, condition)

    def limit_unchanged(self, partner_id: str, currency: str, limit: AutoCreditLimit | None) -> dict[str, Any]:
        k = LIMITS.key(partner_id, currency)
        if limit is None:
            return self._check(k, "attribute_not_exists(pk)")
        # the version and the limit itself: a limit removed and set again starts at version 1 again
        return self._check(k, "#v = :v AND #l = :l", values(v=limit.version, l=limit.daily_limit),
                           {"#v": "version", "#l": "daily_limit"})

    def wallet_unchanged(self, wallet: PartnerWallet) -> dict[str, Any]:
        k = mapper_for(PartnerWallet).key_of(wallet)
        if wallet.version == 0:
            return self._check(k, "attribute_not_exists(pk)")
        return self._check(k, "#v = :v", values(v=wallet.version), {"#v": "version"})

    # --- the partner's limits, listed ---------------------------------------------------------------------
    def limits_page(self, partner_id: str, *, limit: int, cursor: str | None,
                    scope: str) -> tuple[list[AutoCreditLimit], str | None]:
        try:
            pk = partner_pk(partner_id)
        except UnsafeKeyPart:
            return [], None
        query = PageQuery("pk = :pk AND begins_with(sk, :l)", {}, values(pk=pk, l=f"{LIMIT}#"), consistent=True)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [LIMITS.from_item(i) for i in items], next_cursor


def day_expiration(epoch_of_day: int) -> int:
    return epoch_of_day + DAY_SUM_DAYS * 86_400
