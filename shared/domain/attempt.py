"""The automatic top-up attempt aggregate: one organization's daily top-up of one business date."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.base import Record
from shared.domain.reconciling import Reconciling
from shared.vocabulary import AttemptStatus, SettingsMethod


def business_date_of(event_time: str) -> str:
    """The UTC date of a scheduled event's `time` (RFC 3339), so a late or replayed event acts for its day."""
    moment = datetime.fromisoformat(event_time.upper())  # reads "Z" (3.11+); RFC 3339 also allows "z", "t"
    if moment.tzinfo is None:
        raise ValueError("the event time must carry its time zone")
    return moment.astimezone(UTC).date().isoformat()


class AutoTopUpAttempt(Record):
    """At most one exists per organization and business date.

    Created `claimed` by a conditional write before any side effect; the side effect's own
    transaction moves it to its outcome, conditioned on it still being `claimed` (see
    docs/auto-top-up.md). `claimed` is internal: the API shows it as `charge_pending` for Stripe and
    as still in progress otherwise.
    """

    org_id: str
    partner_id: str
    business_date: str
    method: SettingsMethod
    amount: int
    currency: str
    status: AttemptStatus = "claimed"
    reason: str | None = None
    invoice_id: str | None = None
    payment_id: str | None = None
    payment_intent_id: str | None = None  # stripe: the off-session charge
    # stripe: the customer and card charged, fixed before the call so that a retry sends the same request
    customer_id: str | None = None
    payment_method_id: str | None = None
    event_published: bool = False  # the domain event of its outcome went to the bus
    reconciling: Reconciling | None = None  # stripe: the reconciliation's next look while charge_pending
    created_at: str
    updated_at: str
    version: int = 1
