"""DynamoDB requests per route, counted from botocore's own events (before-call) on each function's
client, against DynamoDB Local. Target: reads 1 request; writes <= 2 with idempotency.

Beside each count, the capacity units the requests consumed as DynamoDB Local reports them
(`ReturnConsumedCapacity=INDEXES` added to every request: read units, write units, and the write units of each
global secondary index), the Stripe API calls the route made (the Stripe SDK's requests, GET a read, any other a
write) and its handling time in this process (warm; on this machine: an upper bound of Lambda's duration).
The capacity plan (docs/capacity.md) is derived from these rows; the sweep and the worker are counted per due
organization."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import stripe._http_client as stripe_http

from bench.units import Indexes, partition_class, size, write_units
from local.aws import LocalAws
from local.dynamodb import client
from local.lambdas import FunctionHost, LambdaContext
from local.stripe import NO_STRIPE, LocalStripe, overrides
from local.template import Template
from shared.domain.organization import Organization, PaymentSettings
from shared.domain.partner_wallet import PartnerWallet
from shared.ids import new_id
from shared.repositories.dynamo import to_av
from shared.repositories.registry import item_of
from tests.conftest import load_event

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
CAPACITY = READS | {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
DEBITS = 21
STRIPE: Counter[str] = Counter()  # the Stripe SDK's requests in this process: "read" (GET), "write" (the rest)


def _count_stripe() -> None:
    """Wraps the Stripe SDK's one request method (every call of the gateway goes through it) with a counter."""
    original = stripe_http.HTTPClient.request_with_retries
    if getattr(original, "counted", False):
        return

    def counted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        STRIPE["read" if method.lower() == "get" else "write"] += 1
        return original(self, method, *args, **kwargs)

    counted.counted = True  # type: ignore[attr-defined]
    stripe_http.HTTPClient.request_with_retries = counted  # type: ignore[method-assign]


WRITES = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}
OTHER = {"SweepFunction": "sqs", "WorkerFunction": "events"}  # the functions' other AWS clients, counted too


@dataclass
class Write:
    """One item a write request names: its action, key, the item there before, a Put's item, in a transaction?"""

    kind: str
    key: dict[str, Any]
    before: dict[str, Any] | None
    put: dict[str, Any] | None
    transactional: bool


