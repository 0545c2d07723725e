"""The bodies of a partner's webhook endpoints and their deliveries, and the body of a notice itself (what its
endpoint receives): each declared once, made from its domain record by the model."""

from __future__ import annotations

from typing import Any, Self

from pydantic import SerializerFunctionWrapHandler, model_serializer

from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.notices import Notice, NoticeType
from shared.domain.notices_delivery import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from shared.domain.organization import Organization
from shared.domain.payment import Payment
from shared.responses.accounts import AttemptOut, SettingsOut, WalletOut
from shared.responses.base import Out
from shared.responses.payments import PaymentOut, RefundOut


class WebhookEndpointOut(Out):
    id: str
    url: str
    events: list[NoticeType]
    created_at: str
    secret: str | None = None  # only in the answer that created it (`whsec_...`)

    @classmethod
    def of_record(cls, e: WebhookEndpoint, *, with_secret: bool = False) -> Self:
        fields: dict[str, Any] = {"secret": e.secret} if with_secret else {}
        return cls(id=e.id, url=e.url, events=e.events, created_at=e.created_at, **fields)

    @model_serializer(mode="wrap")
    def _without_unset_secret(self, handler: SerializerFunctionWrapHandler):
        # no return annotation: the document keeps the fields' own schema
        body = handler(self)
        if "secret" not in self.model_fields_set:
            body.pop("secret", None)  # a listed endpoint never carries it (not even as null)
        return body


class WebhookEndpointPage(Out):
    items: list[WebhookEndpointOut]
    next_cursor: str | None


class WebhookDeliveryOut(Out):
    id: str
    event_id: str
    endpoint_id: str
    type: NoticeType
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None  # why the last try failed: `http_<status>`, `timeout`, `connection_failed`, ...
    next_attempt_at: str | None  # pending: its next try; null once delivered or failed
    created_at: str

    @classmethod
    def of_record(cls, d: WebhookDelivery) -> Self:
        return cls(id=d.id, event_id=d.event_id, endpoint_id=d.endpoint_id, type=d.type,
                   status=d.status, attempts=d.attempts, last_status_code=d.last_status_code,
                   last_error=d.last_error, next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                   created_at=d.created_at)


class WebhookDeliveryPage(Out):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None


class DisputeOut(Out):
    """A card dispute of a payment, as Stripe last showed it (`status`: Stripe's)."""

    id: str
    amount: int
    currency: str
    status: str
    reason: str | None
    created_at: str


def notice_data(notice: Notice) -> dict[str, Any]:
    """A notice's `data`: its organization's id and the record it is about, in this API's own shapes."""
    subject = notice.subject
    data: dict[str, Any] = {"org_id": notice.org_id}
    if isinstance(subject, Organization):
        if notice.type == "wallet.low_balance":
            data["wallet"] = WalletOut.of_record(subject).model_dump(mode="json")
        data["payment_settings"] = SettingsOut.of_record(subject).model_dump(mode="json")
    elif isinstance(subject, AutoTopUpAttempt):
        data["auto_top_up"] = AttemptOut.of_record(subject).model_dump(mode="json")
    elif isinstance(subject, Payment):
        data["payment"] = PaymentOut.of_record(subject).model_dump(mode="json")
        refund = next((r for r in subject.refunds if r.id == notice.part_id), None)
        if notice.type == "payment.refunded" and refund is not None:
            data["refund"] = RefundOut.of_record(subject, refund).model_dump(mode="json")
        dispute = next((d for d in subject.disputes if d.id == notice.part_id), None)
        if notice.type == "payment.disputed" and dispute is not None:
            data["dispute"] = DisputeOut(id=dispute.id, amount=dispute.amount, currency=subject.currency,
                                         status=dispute.status, reason=dispute.reason,
                                         created_at=dispute.created_at).model_dump(mode="json")
    return data


def notice_body(notice: Notice) -> dict[str, Any]:
    """What an endpoint receives: `{id, type, created_at, partner_id, data}`."""
    return {"id": notice.id, "type": notice.type, "created_at": notice.created_at, "partner_id": notice.partner_id,
            "data": notice_data(notice)}
