"""When the reconciliation looks again at what still waits for Stripe (pure; shared.services.reconciliation).

A record waiting for its webhook is first looked at 15 minutes after it began waiting; each look that finds it
still waiting puts the next one further off (15 min, 30 min, 1 h, 2 h, 4 h, then every 6 h), so records that may
wait for good (an online top-up the customer never paid) never crowd out new ones. After WINDOW a record that
may wait for good is no longer looked at (`stopped`): finance sees it as it is.

A schedule belongs to one wait: it records the `since` it was made for, and a schedule made for an earlier wait
(a payment whose refunds settled, then a new refund months later) is ignored, so a new wait is first looked at
FIRST_LOOK after it began, with a fresh count (issue 25).
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
    since: str | None = None  # when the wait it was made for began (None: written before schedules named it)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def first_look(since: str) -> str:
    """When a record that began waiting at `since` is first looked at."""
    return _iso(datetime.fromisoformat(since.upper()) + FIRST_LOOK)


def made_for(since: str, schedule: Reconciling | None) -> Reconciling | None:
    """The schedule, if it was made for the wait that began at `since`; None for an earlier wait's. A schedule
    written before schedules named their wait is an earlier wait's when its next look was not after `since` (a
    look at this wait comes after it began, and so does the next one it sets)."""
    if schedule is None:
        return None
    if schedule.since is not None:
        return schedule if schedule.since == since else None
    return schedule if schedule.next_at > since else None


def due(since: str, schedule: Reconciling | None) -> str | None:
    """The record's next look (None: no more looks)."""
    current = made_for(since, schedule)
    if current is None:
        return first_look(since)
    return None if current.stopped else current.next_at


def next_look(since: str, schedule: Reconciling | None, now: datetime, *, may_stop: bool) -> Reconciling:
    """The schedule after a look at `now` found the record still waiting (the wait's first look counts 1)."""
    current = made_for(since, schedule)
    looks = (current.looks if current else 0) + 1
    gap = min(FIRST_LOOK * 2 ** min(looks - 1, 8), MAX_GAP)
    stop = may_stop and now - datetime.fromisoformat(since.upper()) >= WINDOW
    return Reconciling(next_at=_iso(now + gap), looks=looks, stopped=stop, since=since)


def key_expired(sent_at: str, now: datetime) -> bool:
    """Whether a request first sent at `sent_at` can no longer be resent with its key safely."""
    return now - datetime.fromisoformat(sent_at.upper()) >= KEY_LIFETIME
