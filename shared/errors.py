"""Typed errors of the domain and the services. Each carries a code (the rule, in the contract's words)
and a message; which HTTP status answers it is the edge's business (shared.edge). `error_body` is the
contract's error shape, built here once for every edge (the API, the webhook, the local host)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ErrorDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    code: str
    message: str
    details: list[Any]


class ErrorOut(BaseModel):
    """The contract's error body, of every edge (the API, the webhook, the local host)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    error: ErrorDetail


def error_out(code: str, message: str, details: list[Any] | None = None) -> ErrorOut:
    return ErrorOut(error=ErrorDetail(code=code, message=message, details=details or []))


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    """The error body as JSON-ready data (a proxy response's), made by its one model."""
    return error_out(code, message, details).model_dump(mode="json")


class ApiError(Exception):
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)

    def headers(self) -> dict[str, str]:
        """Headers the answer carries beside the body (Retry-After)."""
        return {}


class BadRequest(ApiError):
    """The request cannot be read (bad JSON, a bad cursor, an unverifiable webhook)."""

    code = "bad_request"


class Unauthorized(ApiError):
    code = "unauthorized"


class Forbidden(ApiError):
    code = "forbidden"


class NotFound(ApiError):
    code = "not_found"


class Conflict(ApiError):
    """A state rule refuses the request; the code names the rule."""

    code = "conflict"

    def __init__(self, code: str, message: str, details: list[Any] | None = None):
        super().__init__(message, code=code, details=details)


class PreconditionFailed(ApiError):
    code = "version_mismatch"


class Unprocessable(ApiError):
    code = "validation_error"


class Unavailable(ApiError):
    """A provider the service depends on (Stripe, DynamoDB) could not answer now; the same request (with the same
    `Idempotency-Key`) may be sent again after `retry_after` seconds."""

    code = "service_unavailable"
    retry_after = 5

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class StoreUnavailable(Unavailable):
    """DynamoDB could not answer now: throttled, timed out or its connection dropped, after the client's own tries
    (shared.repositories.dynamo). Nothing partial was written (every money move is one transaction); whether that
    transaction committed is what the same request with the same `Idempotency-Key` finds out."""

    code = "service_unavailable"
    retry_after = 1  # DynamoDB's throttling is per second of a partition's capacity; the client already backed off

    def __init__(self, message: str = "The service could not reach its database now; send the same request again "
                                      "(with the same Idempotency-Key)."):
        super().__init__(message)


class ConcurrentUpdate(Exception):
    """An optimistic write lost a race (its condition failed); the caller may re-read and retry."""
