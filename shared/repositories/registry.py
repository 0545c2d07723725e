"""Imports every aggregate's storage module, so that each record type's mapper is registered."""

from typing import Any

from pydantic import BaseModel

from shared.repositories import (  # noqa: F401
    attempts,
    audit,
    credit_notes,
    guardrails,
    invoices,
    organizations,
    partner_wallets,
    payments,
    stripe_markers,
)
from shared.repositories.mapping import mapper_for


def item_of(record: BaseModel) -> dict[str, Any]:
    """The stored item of a record (for tools and tests that write the table directly)."""
    return mapper_for(type(record)).to_item(record)


def record_of[R: BaseModel](record_type: type[R], item: dict[str, Any]) -> R:
    return mapper_for(record_type).from_item(item)


def key_of(record_type: type[BaseModel], *ids: str) -> dict[str, str]:
    return mapper_for(record_type).key(*ids)
