"""Schemathesis hooks for `make test` (tests/e2e/schemathesis.toml): money goes as JSON integer literals.

JSON Schema counts `102.0` as an integer; this API does not: an amount written with a fraction or an exponent is
refused (422, "an integer number of minor units"), because a client that writes `100.00` may mean one hundred
units, not one hundred cents. Generated bodies therefore carry integral numbers as integers, as every client must.
"""

from __future__ import annotations

from typing import Any

import schemathesis


def _integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    return _integers(body)
