"""The reconciliation (scheduled, every 15 minutes): card money whose webhook never arrived is settled from Stripe.

It reads the sparse pending index (shared.repositories.stripe_pending) for what began waiting between
WINDOW and AFTER before the run's time, asks Stripe where each stands, and settles it through the webhook's own
code path, so whichever comes first (the webhook or this) does the work and the other finds it done:
  - an automatic top-up attempt `charge_pending`: its PaymentIntent, read by id. One whose charge call never
    answered (no PaymentIntent id) is charged again with the identical request (same key: Stripe answers with the
    first PaymentIntent, never a second charge) and then read;
  - an online top-up `requires_payment`: its PaymentIntent, read by id (one the customer never paid stays);
  - a payment with a `pending` refund: a refund asked for here whose Stripe call never answered is asked again
    (the identical request), then the payment's refunds are read and applied.
Stripe not answering leaves the record waiting: the next run tries it again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shared.clock import rfc3339
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.organization import OnlineTopUp
from shared.domain.payment import Payment
from shared.repositories.stripe_pending import StripePendingRepository
from shared.stripe_gateway import PaymentProviderError

AFTER = timedelta(minutes=15)  # a webhook normally arrives within seconds; this leaves it time
WINDOW = timedelta(days=3)  # Stripe retries a webhook for 3 days; older waiting records are left to finance
LIMIT = 500  # records per run (each costs 1-3 Stripe reads); the rest wait for the next run, oldest first


class Reconciliation:
    def __init__(self, pending: StripePendingRepository, gateway: Callable[[], Any],
                 settle_intent: Callable[[dict[str, Any], str], str], card_money: Callable[[], Any],
                 charge: Callable[[AutoTopUpAttempt], AutoTopUpAttempt]):
        self.pending, self._gateway, self._settle_intent = pending, gateway, settle_intent
        self._card_money, self._charge = card_money, charge

    def run(self, event_time: str) -> dict[str, Any]:
        """Settle what began waiting in [time - WINDOW, time - AFTER]; the counts of each outcome."""
        moment = datetime.fromisoformat(event_time.upper())
        if moment.tzinfo is None:
            raise ValueError("the event time must carry its time zone")
        waiting = self.pending.waiting(since=rfc3339(moment - WINDOW), until=rfc3339(moment - AFTER), limit=LIMIT)
        outcomes: Counter[str] = Counter()
        for record in waiting:
            try:
                outcomes[self._one(record)] += 1
            except PaymentProviderError:
                outcomes["stripe_unavailable"] += 1  # still waiting: the next run asks again
        return {"checked": len(waiting), "outcomes": dict(sorted(outcomes.items()))}

    def _one(self, record: AutoTopUpAttempt | OnlineTopUp | Payment) -> str:
        if isinstance(record, Payment):
            self._card_money().resend_pending(record)
            if not record.reference:
                return "payment_unknown"
            return str(self._card_money().sync(record.reference, refunds=True, disputes=False))
        if isinstance(record, AutoTopUpAttempt) and record.payment_intent_id is None:
            record = self._charge(record)  # the identical request: Stripe answers with the first PaymentIntent
            if record.status != "charge_pending":
                return record.status  # declined: recorded failed
            if record.payment_intent_id is None:
                return "still_pending"
        assert record.payment_intent_id is not None  # an online top-up has one from its start
        return self._settle_intent(self._gateway().payment_intent(record.payment_intent_id), "reconciliation")
