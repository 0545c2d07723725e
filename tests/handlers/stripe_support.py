"""Stripe in handler tests: the real SDK against the local Stripe (localstripe, completed), and
webhook deliveries built from its PaymentIntents in Stripe's event envelope, signed as Stripe signs."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from local.aws import TABLE_NAME, sqs_event
from local.stripe import DEFAULT_WEBHOOK_SECRET
from shared.stripe_signature import header_for
from tests.conftest import load_event
from tests.handlers.conftest import NO_KEY, admin, create_org
from tests.stripe_console import CARD_OK, stripe_client
from tests.stripe_console import pay as pay_as_console

WEBHOOK = "StripeWebhooksFunction"
_des = TypeDeserializer()


def stripe_event(type_: str, obj: dict[str, Any], event_id: str | None = None,
                 created: int | None = None) -> dict[str, Any]:
    return {"id": event_id or f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": "2026-10-28.endive",
            "created": created or int(time.time()), "livemode": False, "pending_webhooks": 1, "type": type_,
            "request": {"id": None, "idempotency_key": None}, "data": {"object": obj}}


def delivery(event: dict[str, Any] | bytes, *, secret: str = DEFAULT_WEBHOOK_SECRET, timestamp: int | None = None,
             signature: str | None = "sign") -> dict[str, Any]:
    """The API Gateway event of Stripe POSTing `event` (signed now, unless told otherwise)."""
    body = event if isinstance(event, bytes) else json.dumps(event, separators=(",", ":")).encode()
    headers: dict[str, Any] = {"stripe-signature": None}
    if signature == "sign":
        headers["stripe-signature"] = header_for(body, secret, int(time.time()) if timestamp is None else timestamp)
    elif signature is not None:
        headers["stripe-signature"] = signature
    return load_event("stripe_webhooks/payment_intent_succeeded.json", raw_body=body.decode(), headers=headers)


def deliver(lambdas: Any, event: dict[str, Any] | bytes, **kw: Any) -> tuple[int, Any]:
    return lambdas.call(WEBHOOK, delivery(event, **kw))


def card_org(lambdas: Any, partner: str, name: str | None = None) -> str:
    """A new SGD organization's id, uniquely named unless told (a Stripe test makes several per partner)."""
    return create_org(lambdas, partner, name or f"Card Co {secrets.token_hex(4)}")["id"]


def start_top_up(lambdas: Any, partner: str, org_id: str, amount: int = 5_000, trigger: int = 2_000,
                 threshold: int = 1_000, auto_trigger: bool = True) -> dict[str, Any]:
    body = {"amount": amount, "trigger_amount": trigger, "limit_threshold": threshold, "auto_trigger": auto_trigger}
    status, top_up = lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body=body, headers=NO_KEY,
                                      **admin(partner))
    assert status == 201, top_up
    return top_up


def pay(lambdas: Any, top_up: dict[str, Any], card: str = CARD_OK, authenticate: bool = True) -> dict[str, Any]:
    """The console confirms the top-up's PaymentIntent with a card; returns the PaymentIntent."""
    return pay_as_console(lambdas.stripe.endpoint, top_up["payment_intent_id"], top_up["client_secret"], card,
                          authenticate)


def intent_of(lambdas: Any, intent_id: str) -> dict[str, Any]:
    return stripe_client(lambdas.stripe.endpoint).v1.payment_intents.retrieve(intent_id).to_dict()


def card_customer(lambdas: Any, partner: str, card: str = CARD_OK, name: str | None = None) -> tuple[str, dict]:
    """An organization whose online top-up succeeded (its webhook delivered once)."""
    org_id = card_org(lambdas, partner, name)
    intent = pay(lambdas, start_top_up(lambdas, partner, org_id), card)
    assert intent["status"] == "succeeded"
    status, res = deliver(lambdas, stripe_event("payment_intent.succeeded", intent))
    assert (status, res["outcome"]) == (200, "credited"), res
    return org_id, intent


def worker_event(org_id: str, business_date: str) -> dict[str, Any]:
    """What the SQS event source hands the worker for one queued organization."""
    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": json.dumps(
        {"org_id": org_id, "business_date": business_date})}
    return sqs_event([message], "arn:aws:sqs:us-east-1:0:q")


def run_worker(lambdas: Any, org_id: str, business_date: str) -> dict[str, Any]:
    return lambdas.host.invoke("WorkerFunction", worker_event(org_id, business_date))


VOLATILE = {"id", "created_at", "updated_at", "wallet_updated_at", "at", "version", "expiration", "allocated_at",
            "payment_id", "ledger_entry", "gsi1sk", "gsi2sk", "gsi3sk", "sk", "pk", "gsi2pk", "gsi1pk", "received_date",
            "stripe_id", "payment_intent_id", "customer_id", "payment_method_id", "reference", "org_id", "partner_id",
            "payment_intent", "balance", "charge_sent_at"}
