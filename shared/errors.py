"""Typed domain errors. They are mapped to HTTP once, in shared.api."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    """A state rule refuses the request; the code names the rule."""

    status, code = 409, "conflict"

    def __init__(self, code: str, message: str, details: list[Any] | None = None):
        super().__init__(message, code=code, details=details)


class PreconditionFailed(ApiError):
    status, code = 412, "version_mismatch"


class Unprocessable(ApiError):
    status, code = 422, "validation_error"


class ConcurrentUpdate(Exception):
    """An optimistic write lost a race (its condition failed); the caller may re-read and retry."""
