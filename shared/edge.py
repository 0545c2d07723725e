"""The HTTP edge's one mapping from errors to statuses, and the Lambda proxy response of an error."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from shared.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unavailable,
    Unprocessable,
    error_body,
)
from shared.repositories.dynamo import store_unavailable

JSON = "application/json"
STATUS: dict[type[ApiError], int] = {
    BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, Conflict: 409, PreconditionFailed: 412,
    Unprocessable: 422, Unavailable: 503,
}


@cache
def internal() -> dict[str, Any]:
    """The body of our own failure (made on the first one: its model is built on first use)."""
    return error_body("internal_error", "Something went wrong on our side.")


def status_of(error: ApiError) -> int:
    """The status of the nearest error kind in `error`'s class hierarchy (500 for none)."""
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), 500)


def unavailable_of(error: BaseException) -> Unavailable | None:
    """What an error answers when it is a provider not answering now: an `Unavailable` itself (Stripe's
    `payment_provider_unavailable`), or DynamoDB (or the way to it) throttled, timed out or dropped after the client's
    own tries (shared.repositories.dynamo.not_now), raised or wrapped: 503 with Retry-After, never a 500, so that a
    client sends the same request again with the same Idempotency-Key. None for any other error (a 500)."""
    if isinstance(error, Unavailable):
        return error
    return store_unavailable(error)


def proxy_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway (payload 2.0) proxy response with a JSON body."""
    return {"statusCode": status, "headers": {"Content-Type": JSON, **(headers or {})}, "isBase64Encoded": False,
            "body": json.dumps(body, separators=(",", ":"), sort_keys=True)}
