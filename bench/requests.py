"""DynamoDB requests per route, counted from botocore's own events (before-call) on each function's
client, against DynamoDB Local. Target: reads 1 request; writes <= 2 with idempotency."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from local.aws import LocalAws
from local.lambdas import FunctionHost, LambdaContext
from local.stripe import NO_STRIPE, LocalStripe, overrides
from local.template import Template
from tests.conftest import load_event

READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


class Counted:
    def __init__(self, host: FunctionHost, name: str):
        self.fn = host.functions[name]
        self.module = host.load_module(name)
        self.calls: Counter[str] = Counter()
        self.module.deps.db.client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def __call__(self, event: dict[str, Any]) -> tuple[int, Any, Counter[str]]:
        self.calls = Counter()
        ctx = LambdaContext(self.fn.logical_id, self.fn.memory, self.fn.timeout, str(uuid.uuid4()))
        res = self.module.lambda_handler(event, ctx)
        return res["statusCode"], json.loads(res["body"]) if res.get("body") else None, self.calls


def main() -> list[str]:
    template = Template.load()
    aws = LocalAws.start().provision(template)
    host = FunctionHost(template, {**aws.overrides("ERROR"), **NO_STRIPE})
    accounts, payments = Counted(host, "AccountsFunction"), Counted(host, "PaymentsFunction")
    allocation = Counted(host, "AllocationFunction")
    partner = f"ptn_bench{uuid.uuid4().hex[:6]}"
    who: dict[str, Any] = {"claims": {"partner_id": partner, "groups": "[finance-admin]", "sub": "bench"}}
    no_key: dict[str, Any] = {"idempotency-key": None}  # load_event drops a header given as None
    rows: list[tuple[str, Counter[str]]] = []

    def run(label: str, fn: Counted, event_name: str, **kw: Any) -> Any:
        status, body, calls = fn(load_event(event_name, **who, **kw))
        assert status < 300, (label, status, body)
        rows.append((label, calls))
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
    webhook, card_allocation = Counted(card_host, "StripeWebhooksFunction"), Counted(card_host, "AllocationFunction")
    paid_card_top_up(stripe, webhook, org["id"], partner, "otu_benchrequests")
    card = next(p for p in payments(load_event("payments/list_payments.json", **who,
                                               query={"org_id": org["id"], "limit": "100"}))[1]["items"]
                if p["method"] == "stripe")
    run("POST /payments/{id}/refunds (Idempotency-Key)", card_allocation, "allocation/refund_payment.json",
        path={"payment_id": card["id"]})
    run("GET /payments/{id}/refunds", card_allocation, "allocation/list_refunds.json",
        path={"payment_id": card["id"]})
    stripe.stop()
    aws.stop()

    lines = ["DynamoDB requests per route (botocore before-call events on the function's client; a refund also "
             "makes one Stripe call)",
             f"  {'route':<42}{'reads':>6}{'writes':>7}  operations"]
    for label, calls in rows:
        reads = sum(n for op, n in calls.items() if op in READS)
        writes = sum(n for op, n in calls.items() if op not in READS)
        ops = ", ".join(f"{op}x{n}" for op, n in sorted(calls.items()))
        lines.append(f"  {label:<42}{reads:>6}{writes:>7}  {ops}")
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
