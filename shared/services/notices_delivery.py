"""The tries of a delivery: one queue message per delivery, received by the delivery function.

A message is for a delivery that is pending. When its try is due, the notice is POSTed, signed, and the outcome
recorded on the delivery (a conditional write on its version: a duplicate message racing this one records nothing
over it). A try that fails leaves the message on the queue, hidden until the next try is due
(ChangeMessageVisibility, at most an hour here, SQS allows 12): other deliveries on the queue are received
meanwhile, so a down endpoint delays only its own. A message received before its delivery's try is due (a duplicate,
or a person's retry) is hidden until then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.domain.notices_delivery import (
    FIRST_RETRY_SECONDS,
    SIGNATURE_HEADER,
    WebhookDelivery,
    delivered,
    given_up,
    seconds_until,
    signature,
    tried_and_failed,
)
from shared.notices_http import DeliveryQueue, WebhookSender
from shared.repositories.notices import NoticeRepository


class TryLater(Exception):
    """The message stays on the queue: it was hidden until its delivery's next try."""

    def __init__(self, delivery_id: str, seconds: int):
        super().__init__(f"delivery {delivery_id}: next try in {seconds} s")


@dataclass(frozen=True)
class Message:
    partner_id: str
    delivery_id: str
    receipt_handle: str

    @classmethod
    def of(cls, body: str, receipt_handle: str) -> Message:
        data = json.loads(body)
        return cls(str(data["partner_id"]), str(data["delivery_id"]), receipt_handle)


class NoticeDeliverer:
    def __init__(self, notices: NoticeRepository, sender: WebhookSender, queue: DeliveryQueue,
                 clock: Callable[[], float], *, first_retry: int = FIRST_RETRY_SECONDS):
        self.first_retry = first_retry
        self.notices = notices
        self.sender = sender
        self.queue = queue
        self.clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def deliver(self, message: Message) -> str:
        """Try the message's delivery if it is due; returns what became of it (`delivered`, `failed`, `not_pending`,
        `superseded`), or raises TryLater (the message then stays on the queue, hidden until the next try)."""
        delivery, endpoint = self.notices.delivery_and_endpoint(message.partner_id, message.delivery_id)
        if delivery is None or delivery.status != "pending":
            return "not_pending"  # delivered, failed, expired or never there: the message has nothing to do
        now = self._now()
        wait = seconds_until(delivery.next_attempt_at, now)
        if wait > 0:
            self.queue.hide(message.receipt_handle, wait)
            raise TryLater(delivery.id, wait)
        if endpoint is None:
            return self._record(given_up(delivery, now, "endpoint_deleted"), message)
        timestamp = int(now.timestamp())
        body = delivery.body.encode()
        answer = self.sender.send(endpoint.url, body, {SIGNATURE_HEADER: signature(endpoint.secret, timestamp, body),
                                                       "Payments-Event-Id": delivery.event_id})
        after = self._now()
        if answer.delivered:
            assert answer.status is not None
            return self._record(delivered(delivery, after, answer.status), message)
        failed = tried_and_failed(delivery, after, answer.status, answer.error or "failed",
                                  first_retry=self.first_retry)
        return self._record(failed, message)

    def _record(self, outcome: WebhookDelivery, message: Message) -> str:
        if not self.notices.save_delivery(outcome):
            return "superseded"  # another message of the same delivery recorded its try first
        if outcome.status == "pending":
            wait = max(1, seconds_until(outcome.next_attempt_at, self._now()))
            self.queue.hide(message.receipt_handle, wait)
            raise TryLater(outcome.id, wait)
        return outcome.status
