"""The HTTP API (API Gateway HTTP API, payload 2.0) and the Lambda Invoke API, both on loopback."""

from __future__ import annotations

import base64
import json
import sys
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt

from local.auth import flatten_claims, verify
from local.lambdas import FunctionHost, InvocationError
from local.template import Route, Template
from shared.errors import error_body

MAX_BODY = 6 * 1024 * 1024  # Lambda's synchronous payload limit


def _error(code: str, message: str) -> bytes:
    return json.dumps(error_body(code, message)).encode()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Status line, headers and body in one write (two small writes on a kept-alive connection wait
        for the client's delayed ACK: Nagle)."""
        self.log_request(status, len(body))
        merged = {"Content-Type": "application/json", **(headers or {}), "Content-Length": str(len(body)),
                  "Date": self.date_time_string()}
        lines = [f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}",
                 *(f"{key}: {value}" for key, value in merged.items())]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""


class HttpApiHandler(_Quiet):
    server: HttpApiServer

    def _handle(self) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        match = self.server.match(self.command, path)
        body = self._body()
        if body is None:
            return self._send(413, _error("payload_too_large", "The request body is too large."))
        if match is None:
            return self._send(404, _error("route_not_found", "No such route."))
        route, params = match
        claims = None
        if route.authorized:
            auth = self.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token:
                return self._send(401, _error("unauthorized", "A bearer token is required."))
            try:
                claims = flatten_claims(verify(token.strip(), template=self.server.template))
            except jwt.InvalidTokenError as error:
                return self._send(401, _error("unauthorized", f"The token was rejected: {error}."))
        event = self.server.event(self, route, params, url.query, body, claims)
        try:
            result = self.server.host.invoke(route.function, event)
        except InvocationError as error:  # API Gateway's own answers: 502 when the environment died
            return self._send(502 if error.died else 500, json.dumps({"message": "Internal Server Error"}).encode())
        self._reply(result)

    def _reply(self, result: Any) -> None:
        if not isinstance(result, dict) or "statusCode" not in result:
            return self._send(200, json.dumps(result).encode())
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(str(v) for v in values)
        self._send(int(result["statusCode"]), data, headers)

    def __getattr__(self, name: str) -> Any:
        """Every method is routed (an unmatched one answers 404 like API Gateway, not http.server's 501)."""
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)


class HttpApiServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a thread parked on a client's idle keep-alive connection must not block stop
    request_queue_size = 128  # the standard library's 5 resets connections under a burst of clients

    def __init__(self, port: int, host: FunctionHost, template: Template, verbose: bool = False):
        super().__init__(("127.0.0.1", port), HttpApiHandler)
        self.host, self.template, self.verbose = host, template, verbose
        # API Gateway prefers the most specific route: fewer path parameters first.
        self.routes = sorted(template.routes(), key=lambda r: r.path.count("{"))

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

    def event(self, req: HttpApiHandler, route: Route, params: dict[str, str], query: str, body: bytes,
              claims: dict[str, str] | None) -> dict[str, Any]:
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
            "http": {"method": req.command, "path": urlsplit(req.path).path, "protocol": "HTTP/1.1",
                     "sourceIp": req.client_address[0], "userAgent": headers.get("user-agent", "")},
            "requestId": uuid.uuid4().hex, "routeKey": route.route_key, "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0", "routeKey": route.route_key, "rawPath": urlsplit(req.path).path,
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
        body = self._body() or b"{}"
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
