"""Invoices, assignment, allocation and wallet top-ups (shared.services.allocation), credit notes, void invoices and
bounced payments (shared.services.money_back), card refunds (shared.services.card_money_back): their thin HTTP edge."""

from typing import Annotated, Literal, get_args

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import responses as R
from shared import snapstart
from shared.api import (
    Cursor,
    DateQuery,
    InvoiceIdQuery,
    Limit,
    OrgIdQuery,
    create_resolver,
    handle,
    header,
    json_response,
    principal,
)
from shared.container import Container
from shared.models import (
    AllocationsIn,
    AssignmentIn,
    BounceIn,
    CreditNoteIn,
    InvoiceCreate,
    RefundIn,
    TopUpIn,
    VoidIn,
)
from shared.repositories.credit_notes import CreditNoteFilters
from shared.repositories.invoices import InvoiceFilters
from shared.responses import documented
from shared.vocabulary import InvoiceStatus, InvoiceType

logger = Logger()
metrics = Metrics()
deps = Container.from_env()
app = create_resolver(logger)
# SnapStart: primed before the snapshot, reseeded after each restore
snapstart.prepare(deps, logger, use_cases=("allocation", "money_back", "card_money_back", "history"),
                  modules=("shared.idempotency_store", "stripe"))

@app.post("/invoices", responses=documented(201, R.InvoiceOut, "The invoice", 403, 409, 422))
def create_invoice(body: InvoiceCreate):
    return json_response(201, deps.allocation.create_invoice(principal(app), body, header(app, "Idempotency-Key")),
                         R.InvoiceOut)


_STATUS = "(" + "|".join(get_args(InvoiceStatus)) + ")"
StatusesQuery = Annotated[str | None, Query(
    pattern=f"^{_STATUS}(,{_STATUS})*$",
    description="One status or several separated by commas (`unpaid,partially_paid`): invoices in any of them")]


def statuses(status: str | None) -> str | None:
    """The statuses asked for, each once, in one order (the same filter is the same list: its cursors)."""
    return None if status is None else ",".join(sorted(set(status.split(","))))


@app.get("/invoices", responses=documented(200, R.InvoicePage,
                                           "Invoices, newest issued first (`sort=due_date`: oldest due first)", 422))
def list_invoices(org_id: OrgIdQuery = None,
                  org_name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
                  number: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
                  issued_from: DateQuery = None, issued_to: DateQuery = None,
                  status: StatusesQuery = None, type: InvoiceType | None = None,
                  sort: Annotated[Literal["due_date"] | None, Query(
                      description="`due_date`: the oldest due first (an invoice without a due date is due on its "
                                  "issued date), one organization's (with `org_id`; without it 422); left out: the "
                                  "newest issued first")] = None,
                  limit: Limit = 50, cursor: Cursor = None):
    filters = InvoiceFilters(org_id=org_id, org_name=org_name, number=number, issued_from=issued_from,
                             issued_to=issued_to, status=statuses(status), type=type, sort=sort)
    return json_response(200, deps.allocation.list_invoices(principal(app), filters, limit, cursor), R.InvoicePage)


@app.get("/invoices/<invoice_id>", responses=documented(200, R.InvoiceOut, "The invoice", 404))
def get_invoice(invoice_id: str):
    return json_response(200, deps.allocation.get_invoice(principal(app), invoice_id), R.InvoiceOut)


@app.get("/invoices/<invoice_id>/history",
         responses=documented(200, R.AuditPage, "The invoice's audit records, newest first (its allocations, "
                              "releases and provisioning a moment after the payment's)", 404, 422))
def invoice_history(invoice_id: str, limit: Limit = 50, cursor: Cursor = None):
    return json_response(200, deps.history.invoice(principal(app), invoice_id, limit, cursor), R.AuditPage)


@app.put("/payments/<payment_id>/assignment",
         responses=documented(200, R.PaymentOut, "The payment", 403, 404, 409, 422))
def assign(payment_id: str, body: AssignmentIn):
    return json_response(200, deps.allocation.assign(principal(app), payment_id, body), R.PaymentOut)


@app.delete("/payments/<payment_id>/assignment", responses=documented(200, R.PaymentOut, "The payment", 403, 404, 409))
def unassign(payment_id: str):
    return json_response(200, deps.allocation.unassign(principal(app), payment_id), R.PaymentOut)


