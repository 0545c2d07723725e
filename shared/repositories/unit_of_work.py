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

from shared.errors import ApiError, ConcurrentUpdate
from shared.repositories.dynamo import Dynamo, TransactionCancelled, values
from shared.repositories.entities import Entity

MAX_ITEMS = 100  # DynamoDB's limit for one TransactWriteItems


@dataclass
class UnitOfWork:
    db: Dynamo
    _items: list[dict[str, Any]] = field(default_factory=list)
    _on_fail: list[ApiError | None] = field(default_factory=list)

    def save(self, entity: Entity, read_version: int) -> UnitOfWork:
        """Replace `entity` if it is still at `read_version`."""
        item = self.db.put_if(entity.to_item(), "#v = :v", values(v=read_version), {"#v": "version"})
        return self._add(item, None)

    def create(self, entity: Entity, *, taken: ApiError | None = None) -> UnitOfWork:
        """Write a new record; `taken` is the error to raise if its key already exists."""
        return self._add(self.db.put_new(entity.to_item()), taken)

    def delete(self, key: dict[str, str], read_version: int, condition: str = "") -> UnitOfWork:
        expression = "version = :v" + (f" AND {condition}" if condition else "")
        return self._add(self.db.delete_if(key, expression, values(v=read_version, zero=0)), None)

    def raw(self, item: dict[str, Any]) -> UnitOfWork:
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
            for index in failed:
                if self._on_fail[index] is not None:
                    raise self._on_fail[index] from None  # type: ignore[misc]
            if failed:
                raise ConcurrentUpdate() from None
            if any(r.get("Code") == "TransactionConflict" for r in cancelled.reasons):
                raise ConcurrentUpdate() from None
            raise
