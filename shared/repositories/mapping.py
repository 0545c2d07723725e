"""How a domain record is stored: its key, index attributes and item layout, one `Mapper` per record
type, registered by the storage module of its aggregate. The unit of work and the batch reads find a
record's mapper here, so services never build a key."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from shared.repositories.keys import Key


class Mapper[R: BaseModel]:
    record: ClassVar[type[Any]]  # type[R]: a class variable cannot be generic
    entity: ClassVar[str]

    def key(self, *ids: str) -> Key:  # pragma: no cover - every mapper overrides
        raise NotImplementedError

    def key_of(self, record: R) -> Key:  # pragma: no cover - every mapper overrides
        raise NotImplementedError

    def attributes(self, record: R) -> dict[str, Any]:
        """Index keys and derived attributes stored beside the record's own fields."""
        return {}

    def to_item(self, record: R) -> dict[str, Any]:
        return {**record.model_dump(mode="json", exclude_none=True), **self.attributes(record),
                **self.key_of(record), "entity": self.entity}

    def from_item(self, item: dict[str, Any]) -> R:
        record: R = self.record.model_validate(item)
        return record


MAPPERS: dict[type[BaseModel], Mapper[Any]] = {}


def register[M: type[Mapper[Any]]](mapper: M) -> M:
    """Class decorator: the mapper (stateless) serves its record type from now on."""
    MAPPERS[mapper.record] = mapper()
    return mapper


def mapper_for[R: BaseModel](record_type: type[R]) -> Mapper[R]:
    try:
        return MAPPERS[record_type]
    except KeyError:
        raise TypeError(f"{record_type.__name__} has no storage mapper") from None
