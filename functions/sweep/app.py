"""The daily sweep: invoked by the EventBridge schedule; queues every organization due for a top-up."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.container import Container

logger = Logger()
deps = Container.from_env()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    result = deps.sweep.run(event["time"]).model_dump(mode="json")
    logger.info("sweep queued the due organizations", extra=result)
    return result
