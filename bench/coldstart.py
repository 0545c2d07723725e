"""Cold-start init per function, in fresh processes, beside the floor (import boto3 + a DynamoDB client).

Runs are interleaved (floor, function A, function B, floor, ...) so that drift in the machine's load
falls on all of them alike; each figure is a median.

The API functions run with SnapStart (issue 31): for each, a second program imports the handler as Lambda's Init does
and then runs the hooks as Lambda's runtime (awslambdaric's runner) runs them: the before-snapshot priming, then the
after-restore hooks, then what the first request of a restored environment still pays (its DynamoDB client and its
first keyed request's import, both primed: ~0). The snapshot removes init + priming from every restored environment's
cold path; the restore itself (Firecracker resuming the snapshot) happens only in Lambda and cannot be measured here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from local.template import ROOT, Template

RUNS = int(os.environ.get("BENCH_COLD_RUNS", 15))
API_ONLY = os.environ.get("BENCH_COLD_ONLY") == "api"  # the floor and the API functions alone (a shorter run)

ENV = {
    "TABLE_NAME": "bench", "CURSOR_SECRET": "bench-cursor-secret-0123456789", "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
    "POWERTOOLS_SERVICE_NAME": "payments", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_TRACE_DISABLED": "true", "STRIPE_API_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": "whsec_bench",
}

FLOOR = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
import boto3; boto3.client("dynamodb")
print(json.dumps({"init": time.perf_counter() - t, "client": 0.0, "keyed": 0.0, "boto3": True, "stripe": False,
                  "init_cpu": time.process_time() - c, "client_cpu": 0.0}))
"""

FUNCTION = """
import importlib.util, json, sys, time
sys.path.insert(0, {root!r})
t, c = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
init, init_cpu = time.perf_counter() - t, time.process_time() - c
boto3 = "boto3" in sys.modules
stripe = "stripe" in sys.modules
t, c = time.perf_counter(), time.process_time()
deps = getattr(module, "deps", None)  # PreTokenFunction (Cognito's trigger) has no container: no client
if deps is not None:
    deps.db.client  # what the first request adds: the lazily created DynamoDB client
client, client_cpu = time.perf_counter() - t, time.process_time() - c
t = time.perf_counter()
import shared.idempotency_store  # what the first request with an Idempotency-Key adds
print(json.dumps({{"init": init, "client": client, "keyed": time.perf_counter() - t, "boto3": boto3,
                  "stripe": stripe, "init_cpu": init_cpu, "client_cpu": client_cpu}}))
"""


