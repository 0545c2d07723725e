"""The HTTP API (API Gateway HTTP API, payload 2.0) and the Lambda Invoke API, both on loopback.

What API Gateway answers itself, before any function runs, has its own shape (`{"message": ...}`), and
so it has here (docs/local-stack.md gives each answer and the AWS page it comes from): 401 Unauthorized
with `WWW-Authenticate` (no token, bad signature, expired, wrong issuer or audience), 404 Not Found (no
route for that method and path), 413 (a body over the HTTP API's 10 MB payload quota), 429 Too Many
Requests (the stage's default route throttle, read from template.yaml) and 500 Internal Server Error
(the function failed, died, timed out or answered something the gateway cannot read). Everything that
reaches a function keeps the function's own answer (the contract's error shape).
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt

from local import console
from local.auth import bearer_token, flatten_claims, verify
from local.lambdas import FunctionHost, InvocationError
from local.template import Route, Template

MAX_BODY = 10 * 1024 * 1024  # the HTTP API's payload quota ("Payload size: 10 MB", not adjustable)
MAX_INVOKE = 6 * 1024 * 1024  # Lambda's synchronous invocation payload: a larger event fails the integration
THROTTLE_OFF = "API_THROTTLE_OFF"  # set (to 1) to lift the stage's throttle: benchmarks and load tests only


def _gateway(message: str) -> bytes:
    """API Gateway's own body for what it answers itself."""
    return json.dumps({"message": message}).encode()


UNAUTHORIZED = _gateway("Unauthorized")
NOT_FOUND = _gateway("Not Found")
TOO_LARGE = _gateway("Request Entity Too Large")
THROTTLED = _gateway("Too Many Requests")
INTERNAL = _gateway("Internal Server Error")


