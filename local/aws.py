"""The AWS services of the local stack, provisioned from template.yaml: DynamoDB Local (Amazon's own
emulator, local/dynamodb.py) and moto servers on loopback for SQS and EventBridge."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local.dynamodb import LOCAL_CREDENTIALS, DynamoDBLocal, ExistingDynamoDB, client, ensure_table
from local.template import Template

TABLE_NAME = "payments-local"
EVENT_BUS = "payments-local"
LOCAL_CURSOR_SECRET = "local-cursor-secret-not-for-production"
LOCAL_CREDENTIALS_ENV = {
    "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["aws_access_key_id"],
    "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["aws_secret_access_key"],
    "AWS_REGION": LOCAL_CREDENTIALS["region_name"], "AWS_DEFAULT_REGION": LOCAL_CREDENTIALS["region_name"],
}


class _SerializedApp:
    """moto is not thread-safe: one lock makes each SQS / EventBridge request atomic."""

    def __init__(self, app: Any):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Requests are not logged (the queue poller asks several times a second)."""


class MotoServer:
    """One moto service (SQS or EventBridge) on loopback, its requests serialized."""

    def __init__(self, service: str, port: int = 0, host: str = "127.0.0.1"):
        self.service = service
        app = _SerializedApp(create_backend_app(service))  # type: ignore[arg-type]  # moto's Literal of names
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, name=service, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> MotoServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class LocalAws:
    dynamodb: DynamoDBLocal
    sqs: MotoServer
    events: MotoServer
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue logical id -> URL
    queue_variables: dict[str, str] = field(default_factory=dict)  # a function's `!Ref <queue>` variable -> URL
    table_name: str = TABLE_NAME

    @classmethod
    def start(cls, dynamodb_port: int = 0, sqs_port: int = 0, events_port: int = 0, *,
              existing: ExistingDynamoDB | None = None) -> LocalAws:
        """DynamoDB Local on `dynamodb_port`, or the `existing` DynamoDB (DYNAMODB_ENDPOINT) and its table."""
        dynamodb = existing.start() if existing else DynamoDBLocal(dynamodb_port).start()
        return cls(dynamodb, MotoServer("sqs", sqs_port).start(), MotoServer("events", events_port).start(),
                   table_name=existing.table_name if existing else TABLE_NAME)

    def stop(self) -> None:
        for server in (self.dynamodb, self.sqs, self.events):
            server.stop()

    def provision(self, template: Template) -> LocalAws:
        """The template's table, queues (dead-letter queues first, with their redrive) and event bus."""
        ensure_table(self.dynamodb.endpoint, self.table_name, template)
        sqs = client(self.sqs.endpoint, "sqs")
        queues = {k: r for k, r in template.resources.items() if r.get("Type") == "AWS::SQS::Queue"}
        for logical_id in sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})):
            props = queues[logical_id].get("Properties", {})
            attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
            redrive = props.get("RedrivePolicy")
            if redrive:
                target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
                arn = sqs.get_queue_attributes(QueueUrl=self.queue_urls[target],
                                               AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn,
                                                          "maxReceiveCount": str(redrive["maxReceiveCount"])})
            self.queue_urls[logical_id] = sqs.create_queue(QueueName=logical_id, Attributes=attributes)["QueueUrl"]
        self.queue_variables = {name: self.queue_urls[value["Ref"]] for fn in template.functions().values()
                                for name, value in fn.environment.items()
                                if isinstance(value, dict) and value.get("Ref") in self.queue_urls}
        events = client(self.events.endpoint, "events")
        if EVENT_BUS not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
            events.create_event_bus(Name=EVENT_BUS)
        return self

    def overrides(self, log_level: str) -> dict[str, str]:
        """Local values for what AWS provides (credentials, region) or the template resolves at deploy."""
        return {
            "TABLE_NAME": self.table_name, "DYNAMODB_ENDPOINT": self.dynamodb.endpoint,
            "SQS_ENDPOINT": self.sqs.endpoint, "EVENTS_ENDPOINT": self.events.endpoint,
            "AUTO_TOP_UP_QUEUE_URL": self.queue_urls.get("AutoTopUpQueue", ""), "EVENT_BUS_NAME": EVENT_BUS,
            **self.queue_variables,
            # notices may go to http://127.0.0.1:<port>/ here (the tests' and a developer's receivers)
            "WEBHOOK_ALLOW_LOOPBACK": "true",
            "CURSOR_SECRET": os.environ.get("CURSOR_SECRET", LOCAL_CURSOR_SECRET),
            **LOCAL_CREDENTIALS_ENV, "POWERTOOLS_LOG_LEVEL": log_level,
            # Powertools warns on every request of a route that publishes no metric: noise locally
            "PYTHONWARNINGS": "ignore:No application metrics to publish:UserWarning",
        }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """What the SQS event source mapping hands the function for received messages."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                       "SentTimestamp": m.get("Attributes", {}).get("SentTimestamp", "0"),
                       "SenderId": "000000000000", "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": "us-east-1"} for m in messages]}
