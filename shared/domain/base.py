"""The base of the domain's records: pydantic models of what the service knows, with no storage in them
(keys and item layout live in the storage modules of the repositories)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    # Items carry storage attributes (keys, index keys, derived fields) that a record does not hold.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class Part(BaseModel):
    """A value inside a record (settings, an allocation)."""

    model_config = ConfigDict(defer_build=True)
