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
from local.stripe import LocalStripe
from local.stripe import overrides as stripe_overrides
from local.template import Template
from tests.conftest import load_event, snapshot


class Lambdas:
    def __init__(self, host: FunctionHost, aws: LocalAws, stripe: LocalStripe):
        self.host = host
        self.aws = aws
        self.stripe = stripe
        self.ddb = client(aws.dynamodb.endpoint)

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
        yield Lambdas(host, aws, stripe)
    finally:
        host.stop()
        stripe.stop()
        aws.stop()


def admin(partner: str, sub: str = "admin@example.com") -> dict[str, Any]:
    return {"claims": {"partner_id": partner, "groups": "[finance-admin]", "sub": sub}}


def viewer(partner: str) -> dict[str, Any]:
    return {"claims": {"partner_id": partner, "groups": "[finance-viewer]", "sub": "viewer@example.com"}}
