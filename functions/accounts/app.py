"""Organizations, wallets and payment settings: the thin HTTP edge of shared.services.accounts."""

from typing import Annotated

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.api import Cursor, Limit, create_resolver, handle, header, json_response, principal
from shared.container import Container
from shared.models import DebitIn, OnlineTopUpIn, OrganizationCreate, PartnerCreditIn, PaymentSettingsIn

logger = Logger()
metrics = Metrics()
deps = Container.from_env()
app = create_resolver(logger)

@app.post("/organizations")
def create_organization(body: OrganizationCreate):
    org = deps.accounts.create_organization(principal(app), body, header(app, "Idempotency-Key"))
    return json_response(201, org)


@app.get("/organizations")
def list_organizations(name: Annotated[str | None, Query(max_length=200)] = None, limit: Limit = 50,
                       cursor: Cursor = None):
    return json_response(200, deps.accounts.list_organizations(principal(app), name, limit, cursor))


@app.get("/organizations/<org_id>")
def get_organization(org_id: str):
    return json_response(200, deps.accounts.get_organization(principal(app), org_id))


@app.get("/organizations/<org_id>/wallet")
def get_wallet(org_id: str):
    return json_response(200, deps.accounts.get_wallet(principal(app), org_id))


@app.get("/organizations/<org_id>/wallet/transactions")
def wallet_transactions(org_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.accounts.wallet_transactions(principal(app), org_id, limit, cursor))


@app.get("/organizations/<org_id>/payment-settings")
def get_payment_settings(org_id: str):
    return json_response(200, deps.accounts.get_settings(principal(app), org_id))


@app.put("/organizations/<org_id>/payment-settings")
def put_payment_settings(org_id: str, body: PaymentSettingsIn):
    return json_response(200, deps.accounts.put_settings(principal(app), org_id, body))


@app.post("/organizations/<org_id>/wallet/debits")
def debit_wallet(org_id: str, body: DebitIn):
    return json_response(201, deps.accounts.debit(principal(app), org_id, body, header(app, "Idempotency-Key")))


@app.post("/organizations/<org_id>/online-top-ups")
def start_online_top_up(org_id: str, body: OnlineTopUpIn):
    top_up = deps.online_top_ups.start(principal(app), org_id, body, header(app, "Idempotency-Key"))
    return json_response(201, top_up)


@app.get("/organizations/<org_id>/auto-top-ups")
def list_auto_top_ups(org_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.accounts.auto_top_ups(principal(app), org_id, limit, cursor))


@app.get("/partners/<partner_id>/wallet")
def get_partner_wallet(partner_id: str):
    return json_response(200, deps.accounts.partner_wallet(principal(app), partner_id))


@app.post("/partners/<partner_id>/wallet/credits")
def credit_partner_wallet(partner_id: str, body: PartnerCreditIn):
    entry = deps.accounts.credit_partner(principal(app), partner_id, body, header(app, "Idempotency-Key"))
    return json_response(201, entry)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.idempotency.register_context(context)
    return handle(app, event, context)
