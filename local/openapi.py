"""The OpenAPI document of the finance API: Powertools' own, from each HTTP function's resolver, merged, then
completed with what the resolvers cannot say of themselves:

  - the header parameters each route reads (`Idempotency-Key`, `If-Match`), found in the route's own handler
    (`header(app, "...")`), `Idempotency-Key` required where the service requires it (refunds);
  - the security scheme (a bearer JWT; the routes without one: this document, /docs and Stripe's webhook);
  - the answers API Gateway's HTTP API gives itself, before any function runs (401, 404, 413, 429, 500 in its
    own `{"message": ...}` shape), beside the contract's error shape of everything a function answers, and the
    answers every function may give (415 for another media type, 503 with `Retry-After`: DynamoDB or Stripe not
    answering now);
  - `POST /webhooks/stripe` (Stripe's caller: no resolver, no JWT, signed by Stripe).

    python -m local.openapi > openapi.json      (also served by the local stack: GET /openapi.json)
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from local.template import Template
from shared.api import PATH_IDS
from shared.auth import PARTNER_ID
from shared.ids import id_pattern
from shared.responses.runs import WebhookOutcome

TITLE, VERSION = "Payments & prepaid credit", "1"
HEADERS_REQUIRED = {("post", "/payments/{payment_id}/refunds", "Idempotency-Key")}  # the service refuses without
HEADER_DOCS = {
    "Idempotency-Key": "The same key with the same body replays the first answer and writes nothing; the same key "
                       "with another body is 409 `idempotency_key_reused`. 1 to 255 characters.",
    "Accept": "`text/csv` answers the report as CSV (`text/csv; charset=utf-8`); anything else, JSON.",
    "If-Match": "The payment's `version` as last read (`3`, `\"3\"` or `W/\"3\"`); any other is 412 "
                "`version_mismatch`.",
}
GATEWAY = {  # what API Gateway's HTTP API answers itself, in its own shape (docs/local-stack.md)
    401: "No token, or a token the JWT authorizer cannot verify (with `WWW-Authenticate: Bearer`)",
    404: "No such route (API Gateway's own answer), or the function's: not found, or another partner's",
    413: "The request body is over the HTTP API's 10 MB",
    429: "The stage's throttle",
    500: "The function failed, died or answered something malformed",
}
PUBLIC = {"/openapi.json": "This document (OpenAPI 3.1)", "/docs": "Swagger UI for this document"}


def _handlers_headers(code_uri: Path) -> dict[tuple[str, str], list[str]]:
    """(method, path) -> the header names its handler reads with `header(app, "...")`."""
    tree = ast.parse((code_uri / "app.py").read_text())
    out: dict[tuple[str, str], list[str]] = {}
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        routes = [(d.func.attr, d.args[0].value) for d in fn.decorator_list
                  if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.args
                  and isinstance(d.args[0], ast.Constant) and isinstance(d.args[0].value, str)]
        names = [str(c.args[1].value) for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                 and c.func.id == "header" and len(c.args) == 2 and isinstance(c.args[1], ast.Constant)]
        for method, path in routes:
            out[(method, path.replace("<", "{").replace(">", "}"))] = names
    return out


def _resolvers() -> tuple[dict[str, Any], dict[tuple[str, str], list[str]]]:
    os.environ.setdefault("TABLE_NAME", "openapi-export")
    os.environ.setdefault("CURSOR_SECRET", "openapi-export-not-a-secret")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("STRIPE_API_KEY", "sk_test_openapi_export")
    merged: dict[str, Any] = {}
    headers: dict[tuple[str, str], list[str]] = {}
    for name, fn in Template.load().functions().items():
        if not any(e.get("Type") == "HttpApi" for e in fn.events.values()):
            continue
        spec = importlib.util.spec_from_file_location(f"_openapi_{name}", fn.code_uri / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "app"):
            continue  # POST /webhooks/stripe: Stripe's caller, not the console's (no resolver, no JWT): below
        headers |= _handlers_headers(fn.code_uri)
        schema = json.loads(module.app.get_openapi_json_schema(title=TITLE, version=VERSION))
        if not merged:
            merged = {**schema, "paths": {}, "components": {"schemas": {}}}
        merged["paths"].update(schema["paths"])
        merged["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    return merged, headers


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


FUNCTION_TOO = {401, 404}  # a function also answers these itself, in the contract's shape (a path id it never issued)


def _answers(code: int, description: str, operation: dict[str, Any]) -> None:
    """`code`: the function's contract-shaped error (if it may answer it) or the gateway's own, either one."""
    gateway = {"$ref": "#/components/schemas/GatewayMessage"}
    current = operation["responses"].get(str(code))
    if current is None and code in FUNCTION_TOO:
        current = operation["responses"][str(code)] = {"description": "The function's own answer",
                                                       "content": _json({"$ref": "#/components/schemas/ErrorOut"})}
    if current is None:
        operation["responses"][str(code)] = {"description": description, "content": _json(gateway)}
        return
    ours = current["content"]["application/json"]["schema"]
    current["description"] = f"{current['description']}; or API Gateway's own: {description}"
    current["content"] = _json({"anyOf": [ours, gateway]})


def complete(document: dict[str, Any], headers: dict[tuple[str, str], list[str]]) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    schemas["WebhookOutcome"] = WebhookOutcome.model_json_schema(mode="serialization")  # no resolver documents it
    schemas["GatewayMessage"] = {"type": "object", "required": ["message"], "additionalProperties": False,
                                 "properties": {"message": {"type": "string"}},
                                 "description": "What API Gateway answers itself, before any function runs"}
    document["components"]["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A JWT with `sub`, `partner_id` and `groups` (finance-admin, finance-viewer, platform-admin)"}}
    document["security"] = [{"bearer": []}]
    document["info"]["description"] = ("Money is an integer in minor units with an ISO 4217 currency. Every list "
                                       "pages with `limit` and an opaque `cursor`. The reference: docs/api.md.")
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path" or parameter["name"] not in PATH_IDS:
                    continue
                prefix = PATH_IDS[parameter["name"]][0]  # an id this service never issued is 404 like a missing one
                parameter["schema"] = {"type": "string",
                                       "pattern": id_pattern(prefix) if prefix else PARTNER_ID.pattern}
            for name in headers.get((method, path), []):
                operation.setdefault("parameters", []).append({
                    "name": name, "in": "header", "required": (method, path, name) in HEADERS_REQUIRED,
                    "description": HEADER_DOCS[name],
                    # an entity tag that matches nothing is 412 (RFC 9110), whatever its form: no limits to state
                    # (and any Accept is answered: JSON unless it names text/csv)
                    "schema": {"type": "string"} if name in ("If-Match", "Accept") else {
                        "type": "string", "minLength": 1, "maxLength": 255}})
            error = _json({"$ref": "#/components/schemas/ErrorOut"})
            if operation.get("parameters") or "requestBody" in operation:  # in the contract's shape, never Powertools'
                operation["responses"]["422"] = {"description": operation["responses"].get("422", {}).get(
                    "description", "Field validation (`details: [{field, message, type}]`)"), "content": error}
            operation["responses"].setdefault("403", {"description": "The role may not do this", "content": error})
            if "requestBody" in operation:
                operation["responses"]["415"] = {"description": "A body in another media type than application/json",
                                                 "content": _json({"$ref": "#/components/schemas/ErrorOut"})}
            if "503" in operation["responses"]:  # every route's (DynamoDB), and Stripe's callers'
                operation["responses"]["503"]["headers"] = {"Retry-After": {
                    "description": "Seconds to wait before the same request (the same Idempotency-Key)",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
            for code, description in GATEWAY.items():
                _answers(code, description, operation)
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    for path, description in PUBLIC.items():
        document["paths"][path] = {"get": {"summary": description, "operationId": f"get_{path.strip('/')}",
                                           "security": [], "responses": {"200": {"description": description}}}}
    document["paths"]["/webhooks/stripe"] = {"post": {
        "summary": "Stripe's webhook deliveries (signed by Stripe; no JWT)", "operationId": "post_webhooks_stripe",
        "security": [],
        "parameters": [{"name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"},
                        "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">"}],
        "requestBody": {"required": True, "content": _json({"type": "object"})},
        "responses": {"200": {"description": "The delivery's outcome",
                              "content": _json({"$ref": "#/components/schemas/WebhookOutcome"})},
                      "400": {"description": "Unverifiable or malformed (nothing written)",
                              "content": _json({"$ref": "#/components/schemas/ErrorOut"})},
                      "503": {"description": "DynamoDB or Stripe not answering now: Stripe delivers it again",
                              "headers": {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"},
                                                          "description": "Seconds to wait before sending it again"}},
                              "content": _json({"$ref": "#/components/schemas/ErrorOut"})},
                      "500": {"description": "Our failure, or Stripe refusing our reads: Stripe delivers it again",
                              "content": _json({"$ref": "#/components/schemas/ErrorOut"})}}}}
    return document


def document() -> dict[str, Any]:
    merged, headers = _resolvers()
    return complete(merged, headers)


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=1)