class Counted:
    def __init__(self, host: FunctionHost, name: str, units: bool = False):
        """`units`: also the capacity units, sizes and DynamoDB's time (each write then reads its items before and
        after it, outside the handler's measured time; bench.webhook times handlers without that)."""
        self.fn = host.functions[name]
        self.module = host.load_module(name)
        self.indexes = Indexes(host.template)
        self.calls: Counter[str] = Counter()
        # "read" (as DynamoDB Local reports them), "write" (bench.units: table and GSIs), "table", each GSI's,
        # and per partition class ("pk:ORG#*", "GSI1:P#*#ORG")
        self.units: Counter[str] = Counter()
        self._writing: list[Write] = []
        self._raw_client: Any = None
        self._hooks = 0.0  # seconds spent reading items for the units: not the handler's time
        self._sent, self.dynamo_s = 0.0, 0.0  # seconds waiting for DynamoDB's answers
        self.stripe: Counter[str] = Counter()
        self.ms = 0.0
        events = self.module.deps.db.client.meta.events
        events.register("before-call.dynamodb", self._count)
        self.sizing = units
        if units:
            events.register("provide-client-params.dynamodb", self._ask_capacity)
            events.register("after-call.dynamodb", self._consumed)
        self.other: Counter[str] = Counter()  # SQS / EventBridge requests
        self.sizes: dict[str, int] = {}  # bytes of each item written (DynamoDB's item size), by key shape
        if name in OTHER:
            service = getattr(self.module.deps, OTHER[name])
            service.meta.events.register("before-call", self._other)

    def _other(self, model: Any, **_: Any) -> None:
        self.other[f"{model.service_model.service_name}:{model.name}"] += 1

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY:
            params.setdefault("ReturnConsumedCapacity", "INDEXES")

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls[model.name] += 1
        self._sent = time.perf_counter()
        if not self.sizing or (model.name not in WRITES and model.name != "TransactWriteItems"):
            return
        body = json.loads(params["body"])
        actions = ([(kind, a) for t in body["TransactItems"] for kind, a in t.items()]
                   if model.name == "TransactWriteItems" else [(WRITES[model.name], body)])
        t, raw, self._writing = time.perf_counter(), self._raw(), []
        for kind, action in actions:
            k = {a: action.get("Item", action.get("Key"))[a] for a in ("pk", "sk")}
            before = raw.get_item(TableName=action["TableName"], Key=k, ConsistentRead=True).get("Item")
            self._writing.append(Write(kind, k, before, action.get("Item"), model.name == "TransactWriteItems"))
        self._sent = time.perf_counter()
        self._hooks += self._sent - t

    def _raw(self) -> Any:
        """A client of the same DynamoDB without these hooks: the items before and after a write."""
        if self._raw_client is None:
            self._raw_client = client(self.module.deps.db.settings.dynamodb_endpoint)
        return self._raw_client

    def _consumed(self, parsed: dict[str, Any], model: Any, http_response: Any, **_: Any) -> None:
        self.dynamo_s += time.perf_counter() - self._sent
        if http_response.status_code != 200:  # a failed condition still consumes the write's units (no GSI's)
            for w in self._writing:  # sized as the item there, or the one a Put would have written
                self.units += write_units(self.indexes, w.before or w.put or w.key, None, w.transactional,
                                          check=True)
            self._writing = []
            return
        if model.name in READS:
            consumed = parsed.get("ConsumedCapacity") or []
            self.units["read"] += sum(c.get("CapacityUnits", 0) for c in (
                consumed if isinstance(consumed, list) else [consumed]))
        t = time.perf_counter()
        for w in self._writing:
            if w.kind == "ConditionCheck":  # a write of the item checked (or of its key alone, if absent)
                self.units += write_units(self.indexes, w.before or w.key, None, w.transactional, check=True)
                continue
            after = None if w.kind == "Delete" else self._raw().get_item(
                TableName=self.module.deps.db.table, Key=w.key, ConsistentRead=True).get("Item")
            self.units += write_units(self.indexes, w.before, after, w.transactional)
            if after:  # what the item weighs now (storage), by its partition and sort key's shapes
                kind = after["sk"]["S"].split("#")[0]
                self.sizes[f"{partition_class(after['pk']['S'])}/{kind if len(kind) < 16 else '*'}"] = size(after)
        self._writing = []
        self._hooks += time.perf_counter() - t

    def raw(self, event: dict[str, Any]) -> Any:
        """The handler's own answer (any function), counted."""
        self.calls, self.units, self.other, self._hooks, self.sizes = Counter(), Counter(), Counter(), 0.0, {}
        self.dynamo_s = 0.0
        ctx = LambdaContext(self.fn.logical_id, self.fn.memory, self.fn.timeout, str(uuid.uuid4()))
        _count_stripe()
        before, t = Counter(STRIPE), time.perf_counter()
        res = self.module.lambda_handler(event, ctx)
        self.ms, self.stripe = (time.perf_counter() - t - self._hooks) * 1000, STRIPE - before
        return res

    def __call__(self, event: dict[str, Any]) -> tuple[int, Any, Counter[str]]:
        res = self.raw(event)
        return res["statusCode"], json.loads(res["body"]) if res.get("body") else None, self.calls


