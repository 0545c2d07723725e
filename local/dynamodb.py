"""An embedded DynamoDB endpoint (moto's server) that serializes requests.

moto is not thread-safe: two concurrent conditional writes can both succeed. One lock around the
backend makes every request (and so every condition and transaction) atomic, as in DynamoDB.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local import moto_transactions
from local.template import Template

moto_transactions.install()

LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "region_name": "us-east-1"}


class SerializedApp:
    def __init__(self, app: Any):
        self.app = app
        self.lock = threading.Lock()
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            self.requests += 1
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Requests are not logged (the endpoint answers thousands a second under test)."""


class MotoServer:
    """One moto service (DynamoDB, SQS, EventBridge...) on loopback, its requests serialized."""

    service = "dynamodb"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", service: str | None = None):
        self.service = service or self.service
        self.app = SerializedApp(create_backend_app(self.service))
        self.server: BaseWSGIServer = make_server(host, port, self.app, threaded=True,
                                                 request_handler=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, name=self.service, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MotoServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


class DynamoDBServer(MotoServer):
    service = "dynamodb"


def client(endpoint: str, service: str = "dynamodb") -> Any:
    return boto3.client(service, endpoint_url=endpoint, **LOCAL_CREDENTIALS)


def ensure_table(endpoint: str, table_name: str, template: Template | None = None) -> None:
    """Create the template's table under `table_name` unless it exists."""
    ddb = client(endpoint)
    if table_name in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(TableName=table_name, **(template or Template.load()).table())
    for _ in range(50):
        if ddb.describe_table(TableName=table_name)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.1)
