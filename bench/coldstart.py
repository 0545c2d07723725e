"""Cold-start init per function, in fresh processes, beside the floor (import boto3 + a DynamoDB client).

Runs are interleaved (floor, function A, function B, floor, ...) so that drift in the machine's load
falls on all of them alike; each figure is a median.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from local.template import ROOT, Template

RUNS = int(os.environ.get("BENCH_COLD_RUNS", 15))

ENV = {
    "TABLE_NAME": "bench", "CURSOR_SECRET": "bench-cursor-secret-0123456789", "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
    "POWERTOOLS_SERVICE_NAME": "payments", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_TRACE_DISABLED": "true", "STRIPE_API_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": "whsec_bench",
}

FLOOR = """
import json, sys, time
t = time.perf_counter()
import boto3; boto3.client("dynamodb")
print(json.dumps({"init": time.perf_counter() - t, "client": 0.0, "keyed": 0.0, "boto3": True, "stripe": False}))
"""

FUNCTION = """
import importlib.util, json, sys, time
sys.path.insert(0, {root!r})
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
init = time.perf_counter() - t
boto3 = "boto3" in sys.modules
stripe = "stripe" in sys.modules
t = time.perf_counter()
module.deps.db.client  # what the first request adds: the lazily created DynamoDB client
client = time.perf_counter() - t
t = time.perf_counter()
import shared.idempotency_store  # what the first request with an Idempotency-Key adds (Powertools + boto3)
print(json.dumps({{"init": init, "client": client, "keyed": time.perf_counter() - t, "boto3": boto3,
                  "stripe": stripe}}))
"""


STRIPE_IMPORT = """
import json, time
t = time.perf_counter()
import stripe; stripe.StripeClient("sk_test_bench")
print(json.dumps({"init": time.perf_counter() - t}))
"""


def _run(code: str) -> dict[str, float]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}, **ENV}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> list[str]:
    programs = {"floor (boto3+client)": FLOOR}
    for name, fn in Template.load().functions().items():
        programs[name] = FUNCTION.format(root=str(ROOT), path=str(fn.code_uri / "app.py"))
    for code in programs.values():
        _run(code)  # compile bytecode and warm the file cache once
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in programs}
    for _ in range(RUNS):
        for name, code in programs.items():
            runs[name].append(_run(code))
    med = {name: (statistics.median(r["init"] for r in rs) * 1000,
                  statistics.median(r["init"] + r["client"] for r in rs) * 1000,
                  statistics.median(r["keyed"] for r in rs) * 1000) for name, rs in runs.items()}
    floor = med["floor (boto3+client)"][0]
    lines = [f"Cold start: median of {RUNS} interleaved fresh processes, Python {sys.version.split()[0]}, tracing off",
             f"  {'function':<24}{'init ms':>9}{'ratio':>8}{'+client ms':>12}{'ratio':>8}{'1st key +ms':>13}"
             "  boto3/stripe at init"]
    for name, (init, total, keyed) in med.items():
        imported = "/".join("yes" if runs[name][0][m] else "no" for m in ("boto3", "stripe"))
        lines.append(f"  {name:<24}{init:>9.0f}{init / floor:>8.2f}{total:>12.0f}{total / floor:>8.2f}"
                     f"{keyed:>13.0f}  {imported}")
    stripe_ms = statistics.median(_run(STRIPE_IMPORT)["init"] for _ in range(RUNS)) * 1000
    lines.append(f"  import stripe + StripeClient (first Stripe call of an environment): +{stripe_ms:.0f} ms")
    lines += ["  init: the handler module's import (Lambda's Init phase). +client: init plus the DynamoDB client",
              "  the first request creates. 1st key: the one-off import (Powertools idempotency, which imports",
              "  boto3) paid by the first request of an environment that carries an Idempotency-Key.",
              "  (StripeWebhooksFunction never takes a key: its column is the import alone.) `import stripe` is",
              "  paid on first use only, by the online top-up route and a worker charging a card.",
              "  Target: init <= 1.3x the floor."]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
