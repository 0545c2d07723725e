"""Timestamps: RFC 3339 in UTC with millisecond precision, so they sort as strings."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now_str() -> str:
    return rfc3339(now())
