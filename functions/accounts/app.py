"""Organizations, wallets and payment settings: the thin HTTP edge of shared.services.accounts."""

from typing import Annotated

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import responses as R
from shared import snapstart
from shared.api import Cursor, Limit, create_resolver, handle, header, json_response, principal
from shared.container import Container
from shared.models import DebitIn, OrganizationCreate, PartnerCreditIn, WithdrawalIn
from shared.responses import documented
from shared.top_up_models import AutoCreditLimitIn, OnlineTopUpIn, PaymentSettingsIn

logger = Logger()
metrics = Metrics()
deps = Container.from_env()
app = create_resolver(logger)
# SnapStart: primed before the snapshot, reseeded after each restore
snapstart.prepare(deps, logger, use_cases=("accounts", "money_back", "online_top_ups", "history", "auto_credit_limits"),
                  modules=("shared.idempotency_store", "stripe"))

@app.post("/organizations", responses=documented(201, R.OrganizationOut, "The organization", 403, 409, 422))
def create_organization(body: OrganizationCreate):
    org = deps.accounts.create_organization(principal(app), body, header(app, "Idempotency-Key"))
    return json_response(201, org, R.OrganizationOut)


@app.get("/organizations", responses=documented(200, R.OrganizationPage, "Organizations by name", 422))
def list_organizations(name: Annotated[str | None, Query(max_length=200)] = None, limit: Limit = 50,
                       cursor: Cursor = None):
    return json_response(200, deps.accounts.list_organizations(principal(app), name, limit, cursor), R.OrganizationPage)


@app.get("/organizations/<org_id>", responses=documented(200, R.OrganizationOut, "The organization", 404))
def get_organization(org_id: str):
    return json_response(200, deps.accounts.get_organization(principal(app), org_id), R.OrganizationOut)


@app.get("/organizations/<org_id>/wallet", responses=documented(200, R.WalletOut, "The wallet", 404))
def get_wallet(org_id: str):
    return json_response(200, deps.accounts.get_wallet(principal(app), org_id), R.WalletOut)


@app.get("/organizations/<org_id>/wallet/transactions",
         responses=documented(200, R.LedgerEntryPage, "Ledger entries, newest first", 404, 422))
def wallet_transactions(org_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.accounts.wallet_transactions(principal(app), org_id, limit, cursor),
                         R.LedgerEntryPage)


@app.get("/organizations/<org_id>/payment-settings",
         responses=documented(200, R.SettingsOut, "The payment settings", 404))
def get_payment_settings(org_id: str):
    return json_response(200, deps.accounts.get_settings(principal(app), org_id), R.SettingsOut)


@app.put("/organizations/<org_id>/payment-settings",
         responses=documented(200, R.SettingsOut, "The payment settings", 403, 404, 409, 422))
def put_payment_settings(org_id: str, body: PaymentSettingsIn):
    return json_response(200, deps.accounts.put_settings(principal(app), org_id, body), R.SettingsOut)


@app.post("/organizations/<org_id>/wallet/debits",
          responses=documented(201, R.LedgerEntryOut, "The usage ledger entry", 403, 404, 409, 422))
def debit_wallet(org_id: str, body: DebitIn):
    return json_response(201, deps.accounts.debit(principal(app), org_id, body, header(app, "Idempotency-Key")),
                         R.LedgerEntryOut)


@app.post("/organizations/<org_id>/wallet/withdrawals",
          responses=documented(201, R.WithdrawalOut, "The withdrawal", 403, 404, 409, 422))
def withdraw(org_id: str, body: WithdrawalIn):
    withdrawal = deps.money_back.withdraw(principal(app), org_id, body, header(app, "Idempotency-Key"))
    return json_response(201, withdrawal, R.WithdrawalOut)


@app.get("/organizations/<org_id>/wallet/withdrawals",
         responses=documented(200, R.WithdrawalPage, "Withdrawals, newest first", 404, 422))
def list_withdrawals(org_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.money_back.list_withdrawals(principal(app), org_id, limit, cursor),
                         R.WithdrawalPage)


@app.post("/organizations/<org_id>/online-top-ups",
          responses=documented(201, R.OnlineTopUpOut, "The online top-up and its client secret", 403, 404, 409, 422,
                               503))
def start_online_top_up(org_id: str, body: OnlineTopUpIn):
    top_up = deps.online_top_ups.start(principal(app), org_id, body, header(app, "Idempotency-Key"))
    return json_response(201, top_up, R.OnlineTopUpOut)


@app.get("/organizations/<org_id>/online-top-ups",
         responses=documented(200, R.OnlineTopUpPage, "Online top-ups by card, newest first", 404, 422))
def list_online_top_ups(org_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.online_top_ups.list(principal(app), org_id, limit, cursor), R.OnlineTopUpPage)


@app.get("/organizations/<org_id>/auto-top-ups",
         responses=documented(200, R.AttemptPage, "Automatic top-up attempts, newest first", 404, 422))
def list_auto_top_ups(org_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.accounts.auto_top_ups(principal(app), org_id, limit, cursor), R.AttemptPage)


@app.get("/organizations/<org_id>/history",
         responses=documented(200, R.AuditPage, "The audit records of the organization, its wallet and its payment "
                              "settings, newest first", 404, 422))
def organization_history(org_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.history.organization(principal(app), org_id, limit, cursor), R.AuditPage)


@app.get("/partners/<partner_id>/wallet", responses=documented(200, R.PartnerWalletOut, "The master wallet", 404))
def get_partner_wallet(partner_id: str):
    return json_response(200, deps.accounts.partner_wallet(principal(app), partner_id), R.PartnerWalletOut)


@app.post("/partners/<partner_id>/wallet/credits",
          responses=documented(201, R.PartnerLedgerEntryOut, "The credit ledger entry", 403, 422))
def credit_partner_wallet(partner_id: str, body: PartnerCreditIn):
    entry = deps.accounts.credit_partner(principal(app), partner_id, body, header(app, "Idempotency-Key"))
    return json_response(201, entry, R.PartnerLedgerEntryOut)


# --- a partner's limits on what its master wallet gives automatically (issue 30) ----------------------------
@app.get("/partners/<partner_id>/auto-credit-limits",
         responses=documented(200, R.AutoCreditLimitPage, "The daily limits, by currency", 403, 404, 422))
def list_auto_credit_limits(partner_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.auto_credit_limits.list(principal(app), partner_id, limit, cursor),
                         R.AutoCreditLimitPage)


@app.put("/partners/<partner_id>/auto-credit-limits/<currency>",
         responses=documented(200, R.AutoCreditLimitOut, "The daily limit", 403, 404, 422))
def put_auto_credit_limit(partner_id: str, currency: str, body: AutoCreditLimitIn):
    return json_response(200, deps.auto_credit_limits.put(principal(app), partner_id, currency, body),
                         R.AutoCreditLimitOut)


@app.delete("/partners/<partner_id>/auto-credit-limits/<currency>",
            responses=documented(204, None, "Removed", 403, 404))
def delete_auto_credit_limit(partner_id: str, currency: str):
    deps.auto_credit_limits.delete(principal(app), partner_id, currency)
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    return handle(app, event, context)
