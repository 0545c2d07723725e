"""SnapStart (shared/snapstart.py): every API function's hooks, run the way Lambda's runtime runs them.

Invariants: (S1) the before-snapshot hook primes what it names (the DynamoDB client object, the use cases, the modules)
and leaves no connection in the snapshot; (S2) environments restored from one snapshot draw different random numbers
once the after-restore hook has run, where without it they draw the same ones (the state the snapshot froze).

Each function runs in a fresh interpreter (its module state is the snapshot's); a restore is simulated by os.fork():
two children of the primed process are two execution environments resumed from the same memory (each given back the
`random` state the snapshot froze: CPython reseeds it in a forked child, which a Firecracker restore does not do).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from local.template import ROOT, Template

ENV = {"TABLE_NAME": "snapstart", "CURSOR_SECRET": "snapstart-cursor-secret-0123456789", "AWS_REGION": "us-east-1",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
       "POWERTOOLS_SERVICE_NAME": "payments", "POWERTOOLS_METRICS_NAMESPACE": "Test",
       "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOGGER_SAMPLE_RATE": "0.5",
       "STRIPE_API_KEY": "sk_test_snapstart",
       "STRIPE_WEBHOOK_SECRET": "whsec_snapstart",
       "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}  # what Lambda sets for a SnapStart init

API_FUNCTIONS = sorted({route.function for route in Template.load().routes()})

# What Lambda does with a SnapStart function, with awslambdaric's own hook runner (the runtime client Lambda's Python
# runtimes use): import the handler, run the before-snapshot hooks, then resume environments from that state.
SNAPSHOT_AND_RESTORE = """
import importlib.util, json, os, random, sys
sys.path.insert(0, {root!r})
spec = importlib.util.spec_from_file_location("app", {path!r})
app = importlib.util.module_from_spec(spec); spec.loader.exec_module(app)
from awslambdaric import lambda_runtime_hooks_runner as runner
from snapshot_restore_py import get_after_restore, get_before_snapshot

hooks = {{"before": len(get_before_snapshot()), "after": len(get_after_restore())}}
runner.run_before_snapshot()
client = app.deps.db._client
primed = {{"client": client is not None,
          "pooled_connections": len(client._endpoint.http_session._manager.pools) if client else None,
          "use_cases": sorted(k for k in vars(app.deps) if k != "settings"),
          "modules": [m for m in ("shared.idempotency_store", "stripe") if m in sys.modules]}}

frozen = random.getstate()  # what the snapshot's memory holds

def environment(run_after_restore):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a restored execution environment
        os.close(read)
        random.setstate(frozen)  # a restore resumes that memory as it was: undo CPython's reseed at fork
        if run_after_restore:
            runner.run_after_restore()
        os.write(write, json.dumps([random.random() for _ in range(3)]).encode())
        os._exit(0)
    os.close(write)
    draws = json.loads(os.read(read, 4096)); os.close(read); os.waitpid(pid, 0)
    return draws

print(json.dumps({{"hooks": hooks, "primed": primed,
                  "without_hook": [environment(False), environment(False)],
                  "with_hook": [environment(True), environment(True)]}}))
"""


def snapshot_and_restore(function: str) -> dict:
    fn = Template.load().functions()[function]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}, **ENV}
    code = SNAPSHOT_AND_RESTORE.format(root=str(ROOT), path=str(fn.code_uri / "app.py"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_api_functions_are_the_six_behind_the_http_api():
    assert API_FUNCTIONS == ["AccountsFunction", "AllocationFunction", "PaymentsFunction", "ReportsFunction",
                             "StripeWebhooksFunction", "WebhookEndpointsFunction"]


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_each_api_function_is_primed_before_its_snapshot_and_reseeded_after_each_restore(function):
    # Given the function's handler module imported as Lambda's Init does, its hooks registered
    # When the runtime runs the before-snapshot hooks, then resumes two environments from that state, twice
    result = snapshot_and_restore(function)
    # Then one hook of each kind was registered
    assert result["hooks"] == {"before": 1, "after": 1}
    # And the snapshot holds the DynamoDB client and the use cases, and no connection (S1)
    primed = result["primed"]
    assert primed["client"] is True and primed["pooled_connections"] == 0
    assert "db" in primed["use_cases"] and len(primed["use_cases"]) >= 2
    if function in {"AccountsFunction", "AllocationFunction"}:
        assert primed["modules"] == ["shared.idempotency_store", "stripe"]
    # And two environments resumed without the after-restore hook draw the same numbers: the snapshot's state...
    first, second = result["without_hook"]
    assert first == second
    # ...while with it each draws its own, unlike its sibling and unlike the snapshot's sequence (S2)
    mine, sibling = result["with_hook"]
    assert mine != sibling and first not in (mine, sibling)


def test_an_on_demand_environment_registers_no_hook(monkeypatch):
    # Given an on-demand init (the local stack's environments, a function without SnapStart, a test importing a handler)
    from aws_lambda_powertools import Logger
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    from shared import snapstart
    from shared.container import Container
    from shared.settings import Settings

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    deps = Container(Settings.from_env({"TABLE_NAME": "snapstart", "CURSOR_SECRET": ENV["CURSOR_SECRET"]}))
    before, after = len(get_before_snapshot()), len(get_after_restore())
    # When a handler prepares for SnapStart
    registered = snapstart.prepare(deps, Logger(service="test"), use_cases=("accounts",))
    # Then nothing is registered (nothing holds the container) and nothing is primed
    assert registered is False
    assert (len(get_before_snapshot()), len(get_after_restore())) == (before, after)
    assert "accounts" not in vars(deps) and deps.db._client is None


def test_a_name_the_container_does_not_have_fails_at_import_not_at_publish():
    # Given the shared module and a container
    from aws_lambda_powertools import Logger

    from shared import snapstart
    from shared.container import Container
    from shared.settings import Settings

    deps = Container(Settings.from_env({"TABLE_NAME": "snapstart", "CURSOR_SECRET": ENV["CURSOR_SECRET"]}))
    # When a function names a collaborator the container does not have
    # Then preparing fails at once (a before-snapshot error would only show when a version is published)
    with pytest.raises(AttributeError, match="no collaborator"):
        snapstart.prepare(deps, Logger(service="test"), use_cases=("acounts",))


def test_snapstart_is_on_the_api_functions_only_and_every_change_publishes_a_version():
    # Given the template
    template = Template.load()
    functions = {name: res["Properties"] for name, res in template.resources.items()
                 if res["Type"] == "AWS::Serverless::Function"}
    # Then each function behind the HttpApi snapshots its published versions, which its alias (the routes' target)
    # follows on any change of the function
    for name in API_FUNCTIONS:
        assert functions[name]["SnapStart"] == {"ApplyOn": "PublishedVersions"}, name
        props = functions[name]
        assert props["AutoPublishAlias"] == "live" and props["AutoPublishAliasAllProperties"] is True
    # And a change of the shared layer (the shared code) publishes new versions too
    assert template.resources["SharedLayer"]["Properties"]["PublishLambdaVersion"] is True
    # And no other function has SnapStart (nobody waits on their cold start; each version's cache is billed)
    assert {name for name, props in functions.items() if "SnapStart" in props} == set(API_FUNCTIONS)
    assert "SnapStart" not in template.raw["Globals"]["Function"]
