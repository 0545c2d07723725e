"""Stripe slower than Lambda (issue 25): how long the refund and the online top-up take to answer, and what they
answer, when the local Stripe answers at once, answers 30 s late (it still does the work), or answers 503 to every
try. Through the real handlers (one process per execution environment, the template's 10 s timeout and its
remaining time) against DynamoDB Local; Stripe's delay and failures are the local Stripe's FAULTS.

Before issue 25 the SDK waited up to 80 s per try with 2 retries: a slow Stripe let Lambda kill the function at
10 s (API Gateway's 500) and a retry without a key could refund twice."""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Callable
from typing import Any

from local.aws import LocalAws
from local.lambdas import FunctionHost
from local.stripe import FAULTS, LocalStripe
from local.stripe import overrides as stripe_overrides
from local.template import Template
from tests.conftest import load_event
from tests.stripe_console import pay

RUNS = 5


def _claims(partner: str) -> dict[str, Any]:
    return {"partner_id": partner, "groups": "[finance-admin]", "sub": "bench@example.com"}


class _Stack:
    def __init__(self) -> None:
        template = Template.load()
        self.aws = LocalAws.start().provision(template)
        self.stripe = LocalStripe(port=0).start()
        self.host = FunctionHost(template, {**self.aws.overrides("ERROR"), **stripe_overrides(self.stripe)})
        self.partner = f"ptn_{secrets.token_hex(6)}"

    def call(self, function: str, sample: str, **kw: Any) -> tuple[int, dict[str, Any], float]:
        event = load_event(sample, claims=_claims(self.partner), **kw)
        started = time.perf_counter()
        answer = self.host.invoke(function, event)
        took = time.perf_counter() - started
        return answer["statusCode"], json.loads(answer.get("body") or "{}"), took

    def card_payment(self) -> str:
        """A credited SGD 50.00 card payment's id (online top-up paid; its webhook delivered)."""
        _, org, _ = self.call("AccountsFunction", "accounts/create_organization.json",
                              body={"name": f"Bench {secrets.token_hex(4)}", "currency": "SGD"},
                              headers={"idempotency-key": None})
        _, top_up, _ = self.call("AccountsFunction", "accounts/start_online_top_up.json", path={"org_id": org["id"]},
                                 body={"amount": 5_000, "trigger_amount": 0, "limit_threshold": 0,
                                       "auto_trigger": False}, headers={"idempotency-key": None})
        intent = pay(self.stripe.endpoint, top_up["payment_intent_id"], top_up["client_secret"])
        from tests.handlers.stripe_support import delivery, stripe_event

        assert self.host.invoke("StripeWebhooksFunction", delivery(stripe_event("payment_intent.succeeded", intent)))
        _, page, _ = self.call("PaymentsFunction", "payments/list_payments.json", query={"org_id": org["id"]})
        return str(page["items"][0]["id"])

    def new_org(self) -> str:
        _, org, _ = self.call("AccountsFunction", "accounts/create_organization.json",
                              body={"name": f"Bench {secrets.token_hex(4)}", "currency": "SGD"},
                              headers={"idempotency-key": None})
        return str(org["id"])

    def refund(self, payment_id: str) -> tuple[int, str, float]:
        status, body, took = self.call("AllocationFunction", "allocation/refund_payment.json",
                                       path={"payment_id": payment_id}, body={"amount": 100},
                                       headers={"idempotency-key": f"bench-{secrets.token_hex(6)}"})
        return status, _what(body), took

    def online_top_up(self, org_id: str) -> tuple[int, str, float]:
        status, body, took = self.call("AccountsFunction", "accounts/start_online_top_up.json", path={"org_id": org_id},
                                       body={"amount": 5_000, "trigger_amount": 0, "limit_threshold": 0,
                                             "auto_trigger": False},
                                       headers={"idempotency-key": f"bench-{secrets.token_hex(6)}"})
        return status, _what(body), took

    def stop(self) -> None:
        self.host.stop()
        self.stripe.stop()
        self.aws.stop()


def _what(body: dict[str, Any]) -> str:
    return str(body.get("status") or body.get("error", {}).get("code") or body.get("id", "")[:4])


def _row(label: str, runs: list[tuple[int, str, float]]) -> str:
    answers = sorted({f"{s} {what}" for s, what, _ in runs})
    times = [t for _, _, t in runs]
    return (f"  {label:<44} {', '.join(answers):<34} p50 {statistics.median(times):6.2f} s, "
            f"max {max(times):6.2f} s (n={len(times)})")


def main() -> list[str]:
    stack = _Stack()
    out = ["Stripe slower than Lambda (the functions' timeout: 10 s; a try: 2 s connect + 4 s read, at most 3 tries,"
           " each only if it and 2 s to record fit)"]
    none: Callable[[], None] = lambda: None  # noqa: E731
    cases: list[tuple[str, Callable[[], None], Callable[[], str], Callable[[str], tuple[int, str, float]]]] = [
        ("refund, Stripe answering at once", none, stack.card_payment, stack.refund),
        ("refund, Stripe answering 30 s late", lambda: FAULTS.delay(30, "/v1/refunds"), stack.card_payment,
         stack.refund),
        ("refund, Stripe answering 503 to every try", lambda: FAULTS.fail(503, 10**6, "/v1/refunds"),
         stack.card_payment, stack.refund),
        ("online top-up, Stripe answering at once", none, stack.new_org, stack.online_top_up),
        ("online top-up, Stripe answering 30 s late", lambda: FAULTS.delay(30, "/v1/"), stack.new_org,
         stack.online_top_up),
        ("online top-up, Stripe answering 503", lambda: FAULTS.fail(503, 10**6, "/v1/"), stack.new_org,
         stack.online_top_up),
    ]
    try:
        stack.refund(stack.card_payment())  # warm the execution environments
        for label, fault, prepare, request in cases:
            runs = []
            for _ in range(RUNS):
                FAULTS.reset()
                prepared = prepare()  # with Stripe answering: only the measured request meets the fault
                fault()
                runs.append(request(prepared))
            FAULTS.reset()
            out.append(_row(label, runs))
    finally:
        FAULTS.reset()
        stack.stop()
    return out


if __name__ == "__main__":
    print("\n".join(main()))
