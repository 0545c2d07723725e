"""Storage of a partner's webhook endpoints, its notices and their deliveries, in the partner's webhook partition.

  WEBHOOKS#{ptn}   ENDPOINT#{whe}                 a webhook endpoint (its secret too: it signs every delivery)
  WEBHOOKS#{ptn}   NOTICE#{evt}                   a notice as sent (written once: its id is derived)
  WEBHOOKS#{ptn}   DELIVERY#{newest first(whd)}   a notice's delivery to one endpoint (the body it sends, its tries)

Notices and deliveries expire (the table's TTL, `expiration`) 30 days after their last change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from shared.cursor import CursorCodec
from shared.domain.notices_delivery import DeliveryStatus, StoredNotice, WebhookDelivery, WebhookEndpoint
from shared.ids import is_id, newest_first
from shared.repositories.dynamo import Dynamo, from_av, to_av, values
from shared.repositories.keys import Key, join, key
from shared.repositories.mapping import Mapper, register
from shared.repositories.pages import PageQuery, read_page

WEBHOOKS, ENDPOINT, NOTICE, DELIVERY = "WEBHOOKS", "ENDPOINT", "NOTICE", "DELIVERY"
KEEP = timedelta(days=30)


def webhooks_pk(partner_id: str) -> str:
    return join(WEBHOOKS, partner_id)


def _expiration(timestamp: str) -> int:
    return int((datetime.fromisoformat(timestamp.upper()) + KEEP).timestamp())


@register
class EndpointMapper(Mapper[WebhookEndpoint]):
    record, entity = WebhookEndpoint, "webhook_endpoint"

    def key(self, *ids: str) -> Key:
        partner_id, endpoint_id = ids
        return key(webhooks_pk(partner_id), join(ENDPOINT, endpoint_id))

    def key_of(self, record: WebhookEndpoint) -> Key:
        return self.key(record.partner_id, record.id)


@register
class NoticeMapper(Mapper[StoredNotice]):
    record, entity = StoredNotice, "notice"

    def key(self, *ids: str) -> Key:
        partner_id, notice_id = ids
        return key(webhooks_pk(partner_id), join(NOTICE, notice_id))

    def key_of(self, record: StoredNotice) -> Key:
        return self.key(record.partner_id, record.id)

    def attributes(self, record: StoredNotice) -> dict[str, Any]:
        return {"expiration": _expiration(record.created_at)}


@register
class DeliveryMapper(Mapper[WebhookDelivery]):
    record, entity = WebhookDelivery, "webhook_delivery"

    def key(self, *ids: str) -> Key:
        partner_id, delivery_id = ids
        return key(webhooks_pk(partner_id), join(DELIVERY, newest_first(delivery_id)))

    def key_of(self, record: WebhookDelivery) -> Key:
        return self.key(record.partner_id, record.id)

    def attributes(self, record: WebhookDelivery) -> dict[str, Any]:
        return {"expiration": _expiration(record.updated_at)}


ENDPOINTS, NOTICES, DELIVERIES = EndpointMapper(), NoticeMapper(), DeliveryMapper()


def stream_change(record: dict[str, Any]) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    """A stream record's item kind (its `entity`) and its images before and after, as plain values."""
    change = record.get("dynamodb") or {}
    old, new = change.get("OldImage"), change.get("NewImage")
    entity = ((new or old or {}).get("entity") or {}).get("S", "")
    return entity, from_av(old) if old else None, from_av(new) if new else None


class NoticeRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def _put(self, item: dict[str, Any], condition: str, vals: dict[str, Any] | None = None) -> bool:
        args: dict[str, Any] = {"TableName": self.db.table, "Item": to_av(item), "ConditionExpression": condition}
        if vals:
            args["ExpressionAttributeValues"] = vals
        try:
            self.db.client.put_item(**args)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- endpoints ------------------------------------------------------------------------------------------
    def endpoints(self, partner_id: str) -> list[WebhookEndpoint]:
        """Every endpoint of the partner (a handful: a partner has at most MAX_ENDPOINTS)."""
        items = self.db.query_all(key_condition="pk = :pk AND begins_with(sk, :sk)", names={},
                                  vals=values(pk=webhooks_pk(partner_id), sk=f"{ENDPOINT}#"), consistent=True)
        return [ENDPOINTS.from_item(i) for i in items]

    def endpoint_page(self, partner_id: str, *, limit: int, cursor: str | None,
                      scope: str) -> tuple[list[WebhookEndpoint], str | None]:
        query = PageQuery("pk = :pk AND begins_with(sk, :sk)", {}, values(pk=webhooks_pk(partner_id),
                                                                          sk=f"{ENDPOINT}#"), consistent=True)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [ENDPOINTS.from_item(i) for i in items], next_cursor

    def add_endpoint(self, endpoint: WebhookEndpoint) -> bool:
        return self.db.put_absent(ENDPOINTS.to_item(endpoint))

    def get_endpoint(self, partner_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        if not is_id(endpoint_id, "whe"):
            return None
        item = self.db.get(ENDPOINTS.key(partner_id, endpoint_id))
        return ENDPOINTS.from_item(item) if item else None

    def delete_endpoint(self, partner_id: str, endpoint_id: str) -> bool:
        """Removes it if it is there (False when it was not)."""
        if not is_id(endpoint_id, "whe"):
            return False
        try:
            self.db.client.delete_item(TableName=self.db.table, Key=to_av(ENDPOINTS.key(partner_id, endpoint_id)),
                                       ConditionExpression="attribute_exists(pk)")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- notices and deliveries -----------------------------------------------------------------------------
    def add_notice(self, notice: StoredNotice) -> bool:
        """Written once (False when a redelivered change derived it again)."""
        return self.db.put_absent(NOTICES.to_item(notice))

    def add_delivery(self, delivery: WebhookDelivery) -> bool:
        return self.db.put_absent(DELIVERIES.to_item(delivery))

    def get_delivery(self, partner_id: str, delivery_id: str) -> WebhookDelivery | None:
        if not is_id(delivery_id, "whd"):
            return None
        item = self.db.get(DELIVERIES.key(partner_id, delivery_id))
        return DELIVERIES.from_item(item) if item else None

    def delivery_and_endpoint(self, partner_id: str,
                              delivery_id: str) -> tuple[WebhookDelivery | None, WebhookEndpoint | None]:
        """A delivery and the endpoint it names (None for either that is not there)."""
        delivery = self.get_delivery(partner_id, delivery_id)
        if delivery is None:
            return None, None
        return delivery, self.get_endpoint(partner_id, delivery.endpoint_id)

    def save_delivery(self, delivery: WebhookDelivery) -> bool:
        """The delivery's next state, if it is still at the version before (False: someone else moved it)."""
        return self._put(DELIVERIES.to_item(delivery), "version = :v", values(v=delivery.version - 1))

    def delivery_page(self, partner_id: str, *, endpoint_id: str | None, status: DeliveryStatus | None, limit: int,
                      cursor: str | None, scope: str) -> tuple[list[WebhookDelivery], str | None]:
        """Newest first, filtered by endpoint and status."""
        conditions, names, filters = [], {}, {}
        if endpoint_id is not None:
            conditions.append("endpoint_id = :endpoint")
            filters["endpoint"] = endpoint_id
        if status is not None:
            conditions.append("#status = :status")
            names["#status"] = "status"
            filters["status"] = status
        query = PageQuery("pk = :pk AND begins_with(sk, :sk)", names,
                          values(pk=webhooks_pk(partner_id), sk=f"{DELIVERY}#", **filters), consistent=True,
                          filter_expression=" AND ".join(conditions) or None)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [DELIVERIES.from_item(i) for i in items], next_cursor
