"""The base of every response body: a pydantic model, declared once, from which the body, its check and its
OpenAPI schema all come. Schemas are built on first use (`defer_build`): a cold start pays only for the
bodies its invocation answers."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    @classmethod
    def mirror(cls, record: object) -> Self:
        """The body of a domain record whose attributes carry the body's fields under the same names."""
        return cls.model_validate(record, from_attributes=True)
