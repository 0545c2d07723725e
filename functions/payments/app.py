"""Payments CRUD and history: the thin HTTP edge of shared.services.payments."""

from typing import Annotated

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import responses as R
from shared import snapstart
from shared.api import Cursor, DateQuery, Limit, OrgIdQuery, create_resolver, handle, header, json_response, principal
from shared.container import Container
from shared.models import PaymentCreate, PaymentPatch
from shared.repositories.payments import PaymentFilters
from shared.responses import documented
from shared.vocabulary import PaymentMethod, PaymentStatus

logger = Logger()
metrics = Metrics()
deps = Container.from_env()
app = create_resolver(logger)
# SnapStart: primed before the snapshot, reseeded after each restore
snapstart.prepare(deps, logger, use_cases=("payments", "history"),
                  modules=("shared.idempotency_store",))

@app.post("/payments", responses=documented(201, R.PaymentOut, "The payment", 403, 409, 422))
def create_payment(body: PaymentCreate):
    payment = deps.payments.create(principal(app), body, header(app, "Idempotency-Key"))
    if not deps.idempotency.replayed:  # a replay (the same Idempotency-Key) counts nothing again
        metrics.add_metric(name="PaymentRecorded", unit=MetricUnit.Count, value=1)
    return json_response(201, payment, R.PaymentOut)


@app.get("/payments", responses=documented(200, R.PaymentPage, "Payments, newest received first", 422))
def list_payments(org_id: OrgIdQuery = None,
                  status: PaymentStatus | None = None, method: PaymentMethod | None = None,
                  received_from: DateQuery = None, received_to: DateQuery = None,
                  reference: Annotated[str | None, Query(max_length=200)] = None,
                  limit: Limit = 50, cursor: Cursor = None):
    filters = PaymentFilters(org_id=org_id, status=status, method=method, received_from=received_from,
                             received_to=received_to, reference=reference)
    return json_response(200, deps.payments.list(principal(app), filters, limit, cursor), R.PaymentPage)


@app.get("/payments/<payment_id>", responses=documented(200, R.PaymentOut, "The payment", 404))
def get_payment(payment_id: str):
    return json_response(200, deps.payments.get(principal(app), payment_id), R.PaymentOut)


@app.patch("/payments/<payment_id>", responses=documented(200, R.PaymentOut, "The payment", 403, 404, 409, 412, 422))
def patch_payment(payment_id: str, body: PaymentPatch):
    return json_response(200, deps.payments.patch(principal(app), payment_id, body, header(app, "If-Match")),
                         R.PaymentOut)


@app.delete("/payments/<payment_id>",
            responses=documented(204, None, "Deleted (its audit records remain)", 403, 404, 409, 412))
def delete_payment(payment_id: str):
    deps.payments.delete(principal(app), payment_id, header(app, "If-Match"))
    return Response(status_code=204)


@app.get("/payments/<payment_id>/history",
         responses=documented(200, R.AuditPage, "Its audit records, newest first", 404))
def payment_history(payment_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.history.payment(principal(app), payment_id, limit, cursor), R.AuditPage)



@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    return handle(app, event, context)
