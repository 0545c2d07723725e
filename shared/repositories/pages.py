"""Cursor pagination over a DynamoDB query, optionally filtered, never reading past what it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.cursor import CursorCodec, invalid_cursor
from shared.repositories.dynamo import Dynamo, key_of

MAX_PAGES = 8  # a filtered list stops after this many reads and hands back a cursor


@dataclass(frozen=True)
class PageQuery:
    key_condition: str
    names: dict[str, str]
    vals: dict[str, Any]
    index: str | None = None
    forward: bool = True
    filter_expression: str | None = None
    consistent: bool = False  # base table only (an index read is eventually consistent)


def read_page(db: Dynamo, codec: CursorCodec, query: PageQuery, *, scope: str, limit: int,
              cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` items and the cursor of the next page (None at the end).

    Unfiltered: one Query of limit+1 items tells whether there is more. Filtered: DynamoDB applies
    Limit before the filter, so it reads on (at most MAX_PAGES requests) until the page is full.
    """
    start = codec.decode(cursor, scope) if cursor is not None else None  # "" is no cursor we issued: 400
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        want = limit - len(items) + 1
        batch, last = db.query(key_condition=query.key_condition, names=query.names, vals=query.vals,
                               index=query.index, forward=query.forward, limit=want, start=start,
                               filter_expression=query.filter_expression, consistent=query.consistent)
        items.extend(batch)
        if len(items) > limit:
            items = items[:limit]
            return items, codec.encode(key_of(items[-1], query.index), scope)
        if last is None:
            return items, None
        start = last
    return items, codec.encode(start, scope) if start else None


def read_ordered_page(db: Dynamo, codec: CursorCodec, query: PageQuery, *, fields: tuple[str, ...],
                      order: Callable[[dict[str, Any]], tuple[str, ...]], scope: str, limit: int,
                      cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Up to `limit` items in another order than the index's: every item the query selects is read and ordered by
    `order` (a tuple of strings, named `fields` in the cursor), and the page taken after the cursor's place in that
    order (a signed position, not an offset: an item leaving the selection meanwhile does not shift the next page).
    Reads grow with what the query selects, for each page."""
    after = codec.decode(cursor, scope) if cursor is not None else None
    if after is not None and set(after) != set(fields):
        raise invalid_cursor()
    items = db.query_all(key_condition=query.key_condition, names=query.names, vals=query.vals, index=query.index,
                         filter_expression=query.filter_expression)
    ordered = sorted(items, key=order)
    if after is not None:
        mark = tuple(after[f] for f in fields)
        ordered = [i for i in ordered if order(i) > mark]
    page = ordered[:limit]
    return page, (codec.encode(dict(zip(fields, order(page[-1]), strict=True)), scope)
                  if len(ordered) > limit else None)
