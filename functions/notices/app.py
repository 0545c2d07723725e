"""Notices to partners' endpoints: the table's stream (template.yaml's filter: organizations, automatic top-up
attempts, payments, and deliveries that became pending) into notices, deliveries and queue messages; partial batch
failures reported."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.container import Container

logger = Logger()
deps = Container.from_env()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> int:
    return deps.notice_recorder.handle(record.raw_event)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    deps.notice_recorder.begin_batch()
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return dict(response)
