"""The reconciliation (scheduled, every 15 minutes): card money whose webhook never arrived is settled from Stripe.

It reads the sparse pending index (shared.repositories.stripe_pending) for what is due for a look (15 minutes
after it began waiting, then later and later: shared.domain.reconciling), re-reads each record consistently (the
index lags), asks Stripe where it stands, and settles it through the webhook's own decision and transaction
(shared.services.settlement), so whichever comes first (the webhook or this) does the work and the other finds it
done:
  - an automatic top-up attempt `charge_pending`: its PaymentIntent, read by id. One whose charge call never
    answered (no PaymentIntent id) is charged again with the identical request (same key: Stripe answers with the
    first PaymentIntent, never a second charge), but only while Stripe still holds that key (23 hours from its
    first send); after that its charge is looked up among the customer's PaymentIntents by its metadata, and
    failed `charge_unconfirmed` when Stripe never made it (shared.services.funding.CardFunding.complete);
  - an online top-up until it succeeds: its PaymentIntent, read by id (one the customer never paid waits);
  - a payment with a `pending` refund: its refunds read from Stripe first (a refund Stripe made is linked by our
    refund id in its metadata), then a refund asked for here that Stripe does not have is asked again (the
    identical request) while its key lives, else failed `not_sent` and its hold released.
A record still waiting afterwards is looked at again later; Stripe not answering leaves it waiting too. A run
stops looking when the function's time no longer allows a Stripe call (`out_of_time`: due in the next run).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from shared.clock import rfc3339
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.payment import Payment
from shared.domain.reconciling import next_look
from shared.errors import ConcurrentUpdate
from shared.repositories.store import Store
from shared.repositories.stripe_pending import StripePendingRepository, Waiting, ids_of, since
from shared.responses.runs import ReconciliationRun
from shared.services.card_money_back import CardMoneyBackService
from shared.services.funding import CardFunding
from shared.services.settlement import Settlement
from shared.stripe_gateway import MAX_TRIES, Deadline, PaymentProviderError, StripeGateway

ONE_TRY_AFTER_UNAVAILABLE = 3  # Stripe not answering this many records in a row: one try each for the rest
LIMIT = 300  # records per run (each costs 1-3 Stripe reads, ~50 ms each); the rest are due in the next run


class Reconciliation:
    def __init__(self, store: Store, pending: StripePendingRepository, gateway: StripeGateway,
                 settlement: Settlement, card_money: CardMoneyBackService, card: CardFunding, deadline: Deadline,
                 clock: Callable[[], float]):
        # the gateway is the one card money back and the card funding call (its `tries` bound theirs too)
        self.store, self.pending, self._gateway, self._settlement = store, pending, gateway, settlement
        self._card_money, self._card, self._deadline, self._clock = card_money, card, deadline, clock

    def run(self, event_time: str) -> ReconciliationRun:
        """Look at what is due at `event_time`: the counts of each outcome, and the records that failed."""
        now = datetime.fromisoformat(event_time.upper())
        if now.tzinfo is None:
            raise ValueError("the event time must carry its time zone")
        due = self.pending.due(until=rfc3339(now), limit=LIMIT)
        outcomes: Counter[str] = Counter()
        errors: list[str] = []
        unavailable_in_a_row = 0
        for record in due:
            if not self._deadline.allows_a_try():
                outcomes["out_of_time"] += 1  # still due: the next run looks at it first
                continue
            try:
                # a key's age by the later of the event's time and the clock: a late or retried event never resends;
                # Stripe down for several records in a row: one try each for the rest (no waits between tries)
                tries = 1 if unavailable_in_a_row >= ONE_TRY_AFTER_UNAVAILABLE else MAX_TRIES
                with self._gateway.tries(tries):
                    outcome = self._look(record, max(now, datetime.fromtimestamp(self._clock(), UTC)))
            except PaymentProviderError:
                outcome = "stripe_unavailable"  # still waiting: looked at again later
            except Exception as error:  # noqa: BLE001 - one record's fault must not stop the others (it alarms)
                outcome = "error"
                errors.append(f"{type(record).__name__} {'/'.join(ids_of(record))}: {type(error).__name__}: {error}")
            outcomes[outcome] += 1
            unavailable_in_a_row = unavailable_in_a_row + 1 if outcome == "stripe_unavailable" else 0
            self._reschedule(record, now)
        return ReconciliationRun(checked=len(due), outcomes=dict(sorted(outcomes.items())), errors=errors)

    def _look(self, listed: Waiting, now: datetime) -> str:
        record = self.store.get(type(listed), *ids_of(listed))  # consistent: the index may lag
        if record is None or since(record) is None:
            return "already_settled"
        if isinstance(record, Payment):
            return self._card_money.reconcile_refunds(record, now)
        if isinstance(record, AutoTopUpAttempt) and record.payment_intent_id is None:
            # the identical request (Stripe answers with the first PaymentIntent), or past its key's lifetime the
            # charge looked up by its metadata (shared.services.funding)
            record = self._card.complete(record, now)
            if record.status != "charge_pending":
                return record.reason or record.status  # refused, or never made: recorded failed
            if record.payment_intent_id is None:
                return "still_pending"
        assert record.payment_intent_id is not None  # an online top-up has one from its start
        return self._settlement.settle(self._gateway.payment_intent(record.payment_intent_id), "reconciliation")

    def _reschedule(self, listed: Waiting, now: datetime) -> None:
        """The record's next look, if it still waits (a record settled meanwhile is left alone)."""
        record = self.store.get(type(listed), *ids_of(listed))
        began = since(record) if record is not None else None
        if record is None or began is None:
            return
        # a payment's pending refund is never given up: its hold must be released
        schedule = next_look(began, record.reconciling, now, may_stop=not isinstance(record, Payment))
        later = record.model_copy(update={"reconciling": schedule, "version": record.version + 1})
        try:
            self.store.unit_of_work().save(later, record.version).commit()
        except ConcurrentUpdate:
            pass  # it changed meanwhile (settled, or another run rescheduled it): its own write decides
