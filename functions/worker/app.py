"""The top-up worker: one queued organization per SQS message, partial batch failures reported."""

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.container import Container

logger = Logger()
deps = Container.from_env()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    message = json.loads(record.body)
    outcome = deps.auto_top_up.top_up(message["org_id"], message["business_date"])
    logger.info("automatic top-up", extra={**message, "outcome": outcome})
    return outcome


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)  # no Stripe charge outlives the batch: what has no time left is delivered again
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return dict(response)  # Powertools' TypedDict of SQS's partial-failure response
