"""When the reconciliation looks again at what still waits for Stripe (pure; shared.services.reconciliation).

A record waiting for its webhook is first looked at 15 minutes after it began waiting; each look that finds it
still waiting puts the next one further off (15 min, 30 min, 1 h, 2 h, 4 h, then every 6 h), so records that may
wait for good (an online top-up the customer never paid) never crowd out new ones. After WINDOW a record that
may wait for good is no longer looked at (`stopped`): finance sees it as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain.base import Part

FIRST_LOOK = timedelta(minutes=15)  # a webhook normally arrives within seconds; this leaves it time
MAX_GAP = timedelta(hours=6)
WINDOW = timedelta(days=3)  # Stripe retries a webhook for 3 days
KEY_LIFETIME = timedelta(hours=23)  # Stripe keeps idempotency keys 24 h: a resend after this could do it twice


class Reconciling(Part):
    """The reconciliation's schedule of one waiting record."""

    next_at: str  # RFC 3339, UTC: the next look
    looks: int = 0
    stopped: bool = False


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def first_look(since: str) -> str:
    """When a record that began waiting at `since` is first looked at."""
    return _iso(datetime.fromisoformat(since.upper()) + FIRST_LOOK)


def due(since: str, schedule: Reconciling | None) -> str | None:
    """The record's next look (None: no more looks)."""
    if schedule is None:
        return first_look(since)
    return None if schedule.stopped else schedule.next_at


def next_look(since: str, schedule: Reconciling | None, now: datetime, *, may_stop: bool) -> Reconciling:
    """The schedule after a look at `now` found the record still waiting."""
    looks = (schedule.looks if schedule else 0) + 1
    gap = min(FIRST_LOOK * 2 ** min(looks - 1, 8), MAX_GAP)
    stop = may_stop and now - datetime.fromisoformat(since.upper()) >= WINDOW
    return Reconciling(next_at=_iso(now + gap), looks=looks, stopped=stop)


def key_expired(sent_at: str, now: datetime) -> bool:
    """Whether a request first sent at `sent_at` can no longer be resent with its key safely."""
    return now - datetime.fromisoformat(sent_at.upper()) >= KEY_LIFETIME
