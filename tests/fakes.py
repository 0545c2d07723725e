"""In-memory stand-ins for the table, for service tests of rules that need no DynamoDB.

`FakeStore` answers `shared.repositories.store.Store`'s reads (`get`, `get_many`, `batch()`) and hands
out a `FakeUnitOfWork` that writes as `shared.repositories.unit_of_work.UnitOfWork` does: records are
stored under their real mapper's key, as the mapper lays the item out (serialised as DynamoDB would, so
a fractional number is refused here too), and a commit is applied all or nothing, with the same
conditions: `save` and `delete` only at the version read (else `ConcurrentUpdate`, which the services
retry), `create` only where no item is (else the `taken` error, or `ConcurrentUpdate`).

Not faked, and refused (`NotImplementedError`), so that a test cannot pass on a guess: `raw` items (a
repository's own conditional updates, the idempotency record's completion) and keyed idempotency. The
paths that use them keep their tests against DynamoDB Local in tests/handlers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.errors import ApiError, ConcurrentUpdate
from shared.repositories import registry  # noqa: F401 - registers every aggregate's mappers
from shared.repositories.dynamo import from_av, to_av
from shared.repositories.keys import Key, UnsafeKeyPart
from shared.repositories.mapping import mapper_for
from shared.repositories.store import Found
from shared.repositories.unit_of_work import MAX_ITEMS

type ItemKey = tuple[str, str]
type Items = dict[ItemKey, dict[str, Any]]  # (pk, sk) -> the item, in DynamoDB's AttributeValue form

# The conditions `UnitOfWork.delete` is given beside its version guard: `attribute = :zero`, joined by AND.
_ZERO_CLAUSE = re.compile(r"^(\w+) = :zero$")


def _pair(key: Key) -> ItemKey:
    return key["pk"], key["sk"]


@dataclass
class _Write:
    kind: str  # "put" or "delete"
    key: ItemKey
    item: dict[str, Any] | None  # what a put writes
    holds: Callable[[dict[str, Any] | None], bool]  # its condition, on the item stored (None: none)
    on_fail: ApiError | None


@dataclass
class FakeUnitOfWork:
    store: FakeStore
    _writes: list[_Write] = field(default_factory=list)

    def save(self, record: BaseModel, read_version: int) -> FakeUnitOfWork:
        """Replace `record` if it is still at `read_version`."""
        item = mapper_for(type(record)).to_item(record)
        return self._add(_Write("put", _pair(item), to_av(item),
                                lambda stored: stored is not None and stored.get("version") == read_version, None))

    def create(self, record: BaseModel, *, taken: ApiError | None = None) -> FakeUnitOfWork:
        """Write a new record; `taken` is the error to raise if its key already exists."""
        item = mapper_for(type(record)).to_item(record)
        return self._add(_Write("put", _pair(item), to_av(item), lambda stored: stored is None, taken))

    def delete(self, record: BaseModel, read_version: int, condition: str = "") -> FakeUnitOfWork:
        """Delete `record` if it is still at `read_version` (and `condition`, with `:zero` = 0, holds)."""
        zero_attributes = []
        for clause in filter(None, (c.strip() for c in condition.split(" AND "))):
            match = _ZERO_CLAUSE.match(clause)
            if match is None:
                raise NotImplementedError(f"FakeUnitOfWork cannot evaluate the condition {clause!r}")
            zero_attributes.append(match.group(1))

        def holds(stored: dict[str, Any] | None) -> bool:
            return (stored is not None and stored.get("version") == read_version
                    and all(stored.get(name) == 0 for name in zero_attributes))

        key = _pair(mapper_for(type(record)).key_of(record))
        return self._add(_Write("delete", key, None, holds, None))

    def raw(self, item: dict[str, Any]) -> FakeUnitOfWork:
        raise NotImplementedError("a repository's raw transaction item is DynamoDB's to evaluate: test that path "
                                  "in tests/handlers")

    def _add(self, write: _Write) -> FakeUnitOfWork:
        self._writes.append(write)
        return self

    def __len__(self) -> int:
        return len(self._writes)

    def commit_returning[R](self, result: R, complete: Callable[[R], dict[str, Any]] | None) -> R:
        if complete is not None:
            self.raw(complete(result))
        self.commit()
        return result

    def commit(self) -> None:
        """All or nothing: every condition is checked against the items as they were, then all are applied."""
        if len(self._writes) > MAX_ITEMS:
            raise ValueError(f"{len(self._writes)} items exceed one transaction")
        keys = [w.key for w in self._writes]
        if len(set(keys)) != len(keys):  # DynamoDB refuses a transaction touching one item twice
            raise ValueError(f"one transaction writes an item twice: {keys}")
        self.store.before_commit()
        failed = [w for w in self._writes if not w.holds(self.store.item(w.key))]
        for write in failed:
            if write.on_fail is not None:
                raise write.on_fail
        if failed:
            raise ConcurrentUpdate()
        for write in self._writes:
            if write.kind == "put":
                assert write.item is not None
                self.store.items[write.key] = write.item
            else:
                del self.store.items[write.key]
        self.store.commits += 1


@dataclass
class FakeBatch:
    store: FakeStore
    keys: list[ItemKey] = field(default_factory=list)

    def add[R: BaseModel](self, record_type: type[R], *ids: str) -> FakeBatch:
        try:
            self.keys.append(_pair(mapper_for(record_type).key(*ids)))
        except UnsafeKeyPart:
            pass  # cannot exist
        return self

    def add_all[R: BaseModel](self, record_type: type[R], ids: Iterable[str]) -> FakeBatch:
        for i in ids:
            self.add(record_type, i)
        return self

    def fetch(self) -> Found:
        found = {k: self.store.item(k) for k in self.keys}
        return Found({k: item for k, item in found.items() if item is not None})


class FakeStore:
    """The table as a dict. Given-steps `put` records straight in; `records` and `snapshot` read it back."""

    def __init__(self, *records: BaseModel):
        self.items: Items = {}
        self.commits = 0  # transactions applied
        self._before_next_commit: list[Callable[[], None]] = []
        for record in records:
            self.put(record)

    # --- what the services call (shared.repositories.store.Store) ---------------------------------------
    def get[R: BaseModel](self, record_type: type[R], *ids: str) -> R | None:
        mapper = mapper_for(record_type)
        try:
            k = _pair(mapper.key(*ids))
        except UnsafeKeyPart:
            return None
        item = self.item(k)
        return mapper.from_item(item) if item is not None else None

    def get_many[R: BaseModel](self, record_type: type[R], ids: Iterable[str]) -> dict[str, R]:
        wanted = list(dict.fromkeys(ids))
        found = self.batch().add_all(record_type, wanted).fetch()
        out = {i: found.get(record_type, i) for i in wanted}
        return {i: r for i, r in out.items() if r is not None}

    def batch(self) -> FakeBatch:
        return FakeBatch(self)

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    # --- what tests use -------------------------------------------------------------------------------
    def put(self, record: BaseModel) -> None:
        """Given-step: the record is stored, whatever was there."""
        item = mapper_for(type(record)).to_item(record)
        self.items[_pair(item)] = to_av(item)

    def records[R: BaseModel](self, record_type: type[R]) -> list[R]:
        """Every stored record of the type, in key order."""
        mapper = mapper_for(record_type)
        return [mapper.from_item(from_av(item)) for _, item in sorted(self.items.items())
                if item["entity"]["S"] == mapper.entity]

    def item(self, key: ItemKey) -> dict[str, Any] | None:
        """The stored item under `key`, deserialised as DynamoDB returns it (conditions are evaluated on it)."""
        stored = self.items.get(key)
        return from_av(stored) if stored is not None else None

    def snapshot(self) -> Items:
        """A copy of every item: a refused request must leave the store equal to it."""
        return copy.deepcopy(self.items)

    def before_next_commit(self, write: Callable[[], None]) -> None:
        """A competing writer: `write` runs once, just before the next commit checks its conditions (as a
        concurrent request that read later but committed first)."""
        self._before_next_commit.append(write)

    def before_commit(self) -> None:
        pending, self._before_next_commit = self._before_next_commit, []
        for write in pending:
            write()


@dataclass
class FakeIdempotency:
    """`shared.idempotency.Idempotency.run` for requests without an Idempotency-Key: the action runs once,
    with no completion to carry. A keyed request (replay, reuse, in progress) is Powertools' on DynamoDB."""

    scopes: list[str] = field(default_factory=list)  # the scope of each run, in order

    def run(self, *, scope: str, key: str | None, body: dict[str, Any], action: Callable[[Any], Any],
            model: Any = None) -> Any:
        if key is not None:
            raise NotImplementedError("keyed idempotency runs on DynamoDB: test it in tests/handlers")
        self.scopes.append(scope)
        return action(None)
