"""Notices to partners' endpoints: one queue message per delivery, each POSTed and signed (the batch's messages at
once, each within its own 10 s); a failed try stays on the queue, hidden until its next try (reported as a batch
item failure)."""

import asyncio

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.container import Container
from shared.services.notices_delivery import Message

logger = Logger()
deps = Container.from_env()
processor = AsyncBatchProcessor(event_type=EventType.SQS)


async def record_handler(record: SQSRecord) -> str:
    message = Message.of(record.body, record.receipt_handle)
    return await asyncio.to_thread(deps.notice_deliverer.deliver, message)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    deps.db.client, deps.sqs  # noqa: B018 - the clients made once here, not by the batch's threads at once
    response = async_process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                              context=context)
    return dict(response)
