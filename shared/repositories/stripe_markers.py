"""Storage of Stripe markers: proof that something Stripe sent was acted on.

  STRIPE#PI#{pi}     MARKER           a PaymentIntent whose money reached a wallet (never twice), and its payment
  STRIPE#EVT#{evt}   MARKER           a Stripe event already processed (expires after 30 days)
  STRIPE#OTU#{hash}  MARKER           the online top-up an Idempotency-Key started (expires after 2 days): a retry
                                      after a 503 resumes its PaymentIntent
"""

from __future__ import annotations

from shared.domain.base import Record
from shared.repositories.keys import MARKER, Key, join, key
from shared.repositories.mapping import Mapper, register
from shared.vocabulary import StripeMarkerKind


class StripeMarker(Record):
    """Created with the effect in one transaction, conditioned on not existing: the same PaymentIntent
    can never credit a wallet twice, whichever event (or worker retry) carries it."""

    kind: StripeMarkerKind
    stripe_id: str
    org_id: str
    at: str
    payment_id: str | None = None  # a PaymentIntent's: the `stripe` payment its money became
    online_top_up_id: str | None = None  # an online top-up request's: the top-up (and Stripe key) it started
    expiration: int | None = None  # TTL (events and requests; a PaymentIntent's marker is kept for good)


@register
class StripeMarkerMapper(Mapper[StripeMarker]):
    record, entity = StripeMarker, "stripe_marker"

    def key(self, *ids: str) -> Key:
        kind, stripe_id = ids
        prefix = {"payment_intent": "PI", "event": "EVT", "online_top_up_request": "OTU"}[kind]
        return key(join("STRIPE", prefix, stripe_id), MARKER)

    def key_of(self, record: StripeMarker) -> Key:
        return self.key(record.kind, record.stripe_id)