SNAPSTART = """
import importlib.util, json, os, sys, time
os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"  # what Lambda sets for a SnapStart init
sys.path.insert(0, {root!r})
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", {path!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
init = time.perf_counter() - t
from awslambdaric import lambda_runtime_hooks_runner as runner  # what Lambda's Python runtime runs the hooks with
t, c = time.perf_counter(), time.process_time()
runner.run_before_snapshot()
prime, prime_cpu = time.perf_counter() - t, time.process_time() - c
t = time.perf_counter()
runner.run_after_restore()
after = time.perf_counter() - t
keyed = "shared.idempotency_store" in sys.modules  # primed: the function takes Idempotency-Keys
t = time.perf_counter()
module.deps.db.client
if keyed:
    import shared.idempotency_store
left = time.perf_counter() - t
print(json.dumps({{"init": init, "prime": prime, "after": after, "left": left, "keyed": keyed,
                  "prime_cpu": prime_cpu}}))
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
    template = Template.load()
    api = sorted({route.function for route in template.routes()})  # SnapStart: the functions behind the HttpApi
    for name, fn in template.functions().items():
        if API_ONLY and name not in api:
            continue
        programs[name] = FUNCTION.format(root=str(ROOT), path=str(fn.code_uri / "app.py"))
        if name in api:
            programs[f"{name} snap"] = SNAPSTART.format(root=str(ROOT), path=str(fn.code_uri / "app.py"))
    for code in programs.values():
        _run(code)  # compile bytecode and warm the file cache once
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in programs}
    for _ in range(RUNS):
        for name, code in programs.items():
            runs[name].append(_run(code))
    snap = {name.removesuffix(" snap"): {k: statistics.median(r[k] for r in rs) * 1000 for k in rs[0] if k != "keyed"}
            for name, rs in runs.items() if name.endswith(" snap")}
    med = {name: (statistics.median(r["init"] for r in rs) * 1000,
                  statistics.median(r["init"] + r["client"] for r in rs) * 1000,
                  statistics.median(r["keyed"] for r in rs) * 1000) for name, rs in runs.items()
           if not name.endswith(" snap")}
    cpu = {name: (statistics.median(r["init_cpu"] for r in rs) * 1000,
                  statistics.median(r["init_cpu"] + r["client_cpu"] for r in rs) * 1000) for name, rs in runs.items()
           if not name.endswith(" snap")}
    floor, floor_cpu = med["floor (boto3+client)"][0], cpu["floor (boto3+client)"][0]
    lines = [f"Cold start: median of {RUNS} interleaved fresh processes, Python {sys.version.split()[0]}, tracing off",
             f"  {'function':<24}{'init ms':>9}{'ratio':>8}{'+client ms':>12}{'ratio':>8}{'1st key +ms':>13}"
             f"{'cpu: init':>11}{'ratio':>7}{'+client':>9}{'ratio':>7}  boto3/stripe at init"]
    for name, (init, total, keyed) in med.items():
        imported = "/".join("yes" if runs[name][0][m] else "no" for m in ("boto3", "stripe"))
        init_cpu, total_cpu = cpu[name]
        lines.append(f"  {name:<24}{init:>9.0f}{init / floor:>8.2f}{total:>12.0f}{total / floor:>8.2f}"
                     f"{keyed:>13.0f}{init_cpu:>11.0f}{init_cpu / floor_cpu:>7.2f}{total_cpu:>9.0f}"
                     f"{total_cpu / floor_cpu:>7.2f}  {imported}")
    stripe_ms = statistics.median(_run(STRIPE_IMPORT)["init"] for _ in range(RUNS)) * 1000
    lines.append(f"  import stripe + StripeClient (first Stripe call of an environment): +{stripe_ms:.0f} ms")
    lines += ["  init: the handler module's import (Lambda's Init phase). +client: init plus the DynamoDB client",
              "  the first request creates. 1st key: the one-off import (the idempotency store) paid by the",
              "  first request of an environment that carries an Idempotency-Key.",
              "  (StripeWebhooksFunction never takes a key: its column is the import alone.) `import stripe` is",
              "  paid on first use only, by the online top-up route and a worker charging a card.",
              "  cpu: the same, in CPU time of the process (time.process_time): on a machine shared with other work",
              "  it is steadier than the wall clock, which counts the time other processes held the cores.",
              "  Target (issue 31): init <= 1.2x the floor without SnapStart, or SnapStart and what it leaves."]
    lines += ["", "SnapStart (the API functions; same runs): what the snapshot removes from a restored environment",
              f"  {'function':<26}{'init ms':>8}{'priming ms':>12}{'removed ms':>12}{'after restore ms':>18}"
              f"{'1st request left ms':>21}{'on-demand cold ms':>19}{'priming cpu ms':>16}"]
    for name, figures in snap.items():
        init, total, keyed = med[name]
        cold = total + (keyed if runs[f"{name} snap"][0]["keyed"] else 0)
        lines.append(f"  {name:<26}{figures['init']:>8.0f}{figures['prime']:>12.0f}"
                     f"{figures['init'] + figures['prime']:>12.0f}{figures['after']:>18.2f}{figures['left']:>21.2f}"
                     f"{cold:>19.0f}{figures['prime_cpu']:>16.0f}")
    lines += ["  priming: the before-snapshot hook (the DynamoDB client object, the use cases, first-use imports),",
              "  run by awslambdaric's runner; removed: init + priming, done once per published version instead of",
              "  once per environment; after restore: the after-restore hook (reseeding); 1st request left: the",
              "  client (and the keyed import, where the function takes keys) once primed. on-demand cold: init +",
              "  client (+ 1st key where it takes keys) without SnapStart, from the table above; the use cases and",
              "  `stripe` a first request also imports are not in it (they are in priming).",
              "  Not measurable here: the restore itself (Lambda resuming the snapshot: its Restore Duration)."]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))
