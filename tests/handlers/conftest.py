"""Handler tests: the real handler modules, invoked with events/ samples through the local host's
execution environments (one process each, one request at a time) against DynamoDB Local, exactly as
the local stack runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.aws import TABLE_NAME, LocalAws
from local.dynamodb import client
from local.lambdas import FunctionHost
from local.streams import StreamDelivery
from local.stripe import LocalStripe
from local.stripe import overrides as stripe_overrides
from local.template import Template
from tests.conftest import load_event, snapshot


class Lambdas:
    def __init__(self, host: FunctionHost, aws: LocalAws, stripe: LocalStripe | None,
                 template: Template | None = None):
        self.host = host
        self.aws = aws
        self.stripe = stripe
        self.ddb = client(aws.dynamodb.endpoint)
        # the stream is delivered when a test says so: `deliver_stream()`
        self.streams = StreamDelivery(aws, host, template or Template.load())

    def deliver_stream(self) -> int:
        """The table's stream so far, to the functions mapped to it (as Lambda would, a moment after each write)."""
        return self.streams.drain()

    def call(self, function: str, event: dict[str, Any]) -> tuple[int, Any]:
        res = self.host.invoke(function, event)
        body = res.get("body")
        return res["statusCode"], (json.loads(body) if body else None)

    def accounts(self, name: str, **kw: Any) -> tuple[int, Any]:
        return self.call("AccountsFunction", load_event(f"accounts/{name}.json", **kw))

    def payments(self, name: str, **kw: Any) -> tuple[int, Any]:
        return self.call("PaymentsFunction", load_event(f"payments/{name}.json", **kw))

    def allocation(self, name: str, **kw: Any) -> tuple[int, Any]:
        return self.call("AllocationFunction", load_event(f"allocation/{name}.json", **kw))

    def reports(self, name: str, **kw: Any) -> tuple[int, Any]:
        return self.call("ReportsFunction", load_event(f"reports/{name}.json", **kw))

    def snapshot(self) -> list[dict[str, Any]]:
        return snapshot(self.ddb, TABLE_NAME)


@pytest.fixture(scope="session")
def lambdas() -> Iterator[Lambdas]:
    template = Template.load()
    aws = LocalAws.start().provision(template)
    stripe = LocalStripe(port=0).start()  # webhooks: tests deliver them to the function themselves
    host = FunctionHost(template, {**aws.overrides("ERROR"), **stripe_overrides(stripe)})
    host.apply_environment("WorkerFunction")  # the tests read the table with the functions' own settings
    try:
        yield Lambdas(host, aws, stripe, template)
    finally:
        host.stop()
        stripe.stop()
        aws.stop()


def admin(partner: str, sub: str = "admin@example.com") -> dict[str, Any]:
    return {"claims": {"partner_id": partner, "groups": "[finance-admin]", "sub": sub}}


def viewer(partner: str) -> dict[str, Any]:
    return {"claims": {"partner_id": partner, "groups": "[finance-viewer]", "sub": "viewer@example.com"}}


# --- given-steps the handler tests share (one definition each) --------------------------------------------
NO_KEY = {"idempotency-key": None}  # the samples in events/ carry a key; most tests send none
PLATFORM = {"claims": {"sub": "ops@platform.example", "groups": "[platform-admin]", "partner_id": "ptn_platform"}}


def create_org(lambdas: Lambdas, partner: str, name: str = "Acme Telecom", currency: str = "SGD") -> dict[str, Any]:
    """A new organization of `partner` (names are unique per partner: pass another for a second one)."""
    status, body = lambdas.accounts("create_organization", body={"name": name, "currency": currency},
                                    headers=NO_KEY, **admin(partner))
    assert status == 201, body
    return body


def record(lambdas: Lambdas, partner: str, **fields: Any) -> dict[str, Any]:
    """A recorded payment (SGD 125.50 by cheque unless `fields` say otherwise)."""
    body = {"amount": 12_550, "currency": "SGD", "received_date": "2026-11-20", "method": "cheque", **fields}
    status, payment = lambdas.payments("create_payment", body=body, headers=NO_KEY, **admin(partner))
    assert status == 201, payment
    return payment


def allocate(lambdas: Lambdas, partner: str, payment: dict[str, Any], *lines: tuple[dict[str, Any], int],
             expect: int | None = 200) -> Any:
    """Allocates the payment to invoices, `lines` being (invoice, amount) pairs (any status: expect=None)."""
    body = {"allocations": [{"invoice_id": i["id"], "amount": a} for i, a in lines]}
    status, res = lambdas.allocation("allocate_payment", path={"payment_id": payment["id"]}, body=body,
                                     headers=NO_KEY, **admin(partner))
    assert expect is None or status == expect, res
    return res


def credit(lambdas: Lambdas, partner: str, amount: Any, currency: str = "SGD", who: dict[str, Any] = PLATFORM,
           key: str | None = None) -> tuple[int, Any]:
    """A platform admin (unless `who` says otherwise) credits the partner's master wallet."""
    return lambdas.accounts("credit_partner_wallet", path={"partner_id": partner}, headers={"idempotency-key": key},
                            body={"amount": amount, "currency": currency, "reference": "wire"}, **who)


def balance(lambdas: Lambdas, partner: str, org: dict[str, Any]) -> int:
    """The organization's wallet balance, as its partner's viewer reads it."""
    return lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **viewer(partner))[1]["balance"]


def read_pages(lambdas: Lambdas, function: str, event: str, path: dict[str, str], who: dict[str, Any],
               limit: int = 100) -> list[list[dict[str, Any]]]:
    """Every page of a list, following its cursors (each page as answered)."""
    pages, query = [], {"limit": str(limit)}
    while True:
        status, body = getattr(lambdas, function)(event, path=path, query=query, **who)
        assert status == 200, body
        pages.append(body["items"])
        if body["next_cursor"] is None:
            return pages
        query = {"limit": str(limit), "cursor": body["next_cursor"]}
