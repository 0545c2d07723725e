"""The HTTP edge of `POST /webhooks/stripe`, without Powertools' resolver: one route, no JWT, and the
body must reach the signature check byte for byte (API Gateway hands binary bodies base64-encoded)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from shared.edge import internal, proxy_response, status_of, unavailable_of
from shared.errors import BadRequest, error_body
from shared.stripe_signature import REFUSED_CODE, REFUSED_MESSAGE

if TYPE_CHECKING:  # typed, not imported: the deploy rehearsal follows the calls through it (docs/deploy.md)
    from shared.services.stripe_webhooks import StripeWebhookService

# Issue 31: each refusal for the signature is counted (WebhookSignatureFailuresAlarm, docs/operations.md). The handler
# has no `log_metrics` decorator, so the metric is flushed where it is added; the namespace is the template's
# POWERTOOLS_METRICS_NAMESPACE (tests/handlers/test_template.py holds them equal), the dimension its service name.
NAMESPACE = "PrepaidPayments"
SIGNATURE_FAILURES = "StripeWebhookSignatureFailures"
metrics = Metrics(namespace=NAMESPACE)


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error, or a body that is not ASCII
            return b""  # cannot carry a valid signature
    return body.encode("utf-8", "surrogatepass")  # a lone surrogate (only an Invoke sends one) cannot verify


def stripe_webhook(service: StripeWebhookService, event: dict[str, Any], logger: Any) -> dict[str, Any]:
    """200 with the outcome; 400 (nothing written) for an unverifiable or malformed delivery; 503 with Retry-After
    when DynamoDB or Stripe does not answer now; 500 for our own failure. Stripe retries both."""
    headers = event.get("headers") or {}
    try:
        result = service.receive(headers.get("stripe-signature"), raw_body(event))
    except BadRequest as error:  # the delivery itself: unverifiable, too large, malformed
        logger.warning("stripe webhook refused", extra={"code": error.code, "reason": error.message})
        if error.code == REFUSED_CODE:  # one answer for every signature failure; the reason is in the log only
            metrics.add_metric(name=SIGNATURE_FAILURES, unit=MetricUnit.Count, value=1)
            metrics.flush_metrics()
            return proxy_response(400, error_body(REFUSED_CODE, REFUSED_MESSAGE))
        return proxy_response(status_of(error), error.body())
    except Exception as error:  # Stripe delivers it again after any failure
        unavailable = unavailable_of(error)
        if unavailable is not None:  # DynamoDB or Stripe not answering now: 503 + Retry-After, as every route
            logger.warning("stripe webhook: a provider is not answering now; Stripe will retry it",
                           extra={"code": unavailable.code, "error": repr(unavailable.__cause__ or error)})
            return proxy_response(503, unavailable.body(), headers=unavailable.headers())
        logger.exception("stripe webhook failed; Stripe will retry it")  # ours, or Stripe refusing our reads
        return proxy_response(500, internal())
    if result.outcome in ("amount_mismatch", "payment_intent_mismatch", "unknown_online_top_up", "unknown_attempt"):
        logger.warning("stripe webhook needs a look from finance", extra=result.model_dump())  # nothing was credited
    else:
        logger.info("stripe webhook", extra=result.model_dump())
    return proxy_response(200, result.model_dump(mode="json"))
