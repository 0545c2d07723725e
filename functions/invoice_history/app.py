"""The invoices' histories: the table's stream, filtered to the audit records that name invoices (template.yaml),
each written again as one record per invoice under the invoice; partial batch failures reported."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.container import Container

logger = Logger()
deps = Container.from_env()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> int:
    return deps.invoice_history.project(record.raw_event["dynamodb"].get("NewImage") or {})


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    response = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                        context=context)
    return dict(response)
