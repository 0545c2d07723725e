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
from pydantic import BaseModel, TypeAdapter

from shared.auth import PARTNER_ID, Principal, principal_from_event
from shared.cursor import MAX_CURSOR
from shared.edge import JSON, internal, proxy_response, status_of, unavailable_of
from shared.errors import ApiError, Forbidden, error_body
from shared.ids import id_pattern, is_id
from shared.models import IsoDate

# Query parameters every list shares (contract: ?limit= 1..100, default 50; ?cursor=).
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR)]
DateQuery = Annotated[IsoDate | None, Query()]
# A filter by id: an id of that type as this service mints them, else 422 (a malformed one never matches).
OrgIdQuery = Annotated[str | None, Query(pattern=id_pattern("org"))]
InvoiceIdQuery = Annotated[str | None, Query(pattern=id_pattern("inv"))]


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def json_response(status: int, body: Any, model: Any = None, headers: dict[str, str] | None = None) -> Response:
    """A JSON response. A response model (shared.responses) is dumped as JSON; it must be the route's documented
    `model` (its fields were checked when it was made). A plain body is checked against `model` strictly first."""
    if isinstance(body, BaseModel):
        if model is not None and not isinstance(body, model):
            raise TypeError(f"{type(body).__name__} answered where the route documents {model.__name__}")
        body = body.model_dump(mode="json")
    elif model is not None:
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
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return error_response(400, "malformed_json", "The request body is empty; this route takes a JSON body.")
    details = [{"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
               for e in errors]
    return error_response(422, "validation_error", "The request has invalid fields.", details)


def create_resolver(logger: Logger) -> APIGatewayHttpResolver:
    """An HTTP API resolver with request validation (OpenAPI comes free) and the contract's errors."""
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return json_response(status_of(error), error.body(), headers=error.headers() or None)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return validation_response(error)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "route_not_found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        unavailable = unavailable_of(error)
        if unavailable is not None:  # DynamoDB could not answer now: 503 + Retry-After, for the client to retry
            logger.warning("dynamodb unavailable", extra={"error": repr(unavailable.__cause__)}, exc_info=error)
            return _api_error(unavailable)
        logger.exception("unhandled error")
        return json_response(500, internal())

    return app


def principal(app: APIGatewayHttpResolver) -> Principal:
    return principal_from_event(app.current_event.raw_event)


def header(app: APIGatewayHttpResolver, name: str) -> str | None:
    """Header value; HTTP API payload 2.0 lower-cases header names."""
    headers = app.current_event.headers or {}
    return headers.get(name.lower())


def _refuse(code: str, message: str) -> dict[str, Any]:
    return proxy_response(400, error_body(code, message))


MAX_BODY_BYTES = 64 * 1024  # the largest real request (40 allocations) is ~4 KB
MAX_DEPTH = 16  # the deepest real request nests 3 levels
MAX_DIGITS = 1_000  # bounds the parse (Python refuses 4,300+ digits with a 500); beyond MAX_AMOUNT the models say 422


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError("integer too long")
    return int(text)


def _depth(value: Any, limit: int) -> bool:
    """True when `value` nests no deeper than `limit` (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def _json_body(text: str) -> str | None:
    """The body if it is bounded, well-formed JSON; None otherwise. Parsed here once with limits (length,
    integer digits, nesting) before Powertools parses it, so no input reaches an unhandled exception."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        return None
    try:
        parsed = json.loads(text, parse_int=_bounded_int, parse_constant=lambda c: (_ for _ in ()).throw(
            ValueError(c)))
    except (ValueError, RecursionError):
        return None
    return text if _depth(parsed, MAX_DEPTH) else None


PATH_IDS = {"org_id": ("org", "Organization"), "payment_id": ("pay", "Payment"), "invoice_id": ("inv", "Invoice"),
            "credit_note_id": ("crn", "Credit note"), "partner_id": ("", "Partner")}


def _well_formed(name: str, value: str) -> bool:
    prefix, _ = PATH_IDS.get(name, ("", ""))
    if name == "partner_id":
        return bool(PARTNER_ID.fullmatch(value))
    return is_id(value, prefix) if prefix else True


def handle(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one HTTP API event, through the one decoding edge of every API function.

    The API speaks JSON only. Media types compare case-insensitively with parameters allowed (RFC 9110);
    a body in another type is 415 `unsupported_media_type`; a body that is not UTF-8 (API Gateway hands
    such bodies over base64-encoded), not JSON, too large, too deep or with an overlong integer is 400
    `malformed_json`. Powertools then sees a normalized `content-type` and a body known to parse.

    Before all of it, the role: a customer's staff calling a route their role lacks is 403 whatever the request
    holds (contract, "The customer's own staff")."""
    try:
        principal_from_event(event)
    except Forbidden as refused:
        return proxy_response(status_of(refused), error_body(refused.code, refused.message))
    except ApiError:
        pass  # no or bad claims: the route answers as it always has (the token is read again there)
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    body = event.get("body")
    if body and media_type not in ("", "application/json"):
        return proxy_response(415, error_body("unsupported_media_type", "Send the request body as application/json."))
    if body and event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return _refuse("malformed_json", "The request body is not valid JSON.")
    if body and _json_body(body) is None:
        return _refuse("malformed_json", "The request body is not valid JSON (or is too large or too deep).")
    for name, value in (event.get("pathParameters") or {}).items():
        if not _well_formed(name, value):  # an id this service never issued: the same 404 as a missing one
            return proxy_response(404, error_body("not_found", f"{PATH_IDS.get(name, ('', 'Resource'))[1]} not found."))
    headers["content-type"] = "application/json"
    event = {**event, "headers": headers, "isBase64Encoded": False, **({"body": body} if body else {})}
    if not body:
        event.pop("body", None)
    return app.resolve(event, context)