class Row:
    """One route's counts (or a per-organization share of a run's: `per` organizations)."""

    def __init__(self, label: str, fn: Counted, per: int = 1):
        self.label, self.per = label, per
        self.calls, self.units, self.stripe, self.ms = Counter(fn.calls), Counter(fn.units), Counter(fn.stripe), fn.ms
        self.other, self.sizes = Counter(fn.other), dict(fn.sizes)

    def reads(self) -> float:
        return sum(n for op, n in self.calls.items() if op in READS) / self.per

    def writes(self) -> float:
        return sum(n for op, n in self.calls.items() if op not in READS) / self.per

    def partitions(self) -> str:
        return " ".join(f"{k}={n / self.per:g}" for k, n in sorted(self.units.items()) if ":" in k)

    def line(self) -> str:
        ops = ", ".join(f"{op}x{n / self.per:g}" for op, n in sorted((self.calls + self.other).items()))
        gsi = " ".join(f"{i}:{n / self.per:g}" for i, n in sorted(self.units.items())
                       if i.startswith("GSI") and ":" not in i)
        stripe = f"{self.stripe['read'] / self.per:g}r/{self.stripe['write'] / self.per:g}w"
        return (f"  {self.label:<46}{self.reads():>6g}{self.writes():>7g}{self.units['read'] / self.per:>6g}"
                f"{self.units['write'] / self.per:>6g}  {gsi or '-':<22}{stripe:>7}{self.ms / self.per:>8.1f}  {ops}")


