"""The responses each route declares in the OpenAPI document: its success and the contract's errors."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from shared.errors import ErrorDetail, ErrorOut

FORBID = ConfigDict(extra="forbid")
__all__ = ["ERRORS", "FORBID", "ErrorDetail", "ErrorOut", "documented"]

ERRORS = {400: "Malformed request (bad JSON, bad cursor)", 401: "No or invalid token",
          403: "The role may not do this", 404: "Not found, or another partner's",
          409: "A state rule refuses it (the code names the rule)", 412: "Stale If-Match",
          422: "Field validation; `card_amount_not_allowed`; Stripe refused it (`payment_provider_refused`)",
          503: "Not now, with Retry-After: DynamoDB throttled, timed out or unreachable (`service_unavailable`), "
               "or Stripe could not answer (`payment_provider_unavailable`): send it again, with the same key"}


def documented(status: int, model: Any, description: str, *errors: int) -> dict[int, Any]:
    """The `responses=` of a route: its success and the errors it can answer, in the contract's shape. Every route
    may answer 400, 401 and 503 (DynamoDB not answering now is any route's; shared.edge.unavailable_of)."""
    success: dict[str, Any] = {"description": description}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    out: dict[int, Any] = {status: success}
    for code in sorted({400, 401, 503, *errors}):
        out[code] = {"description": ERRORS[code], "content": {"application/json": {"model": ErrorOut}}}
    return out
