"""Typed access to the table: a record by its ids, many in one round trip, and the unit of work.

Services ask for records by type and ids (`store.get(Payment, payment_id)`); the record's mapper builds
the key. A key part that could not have been issued by this service (it holds the separator) reads as
not found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.cursor import CursorCodec
from shared.repositories import registry  # noqa: F401 - registers every aggregate's mappers
from shared.repositories.dynamo import Dynamo
from shared.repositories.keys import Key, UnsafeKeyPart
from shared.repositories.mapping import mapper_for
from shared.repositories.unit_of_work import UnitOfWork


def safe_key(record_type: type[BaseModel], ids: tuple[str, ...]) -> Key | None:
    """The record's key, or None for ids this service never issued (a part holding the separator)."""
    try:
        return mapper_for(record_type).key(*ids)
    except UnsafeKeyPart:
        return None


@dataclass
class Found:
    """What one BatchGetItem returned, looked up by record type and ids."""

    items: dict[tuple[str, str], dict[str, Any]]

    def get[R: BaseModel](self, record_type: type[R], *ids: str) -> R | None:
        k = safe_key(record_type, ids)
        item = self.items.get((k["pk"], k["sk"])) if k else None
        return mapper_for(record_type).from_item(item) if item is not None else None


@dataclass
class Batch:
    store: Store
    keys: list[Key] = field(default_factory=list)

    def add[R: BaseModel](self, record_type: type[R], *ids: str) -> Batch:
        k = safe_key(record_type, ids)
        if k is not None:  # else it cannot exist
            self.keys.append(k)
        return self

    def add_all[R: BaseModel](self, record_type: type[R], ids: Iterable[str]) -> Batch:
        for i in ids:
            self.add(record_type, i)
        return self

    def fetch(self) -> Found:
        items = self.store.db.batch_get(self.keys) if self.keys else []
        return Found({(i["pk"], i["sk"]): i for i in items})


@dataclass
class Store:
    db: Dynamo
    cursors: CursorCodec

    def get[R: BaseModel](self, record_type: type[R], *ids: str) -> R | None:
        k = safe_key(record_type, ids)
        item = self.db.get(k) if k else None
        return mapper_for(record_type).from_item(item) if item else None

    def get_many[R: BaseModel](self, record_type: type[R], ids: Iterable[str]) -> dict[str, R]:
        """Records by id (a single-id key), in one round trip; missing ones are absent."""
        wanted = list(dict.fromkeys(ids))
        found = self.batch().add_all(record_type, wanted).fetch()
        out = {i: found.get(record_type, i) for i in wanted}
        return {i: r for i, r in out.items() if r is not None}

    def batch(self) -> Batch:
        return Batch(self)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.db)
