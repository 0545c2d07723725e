"""One TransactWriteItems built from entities, with its cancellation reasons mapped back to them.

A versioned entity (organization, payment, invoice) is written with `version = :read_version`
(optimistic concurrency: its new state was computed from exactly that read); an immutable record
(ledger entry, audit record, lock) must not exist yet. A cancelled commit says which of them failed:
a lost race (ConcurrentUpdate, the caller re-reads and decides again) or a rule named by the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.errors import ApiError, ConcurrentUpdate
from shared.repositories.dynamo import Dynamo, TransactionCancelled, values
from shared.repositories.mapping import mapper_for

MAX_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems


@dataclass
class UnitOfWork:
    db: Dynamo
    _items: list[dict[str, Any]] = field(default_factory=list)
    _on_fail: list[ApiError | None] = field(default_factory=list)

    def save(self, record: BaseModel, read_version: int) -> UnitOfWork:
        """Replace `record` if it is still at `read_version`."""
        item = mapper_for(type(record)).to_item(record)
        return self._add(self.db.put_if(item, "#v = :v", values(v=read_version), {"#v": "version"}), None)

    def create(self, record: BaseModel, *, taken: ApiError | None = None) -> UnitOfWork:
        """Write a new record; `taken` is the error to raise if its key already exists."""
        return self._add(self.db.put_new(mapper_for(type(record)).to_item(record)), taken)

    def delete(self, record: BaseModel, read_version: int, condition: str = "") -> UnitOfWork:
        """Delete `record` if it is still at `read_version` (and `condition`, with `:zero` = 0, holds)."""
        expression = "version = :v" + (f" AND {condition}" if condition else "")
        key = mapper_for(type(record)).key_of(record)
        return self._add(self.db.delete_if(key, expression, values(v=read_version, zero=0)), None)

    def raw(self, item: dict[str, Any]) -> UnitOfWork:
        """An item a repository built (a conditional update, the idempotency record's completion)."""
        return self._add(item, None)

    def _add(self, item: dict[str, Any], on_fail: ApiError | None) -> UnitOfWork:
        self._items.append(item)
        self._on_fail.append(on_fail)
        return self

    def __len__(self) -> int:
        return len(self._items)

    def commit_returning[R](self, result: R, complete: Callable[[R], dict[str, Any]] | None) -> R:
        """Commit, with the idempotency record's completion (when the request carries a key) in the
        same transaction; returns `result`, the response that completion saves."""
        if complete is not None:
            self.raw(complete(result))
        self.commit()
        return result

    def commit(self) -> None:
        if len(self._items) > MAX_ITEMS:
            raise ValueError(f"{len(self._items)} items exceed one transaction")
        try:
            self.db.transact(self._items)
        except TransactionCancelled as cancelled:
            failed = cancelled.failed_conditions()
            conflict = any(r.get("Code") == "TransactionConflict" for r in cancelled.reasons)
            if conflict or any(self._on_fail[index] is None for index in failed):
                # Something read has changed (a version-guarded write lost its race): re-read and decide
                # again. A named rule is trusted only when nothing read had changed: a lost race on the
                # invoice counter must not be taken for "number taken" (that would skip a number).
                raise ConcurrentUpdate() from None
            for index in failed:
                raise self._on_fail[index] from None  # type: ignore[misc]
            raise
