"""Unit-test fixtures: a local Stripe of the module's own (the tests of the local Stripe itself)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.stripe import LocalStripe
from tests.stripe_console import stripe_client


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local Stripe on a free port, for the module's tests."""
    local = LocalStripe(port=0).start()
    yield local.endpoint
    local.stop()


@pytest.fixture
def client(endpoint: str) -> Any:
    """The real Stripe SDK's client against it."""
    return stripe_client(endpoint)
