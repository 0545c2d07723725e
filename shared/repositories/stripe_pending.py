"""The card money still waiting for Stripe, in one sparse index: what the reconciliation reads.

  GSI3   gsi3pk "STRIPE#PENDING"   gsi3sk "{since}#{entity}#{ids}"

A record carries the two attributes only while it waits (its mapper adds them): an automatic attempt while
`charge_pending`, an online top-up while `requires_payment`, a payment while one of its refunds is `pending`.
`since` is when it began waiting (RFC 3339, UTC), so "older than 15 minutes" is one key condition.
"""

from __future__ import annotations

from typing import Any

from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.organization import OnlineTopUp
from shared.domain.payment import Payment
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.keys import join
from shared.repositories.mapping import mapper_for

PENDING = join("STRIPE", "PENDING")
KINDS: dict[str, type[Any]] = {"auto_top_up_attempt": AutoTopUpAttempt, "online_top_up": OnlineTopUp,
                               "payment": Payment}


def pending_attributes(since: str, entity: str, *ids: str) -> dict[str, str]:
    return {"gsi3pk": PENDING, "gsi3sk": "#".join((since, entity, *ids))}


def payment_pending_since(payment: Payment) -> str | None:
    pending = [r.created_at for r in payment.refunds if r.status == "pending"]
    return min(pending) if pending else None


class StripePendingRepository:
    def __init__(self, db: Dynamo):
        self.db = db

    def waiting(self, *, since: str, until: str, limit: int) -> list[AutoTopUpAttempt | OnlineTopUp | Payment]:
        """Up to `limit` records that began waiting in [since, until), oldest first (one Query of the index;
        it reads on past the first page until `limit`)."""
        from shared.repositories import attempts, organizations, payments  # noqa: F401 - their mappers

        items: list[dict[str, Any]] = []
        start: dict[str, str] | None = None
        while len(items) < limit:
            page, start = self.db.query(key_condition="gsi3pk = :pk AND gsi3sk BETWEEN :a AND :b", names={},
                                        vals=values(pk=PENDING, a=since, b=until), index="GSI3",
                                        limit=limit - len(items), start=start)
            items += page
            if start is None:
                break
        return [mapper_for(KINDS[i["entity"]]).from_item(i) for i in items if i.get("entity") in KINDS]
