"""template.yaml and the code agree: every HttpApi route has a handler route and vice versa."""

from __future__ import annotations

import json
import re

import pytest

from local.template import Template

template = Template.load()


WEBHOOKS = "StripeWebhooksFunction"  # Stripe's caller, no resolver and no JWT (tested below)


@pytest.mark.parametrize("function", sorted(f for f, fn in template.functions().items()
                                             if any(e["Type"] == "HttpApi" for e in fn.events.values())
                                             and f != WEBHOOKS))
def test_template_routes_match_the_resolver(lambdas, function):
    module = lambdas.host.load_module(function)
    schema = module.app.get_openapi_schema()
    in_code = {(method.upper(), path) for path, item in schema.paths.items()
               for method in ("get", "post", "put", "patch", "delete") if getattr(item, method, None)}
    in_template = {(r.method, r.path) for r in template.routes() if r.function == function}
    assert in_template == in_code


def test_only_the_stripe_webhook_is_public_and_only_it_holds_the_webhook_secret():
    public = [r for r in template.routes() if not r.authorized]
    assert [(r.method, r.path, r.function) for r in public] == [("POST", "/webhooks/stripe", WEBHOOKS)]
    holders = {f for f, fn in template.functions().items() if "STRIPE_WEBHOOK_SECRET" in fn.environment}
    assert holders == {WEBHOOKS}
    api_key = {f for f, fn in template.functions().items() if "STRIPE_API_KEY" in fn.environment}
    # the ones that call Stripe: online top-ups, the automatic charge, refunds, the webhook's refund and dispute
    # reads, and the reconciliation
    assert api_key == {"AccountsFunction", "WorkerFunction", "AllocationFunction", WEBHOOKS, "ReconcileFunction"}


def test_table_has_streams_pitr_ttl_and_the_indexes_the_code_uses():
    props = template.resources["PaymentsTable"]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert props["TimeToLiveSpecification"]["AttributeName"] == "expiration"
    assert {g["IndexName"] for g in props["GlobalSecondaryIndexes"]} == {"GSI1", "GSI2", "GSI3", "GSI4"}


def test_the_receivables_index_projects_exactly_what_the_report_reads():
    # Given the receivables index in the template and the attributes the report asks of it
    from shared.repositories.receivables import FIELDS

    gsi4 = next(g for g in template.resources["PaymentsTable"]["Properties"]["GlobalSecondaryIndexes"]
                if g["IndexName"] == "GSI4")
    # Then it copies those and no more (not every invoice's allocations, kept forever for settled ones)
    assert gsi4["Projection"]["ProjectionType"] == "INCLUDE"
    assert sorted(gsi4["Projection"]["NonKeyAttributes"]) == sorted(FIELDS)


def test_policies_are_least_privilege():
    sweep = template.resources["SweepFunction"]["Properties"]["Policies"][0]["Statement"]
    assert {a for st in sweep for a in st["Action"]} == {"dynamodb:Query", "sqs:SendMessage"}
    # the reconciliation queries only the pending index, and writes no Scan, Delete or other index
    reconcile = template.resources["ReconcileFunction"]["Properties"]["Policies"][0]["Statement"]
    assert {(a, str(st["Resource"])) for st in reconcile for a in st["Action"] if a == "dynamodb:Query"} == {
        ("dynamodb:Query", "{'Fn::Sub': '${PaymentsTable.Arn}/index/GSI3'}")}
    assert "dynamodb:DeleteItem" not in {a for st in reconcile for a in st["Action"]}
    for fn in template.functions():
        for policy in template.resources[fn]["Properties"]["Policies"]:
            for statement in policy["Statement"]:
                actions = statement["Action"]
                assert all(re.fullmatch(r"(dynamodb|sqs|events):[A-Z]\w+", a) for a in actions)  # no wildcards
                assert not {"dynamodb:Scan", "dynamodb:DeleteTable"} & set(actions)


@pytest.mark.parametrize("function", ["AccountsFunction", "PaymentsFunction", "AllocationFunction",
                                      "ReportsFunction"])
