"""The reconciliation: invoked by its EventBridge schedule; settles card money whose webhook never arrived."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.container import Container

logger = Logger()
metrics = Metrics()
deps = Container.from_env()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    run = deps.reconciliation.run(event["time"])
    metrics.add_metric(name="StripeUnavailable", unit=MetricUnit.Count, value=run.outcomes.get("stripe_unavailable", 0))
    metrics.add_metric(name="ReconcileErrors", unit=MetricUnit.Count, value=len(run.errors))
    for error in run.errors:
        logger.error("reconciliation could not look at a record", extra={"record": error})
    result = run.model_dump(mode="json")
    logger.info("reconciliation settled what waited for Stripe", extra=result)
    return result
