"""Reports (shared.services.reports): the aged receivables, as JSON or as CSV (`Accept: text/csv`); read-only."""

from typing import Annotated, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import responses as R
from shared import snapstart
from shared.api import DateQuery, OrgIdQuery, create_resolver, handle, header, json_response, principal
from shared.container import Container
from shared.responses import documented
from shared.responses.reports import CSV_TYPE

logger = Logger()
metrics = Metrics()
deps = Container.from_env()
app = create_resolver(logger)
snapstart.prepare(deps, logger, use_cases=("reports",))  # SnapStart: primed before the snapshot

AGED = documented(200, R.AgedReceivablesOut, "The aged receivables at the end of `as_of` (`Accept: text/csv`: the same "
                  "report as CSV: a header row, one row per organization and currency, one `TOTAL` row per currency)",
                  403, 404, 422)
AGED[200]["content"]["text/csv"] = {"schema": {"type": "string", "description": "RFC 4180 CSV, UTF-8"}}


@app.get("/reports/aged-receivables", responses=AGED)
def aged_receivables(as_of: DateQuery = None, basis: Literal["due_date", "issued_date"] = "due_date",
                     currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
                     org_id: OrgIdQuery = None):
    report = deps.reports.aged_receivables(principal(app), as_of=as_of, basis=basis, currency=currency, org_id=org_id)
    if "text/csv" in (header(app, "Accept") or "").lower():
        return Response(status_code=200, content_type=CSV_TYPE, body=report.csv(),
                        headers={"Content-Disposition": f'attachment; filename="{report.csv_name()}"',
                                 "Vary": "Accept"})
    return json_response(200, report, R.AgedReceivablesOut, headers={"Vary": "Accept"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    return handle(app, event, context)