def test_the_openapi_document_states_each_routes_real_status_and_body(lambdas, function):
    # Given a function's OpenAPI document (from its resolver)
    doc = lambdas.host.load_module(function).app.get_openapi_schema().model_dump(by_alias=True, exclude_none=True)
    for path, item in doc["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method not in item:
                continue
            responses = {str(code): r for code, r in item[method]["responses"].items()}
            success = [int(code) for code in responses if str(code).startswith("2")]
            # Then each route states exactly one success: 201 for a create, 204 for a delete, 202 for a card refund
            # (Stripe may still be working on it), else 200
            assert len(success) == 1, (method, path, sorted(responses))
            assert (success[0] == 202) == ((method, path) == ("post", "/payments/{payment_id}/refunds")), (method, path)
            # and its body's schema (none for 204), and the contract's error shape for 400 and 401
            body = responses[str(success[0])].get("content", {}).get("application/json", {}).get("schema")
            assert (body is None) == (success[0] == 204), (method, path)
            for code in ("400", "401"):
                assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    if function == "AccountsFunction":
        created = {str(code): r for code, r in doc["paths"]["/organizations"]["post"]["responses"].items()}
        assert "201" in created and "200" not in created
        assert created["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/OrganizationOut")


def test_the_reconciliation_runs_at_least_hourly_and_has_an_alarm():
    fn = template.resources["ReconcileFunction"]["Properties"]
    [schedule] = [e["Properties"]["Schedule"] for e in fn["Events"].values() if e["Type"] == "Schedule"]
    assert schedule == "rate(15 minutes)"
    alarm = template.resources["ReconcileAlarm"]["Properties"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert names == {"Errors", "StripeUnavailable", "ReconcileErrors"}


def test_no_stripe_call_can_outlive_its_function():
    """Issue 25 (Stripe slower than Lambda): a function that calls Stripe leaves room for one whole try and the
    recording of its outcome, and calls `deps.begin(context)` so its tries are bounded by its remaining time."""
    from shared.stripe_gateway import RESERVE_SECONDS, TRY_SECONDS

    callers = {name: fn for name, fn in template.functions().items() if "STRIPE_API_KEY" in fn.environment}
    assert set(callers) == {"AccountsFunction", "AllocationFunction", "StripeWebhooksFunction", "WorkerFunction",
                            "ReconcileFunction"}
    for name, fn in callers.items():
        assert fn.timeout >= TRY_SECONDS + RESERVE_SECONDS + 1, name
        assert "deps.begin(context)" in (fn.code_uri / "app.py").read_text(), name
    # and the queue redelivers a worker's message only after the worker's timeout (six times, as AWS advises)
    visibility = template.resources["AutoTopUpQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * template.functions()["WorkerFunction"].timeout


def test_the_openapi_document_has_every_route_of_the_template_and_nothing_else():
    """Issue 26: the document a client is generated from names exactly the deployed routes, plus the stack's own
    description of itself (`/openapi.json`, `/docs`: no token), with the header parameters each handler reads."""
    from local.openapi import PUBLIC, document

    doc = document()
    in_doc = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    in_template = {(r.method, r.path) for r in template.routes()}
    assert in_doc == in_template | {("GET", path) for path in PUBLIC}
    # the routes without a token are exactly those the template leaves without its authorizer, and the description
    unauthenticated = {(m.upper(), p) for p, item in doc["paths"].items() for m, op in item.items()
                       if op.get("security") == []}
    assert unauthenticated == {(r.method, r.path) for r in template.routes() if not r.authorized} | {
        ("GET", path) for path in PUBLIC}
    # every money-moving POST that takes an Idempotency-Key says so (the refund's is required), PATCH its If-Match
    headers = {(m.upper(), p, h["name"], h["required"]) for p, item in doc["paths"].items() for m, op in item.items()
               for h in op.get("parameters", []) if h["in"] == "header"}
    assert ("POST", "/payments/{payment_id}/refunds", "Idempotency-Key", True) in headers
    assert ("POST", "/payments", "Idempotency-Key", False) in headers
    assert ("PATCH", "/payments/{payment_id}", "If-Match", False) in headers
    assert doc["openapi"].startswith("3.1") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_the_invoice_history_consumer_reads_the_stream_retries_alone_and_parks_what_fails():
    """Issue 26 (invoice history): the stream's records that name invoices reach one function, which may only put
    items; a failing record is split out and retried alone, and after ten tries its place waits in a queue whose
    alarm says what to run."""
    fn = template.resources["InvoiceHistoryFunction"]["Properties"]
    [event] = fn["Events"].values()
    props = event["Properties"]
    assert event["Type"] == "DynamoDB" and props["Stream"] == {"Fn::GetAtt": ["PaymentsTable", "StreamArn"]}
    assert props["StartingPosition"] == "TRIM_HORIZON"  # what was written before the function first ran, too
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and props["BisectBatchOnFunctionError"]
    assert props["MaximumRetryAttempts"] == 10
    queue = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert template.resources[queue]["Type"] == "AWS::SQS::Queue"
    alarms = [r["Properties"] for r in template.resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(d.get("Value") == {"Fn::GetAtt": [queue, "QueueName"]} for a in alarms for d in a.get("Dimensions", []))
    [statement] = fn["Policies"][0]["Statement"]
    assert statement["Action"] == ["dynamodb:PutItem"]


# --- Issue 31: the template's hardening (queues encrypted, alarms, the sweep's dead letters, concurrency, throttles,
# the dashboard). The figures are docs/operations.md's; each test derives what it can from the code or a measurement.

ALARM = "AWS::CloudWatch::Alarm"
TOPIC = {"Ref": "AlarmTopic"}


def _of_type(kind: str) -> dict[str, dict]:
    return {name: res for name, res in template.resources.items() if res["Type"] == kind}


def _alarms_on(namespace: str, metric: str) -> dict[str, dict]:
    """Every alarm whose metric (plain or in its metric math) is `namespace`/`metric`, with its dimensions."""
    found = {}
    for name, res in _of_type(ALARM).items():
        props = res["Properties"]
        plain = [(props.get("Namespace"), props.get("MetricName"), props.get("Dimensions", []))]
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        math = [(s["Namespace"], s["MetricName"], s.get("Dimensions", [])) for s in stats]
        for ns, name_, dims in plain + math:
            if (ns, name_) == (namespace, metric):
                found[name] = {"props": props, "dimensions": dims, "condition": res.get("Condition")}
    return found


def test_every_queue_is_encrypted_at_rest():
    # Given every queue of the template (work queues and dead-letter queues)
    queues = _of_type("AWS::SQS::Queue")
    assert len(queues) >= 7
    # Then each is encrypted: SQS-managed keys (no kms grant for any producer or consumer) or a KMS key
    for name, res in queues.items():
        props = res["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), name


def test_every_alarm_notifies_the_encrypted_alarm_topic():
    # Given every alarm (the ones before issue 31 too)
    alarms = _of_type(ALARM)
    assert len(alarms) >= 30
    # Then each notifies the topic when it fires and when it clears
    for name, res in alarms.items():
        assert res["Properties"]["AlarmActions"] == [TOPIC], name
        assert res["Properties"]["OKActions"] == [TOPIC], name
    # and the topic is encrypted under a rotating customer-managed key CloudWatch may use (aws/sns refuses alarms)
    topic = template.resources["AlarmTopic"]["Properties"]
    key = template.resources[topic["KmsMasterKeyId"]["Ref"]]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    services = [s["Principal"].get("Service") for s in key["Properties"]["KeyPolicy"]["Statement"]]
    assert "cloudwatch.amazonaws.com" in services
    # and an e-mail subscribes only when one is given
    subscription = template.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["TopicArn"] == TOPIC
    assert template.parameter_default("AlarmEmail") == ""


def test_every_function_has_an_errors_and_a_throttles_alarm():
    # Given every function of the template (SAM's and the plain deploy-time one)
    functions = {name: res for name, res in template.resources.items()
                 if res["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")}
    assert len(functions) >= 14
    for metric in ("Errors", "Throttles"):
        alarmed = {}
        for alarm in _alarms_on("AWS/Lambda", metric).values():
            for dim in alarm["dimensions"]:
                if dim["Name"] == "FunctionName":
                    alarmed[dim["Value"]["Ref"]] = alarm
        # Then each has its alarm, which exists exactly when the function does
        for name, res in functions.items():
            assert name in alarmed, (metric, name)
            assert alarmed[name]["condition"] == res.get("Condition"), (metric, name)


def _dead_letter_queues() -> set[str]:
    """Every queue something parks its failures in: a queue's redrive target, a stream's OnFailure destination, a
    function's DeadLetterQueue, a schedule's DeadLetterConfig."""
    found = set()
    for res in template.resources.values():
        props = res.get("Properties", {})
        if "RedrivePolicy" in props:
            found.add(props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
        if "DeadLetterQueue" in props:
            found.add(props["DeadLetterQueue"]["TargetArn"]["Fn::GetAtt"][0])
        for event in (props.get("Events") or {}).values():
            event_props = event.get("Properties", {})
            if "DestinationConfig" in event_props:
                found.add(event_props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0])
            if "DeadLetterConfig" in event_props:
                found.add(event_props["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
    return found


def test_every_dead_letter_queue_has_a_depth_alarm():
    # Given every queue that receives failures
    dead = _dead_letter_queues()
    assert {"AutoTopUpDeadLetterQueue", "SweepDeadLetterQueue", "InvoiceHistoryDeadLetterQueue",
            "NoticesDeadLetterQueue", "WebhookDeliveryDeadLetterQueue"} <= dead
    # Then an alarm fires as soon as one message waits in it
    watched = {}
    for alarm in _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible").values():
        for dim in alarm["dimensions"]:
            watched[dim["Value"]["Fn::GetAtt"][0]] = alarm["props"]
    for queue in dead:
        assert queue in watched, queue
        assert (watched[queue]["Threshold"], watched[queue]["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_a_failed_daily_sweep_leaves_its_event_in_an_alarmed_queue_and_a_missed_one_alarms():
    # Given the sweep and its daily schedule
    fn = template.resources["SweepFunction"]["Properties"]
    [daily] = [e["Properties"] for e in fn["Events"].values() if e["Type"] == "Schedule"]
    # Then EventBridge retries a delivery 3 times within 6 hours, then parks the event in SweepDeadLetterQueue
    assert daily["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 21600}
    assert daily["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}
    # and a run Lambda accepted but that failed its retries goes to the same queue (one runbook entry)
    assert fn["EventInvokeConfig"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600}
    assert fn["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}}
    assert fn["ReservedConcurrentExecutions"] == 1
    # and only the schedule's rule may send to it
    [statement] = template.resources["SweepDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["SweepFunctionDaily", "Arn"]}
    # and a day without one successful run alarms (hours with no run are missing data: breaching)
    alarm = template.resources["SweepNotRunAlarm"]["Properties"]
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {s["Metric"]["MetricName"] for s in stats.values()} == {"Invocations", "Errors"}
    assert all(s["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "SweepFunction"}}]
               for s in stats.values())
    assert alarm["TreatMissingData"] == "breaching"
    # over 26 hours: a day between two runs plus two hours for the run's data points to land (24 exactly would see
    # yesterday's run leave the window before today's arrives, a false alarm every morning)
    assert alarm["EvaluationPeriods"] * stats["invocations"]["Period"] == 26 * 3600 == (
        alarm["DatapointsToAlarm"] * stats["invocations"]["Period"])


# The worker's reserved concurrency (docs/operations.md, "The worker's concurrency")
STRIPE_WRITES_PER_SECOND = 100  # Stripe live mode's default per account
API_STRIPE_WRITES = 2 * 30 + 20  # the API's Stripe routes at their throttles: online top-ups 30/s x 2, refunds 20/s
WORKER_STRIPE_WRITES = STRIPE_WRITES_PER_SECOND - API_STRIPE_WRITES  # what is left for the worker: 20/s
MIN_CHARGE_SECONDS = 0.5  # an off-session PaymentIntent create + confirm at Stripe, at the fastest
PARTITION_WCU = 1000  # DynamoDB: one partition's writes per second (on-demand too)
TRANSACTION_WCU = 2  # a transactional write of an item under 1 KB
MIN_REQUEST_SECONDS = 0.005  # one DynamoDB request, at the fastest
DOCUMENTED_WORKER_CONCURRENCY = 4


def worker_concurrency(requests_per_message: int, partner_items: int) -> int:
    stripe_bound = WORKER_STRIPE_WRITES * MIN_CHARGE_SECONDS  # 1 Stripe write per card message
    messages_per_execution = 1 / (requests_per_message * MIN_REQUEST_SECONDS)  # a batch runs its messages in turn
    top_ups_per_partition = PARTITION_WCU / (partner_items * TRANSACTION_WCU)
    return int(min(stripe_bound, top_ups_per_partition / messages_per_execution))


def test_the_worker_concurrency_is_the_documented_arithmetic_of_stripes_and_dynamodbs_limits(lambdas, partner):
    """Stripe: 1 write per card message. DynamoDB: a master-wallet top-up (the one that writes most items of one
    partition: its partner's) measured here, its sequential requests and its items in the partner's partition."""
    from shared.repositories.partner_wallets import partner_pk
    from tests.handlers.conftest import create_org, credit
    from tests.handlers.test_auto_top_up import AutoTopUp, configure

    auto = AutoTopUp(lambdas)
    client = auto.worker_fn.deps.db.client
    calls: list[tuple[str, dict]] = []

    def count(model, params, **_):
        calls.append((model.name, params))

    # Given an organization due for a master-wallet top-up
    credit(lambdas, partner, 100_000)
    org = create_org(lambdas, partner, "Concurrency arithmetic")
    configure(lambdas, partner, org, "master_account", 20_000, 50_000)
    auto.sweep("2026-11-21T01:00:00Z")
    messages = [m for m in auto.receive() if json.loads(m["Body"])["org_id"] == org["id"]]
    # When the worker tops it up, its DynamoDB requests counted
    client.meta.events.register("provide-client-params.dynamodb", count)
    try:
        assert auto.deliver(messages) == {"batchItemFailures": []}
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", count)
    requests = len(calls)
    partner_items = max(sum(1 for item in params["TransactItems"] for op in item.values()
                            if op["Key" if "Key" in op else "Item"]["pk"]["S"] == partner_pk(partner))
                        for name, params in calls if name == "TransactWriteItems")
    # Then the figures are the documented ones (7 requests, 4 of the partner's items), and so is the concurrency
    assert (requests, partner_items) == (7, 4), calls
    assert worker_concurrency(requests, partner_items) == DOCUMENTED_WORKER_CONCURRENCY
    fn = template.resources["WorkerFunction"]["Properties"]
    assert fn["ReservedConcurrentExecutions"] == DOCUMENTED_WORKER_CONCURRENCY
    [queue] = [e["Properties"] for e in fn["Events"].values() if e["Type"] == "SQS"]
    assert queue["ScalingConfig"]["MaximumConcurrency"] == DOCUMENTED_WORKER_CONCURRENCY  # its pollers never throttle
    assert queue["BatchSize"] == 10
    # and docs/operations.md says so
    from local.template import ROOT

    assert f"reserved concurrency **{DOCUMENTED_WORKER_CONCURRENCY}**" in (ROOT / "docs/operations.md").read_text()


def test_every_sqs_consumer_is_capped_at_its_reserved_concurrency():
    for name, fn in template.functions().items():
        for event in fn.events.values():
            if event["Type"] == "SQS":
                cap = event["Properties"]["ScalingConfig"]["MaximumConcurrency"]
                assert 2 <= cap == template.resources[name]["Properties"]["ReservedConcurrentExecutions"], name


# The HTTP API's throttles (docs/operations.md, "The HTTP API's throttles")
PEAKS = {"POST /organizations/{org_id}/wallet/debits": 2000, "POST /payments": 50}
ACCOUNT_RPS, ACCOUNT_BURST = 10_000, 5_000  # API Gateway's quota per account and region


def test_the_routes_with_planned_peaks_have_their_own_throttles_with_headroom():
    api = template.resources["HttpApi"]["Properties"]
    routes = api["RouteSettings"]
    # Then every per-route setting names a real route
    assert set(routes) <= {r.route_key for r in template.routes()}
    # and each planned peak fits its route's limit with at least 1.5x headroom, the default stays well below
    for route, peak in PEAKS.items():
        assert routes[route]["ThrottlingRateLimit"] >= 1.5 * peak, route
    default = api["DefaultRouteSettings"]
    assert default["ThrottlingRateLimit"] < routes["POST /organizations/{org_id}/wallet/debits"]["ThrottlingRateLimit"]
    # and no route's limits exceed the account's: the debits' peak leaves most of the region's quota to the rest
    for settings in [default, *routes.values()]:
        assert settings["ThrottlingRateLimit"] <= settings["ThrottlingBurstLimit"] <= ACCOUNT_BURST
        assert settings["ThrottlingRateLimit"] <= ACCOUNT_RPS
    # and the routes that call Stripe (<= 2 writes an online top-up, 1 a refund), with the worker at its reserved
    # concurrency (1 write per charge, 0.5 s at the fastest), stay within Stripe's writes per second
    api_writes = (2 * routes["POST /organizations/{org_id}/online-top-ups"]["ThrottlingRateLimit"]
                  + routes["POST /payments/{payment_id}/refunds"]["ThrottlingRateLimit"])
    worker_writes = DOCUMENTED_WORKER_CONCURRENCY / MIN_CHARGE_SECONDS
    assert (api_writes, worker_writes) == (API_STRIPE_WRITES, 8)
    assert api_writes + worker_writes <= STRIPE_WRITES_PER_SECOND


def _emitted_metrics() -> set[str]:
    """The metric names the code adds (functions/ and shared/): add_metric(name="X") or name=A_CONSTANT."""
    import ast

    from local.template import ROOT

    names = set()
    for path in [*(ROOT / "functions").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        constants = {t.id: n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                     and isinstance(n.value, ast.Constant) for t in n.targets if isinstance(t, ast.Name)}
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "add_metric":
                [name] = [k.value for k in call.keywords if k.arg == "name"]
                names.add(name.value if isinstance(name, ast.Constant) else constants[name.id])
    return names


def _dashboard_metrics() -> list[list[str]]:
    body = template.resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    return [m for w in widgets for m in w["properties"].get("metrics", [])]


def test_the_dashboard_shows_exactly_the_business_metrics_the_code_emits():
    # Given the metrics the code emits (derived from its add_metric calls)
    emitted = _emitted_metrics()
    assert {"PaymentRecorded", "InvoicesAllocated", "StripeWebhookSignatureFailures"} <= emitted
    namespace = template.raw["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    # Then the dashboard's business widgets name exactly those, in the functions' namespace and service dimension
    business = [m for m in _dashboard_metrics() if m[0] == namespace]
    assert {m[1] for m in business} == emitted
    assert all(m[2:] == ["service", "payments"] for m in business)
    # and every alarm on a business metric names one the code emits
    alarmed = {name for name in emitted if _alarms_on(namespace, name)}
    for res in _of_type(ALARM).values():
        props = res["Properties"]
        for stat in [props] + [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]:
            if stat.get("Namespace") == namespace:
                assert stat["MetricName"] in emitted
    assert "StripeWebhookSignatureFailures" in alarmed and "ReconcileErrors" in alarmed


def test_a_refused_webhook_signature_emits_the_alarmed_metric(capsys):
    # Given the webhook's edge (the metric's namespace is the template's)
    from shared import webhook_edge
    from tests.unit.test_webhook_signature_errors import deliver

    assert webhook_edge.NAMESPACE == template.raw["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"]
    capsys.readouterr()
    # When a delivery with a bad signature arrives
    answer, _ = deliver("t=1,v1=" + "0" * 64)
    # Then it is refused and one StripeWebhookSignatureFailures is written as an embedded metric
    assert answer["statusCode"] == 400
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf["StripeWebhookSignatureFailures"] == [1.0]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PrepaidPayments"


def test_every_checkov_skip_says_why():
    skips = [(name, s) for name, res in template.resources.items()
             for s in res.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]) and len(skip["comment"]) >= 40, (name, skip)