# (ids and times differ between organizations; balances are in "wallet")


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return int(value) if hasattr(value, "as_integer_ratio") and not isinstance(value, bool) else value


def business_state(lambdas: Any, org_id: str) -> dict[str, Any]:
    """What a delivery can change for one organization, without ids and timestamps: its wallet, ledger,
    settings, top-up records, attempts, audit actions, its payments and PaymentIntents credited."""
    ddb = lambdas.ddb
    items = [{k: _des.deserialize(v) for k, v in i.items()} for i in ddb.query(
        TableName=TABLE_NAME, KeyConditionExpression="pk = :p", ConsistentRead=True,
        ExpressionAttributeValues={":p": {"S": f"ORG#{org_id}"}})["Items"]]
    org = next(i for i in items if i["sk"] == "META")
    payments = [{k: _des.deserialize(v) for k, v in i.items()} for i in ddb.query(
        TableName=TABLE_NAME, IndexName="GSI2", KeyConditionExpression="gsi2pk = :p",
        ExpressionAttributeValues={":p": {"S": f"P#{org['partner_id']}#ORGPAY#{org_id}"}})["Items"]]
    markers, start = [], None
    while True:  # a Scan stops each page at 1 MB: read them all (the table grows with the suite)
        page = ddb.scan(TableName=TABLE_NAME, FilterExpression="org_id = :o AND entity = :e", ConsistentRead=True,
                        ExpressionAttributeValues={":o": {"S": org_id}, ":e": {"S": "stripe_marker"}},
                        **({"ExclusiveStartKey": start} if start else {}))
        markers += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    by = lambda prefix: [_clean(i) for i in items if i["sk"].startswith(prefix)]  # noqa: E731
    return {
        "wallet": (int(org["balance"]), int(org["ledger_seq"])), "settings": _clean(org["settings"]),
        "card": (bool(org.get("stripe_customer_id")), bool(org.get("stripe_payment_method_id"))),
        "ledger": by("LEDGER#"), "online_top_ups": by("ONLINE#"), "attempts": by("ATTEMPT#"),
        "audit": sorted(i["action"] for i in items if i["sk"].startswith("AUDIT#")),
        "payments": sorted((_clean(p) for p in payments), key=lambda p: json.dumps(p, sort_keys=True, default=str)),
        # (event markers are bookkeeping: an event that changed nothing leaves none)
        "credited_payment_intents": sum(m["pk"]["S"].startswith("STRIPE#PI#") for m in markers),
    }


# --- card money that comes back (refunds, disputes) ---------------------------------------------------------

def card_payment(lambdas: Any, partner: str, card: str = CARD_OK) -> tuple[dict, dict]:
    """An organization whose SGD 50.00 online top-up by `card` was credited (card_customer): (the organization,
    its `stripe` payment)."""
    org_id, _ = card_customer(lambdas, partner, card)
    return {"id": org_id}, the_payment(lambdas, partner, org_id)


def the_payment(lambdas: Any, partner: str, org_id: str) -> dict[str, Any]:
    """The organization's one payment, as the API shows it now."""
    status, page = lambdas.payments("list_payments", query={"org_id": org_id}, **admin(partner))
    assert status == 200, page
    [payment] = page["items"]
    return payment


FRESH_KEY = "<fresh>"  # refund()'s default: a new Idempotency-Key (None sends none)


def refund(lambdas: Any, partner: str, payment_id: str, amount: int, *, key: str | None = FRESH_KEY,
           reason: str | None = None, who: dict[str, Any] | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"amount": amount} | ({"reason": reason} if reason else {})
    key = f"refund-{secrets.token_hex(8)}" if key == FRESH_KEY else key
    return lambdas.allocation("refund_payment", path={"payment_id": payment_id}, body=body,
                              headers={"idempotency-key": key}, **(who or admin(partner)))


def refunds_listed(lambdas: Any, partner: str, payment_id: str) -> list[dict[str, Any]]:
    status, body = lambdas.allocation("list_refunds", path={"payment_id": payment_id}, **admin(partner))
    assert status == 200, body
    return body["items"]


def stripe_events(intent_id: str, *types: str) -> list[dict[str, Any]]:
    """The events the local Stripe sent about a PaymentIntent, oldest first (tests deliver them themselves)."""
    from local.stripe import WEBHOOKS

    return WEBHOOKS.events(types or None, payment_intent=intent_id)


def ledger_of(lambdas: Any, partner: str, org_id: str) -> list[tuple[str, int]]:
    """The organization's ledger, oldest first, as (type, amount)."""
    status, page = lambdas.accounts("list_wallet_transactions", path={"org_id": org_id}, query={"limit": "100"},
                                    **admin(partner))
    assert status == 200, page
    return [(e["type"], e["amount"]) for e in reversed(page["items"])]