def main() -> list[str]:
    template = Template.load()
    aws = LocalAws.start().provision(template)
    host = FunctionHost(template, {**aws.overrides("ERROR"), **NO_STRIPE})
    accounts = Counted(host, "AccountsFunction", units=True)
    payments = Counted(host, "PaymentsFunction", units=True)
    allocation = Counted(host, "AllocationFunction", units=True)
    partner = f"ptn_bench{uuid.uuid4().hex[:6]}"
    who: dict[str, Any] = {"claims": {"partner_id": partner, "groups": "[finance-admin]", "sub": "bench"}}
    no_key: dict[str, Any] = {"idempotency-key": None}  # load_event drops a header given as None
    rows: list[Row] = []

    def run(label: str, fn: Counted, event_name: str, **kw: Any) -> Any:
        status, body, _ = fn(load_event(event_name, **who, **kw))
        assert status < 300, (label, status, body)
        rows.append(Row(label, fn))
        return body

    org = run("POST /organizations (Idempotency-Key)", accounts, "accounts/create_organization.json",
              headers={"idempotency-key": "bench-org"})
    run("POST /organizations (no key)", accounts, "accounts/create_organization.json",
        body={"name": "Second", "currency": "SGD"}, headers={"idempotency-key": None})
    org_path = {"org_id": org["id"]}
    run("GET /organizations?name=", accounts, "accounts/list_organizations.json")
    run("GET /organizations/{id}", accounts, "accounts/get_organization.json", path=org_path)
    run("GET /organizations/{id}/wallet", accounts, "accounts/get_wallet.json", path=org_path)
    run("GET .../wallet/transactions", accounts, "accounts/list_wallet_transactions.json", path=org_path)
    run("GET .../payment-settings", accounts, "accounts/get_payment_settings.json", path=org_path)
    run("PUT .../payment-settings", accounts, "accounts/put_payment_settings.json", path=org_path)
    body = {"org_id": org["id"], "amount": 12_550, "currency": "SGD", "received_date": "2026-11-20",
            "method": "cheque"}
    pay = run("POST /payments (org_id, Idempotency-Key)", payments, "payments/create_payment.json", body=body)
    run("POST /payments (replay of that key)", payments, "payments/create_payment.json", body=body)
    run("POST /payments (no org, no key)", payments, "payments/create_payment.json",
        body={k: v for k, v in body.items() if k != "org_id"}, headers={"idempotency-key": None})
    pay_path = {"payment_id": pay["id"]}
    run("GET /payments", payments, "payments/list_payments.json", query={"limit": "25"})
    run("GET /payments?org_id=&status=", payments, "payments/list_payments.json",
        query={"org_id": org["id"], "status": "assigned"})
    run("GET /payments/{id}", payments, "payments/get_payment.json", path=pay_path)
    run("PATCH /payments/{id} (If-Match)", payments, "payments/patch_payment.json", path=pay_path,
        body={"remark": "bench"})
    run("GET /payments/{id}/history", payments, "payments/payment_history.json", path=pay_path)
    run("DELETE /payments/{id}", payments, "payments/delete_payment.json", path=pay_path)

    def invoice(amount: int, kind: str = "standard") -> dict[str, Any]:
        _, inv, _ = allocation(load_event("allocation/create_invoice.json", **who, headers=no_key,
                                          body={"org_id": org["id"], "type": kind, "amount": amount,
                                                "currency": "SGD", "issued_date": "2026-11-01"}))
        return inv

    run("POST /invoices", allocation, "allocation/create_invoice.json",
        body={"org_id": org["id"], "type": "standard", "amount": 100, "currency": "SGD", "issued_date": "2026-11-01"})
    big = {k: v for k, v in body.items() if k != "org_id"} | {"amount": 10**9}
    free = run("POST /payments (no org, no key)", payments, "payments/create_payment.json", body=big,
               headers={"idempotency-key": None})
    free_path = {"payment_id": free["id"]}
    run("PUT /payments/{id}/assignment", allocation, "allocation/assign_payment.json", path=free_path,
        body={"org_id": org["id"]})
    for n in (1, 10, 40):
        invoices = [invoice(1_000) for _ in range(n)]
        run(f"POST .../allocations ({n} invoices)", allocation, "allocation/allocate_payment.json", path=free_path,
            body={"allocations": [{"invoice_id": i["id"], "amount": 500} for i in invoices]},
            headers={"idempotency-key": f"alloc-{n}"})
    top = invoice(700, "top_up")
    run("POST .../allocations (provisions a top-up)", allocation, "allocation/allocate_payment.json",
        path=free_path, body={"allocations": [{"invoice_id": top["id"], "amount": 700}]},
        headers={"idempotency-key": None})
    run("DELETE .../allocations/{invoice_id}", allocation, "allocation/release_allocation.json",
        path={**free_path, "invoice_id": invoices[0]["id"]})
    run("POST /payments/{id}/top-ups", allocation, "allocation/top_up_from_payment.json", path=free_path,
        body={"amount": 5_000})
    run("POST .../wallet/debits (Idempotency-Key)", accounts, "accounts/debit_wallet.json", path=org_path)
    debits = []
    for i in range(DEBITS):  # the plan's busiest route: its handling time as a median, not one sample
        status, _, _ = accounts(load_event("accounts/debit_wallet.json", **who, path=org_path,
                                           body={"amount": 1, "reference": f"bench-{i}"},
                                           headers={"idempotency-key": f"bench-debit-{i}"}))
        assert status == 201 or status == 200, status
        debits.append(Row(f"POST .../wallet/debits (median of {DEBITS})", accounts))
    rows.append(sorted(debits, key=lambda r: r.ms)[DEBITS // 2])
    run("GET /invoices?org_name=", allocation, "allocation/list_invoices.json",
        query={"org_name": "acme"})
    run("GET /invoices/{id}", allocation, "allocation/get_invoice.json", path={"invoice_id": top["id"]})
    # Money that comes back (#10): each write with the sample's Idempotency-Key
    owed, settled = invoice(1_000), invoice(1_000)
    bounced = run("POST /payments (org_id, Idempotency-Key)", payments, "payments/create_payment.json",
                  body=body | {"amount": 5_000}, headers={"idempotency-key": "bounced"})
    bounced_path = {"payment_id": bounced["id"]}
    run("POST .../allocations (2 invoices)", allocation, "allocation/allocate_payment.json", path=bounced_path,
        body={"allocations": [{"invoice_id": settled["id"], "amount": 1_000},
                              {"invoice_id": owed["id"], "amount": 500}]}, headers={"idempotency-key": None})
    run("POST /payments/{id}/top-ups", allocation, "allocation/top_up_from_payment.json", path=bounced_path,
        body={"amount": 500})
    note = run("POST .../credit-notes (due reduced only)", allocation, "allocation/create_credit_note.json",
               path={"invoice_id": owed["id"]}, body={"amount": 250, "reason": "billing_error"})
    assert (note["due_reduced"], note["wallet_credited"]) == (250, 0), note
    credited = run("POST .../credit-notes (credits the wallet)", allocation, "allocation/create_credit_note.json",
                   path={"invoice_id": settled["id"]}, body={"amount": 400, "reason": "service_issue"})
    assert (credited["due_reduced"], credited["wallet_credited"]) == (0, 400), credited
    run("GET /credit-notes?invoice_id=", allocation, "allocation/list_credit_notes.json",
        query={"invoice_id": owed["id"], "limit": "20"})
    run("GET /credit-notes?org_id=", allocation, "allocation/list_credit_notes.json",
        query={"org_id": org["id"], "limit": "20"})
    run("GET /credit-notes/{id}", allocation, "allocation/get_credit_note.json", path={"credit_note_id": note["id"]})
    run("POST /invoices/{id}/void", allocation, "allocation/void_invoice.json", path={"invoice_id": invoice(300)["id"]})
    out = run("POST .../bounce (2 invoices, a top-up)", allocation, "allocation/bounce_payment.json",
              path=bounced_path)
    assert out["status"] == "bounced", out
    run("POST .../withdrawals (Idempotency-Key)", accounts, "accounts/withdraw.json", path=org_path,
        body={"amount": 100, "method": "telegraphic_transfer", "reference": "TT-2026-1187"})
    run("GET .../wallet/withdrawals", accounts, "accounts/list_withdrawals.json", path=org_path)
    spare = run("POST /payments (org_id, Idempotency-Key)", payments, "payments/create_payment.json",
                body=body | {"amount": 1}, headers={"idempotency-key": "spare"})
    run("DELETE /payments/{id}/assignment", allocation, "allocation/unassign_payment.json",
        path={"payment_id": spare["id"]})
    # Card refunds (#11), against the local Stripe: a card top-up credited by its webhook, then refunded
    from bench.webhook import paid_card_top_up  # (it imports Counted from here)

    stripe = LocalStripe(port=0).start()
    card_host = FunctionHost(template, {**aws.overrides("ERROR"), **overrides(stripe)})
    webhook = Counted(card_host, "StripeWebhooksFunction", units=True)
    card_allocation = Counted(card_host, "AllocationFunction", units=True)
    paid_card_top_up(stripe, webhook, org["id"], partner, "otu_benchrequests")
    rows.append(Row("POST /webhooks/stripe (succeeded: credits)", webhook))
    card = next(p for p in payments(load_event("payments/list_payments.json", **who,
                                               query={"org_id": org["id"], "limit": "100"}))[1]["items"]
                if p["method"] == "stripe")
    run("POST /payments/{id}/refunds (Idempotency-Key)", card_allocation, "allocation/refund_payment.json",
        path={"payment_id": card["id"]})
    run("GET /payments/{id}/refunds", card_allocation, "allocation/list_refunds.json",
        path={"payment_id": card["id"]})
    card_accounts = Counted(card_host, "AccountsFunction", units=True)
    for label in ("POST .../online-top-ups (first: a customer)", "POST .../online-top-ups (a second)"):
        run(label, card_accounts, "accounts/start_online_top_up.json", path=org_path,
            headers={"idempotency-key": f"bench-{uuid.uuid4().hex[:8]}"})
    rows += automatic(host, aws, partner)
    rows.append(card_top_up(card_host, aws, stripe, partner))
    stripe.stop()
    aws.stop()

    lines = ["DynamoDB requests and capacity units per route (botocore events on the function's client; RCU as "
             "DynamoDB Local reports them; WCU from the items' sizes and the template's GSIs (bench.units), the GSIs' "
             "share beside; Stripe API calls read/write; ms: in-process, warm, this machine: an upper bound)",
             f"  {'route':<46}{'reads':>6}{'writes':>7}{'RCU':>6}{'WCU':>6}  {'of which GSI WCU':<22}{'stripe':>7}"
             f"{'ms':>8}  operations"]
    lines += [row.line() for row in rows]
    lines += ["Write units per partition (ids as *; table partitions as pk:, index partitions as GSIn:), per request",
              *(f"  {row.label:<46}{row.partitions()}" for row in rows if row.units["write"]),
              "Items written, bytes (DynamoDB's item size: names and values), per request",
              *(f"  {row.label:<46}" + " ".join(f"{k}={n}" for k, n in sorted(row.sizes.items()))
                for row in rows if row.sizes)]
    return lines


def automatic(host: FunctionHost, aws: LocalAws, partner: str, due: int = 20) -> list[Row]:
    """The daily sweep and the worker, per due organization: `due` organizations written due (the repositories'
    own items), half `master_account` (their partner's master wallet covers them), half `cheque_or_tt`."""
    from local.aws import TABLE_NAME, sqs_event
    from local.dynamodb import client

    at = "2026-11-21T00:00:00.000Z"
    ddb, sqs = client(aws.dynamodb.endpoint), client(aws.sqs.endpoint, "sqs")
    orgs = [Organization(id=new_id("org"), partner_id=partner, name=f"Due {i}", currency="SGD", created_at=at,
                         created_by="bench", listed_by_lock=True, wallet_updated_at=at, balance=0,
                         settings=PaymentSettings(method="master_account" if i % 2 else "cheque_or_tt",
                                                  trigger_amount=1_000, limit_threshold=500, auto_trigger=True,
                                                  updated_at=at)) for i in range(due)]
    wallet = PartnerWallet(partner_id=partner, currency="SGD", balance=10**12, updated_at=at, version=1)
    ddb.batch_write_item(RequestItems={TABLE_NAME: [{"PutRequest": {"Item": to_av(item_of(r))}}
                                                    for r in [*orgs, wallet]]})
    sweep, worker = Counted(host, "SweepFunction", units=True), Counted(host, "WorkerFunction", units=True)
    result = sweep.raw(load_event("sweep/scheduled.json"))
    rows = [Row(f"sweep, per due organization ({result['items_read']})", sweep, result["items_read"])]
    url = aws.queue_urls["AutoTopUpQueue"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    messages: dict[str, dict[str, Any]] = {}
    while len(messages) < result["queued"]:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            messages[json.loads(m["Body"])["org_id"]] = m
    for method in ("master_account", "cheque_or_tt"):
        for org in [o for o in orgs if o.settings.method == method][:1]:
            out = worker.raw(sqs_event([messages[org.id]], arn))
            assert not out.get("batchItemFailures"), out
            rows.append(Row(f"worker, one top-up ({method})", worker))
    return rows



def card_top_up(host: FunctionHost, aws: LocalAws, stripe: LocalStripe, partner: str) -> Row:
    """The worker's automatic top-up of an organization paying by its saved card (`stripe`), against the local
    Stripe: its off-session charge, and what it writes."""
    from local.aws import TABLE_NAME, sqs_event
    from tests.stripe_console import CARD_OK, stripe_client

    sdk = stripe_client(stripe.endpoint)
    customer = sdk.v1.customers.create({"name": "Bench card"})
    method = sdk.v1.payment_methods.create({"type": "card", "card": {"number": CARD_OK, "exp_month": 12,
                                                                     "exp_year": 2031, "cvc": "123"}})
    sdk.v1.payment_methods.attach(method.id, {"customer": customer.id})
    at = "2026-11-21T00:00:00.000Z"
    org = Organization(id=new_id("org"), partner_id=partner, name="Card due", currency="SGD", created_at=at,
                       created_by="bench", listed_by_lock=True, wallet_updated_at=at, balance=0,
                       stripe_customer_id=customer.id,
                       stripe_payment_method_id=method.id,
                       settings=PaymentSettings(method="stripe", trigger_amount=1_000, limit_threshold=500,
                                                auto_trigger=True, updated_at=at))
    client(aws.dynamodb.endpoint).put_item(TableName=TABLE_NAME, Item=to_av(item_of(org)))
    worker = Counted(host, "WorkerFunction", units=True)
    body = json.dumps({"business_date": "2026-11-21", "org_id": org.id}, sort_keys=True)
    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "bench", "Body": body}
    out = worker.raw(sqs_event([message], "arn:aws:sqs:us-east-1:000000000000:AutoTopUpQueue"))
    assert not out.get("batchItemFailures"), out
    return Row("worker, one top-up (stripe: saved card)", worker)


if __name__ == "__main__":
    print("\n".join(main()))