@app.post("/payments/<payment_id>/allocations",
          responses=documented(200, R.PaymentOut, "The payment", 403, 404, 409, 422))
def allocate(payment_id: str, body: AllocationsIn):
    payment = deps.allocation.allocate(principal(app), payment_id, body, header(app, "Idempotency-Key"))
    if not deps.idempotency.replayed:  # a replay (the same Idempotency-Key) counts nothing again
        metrics.add_metric(name="InvoicesAllocated", unit=MetricUnit.Count, value=len(body.allocations))
    return json_response(200, payment, R.PaymentOut)


@app.delete("/payments/<payment_id>/allocations/<invoice_id>",
            responses=documented(200, R.PaymentOut, "The payment", 403, 404, 409))
def release(payment_id: str, invoice_id: str):
    return json_response(200, deps.allocation.release(principal(app), payment_id, invoice_id), R.PaymentOut)


@app.post("/payments/<payment_id>/top-ups", responses=documented(200, R.PaymentOut, "The payment", 403, 404, 409, 422))
def top_up(payment_id: str, body: TopUpIn):
    return json_response(200, deps.allocation.top_up(principal(app), payment_id, body, header(app, "Idempotency-Key")),
                         R.PaymentOut)


# --- money that comes back ------------------------------------------------------------------------------
@app.post("/invoices/<invoice_id>/credit-notes",
          responses=documented(201, R.CreditNoteOut, "The credit note", 403, 404, 409, 422))
def create_credit_note(invoice_id: str, body: CreditNoteIn):
    note = deps.money_back.create_credit_note(principal(app), invoice_id, body, header(app, "Idempotency-Key"))
    return json_response(201, note, R.CreditNoteOut)


@app.get("/credit-notes", responses=documented(200, R.CreditNotePage, "Credit notes, newest first", 422))
def list_credit_notes(org_id: OrgIdQuery = None, invoice_id: InvoiceIdQuery = None, limit: Limit = 50,
                      cursor: Cursor = None):
    filters = CreditNoteFilters(org_id=org_id, invoice_id=invoice_id)
    return json_response(200, deps.money_back.list_credit_notes(principal(app), filters, limit, cursor),
                         R.CreditNotePage)


@app.get("/credit-notes/<credit_note_id>", responses=documented(200, R.CreditNoteOut, "The credit note", 404))
def get_credit_note(credit_note_id: str):
    return json_response(200, deps.money_back.get_credit_note(principal(app), credit_note_id), R.CreditNoteOut)


@app.post("/invoices/<invoice_id>/void",
          responses=documented(200, R.InvoiceOut, "The void invoice", 403, 404, 409, 422))
def void_invoice(invoice_id: str, body: VoidIn):
    return json_response(200, deps.money_back.void_invoice(principal(app), invoice_id, body,
                                                           header(app, "Idempotency-Key")), R.InvoiceOut)


@app.post("/payments/<payment_id>/bounce",
          responses=documented(200, R.PaymentOut, "The bounced payment", 403, 404, 409, 422))
def bounce_payment(payment_id: str, body: BounceIn):
    payment = deps.money_back.bounce(principal(app), payment_id, body, header(app, "Idempotency-Key"))
    if not deps.idempotency.replayed:
        metrics.add_metric(name="PaymentBounced", unit=MetricUnit.Count, value=1)
    return json_response(200, payment, R.PaymentOut)


@app.post("/payments/<payment_id>/refunds",
          responses=documented(202, R.RefundOut, "The refund, as Stripe answered it", 403, 404, 409, 422, 503))
def refund_payment(payment_id: str, body: RefundIn):
    refund = deps.card_money_back.request_refund(principal(app), payment_id, body, header(app, "Idempotency-Key"))
    if not deps.idempotency.replayed:
        metrics.add_metric(name="CardRefundRequested", unit=MetricUnit.Count, value=1)
    return json_response(202, refund, R.RefundOut)


@app.get("/payments/<payment_id>/refunds", responses=documented(200, R.RefundListOut, "The payment's refunds", 404))
def list_refunds(payment_id: str):
    return json_response(200, deps.card_money_back.list_refunds(principal(app), payment_id), R.RefundListOut)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    deps.begin(context)
    return handle(app, event, context)
