"""Notices to a partner's own systems, derived from one change of one item: the item's image before and after it, as
the table's stream carries them (pure; the stream consumer stores and sends what this derives).

The stream record is the outbox: DynamoDB writes it in the same atomic step as the change, so a notice is derived
from every change that happened and from none that did not (a refused write leaves no record). What a change means:

  organization  balance above its limit threshold -> at or below it     wallet.low_balance     (once per crossing)
                settings.auto_trigger true -> false, disabled_reason
                "consecutive_failures"                                  auto_top_up.disabled
  attempt       status -> invoice_issued | credited | failed | skipped  auto_top_up.<status>
  payment       bounced_date set                                        payment.bounced
                a refund's status -> succeeded                          payment.refunded       (one per refund)
                a dispute not there before                              payment.disputed       (one per dispute)

Each image is judged against its own threshold: a wallet is "low" while its balance is at or below the threshold it
has, and the notice marks the change from not low to low (a debit, or the threshold raised above the balance);
staying low writes nothing more. A notice's id is derived from what it reports (the item, its version or the part's
id, the type), so a stream record delivered twice derives the same ids, and its time is the change's own time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.organization import Organization
from shared.domain.payment import Payment
from shared.ids import derived_id, new_id

NoticeType = Literal["wallet.low_balance", "auto_top_up.invoice_issued", "auto_top_up.credited",
                     "auto_top_up.failed", "auto_top_up.skipped", "auto_top_up.disabled", "payment.bounced",
                     "payment.refunded", "payment.disputed"]
NOTICE_TYPES: tuple[NoticeType, ...] = get_args(NoticeType)
# The items whose changes make notices, by the name the table gives them (their `entity` attribute)
Entity = Literal["organization", "auto_top_up_attempt", "payment"]
ENTITIES: tuple[Entity, ...] = get_args(Entity)
FINAL_ATTEMPT: dict[str, NoticeType] = {"invoice_issued": "auto_top_up.invoice_issued",
                                        "credited": "auto_top_up.credited", "failed": "auto_top_up.failed",
                                        "skipped": "auto_top_up.skipped"}
DISABLED_BY_FAILURES = "consecutive_failures"

type Subject = Organization | AutoTopUpAttempt | Payment


@dataclass(frozen=True)
class Notice:
    """What a partner is told: `subject` is the record after the change, `part_id` the refund or dispute in it that
    the notice is about (None for the others)."""

    id: str
    type: NoticeType
    partner_id: str
    org_id: str | None
    created_at: str
    subject: Subject
    part_id: str | None = None


def millis(timestamp: str) -> int:
    """An RFC 3339 timestamp (as this service writes them) in milliseconds since the epoch."""
    return int(datetime.fromisoformat(timestamp.upper()).timestamp() * 1000)


def derived_at(prefix: str, at: str, *parts: str) -> str:
    """An id of type `prefix` that sorts by `at` (its 48-bit time) and is otherwise made of `parts` only: the same
    time and parts give the same id."""
    return derived_id(new_id(prefix, now_ms=millis(at))[:14], *parts)


def _notice(kind: NoticeType, subject: Subject, org_id: str | None, at: str, *parts: str,
            part_id: str | None = None) -> Notice:
    return Notice(id=derived_at("evt", at, kind, *parts), type=kind, partner_id=subject.partner_id, org_id=org_id,
                  created_at=at, subject=subject, part_id=part_id)


def _settings(image: dict[str, Any]) -> dict[str, Any]:
    settings = image.get("settings")
    return settings if isinstance(settings, dict) else {}


def _low(image: dict[str, Any]) -> bool:
    return int(image.get("balance", 0)) <= int(_settings(image).get("limit_threshold", 0))


def _organization(old: dict[str, Any], new: dict[str, Any]) -> list[Notice]:
    org = Organization.model_validate(new)
    out = []
    if _low(new) and not _low(old):
        out.append(_notice("wallet.low_balance", org, org.id, org.wallet_updated_at, org.id, str(org.version)))
    before, after = _settings(old), _settings(new)
    if (before.get("auto_trigger") is True and after.get("auto_trigger") is False
            and after.get("disabled_reason") == DISABLED_BY_FAILURES):
        out.append(_notice("auto_top_up.disabled", org, org.id, org.settings.updated_at, org.id, str(org.version)))
    return out


def _attempt(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Notice]:
    kind = FINAL_ATTEMPT.get(str(new.get("status")))
    if kind is None or (old is not None and old.get("status") == new.get("status")):
        return []
    attempt = AutoTopUpAttempt.model_validate(new)
    return [_notice(kind, attempt, attempt.org_id, attempt.updated_at, attempt.org_id, attempt.business_date)]


def _parts(image: dict[str, Any] | None, name: str) -> dict[str, dict[str, Any]]:
    return {str(p.get("id")): p for p in (image or {}).get(name) or [] if isinstance(p, dict)}


def _payment(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Notice]:
    payment = Payment.model_validate(new)
    out = []
    if payment.bounced_date is not None and (old is None or old.get("bounced_date") is None):
        out.append(_notice("payment.bounced", payment, payment.org_id, payment.updated_at, payment.id))
    refunds_before = _parts(old, "refunds")
    for refund in payment.refunds:
        if refund.status == "succeeded" and refunds_before.get(refund.id, {}).get("status") != "succeeded":
            out.append(_notice("payment.refunded", payment, payment.org_id, refund.updated_at, payment.id, refund.id,
                               part_id=refund.id))
    disputes_before = _parts(old, "disputes")
    for dispute in payment.disputes:
        if dispute.id not in disputes_before:
            out.append(_notice("payment.disputed", payment, payment.org_id, dispute.created_at, payment.id,
                               dispute.id, part_id=dispute.id))
    return out


def derive(entity: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Notice]:
    """The notices one change of one item makes (its images as plain values; None where the item was not there
    before, or is not any more): none for any other item, for a removal or for a change that changed nothing a
    notice reports."""
    if new is None:
        return []
    if entity == "organization":
        return _organization(old, new) if old is not None else []
    if entity == "auto_top_up_attempt":
        return _attempt(old, new)
    if entity == "payment":
        return _payment(old, new)
    return []
