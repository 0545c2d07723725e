"""What the non-console callers get back: Stripe's webhook delivery (its 200 body), and the scheduled runs (the
sweep's and the reconciliation's results, returned by their functions and logged)."""

from __future__ import annotations

from shared.responses.base import Out


class WebhookOutcome(Out):
    """A delivery's outcome: what was done with Stripe's event (`credited`, `already_credited`, `ignored_event_type`,
    `applied`, ...)."""

    received: bool
    event: str
    outcome: str


class SweepRun(Out):
    business_date: str
    queries: int
    items_read: int
    queued: int


class ReconciliationRun(Out):
    checked: int
    outcomes: dict[str, int]  # how many records each outcome had (`stripe_unavailable`, `error`, ...)
    errors: list[str]  # the records that failed, each with its error
