"""A partner's webhook endpoints and the log of their deliveries: the use cases behind the notice routes.

Writes (register, delete, send a failed delivery again) are the partner's finance admins'; reads are its staff's and
the platform admins'. Another partner's endpoint or delivery answers 404, as a missing one does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from shared.auth import Principal
from shared.clock import rfc3339
from shared.cursor import Owner
from shared.domain.notices_delivery import DeliveryStatus, UrlRefused, WebhookEndpoint, retried
from shared.errors import Conflict, NotFound, Unprocessable
from shared.ids import new_id
from shared.models_notices import WebhookEndpointIn
from shared.notices_http import Resolver, checked_target
from shared.repositories.notices import NoticeRepository
from shared.responses.notices import WebhookDeliveryOut, WebhookDeliveryPage, WebhookEndpointOut, WebhookEndpointPage
from shared.services.common import list_scope

MAX_ENDPOINTS = 16


class WebhookEndpointService:
    def __init__(self, notices: NoticeRepository, resolver: Resolver, clock: Callable[[], float], *,
                 allow_loopback: bool):
        self.notices = notices
        self.resolver = resolver
        self.clock = clock
        self.allow_loopback = allow_loopback

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def create(self, principal: Principal, partner_id: str, body: WebhookEndpointIn) -> WebhookEndpointOut:
        principal.check_write(partner_id, "Partner")
        try:
            checked_target(body.url, self.resolver, allow_loopback=self.allow_loopback)
        except UrlRefused as refused:
            raise Unprocessable(f"The url {refused}.", code="webhook_url_not_allowed",
                                details=[{"field": "url", "message": str(refused), "type": "webhook_url"}]) from None
        if len(self.notices.endpoints(partner_id)) >= MAX_ENDPOINTS:
            raise Conflict("webhook_endpoint_limit_reached",
                           f"A partner has at most {MAX_ENDPOINTS} webhook endpoints: delete one first.")
        endpoint = WebhookEndpoint(id=new_id("whe"), partner_id=partner_id, url=body.url, events=list(body.events),
                                   secret=f"whsec_{secrets.token_urlsafe(32)}", created_at=rfc3339(self._now()),
                                   created_by=principal.sub)
        if not self.notices.add_endpoint(endpoint):  # a fresh random id: taken only by a bug
            raise Conflict("webhook_endpoint_exists", "An endpoint with this id exists.")
        return WebhookEndpointOut.of_record(endpoint, with_secret=True)

    def list(self, principal: Principal, partner_id: str, limit: int, cursor: str | None) -> WebhookEndpointPage:
        principal.check_read(partner_id, "Partner")
        scope = list_scope(principal, "webhook_endpoints", owner=Owner(partner_id))
        endpoints, next_cursor = self.notices.endpoint_page(partner_id, limit=limit, cursor=cursor, scope=scope)
        return WebhookEndpointPage(items=[WebhookEndpointOut.of_record(e) for e in endpoints], next_cursor=next_cursor)

    def delete(self, principal: Principal, partner_id: str, endpoint_id: str) -> None:
        """Its pending deliveries then fail (`endpoint_deleted`) instead of being tried."""
        principal.check_write(partner_id, "Webhook endpoint")
        if not self.notices.delete_endpoint(partner_id, endpoint_id):
            raise NotFound("Webhook endpoint not found.")

    def deliveries(self, principal: Principal, partner_id: str, *, endpoint_id: str | None,
                   status: DeliveryStatus | None, limit: int, cursor: str | None) -> WebhookDeliveryPage:
        principal.check_read(partner_id, "Partner")
        scope = list_scope(principal, "webhook_deliveries", owner=Owner(partner_id), endpoint_id=endpoint_id,
                           status=status)
        found, next_cursor = self.notices.delivery_page(partner_id, endpoint_id=endpoint_id, status=status,
                                                        limit=limit, cursor=cursor, scope=scope)
        return WebhookDeliveryPage(items=[WebhookDeliveryOut.of_record(d) for d in found], next_cursor=next_cursor)

    def retry(self, principal: Principal, partner_id: str, delivery_id: str) -> WebhookDeliveryOut:
        """A failed delivery is pending again, with three more days of tries; its queue message comes from the
        change itself (the stream: shared.services.notices)."""
        principal.check_write(partner_id, "Webhook delivery")
        delivery, endpoint = self.notices.delivery_and_endpoint(partner_id, delivery_id)
        if delivery is None:
            raise NotFound("Webhook delivery not found.")
        again = retried(delivery, self._now())  # 409 webhook_delivery_not_failed unless it failed
        if endpoint is None:
            raise Conflict("webhook_endpoint_deleted", "The delivery's endpoint was deleted: nothing to send it to.")
        if not self.notices.save_delivery(again):
            raise Conflict("webhook_delivery_not_failed", "The delivery changed meanwhile: read it again.")
        return WebhookDeliveryOut.of_record(again)
