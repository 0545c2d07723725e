"""Stripe webhooks: verified PaymentIntent outcomes credit wallets exactly once (no JWT: Stripe signs)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import snapstart
from shared.container import Container
from shared.webhook_edge import stripe_webhook

logger = Logger()
deps = Container.from_env()
snapstart.prepare(deps, logger, use_cases=("stripe_webhooks",))  # SnapStart: primed before the snapshot


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)  # the Stripe reads of refund and dispute events end before the function does
    return stripe_webhook(deps.stripe_webhooks, event, logger)
