"""The card money still waiting for Stripe, in one sparse index: what the reconciliation reads.

  GSI3   gsi3pk "STRIPE#PENDING"   gsi3sk "{next look}#{entity}#{ids}"

A record carries the two attributes only while it waits and is still looked at (its mapper adds them): an
automatic attempt while `charge_pending`, an online top-up until it succeeds, a payment while one of its refunds
is `pending`. The next look (RFC 3339, UTC) is 15 minutes after it began waiting, then as the reconciliation
reschedules it (shared.domain.reconciling), so "due now" is one key condition.
"""

from __future__ import annotations

from typing import Any

from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.organization import OnlineTopUp
from shared.domain.payment import Payment
from shared.domain.reconciling import due
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.keys import join
from shared.repositories.mapping import mapper_for

PENDING = join("STRIPE", "PENDING")
KINDS: dict[str, type[Any]] = {"auto_top_up_attempt": AutoTopUpAttempt, "online_top_up": OnlineTopUp,
                               "payment": Payment}
type Waiting = AutoTopUpAttempt | OnlineTopUp | Payment


def since(record: Waiting) -> str | None:
    """When the record began waiting for Stripe, or None when it does not wait."""
    if isinstance(record, Payment):
        pending = [r.created_at for r in record.refunds if r.status == "pending"]
        return min(pending) if pending else None
    if isinstance(record, AutoTopUpAttempt):
        return record.created_at if record.status == "charge_pending" else None
    return record.created_at if record.status != "succeeded" else None


def pending_attributes(record: Waiting, entity: str, *ids: str) -> dict[str, str]:
    began = since(record)
    at = due(began, record.reconciling) if began is not None else None
    return {} if at is None else {"gsi3pk": PENDING, "gsi3sk": "#".join((at, entity, *ids))}


def ids_of(record: Waiting) -> tuple[str, ...]:
    if isinstance(record, Payment):
        return (record.id,)
    if isinstance(record, AutoTopUpAttempt):
        return record.org_id, record.business_date
    return record.org_id, record.id


class StripePendingRepository:
    def __init__(self, db: Dynamo):
        self.db = db

    def due(self, *, until: str, limit: int) -> list[Waiting]:
        """Up to `limit` records whose next look is before `until`, the most overdue first (one Query of the
        index; it reads on past the first page until `limit`)."""
        from shared.repositories import attempts, organizations, payments  # noqa: F401 - their mappers

        items: list[dict[str, Any]] = []
        start: dict[str, str] | None = None
        while len(items) < limit:
            page, start = self.db.query(key_condition="gsi3pk = :pk AND gsi3sk < :until", names={},
                                        vals=values(pk=PENDING, until=until), index="GSI3",
                                        limit=limit - len(items), start=start)
            items += page
            if start is None:
                break
        return [mapper_for(KINDS[i["entity"]]).from_item(i) for i in items if i.get("entity") in KINDS]