@dataclass
class TokenBucket:
    """API Gateway's throttle: a bucket of `burst` tokens refilled at `rate` per second; a request takes one."""

    rate: float
    burst: int
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = float(self.burst)

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class StageThrottle:
    """The stage's `DefaultRouteSettings` throttle (ThrottlingRateLimit, ThrottlingBurstLimit): the default
    route throttling applies to each route, so each route key has its own bucket."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_template(cls, template: Template) -> StageThrottle | None:
        """The template's HttpApi throttle, or None when it sets none or `API_THROTTLE_OFF` lifts it."""
        if os.environ.get(THROTTLE_OFF, "").strip().lower() not in ("", "0", "false", "no"):
            return None
        for resource in template.resources.values():
            if resource.get("Type") != "AWS::Serverless::HttpApi":
                continue
            settings = (resource.get("Properties") or {}).get("DefaultRouteSettings") or {}
            if "ThrottlingRateLimit" in settings and "ThrottlingBurstLimit" in settings:
                return cls(float(settings["ThrottlingRateLimit"]), int(settings["ThrottlingBurstLimit"]))
        return None

    def allow(self, route_key: str) -> bool:
        with self._lock:
            bucket = self._buckets.setdefault(route_key, TokenBucket(self.rate, self.burst))
        return bucket.take()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              cookies: list[str] | None = None) -> None:
        """Status line, headers and body in one write (two small writes on a kept-alive connection wait
        for the client's delayed ACK: Nagle)."""
        self.log_request(status, len(body))
        merged = {"Content-Type": "application/json", **(headers or {}), "Content-Length": str(len(body)),
                  "Date": self.date_time_string()}
        if self.command == "HEAD":
            body = b""
        lines = [f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}",
                 *(f"{key}: {value}" for key, value in merged.items()),
                 *(f"Set-Cookie: {cookie}" for cookie in cookies or [])]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _body(self, limit: int = MAX_BODY) -> bytes | None:
        """The request body, or None when it is over `limit` (the connection is then closed: the body is not
        read)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""


class HttpApiHandler(_Quiet):
    server: HttpApiServer

    def _handle(self) -> None:
        url = urlsplit(self.path)
        # The HTTP API decodes the path before routing: rawPath, requestContext.http.path and the path
        # parameters all carry it decoded; rawQueryString stays as sent (docs/local-stack.md).
        path = unquote(url.path)
        body = self._body()
        if body is None:
            return self._send(413, TOO_LARGE, {"Connection": "close"})
        if self.command in ("GET", "HEAD") and self._describe(path):
            return None
        if self._console(path, body):
            return None
        match = self.server.match(self.command, path)
        if match is None:
            return self._send(404, NOT_FOUND)
        route, params = match
        if self.server.throttle is not None and not self.server.throttle.allow(route.route_key):
            return self._send(429, THROTTLED)
        claims = None
        if route.authorized:
            token = bearer_token(self.headers.get("Authorization"))
            if token is None:
                return self._send(401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
            try:
                claims = flatten_claims(verify(token, template=self.server.template))
            except jwt.InvalidTokenError as error:
                reason = str(error).replace('"', "'")
                return self._send(401, UNAUTHORIZED, {
                    "WWW-Authenticate": f'Bearer scope="" error="invalid_token" error_description="{reason}"'})
        event = self.server.event(self, route, params, path, url.query, body, claims)
        if len(json.dumps(event)) > MAX_INVOKE:  # Lambda refuses the invocation: an integration failure
            return self._send(500, INTERNAL)
        try:
            result = self.server.host.invoke(route.function, event)
        except InvocationError:  # the function failed, died or timed out: the gateway's 500
            return self._send(500, INTERNAL)
        self._reply(result)

    def _describe(self, path: str) -> bool:
        """`GET /openapi.json` and `GET /docs` (Swagger UI and its files): the API's own description, no token
        (contract, "Who may do what"). False when `path` is neither."""
        if path == "/openapi.json":
            self._send(200, self.server.openapi_json())
            return True
        if path in ("/docs", "/docs/"):
            self._send(200, swagger_page(), {"Content-Type": "text/html; charset=utf-8"})
            return True
        if path.startswith("/docs/"):
            asset = swagger_asset(path[len("/docs/"):])
            if asset is None:
                self._send(404, NOT_FOUND)
            else:
                self._send(200, asset[0], {"Content-Type": asset[1]})
            return True
        return False

    def _console(self, path: str, body: bytes) -> bool:
        """The Finance console's files, its configuration and the local sign-in (local/console.py): no token, as
        deployed (CloudFront serves the files; the identity provider signs in). False for any other path."""
        stripe = self.server.stripe_endpoint
        if path == console.TOKEN_PATH and self.command == "POST":
            status, answer = console.token(body)
            self._send(status, json.dumps(answer).encode(), {"Cache-Control": "no-store"})
            return True
        if self.command not in ("GET", "HEAD") or not (path == "/console" or path.startswith(console.PREFIX)):
            return False
        headers = console.security_headers(stripe)
        if path == "/console":
            self._send(301, b"", {**headers, "Location": console.PREFIX})
        elif path == f"{console.PREFIX}config.json":
            self._send(200, json.dumps(console.config(stripe)).encode(), {**headers, "Cache-Control": "no-store"})
        else:
            status, data, kind = console.asset(path)
            self._send(status, data, {**headers, "Content-Type": kind})
        return True

    def _reply(self, result: Any) -> None:
        """The function's answer as the HTTP API (payload format 2.0) reads it: a dict with `statusCode` is the
        response; valid JSON without `statusCode` is a 200 application/json body; anything the gateway cannot
        read (a status that is not an HTTP status, a body that is not a string, bad base64, headers that are not
        a map) is its 500."""
        if not isinstance(result, dict) or "statusCode" not in result:
            return self._send(200, json.dumps(result).encode())
        try:
            status = result["statusCode"]
            if isinstance(status, bool) or not isinstance(status, int | str) or not 100 <= int(status) <= 599:
                raise ValueError(status)
            raw = result.get("body")
            if raw is None:
                raw = ""
            if not isinstance(raw, str):
                raise ValueError("body")
            data = base64.b64decode(raw, validate=True) if result.get("isBase64Encoded") else raw.encode()
            headers_in = result.get("headers") or {}
            multi = result.get("multiValueHeaders") or {}
            if not isinstance(headers_in, dict) or not isinstance(multi, dict):
                raise ValueError("headers")
            headers = {str(k): str(v) for k, v in headers_in.items()}
            for name, values in multi.items():
                headers[str(name)] = ", ".join(str(v) for v in values)
            cookies = result.get("cookies") or []
            if not isinstance(cookies, list):
                raise ValueError("cookies")
        except (ValueError, TypeError, binascii.Error):
            return self._send(500, INTERNAL)
        self._send(int(status), data, headers, cookies=[str(c) for c in cookies])

    def __getattr__(self, name: str) -> Any:
        """Every method is routed (an unmatched one answers 404 like API Gateway, not http.server's 501)."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


_SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "index.css",
                  "favicon-32x32.png", "favicon-16x16.png", "oauth2-redirect.html")


def swagger_dir() -> Path:
    """Swagger UI's static files, from the installed package (PyPI `swagger-ui-py`): nothing from a CDN."""
    import swagger_ui  # the package's own module: only its `static/` folder is used

    return Path(swagger_ui.__file__).resolve().parent / "static"


def swagger_page() -> bytes:
    """The Swagger UI page: its own files under /docs/, the document from /openapi.json."""
    return (b"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>Payments &amp; prepaid credit API</title>
  <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
  <link rel="stylesheet" type="text/css" href="/docs/index.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script>
    window.onload = function () {
      window.ui = SwaggerUIBundle({
        url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        plugins: [SwaggerUIBundle.plugins.DownloadUrl], layout: "StandaloneLayout"
      });
    };
  </script>
</body>
</html>
""")


def swagger_asset(name: str) -> tuple[bytes, str] | None:
    """One of Swagger UI's own files with its content type, or None (only the files the page uses)."""
    if name not in _SWAGGER_FILES:
        return None
    path = swagger_dir() / name
    if not path.is_file():
        return None
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "text/javascript"):
        kind += "; charset=utf-8"
    return path.read_bytes(), kind


class HttpApiServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a thread parked on a client's idle keep-alive connection must not block stop
    request_queue_size = 128  # the standard library's 5 resets connections under a burst of clients

    def __init__(self, port: int, host: FunctionHost, template: Template, verbose: bool = False,
                 throttle: StageThrottle | None = None, stripe_endpoint: str = "http://127.0.0.1:8420"):
        super().__init__(("127.0.0.1", port), HttpApiHandler)
        self.host, self.template, self.verbose, self.throttle = host, template, verbose, throttle
        self.stripe_endpoint = stripe_endpoint
        # API Gateway prefers the most specific route: fewer path parameters first.
        self.routes = sorted(template.routes(), key=lambda r: r.path.count("{"))
        self._openapi: bytes | None = None
        self._openapi_lock = threading.Lock()

    def openapi_json(self) -> bytes:
        """The OpenAPI document `python -m local.openapi` prints, built once on first request. The builder
        imports the handler modules and sets a few variables for that: this process's environment is put
        back as it was."""
        with self._openapi_lock:
            if self._openapi is None:
                from local.openapi import document

                saved = dict(os.environ)
                try:
                    self._openapi = json.dumps(document()).encode()
                finally:
                    os.environ.clear()
                    os.environ.update(saved)
            return self._openapi

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that goes away mid-request is not an error of the API."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method == method:
                return route, found.groupdict()
        return None

    def event(self, req: HttpApiHandler, route: Route, params: dict[str, str], path: str, query: str,
              body: bytes, claims: dict[str, str] | None) -> dict[str, Any]:
        """An API Gateway HTTP API payload 2.0 event, as the real service builds it."""
        headers: dict[str, str] = {}
        for key, value in req.headers.items():
            k = key.lower()
            headers[k] = f"{headers[k]},{value}" if k in headers else value
        qs: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            qs[key] = f"{qs[key]},{value}" if key in qs else value
        now = datetime.now(UTC)
        try:
            text, b64 = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, b64 = base64.b64encode(body).decode(), True
        context: dict[str, Any] = {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "127",
            "http": {"method": req.command, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": req.client_address[0], "userAgent": headers.get("user-agent", "")},
            "requestId": uuid.uuid4().hex, "routeKey": route.route_key, "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0", "routeKey": route.route_key, "rawPath": path,
            "rawQueryString": query, "headers": headers, "requestContext": context, "isBase64Encoded": b64,
        }
        if qs:
            event["queryStringParameters"] = qs
        if params:
            event["pathParameters"] = params
        if body:
            event["body"] = text
        if "cookie" in headers:
            event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
        return event


class InvokeApiHandler(_Quiet):
    """The Lambda Invoke API (as `sam local start-lambda` serves it) for boto3's lambda client."""

    server: InvokeApiServer
    PREFIX = "/2015-03-31/functions/"

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if not (path.startswith(self.PREFIX) and path.endswith("/invocations")):
            return self._send(404, json.dumps({"Type": "User", "Message": "Unknown operation"}).encode(),
                              {"x-amzn-ErrorType": "UnknownOperationException"})
        name = unquote(path[len(self.PREFIX):-len("/invocations")]).split(":")[-1]
        body = self._body(MAX_INVOKE)
        if body is None:
            return self._send(413, json.dumps({"Type": "User", "Message": "Request must be smaller than "
                                               f"{MAX_INVOKE} bytes for the InvokeFunction operation"}).encode(),
                              {"x-amzn-ErrorType": "RequestTooLargeException", "Connection": "close"})
        if name not in self.server.host.functions:
            return self._send(404, json.dumps({"Type": "User", "Message": f"Function not found: {name}"}).encode(),
                              {"x-amzn-ErrorType": "ResourceNotFoundException"})
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return self._send(400, json.dumps({"Type": "User", "Message": "Could not parse request body"}).encode(),
                              {"x-amzn-ErrorType": "InvalidRequestContentException"})
        kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return self._send(204, b"")
        if kind == "Event":
            threading.Thread(target=self._run_quietly, args=(name, event), daemon=True).start()
            return self._send(202, b"")
        try:
            result = self.server.host.invoke(name, event)
        except InvocationError as error:
            return self._send(200, json.dumps(error.payload).encode(),
                              {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"})
        self._send(200, json.dumps(result).encode(), {"X-Amz-Executed-Version": "$LATEST"})

    def _run_quietly(self, name: str, event: Any) -> None:
        try:
            self.server.host.invoke(name, event)
        except InvocationError as error:  # an async invocation's error only reaches the logs
            print(f"async invocation of {name} failed: {error.payload['errorMessage']}", file=sys.stderr)


class InvokeApiServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, port: int, host: FunctionHost, verbose: bool = False):
        super().__init__(("127.0.0.1", port), InvokeApiHandler)
        self.host, self.verbose = host, verbose
