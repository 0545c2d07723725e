"""The Stripe webhook's handling time per event, through the real handler (signature check, one
BatchGetItem, one TransactWriteItems) against DynamoDB Local, with the DynamoDB
requests each kind of delivery makes, counted from botocore's before-call events.

A refund's event (`charge.refunded`) also reads the PaymentIntent's refunds from Stripe (here the local Stripe,
in this process): its time includes that call."""

from __future__ import annotations

import json
import statistics
import time
import uuid
import warnings
from collections import Counter
from typing import Any

from bench.requests import Counted
from local.aws import LocalAws
from local.lambdas import FunctionHost
from local.stripe import NO_STRIPE, WEBHOOKS, LocalStripe, overrides
from local.template import Template
from shared.clock import utc_now_str
from shared.domain.organization import OnlineTopUp
from shared.repositories.unit_of_work import UnitOfWork
from shared.stripe_signature import header_for, verify
from tests.conftest import load_event
from tests.stripe_console import pay, stripe_client

N = 150
N_REFUNDS = 60
warnings.filterwarnings("ignore", message="No application metrics to publish")
SECRET = NO_STRIPE["STRIPE_WEBHOOK_SECRET"]


def _delivery(event: dict[str, Any], secret: str = SECRET) -> dict[str, Any]:
    body = json.dumps(event, separators=(",", ":")).encode()
    return load_event("stripe_webhooks/payment_intent_succeeded.json", raw_body=body.decode(),
                      headers={"stripe-signature": header_for(body, secret, int(time.time()))})


def _event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": type_, "created": int(time.time()),
            "livemode": False, "data": {"object": obj}}


def paid_card_top_up(stripe: LocalStripe, webhook: Counted, org_id: str, partner: str, record_id: str) -> Any:
    """A SGD 50.00 online top-up of `org_id` paid by card in the local Stripe and credited by its webhook (its
    record written directly, as the online top-up route would); returns the PaymentIntent."""
    client = stripe_client(stripe.endpoint)
    intent = client.v1.payment_intents.create({
        "amount": 5_000, "currency": "sgd", "payment_method_types": ["card"],
        "metadata": {"purpose": "online_top_up", "org_id": org_id, "partner_id": partner,
                     "online_top_up_id": record_id}})
    at = utc_now_str()
    record = OnlineTopUp(id=record_id, org_id=org_id, partner_id=partner, amount=5_000, currency="SGD",
                         trigger_amount=2_000, limit_threshold=1_000, auto_trigger=True, customer_id="cus_bench",
                         payment_intent_id=intent.id, created_at=at, created_by="bench", updated_at=at)
    UnitOfWork(webhook.module.deps.db).create(record).commit()
    paid = pay(stripe.endpoint, intent.id, str(intent.client_secret))
    status, body, _ = webhook(_delivery(_event("payment_intent.succeeded", paid)))
    assert (status, body["outcome"]) == (200, "credited"), body
    return intent


def main() -> list[str]:
    template = Template.load()
    aws = LocalAws.start().provision(template)
    stripe = LocalStripe(port=0).start()
    host = FunctionHost(template, {**aws.overrides("ERROR"), **overrides(stripe)})
    accounts, webhook = Counted(host, "AccountsFunction"), Counted(host, "StripeWebhooksFunction")
    partner = f"ptn_bench{uuid.uuid4().hex[:6]}"
    who = {"claims": {"partner_id": partner, "groups": "[finance-admin]", "sub": "bench"}}
    timings: dict[str, list[float]] = {}
    calls: dict[str, Counter[str]] = {}

    def timed(kind: str, event: dict[str, Any], expect: int) -> None:
        t = time.perf_counter()
        status, body, counted = webhook(event)
        timings.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
        calls[kind] = Counter(counted)  # a copy: the handler's counter keeps counting whatever comes next
        assert status == expect, (kind, status, body)

    for i in range(N):
        _, org, _ = accounts(load_event("accounts/create_organization.json", body={"name": f"Bench {i}",
                                                                                  "currency": "SGD"},
                                        headers={"idempotency-key": None}, **who))
        at, intent_id = utc_now_str(), f"pi_bench_{uuid.uuid4().hex}"
        record = OnlineTopUp(id=f"otu_bench{i}", org_id=org["id"], partner_id=partner, amount=5_000, currency="SGD",
                             trigger_amount=2_000, limit_threshold=1_000, auto_trigger=True, customer_id="cus_bench",
                             payment_intent_id=intent_id, created_at=at, created_by="bench", updated_at=at)
        UnitOfWork(webhook.module.deps.db).create(record).commit()
        intent = {"id": intent_id, "object": "payment_intent", "amount": 5_000, "amount_received": 5_000,
                  "currency": "sgd", "customer": "cus_bench", "payment_method": "pm_bench", "status": "succeeded",
                  "metadata": {"purpose": "online_top_up", "org_id": org["id"], "partner_id": partner,
                               "online_top_up_id": record.id}}
        event = _event("payment_intent.succeeded", intent)
        timed("succeeded (credits)", _delivery(event), 200)
        timed("same event again", _delivery(event), 200)
        timed("unhandled type", _delivery(_event("customer.updated", {"id": "cus_1", "object": "customer"})), 200)
        timed("bad signature (400)", _delivery(event, secret="whsec_wrong"), 400)
    client = stripe_client(stripe.endpoint)
    for i in range(N_REFUNDS):  # a card payment credited, then SGD 20.00 of it refunded in Stripe's Dashboard
        _, org, _ = accounts(load_event("accounts/create_organization.json", body={"name": f"Refund bench {i}",
                                                                                  "currency": "SGD"},
                                        headers={"idempotency-key": None}, **who))
        intent = paid_card_top_up(stripe, webhook, org["id"], partner, f"otu_benchrefund{i}")
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 2_000})
        [refunded] = WEBHOOKS.events("charge.refunded", payment_intent=intent.id)
        timed("charge.refunded (debits)", _delivery(refunded), 200)
        timed("charge.refunded again", _delivery(refunded), 200)
    stripe.stop()
    payload = json.dumps(_event("payment_intent.succeeded", {"id": "pi_x"})).encode()
    header = header_for(payload, SECRET, int(time.time()))
    t = time.perf_counter()
    for _ in range(10_000):
        verify(payload, header, SECRET, now=int(time.time()))
    verify_us = (time.perf_counter() - t) / 10_000 * 1e6
    aws.stop()
    lines = [f"Stripe webhook: handling time per event through the handler, {N} deliveries of each kind, "
             f"{N_REFUNDS} of refunds (DynamoDB Local; a refund's event also lists the PaymentIntent's refunds from "
             "the local Stripe)", f"  {'delivery':<26}{'p50 ms':>8}{'p95 ms':>8}  DynamoDB requests"]
    for kind, samples in timings.items():
        p95 = statistics.quantiles(samples, n=20)[-1]
        requests = ", ".join(f"{n} {op}" for op, n in sorted(calls[kind].items())) or "none"
        lines.append(f"  {kind:<26}{statistics.median(samples):>8.1f}{p95:>8.1f}  {requests}")
    lines.append(f"  signature check alone (HMAC-SHA256, standard library): {verify_us:.1f} us")
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
