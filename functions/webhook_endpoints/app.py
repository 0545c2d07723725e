"""A partner's webhook endpoints and their deliveries: the thin HTTP edge of shared.services.notices_endpoints."""

from typing import Annotated, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import snapstart
from shared.api import Cursor, Limit, create_resolver, handle, json_response, principal
from shared.container import Container
from shared.ids import id_pattern
from shared.models_notices import WebhookEndpointIn
from shared.responses import documented
from shared.responses.notices import WebhookDeliveryOut, WebhookDeliveryPage, WebhookEndpointOut, WebhookEndpointPage

logger = Logger()
metrics = Metrics()
deps = Container.from_env()
app = create_resolver(logger)
snapstart.prepare(deps, logger, use_cases=("webhook_endpoints",))  # SnapStart: primed before the snapshot

EndpointIdQuery = Annotated[str | None, Query(pattern=id_pattern("whe"))]


@app.post("/partners/<partner_id>/webhook-endpoints",
          responses=documented(201, WebhookEndpointOut, "The endpoint, with its signing secret (`whsec_...`): shown "
                               "in this answer only", 403, 404, 409, 422))
def create_endpoint(partner_id: str, body: WebhookEndpointIn):
    return json_response(201, deps.webhook_endpoints.create(principal(app), partner_id, body), WebhookEndpointOut)


@app.get("/partners/<partner_id>/webhook-endpoints",
         responses=documented(200, WebhookEndpointPage, "The partner's endpoints (without secrets)", 403, 404, 422))
def list_endpoints(partner_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.webhook_endpoints.list(principal(app), partner_id, limit, cursor),
                         WebhookEndpointPage)


@app.delete("/partners/<partner_id>/webhook-endpoints/<endpoint_id>",
            responses=documented(204, None, "Deleted (its pending deliveries fail: `endpoint_deleted`)", 403, 404))
def delete_endpoint(partner_id: str, endpoint_id: str):
    deps.webhook_endpoints.delete(principal(app), partner_id, endpoint_id)
    return Response(status_code=204)


@app.get("/partners/<partner_id>/webhook-deliveries",
         responses=documented(200, WebhookDeliveryPage, "The deliveries of notices to the partner's endpoints, newest "
                              "first", 403, 404, 422))
def list_deliveries(partner_id: str, endpoint_id: EndpointIdQuery = None,
                    status: Literal["pending", "delivered", "failed"] | None = None, limit: Limit = 50,
                    cursor: Cursor = None):
    page = deps.webhook_endpoints.deliveries(principal(app), partner_id, endpoint_id=endpoint_id, status=status,
                                             limit=limit, cursor=cursor)
    return json_response(200, page, WebhookDeliveryPage)


@app.post("/partners/<partner_id>/webhook-deliveries/<delivery_id>/retry",
          responses=documented(202, WebhookDeliveryOut, "The failed delivery, pending again: it is sent shortly, with "
                               "three more days of retries", 403, 404, 409))
def retry_delivery(partner_id: str, delivery_id: str):
    return json_response(202, deps.webhook_endpoints.retry(principal(app), partner_id, delivery_id),
                         WebhookDeliveryOut)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    return handle(app, event, context)
