"""Storage of automatic top-up attempts, in their organization's partition.

  ORG#{org}      ATTEMPT#{date}       the daily automatic top-up of one business date (the claim);
                                      in the pending index (stripe_pending) while `charge_pending`
"""

from __future__ import annotations

from typing import Any

from shared.cursor import CursorCodec
from shared.domain.attempt import AutoTopUpAttempt
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.keys import Key, UnsafeKeyPart, join, key
from shared.repositories.mapping import Mapper, register
from shared.repositories.organizations import org_pk
from shared.repositories.pages import PageQuery, read_page
from shared.repositories.stripe_pending import pending_attributes

ATTEMPT = "ATTEMPT"


@register
class AttemptMapper(Mapper[AutoTopUpAttempt]):
    record, entity = AutoTopUpAttempt, "auto_top_up_attempt"

    def key(self, *ids: str) -> Key:
        org_id, business_date = ids
        return key(org_pk(org_id), join(ATTEMPT, business_date))

    def key_of(self, record: AutoTopUpAttempt) -> Key:
        return self.key(record.org_id, record.business_date)

    def attributes(self, record: AutoTopUpAttempt) -> dict[str, Any]:
        return pending_attributes(record, self.entity, record.org_id, record.business_date)


ATTEMPTS = AttemptMapper()


class AttemptRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def page(self, org_id: str, *, limit: int, cursor: str | None,
             scope: str) -> tuple[list[AutoTopUpAttempt], str | None]:
        """The organization's attempts, newest business date first. An attempt still `claimed` is in
        flight and not listed, except a Stripe one (its charge is pending)."""
        try:
            pk = org_pk(org_id)
        except UnsafeKeyPart:
            return [], None
        query = PageQuery("pk = :pk AND begins_with(sk, :a)", {"#s": "status", "#m": "method"},
                          values(pk=pk, a=f"{ATTEMPT}#", claimed="claimed", stripe="stripe"), forward=False,
                          filter_expression="#s <> :claimed OR #m = :stripe")
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [ATTEMPTS.from_item(i) for i in items], next_cursor
