"""The HTTP edge shared by every API function: the resolver, and every error in the contract's shape."""

from __future__ import annotations

import base64
import binascii
import json
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import TypeAdapter

from shared.auth import Principal, principal_from_event
from shared.cursor import MAX_CURSOR
from shared.edge import INTERNAL, JSON, proxy_response, status_of
from shared.errors import ApiError, error_body
from shared.models import IsoDate

# Query parameters every list shares (contract: ?limit= 1..100, default 50; ?cursor=).
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR)]
DateQuery = Annotated[IsoDate | None, Query()]


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def json_response(status: int, body: Any, model: Any = None, headers: dict[str, str] | None = None) -> Response:
    """A JSON response; with `model` (the route's documented body) the body is checked against it first."""
    if model is not None:
        _adapter(model).validate_python(body, strict=True)
    return Response(status_code=status, content_type=JSON, body=json.dumps(body, separators=(",", ":"), sort_keys=True),
                    headers=headers)


def error_response(status: int, code: str, message: str, details: list[Any] | None = None) -> Response:
    return json_response(status, error_body(code, message, details))


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "body"


def validation_response(error: RequestValidationError) -> Response:
    errors = list(error.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    details = [{"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
               for e in errors]
    return error_response(422, "validation_error", "The request has invalid fields.", details)


def create_resolver(logger: Logger) -> APIGatewayHttpResolver:
    """An HTTP API resolver with request validation (OpenAPI comes free) and the contract's errors."""
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return json_response(status_of(error), error.body())

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return validation_response(error)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "route_not_found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return json_response(500, INTERNAL)

    return app


def principal(app: APIGatewayHttpResolver) -> Principal:
    return principal_from_event(app.current_event.raw_event)


def header(app: APIGatewayHttpResolver, name: str) -> str | None:
    """Header value; HTTP API payload 2.0 lower-cases header names."""
    headers = app.current_event.headers or {}
    return headers.get(name.lower())


def _refuse(code: str, message: str) -> dict[str, Any]:
    return proxy_response(400, error_body(code, message))


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one HTTP API event. The API speaks JSON only: a body sent as another media type (a
    form, say) is refused here, before Powertools would parse it as something else, and so is a body
    that is not UTF-8 text (API Gateway hands such bodies over base64-encoded)."""
    headers = event.get("headers") or {}
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if event.get("body") and media_type not in ("", "application/json"):
        return _refuse("unsupported_content_type", "Send the request body as application/json.")
    if event.get("body") and event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(event["body"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return _refuse("malformed_json", "The request body is not valid JSON.")
        event = {**event, "body": text, "isBase64Encoded": False}
    return app.resolve(event, context)
