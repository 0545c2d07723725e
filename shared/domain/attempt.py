"""The automatic top-up attempt aggregate: one organization's daily top-up of one business date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.domain.base import Record
from shared.domain.reconciling import Reconciling
from shared.vocabulary import AttemptStatus, SettingsMethod, TopUpMode


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
    amount: int  # what it topped up or tried to: its mode's amount, reduced to what the monthly cap left
    currency: str
    top_up_mode: TopUpMode = "fixed"
    requested_amount: int | None = None  # what its mode asked for before the cap (None: written before caps)
    status: AttemptStatus = "claimed"
    reason: str | None = None
    failure_code: str | None = None  # stripe: the decline code (`card_declined`) or Stripe's error code
    failure_message: str | None = None  # stripe: Stripe's message
    invoice_id: str | None = None
    payment_id: str | None = None
    payment_intent_id: str | None = None  # stripe: the off-session charge
    # stripe: the customer and card charged, fixed before the call so that a retry sends the same request
    customer_id: str | None = None
    payment_method_id: str | None = None
    # stripe: when the charge was first sent (at the latest); past its key's lifetime it is looked up, never resent
    charge_sent_at: str | None = None
    event_published: bool = False  # the domain event of its outcome went to the bus
    reconciling: Reconciling | None = None  # stripe: the reconciliation's next look while charge_pending
    created_at: str
    updated_at: str
    version: int = 1


def card_failure(error: dict[str, Any] | None) -> dict[str, str]:
    """An attempt's failure fields from Stripe's error (`last_payment_error`, or an API error's body): a card's
    decline is `card_declined` with the decline code, any other refusal `provider_refused` with Stripe's code."""
    error = error if isinstance(error, dict) else {}
    code, message = str(error.get("code") or "payment_failed"), str(error.get("message") or "")
    if error.get("type") == "card_error":
        return {"reason": "card_declined", "failure_code": str(error.get("decline_code") or code),
                "failure_message": message}
    return {"reason": "provider_refused", "failure_code": code, "failure_message": message}
