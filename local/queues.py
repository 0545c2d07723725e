"""Delivers the template's SQS queues to their functions, as Lambda's SQS event source mapping does:
batches of received messages as an SQS event; what succeeded (all, or all but `batchItemFailures`) is
deleted; the rest becomes visible again after the visibility timeout (and after `maxReceiveCount`
receives moto moves it to the dead-letter queue)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

from local.aws import LocalAws, sqs_event
from local.dynamodb import client
from local.lambdas import FunctionHost, InvocationError
from local.polling import Pollers
from local.template import Template

POLL_SECONDS = 0.2  # the endpoint serializes requests, so no long polling
POLLERS = 5  # Lambda's SQS event source starts with five concurrent batches (ScalingConfig can cap it)


@dataclass(frozen=True)
class Mapping:
    function: str
    queue: str  # logical id
    batch_size: int
    partial_failures: bool
    concurrency: int = POLLERS


def mappings(template: Template) -> list[Mapping]:
    out = []
    for fn in template.functions().values():
        for event in fn.events.values():
            if event.get("Type") == "SQS":
                props = event["Properties"]
                cap = (props.get("ScalingConfig") or {}).get("MaximumConcurrency", POLLERS)
                out.append(Mapping(fn.logical_id, props["Queue"]["Fn::GetAtt"][0], int(props.get("BatchSize", 10)),
                                   "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                                   min(int(cap), POLLERS)))
    return out


class QueueDelivery:
    def __init__(self, aws: LocalAws, host: FunctionHost, template: Template):
        self.aws, self.host = aws, host
        self.mappings = mappings(template)
        self.sqs = client(aws.sqs.endpoint, "sqs")
        self.pollers = Pollers(POLL_SECONDS)
        self.stopped = self.pollers.stopped
        self.delivered = 0
        self._count = threading.Lock()
        # Each mapping's batches run in several pollers at once, each batch in its own environment.
        for m in self.mappings:
            for i in range(m.concurrency):
                self.pollers.add(f"sqs delivery to {m.function} ({i})", partial(self.deliver, m))

    def start(self) -> QueueDelivery:
        self.pollers.start()
        return self

    def stop(self) -> None:
        self.pollers.stop()

    def deliver(self, m: Mapping) -> bool:
        url = self.aws.queue_urls[m.queue]
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=m.batch_size,
                                            AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return False
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        try:
            result: Any = self.host.invoke(m.function, sqs_event(messages, arn))
        except InvocationError:
            return True  # the whole batch becomes visible again after the visibility timeout
        reported = (result or {}).get("batchItemFailures", []) if m.partial_failures else []
        failed = {f["itemIdentifier"] for f in reported}
        done = [msg for msg in messages if msg["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": msg["ReceiptHandle"]} for i, msg in enumerate(done)])
        with self._count:
            self.delivered += len(done)
        return True
