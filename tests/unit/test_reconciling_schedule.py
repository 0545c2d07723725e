"""Issue 25, finding 5: the reconciliation's schedule of one wait never decides a later wait (shared.domain.reconciling,
pure).

Invariant R1: a schedule made for a wait that began at `since1` never decides a wait that began later: the new wait
is first due FIRST_LOOK after it began, and its first look finding it still waiting counts 1 and puts the next
look FIRST_LOOK later. Within one wait the schedule still holds (its count grows, its gaps double up to MAX_GAP).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.clock import rfc3339
from shared.domain.reconciling import FIRST_LOOK, MAX_GAP, Reconciling, due, first_look, next_look

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
gaps = st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=400))


def looked_at(since: datetime, looks: int, may_stop: bool) -> tuple[Reconciling, datetime]:
    """The schedule after `looks` looks that each came when due and found the record still waiting."""
    schedule, at = None, since + FIRST_LOOK
    for _ in range(looks):
        schedule = next_look(rfc3339(since), schedule, at, may_stop=may_stop)
        at = datetime.fromisoformat(schedule.next_at)
    assert schedule is not None
    return schedule, at


@given(moments, st.integers(min_value=1, max_value=12), gaps, st.booleans())
def test_r1_a_schedule_of_an_earlier_wait_never_decides_a_later_one(start, looks, later, may_stop):
    # Given a record (a payment whose refund waited) looked at `looks` times in its first wait, then settled
    schedule, last = looked_at(start, looks, may_stop)
    # When a new wait begins `later` after that wait's last look (a new refund, days or months later)
    since = rfc3339(last + later)
    # Then the new wait is first due 15 minutes after it began
    assert due(since, schedule) == first_look(since)
    # And the first look that finds it still waiting counts 1 and puts the next one 15 minutes off
    at = datetime.fromisoformat(first_look(since))
    fresh = next_look(since, schedule, at, may_stop=may_stop)
    assert (fresh.looks, fresh.next_at, fresh.stopped) == (1, rfc3339(at + FIRST_LOOK), False)
    assert due(since, fresh) == fresh.next_at


@given(moments, st.integers(min_value=1, max_value=12))
def test_r1_within_one_wait_the_schedule_holds(start, looks):
    # Given a wait looked at `looks` times, each when due
    schedule, at = looked_at(start, looks, may_stop=False)
    since = rfc3339(start)
    # Then its next look is the schedule's and its count is the number of looks
    assert (due(since, schedule), schedule.looks) == (schedule.next_at, looks)
    # And the next look counts on, its gap doubled (up to 6 hours)
    again = next_look(since, schedule, at, may_stop=False)
    assert again.looks == looks + 1
    assert datetime.fromisoformat(again.next_at) - at == min(FIRST_LOOK * 2 ** looks, MAX_GAP)


def test_r1_the_finding_a_new_refund_months_later_is_first_looked_at_after_15_minutes():
    # Given a payment whose first refund waited a day (its schedule at every 6 hours), then settled
    schedule, _ = looked_at(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), 8, may_stop=False)
    assert schedule.looks == 8
    # When a new refund begins waiting months later
    since = "2026-04-01T10:00:00.000Z"
    # Then it is first due at 10:15 (before the fix: at once, the old schedule's next look long past)
    assert due(since, schedule) == "2026-04-01T10:15:00.000Z"
    # And the look then puts the next one at 10:30 (before the fix: 6 hours later, at 16:15)
    looked = next_look(since, schedule, datetime(2026, 4, 1, 10, 15, tzinfo=UTC), may_stop=False)
    assert (looked.next_at, looked.looks) == ("2026-04-01T10:30:00.000Z", 1)


def test_r1_a_schedule_written_before_it_named_its_wait():
    # Given schedules stored before a schedule named the wait it was made for
    since = "2026-04-01T10:00:00.000Z"
    stale = Reconciling(next_at="2026-01-06T15:00:00.000Z", looks=8)  # its next look came before the wait began
    current = Reconciling(next_at="2026-04-01T12:15:00.000Z", looks=4)  # its next look is after: this wait's
    # Then a stale one is an earlier wait's (the new wait starts afresh), a current one still decides
    assert due(since, stale) == "2026-04-01T10:15:00.000Z"
    assert next_look(since, stale, datetime(2026, 4, 1, 10, 15, tzinfo=UTC), may_stop=False).looks == 1
    assert due(since, current) == current.next_at
    assert next_look(since, current, datetime(2026, 4, 1, 12, 15, tzinfo=UTC), may_stop=False).looks == 5
