"""The automatic top-up's domain events on the EventBridge bus (notifications subscribe there)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.domain.attempt import AutoTopUpAttempt
from shared.errors import ConcurrentUpdate
from shared.repositories.store import Store

KINDS = {"invoice_issued": "AutoTopUpInvoiceIssued", "credited": "AutoTopUpCredited"}


class DomainEvents:
    def __init__(self, store: Store, events: Callable[[], Any], bus_name: str | None):
        self.store, self._events, self.bus_name = store, events, bus_name

    def publish(self, attempt: AutoTopUpAttempt) -> None:
        """The outcome's event, once: the attempt records that it went out, so a redelivery after a failed
        publish publishes it again (at least once) and a later one does not."""
        if attempt.status not in KINDS or attempt.event_published or not self.bus_name:
            return
        detail = {"org_id": attempt.org_id, "partner_id": attempt.partner_id, "business_date": attempt.business_date,
                  "method": attempt.method, "amount": attempt.amount, "currency": attempt.currency,
                  "invoice_id": attempt.invoice_id}
        res = self._events().put_events(Entries=[{
            "Source": "payments.auto-top-up", "DetailType": KINDS[attempt.status], "Detail": json.dumps(detail),
            "EventBusName": self.bus_name}])
        if res.get("FailedEntryCount"):
            raise RuntimeError("the domain event was not accepted")  # the message is retried, and so is this
        published = attempt.model_copy(update={"event_published": True, "version": attempt.version + 1})
        try:
            self.store.unit_of_work().save(published, attempt.version).commit()
        except ConcurrentUpdate:
            pass  # a concurrent duplicate recorded it
