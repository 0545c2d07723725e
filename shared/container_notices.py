"""The collaborators of the notices to partners' endpoints (docs/notices.md): a part of the Container (its base
class), built on first use like the rest of it; a test replaces any of them by name as it does the others."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.cursor import CursorCodec
    from shared.notices_http import DeliveryQueue, WebhookSender
    from shared.repositories.dynamo import Dynamo
    from shared.repositories.notices import NoticeRepository
    from shared.services.notices import NoticeRecorder
    from shared.services.notices_delivery import NoticeDeliverer
    from shared.services.notices_endpoints import WebhookEndpointService
    from shared.settings import Settings


class NoticesParts:
    if TYPE_CHECKING:  # what the Container provides
        settings: Settings

        @property
        def db(self) -> Dynamo: ...

        @property
        def cursors(self) -> CursorCodec: ...

        @property
        def sqs(self) -> Any: ...

        @property
        def clock(self) -> Callable[[], float]: ...

    @cached_property
    def notices(self) -> NoticeRepository:
        from shared.repositories.notices import NoticeRepository

        return NoticeRepository(self.db, self.cursors)

    @cached_property
    def webhook_queue(self) -> DeliveryQueue:
        from shared.notices_http import DeliveryQueue

        return DeliveryQueue(self.sqs, self.settings.webhook_queue_url)

    @cached_property
    def webhook_sender(self) -> WebhookSender:
        from shared.notices_http import Resolver, WebhookSender

        return WebhookSender(Resolver(), allow_loopback=self.settings.webhook_allow_loopback)

    @cached_property
    def webhook_endpoints(self) -> WebhookEndpointService:
        from shared.notices_http import Resolver
        from shared.services.notices_endpoints import WebhookEndpointService

        return WebhookEndpointService(self.notices, Resolver(), self.clock,
                                      allow_loopback=self.settings.webhook_allow_loopback)

    @cached_property
    def notice_recorder(self) -> NoticeRecorder:
        from shared.services.notices import NoticeRecorder

        return NoticeRecorder(self.notices, self.webhook_queue)

    @cached_property
    def notice_deliverer(self) -> NoticeDeliverer:
        from shared.services.notices_delivery import NoticeDeliverer

        return NoticeDeliverer(self.notices, self.webhook_sender, self.webhook_queue, self.clock,
                               first_retry=self.settings.webhook_first_retry_seconds)
