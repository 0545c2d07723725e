"""The notices' outbox reader: the consumer of the table's stream that turns changes into notices and deliveries,
and deliveries waiting for a try into queue messages.

Two kinds of stream records reach it (template.yaml's filter):
  - a change of an organization, an automatic top-up attempt or a payment: the notices it derives
    (shared.domain.notices) are written once each (derived ids), with one delivery per endpoint of the record's own
    partner subscribed to the type; a notice nobody subscribes to is not stored;
  - a delivery that became `pending` (written so, or a failed one sent again): one queue message for it.
So every queue message comes from a change DynamoDB recorded, and a crash anywhere only delays: the stream record
is delivered again, writes nothing twice, and sends the message again (the delivery function ignores a message for
a delivery that is not pending any more).
"""

from __future__ import annotations

import json
from typing import Any

from shared.domain.notices import Notice, derive, derived_at
from shared.domain.notices_delivery import StoredNotice, WebhookDelivery, WebhookEndpoint
from shared.notices_http import DeliveryQueue
from shared.repositories.notices import DeliveryMapper, NoticeRepository, stream_change
from shared.responses.notices import notice_body


def body_of(notice: Notice) -> str:
    """The notice's body as every try sends it (compact JSON, keys sorted)."""
    return json.dumps(notice_body(notice), separators=(",", ":"), sort_keys=True)


def deliveries_of(notice: Notice, body: str, endpoints: list[WebhookEndpoint]) -> list[WebhookDelivery]:
    """One delivery of the notice per endpoint of its partner that subscribes to its type."""
    return [WebhookDelivery(id=derived_at("whd", notice.created_at, notice.id, e.id), partner_id=notice.partner_id,
                            event_id=notice.id, endpoint_id=e.id, type=notice.type, body=body,
                            next_attempt_at=notice.created_at, window_started_at=notice.created_at,
                            created_at=notice.created_at, updated_at=notice.created_at)
            for e in endpoints if e.partner_id == notice.partner_id and notice.type in e.events]


class NoticeRecorder:
    def __init__(self, notices: NoticeRepository, queue: DeliveryQueue):
        self.notices = notices
        self.queue = queue
        self._endpoints: dict[str, list[WebhookEndpoint]] = {}

    def begin_batch(self) -> None:
        """A batch of stream records reads each partner's endpoints once (read again for the next batch)."""
        self._endpoints.clear()

    def _endpoints_of(self, partner_id: str) -> list[WebhookEndpoint]:
        if partner_id not in self._endpoints:
            self._endpoints[partner_id] = self.notices.endpoints(partner_id)
        return self._endpoints[partner_id]

    def handle(self, record: dict[str, Any]) -> int:
        """One stream record (Lambda's form); returns how many notices, deliveries or messages it wrote."""
        entity, old, new = stream_change(record)
        if entity == DeliveryMapper.entity:
            return self._enqueue(old, new)
        written = 0
        for notice in derive(entity, old, new):
            written += self._record(notice)
        return written

    def _record(self, notice: Notice) -> int:
        body = body_of(notice)
        deliveries = deliveries_of(notice, body, self._endpoints_of(notice.partner_id))
        if not deliveries:
            return 0
        written = int(self.notices.add_notice(StoredNotice(id=notice.id, partner_id=notice.partner_id,
                                                           type=notice.type, created_at=notice.created_at, body=body)))
        return written + sum(self.notices.add_delivery(d) for d in deliveries)

    def _enqueue(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> int:
        """A delivery that just became pending gets its message (a try of a pending one changes it again: no)."""
        if new is None or new.get("status") != "pending" or (old is not None and old.get("status") == "pending"):
            return 0
        self.queue.send(str(new["partner_id"]), str(new["id"]))
        return 1
