"""template.yaml and the code agree: every HttpApi route has a handler route and vice versa."""

from __future__ import annotations

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
