"""The local host's own costs (issue 9): each execution environment is a process running Amazon's
runtime interface client. Prints an environment's cold start per function (first invocation of a new
process, with DynamoDB Local answering) beside a warm one, the host's overhead per warm invocation (a
probe function that does nothing), and how long the seeded stack takes to be ready and to stop."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from local.aws import LocalAws
from local.lambdas import FunctionHost
from local.process import start_stack
from local.stripe import NO_STRIPE
from local.template import Template
from tests.conftest import load_event

ROUNDS = int(os.environ.get("BENCH_HOST_ROUNDS", 3))
WHO = {"claims": {"partner_id": "ptn_benchhost", "groups": "[finance-admin]", "sub": "bench"}}
MISSING = {"org_id": "org_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "payment_id": "pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V",
           "invoice_id": "inv_01JZ8Q5V4K7W3M2N1P0R9S8T7V"}
EVENTS: dict[str, Any] = {  # a cheap request each function answers (404s and no-ops: one read at most)
    "AccountsFunction": lambda: load_event("accounts/get_organization.json", path={"org_id": MISSING["org_id"]}, **WHO),
    "PaymentsFunction": lambda: load_event("payments/get_payment.json", path={"payment_id": MISSING["payment_id"]},
                                           **WHO),
    "AllocationFunction": lambda: load_event("allocation/get_invoice.json",
                                             path={"invoice_id": MISSING["invoice_id"]}, **WHO),
    "StripeWebhooksFunction": lambda: load_event("stripe_webhooks/payment_intent_succeeded.json"),
    "SweepFunction": lambda: load_event("sweep/scheduled.json"),
    "WorkerFunction": lambda: load_event("worker/sqs_batch.json"),
}
PROBE = Template({"Resources": {"Probe": {"Type": "AWS::Serverless::Function", "Properties": {
    "CodeUri": "tests/unit/probe_function/", "Handler": "app.handler", "Timeout": 5}}}})


def timed(host: FunctionHost, name: str, event: Any) -> float:
    t = time.perf_counter()
    try:
        host.invoke(name, event)
    except Exception:  # noqa: BLE001 - a function error still measures the round trip
        pass
    return (time.perf_counter() - t) * 1000


def cold_starts(template: Template, aws: LocalAws) -> list[str]:
    cold: dict[str, list[float]] = {n: [] for n in EVENTS}
    warm: dict[str, list[float]] = {n: [] for n in EVENTS}
    for _ in range(ROUNDS):
        host = FunctionHost(template, {**aws.overrides("ERROR"), **NO_STRIPE})
        try:
            for name, event in EVENTS.items():
                cold[name].append(timed(host, name, event()))
                warm[name].append(statistics.median(timed(host, name, event()) for _ in range(5)))
        finally:
            host.stop()
    rows = [f"Execution environments (processes): first invocation of a new environment vs warm, median of {ROUNDS}",
            f"  {'function':<24}{'cold ms':>9}{'warm ms':>9}"]
    rows += [f"  {n:<24}{statistics.median(cold[n]):>9.0f}{statistics.median(warm[n]):>9.1f}" for n in EVENTS]
    return rows


def overhead() -> list[str]:
    host = FunctionHost(PROBE, {})
    try:
        host.invoke("Probe", {})
        samples = sorted(timed(host, "Probe", {"tag": i}) for i in range(300))
    finally:
        host.stop()
    return [f"  host overhead per warm invocation (probe function, 300): p50 {samples[150]:.2f} ms, "
            f"p99 {samples[296]:.2f} ms"]


def lifecycle() -> list[str]:
    t = time.perf_counter()
    stack = start_stack(ready="Demo data for partner")
    ready = time.perf_counter() - t
    t = time.perf_counter()
    stack.stop()
    stopped = time.perf_counter() - t
    return [f"  seeded stack ready (banner printed) in {ready:.1f} s; stopped by SIGTERM in {stopped:.1f} s"]


def main() -> list[str]:
    template = Template.load()
    aws = LocalAws.start().provision(template)
    try:
        rows = cold_starts(template, aws)
    finally:
        aws.stop()
    return [*rows, *overhead(), *lifecycle()]


if __name__ == "__main__":
    print("\n".join(main()))
