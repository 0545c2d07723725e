"""The deploy rehearsal (docs/deploy.md): template.yaml through the SAM translator, offline, and each function's role
and environment against what its code calls and reads (local/rehearsal.py, local/rehearsal_code.py).

Invariants: (R1) every function is granted exactly the IAM actions its code calls, on the resources it calls them
on, besides what the platform needs (logs, its event sources); (R2) every function is given every setting its code
needs in AWS, and nothing it never reads; (R3) the check fails when an action is removed or added or a variable is
removed, and still finds a function behind its alias (AutoPublishAlias); (R4) every call of the code is followed: no
project object passes through a parameter typed Any, where its calls would be lost.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from local.rehearsal import rehearse, translated
from local.rehearsal_code import effects_of
from local.rehearsal_project import Project
from local.template import Template


@pytest.fixture(scope="module")
def cloudformation() -> dict[str, Any]:
    """The template as CloudFormation would deploy it (one translator run for the module)."""
    return translated()


def differences(template: dict[str, Any]) -> dict[str, list[str]]:
    found = rehearse(template)
    return {name: [f"missing {m}" for m in f.missing] + [f"extra {e}" for e in f.extra]
            for name, (_, f) in found.items() if f.missing or f.extra}


def statement(template: dict[str, Any], role: str, sid: str) -> dict[str, Any]:
    policies = template["Resources"][role]["Properties"]["Policies"]
    return next(s for p in policies for s in p["PolicyDocument"]["Statement"] if s.get("Sid") == sid)


def test_the_rehearsal_covers_every_function_of_the_template(cloudformation):
    # Given the translated template and template.yaml's own functions
    deployed = {n for n, r in cloudformation["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    # Then every SAM function (and the inline deploy-time helper) is checked
    assert set(Template.load().functions()) | {"ConsoleSignInFunction"} <= deployed
    assert set(rehearse(cloudformation)) == deployed


def test_every_function_is_granted_exactly_what_its_code_calls(cloudformation):
    # Given each function's role in the translated template and the AWS calls its code can reach
    # When they are compared (R1)
    found = differences(cloudformation)
    # Then none misses an action (it would fail at run time) nor holds one it never calls (least privilege)
    assert found == {}, "\n".join(f"{name}: {line}" for name, lines in found.items() for line in lines)


def test_every_function_has_the_settings_its_code_needs_and_no_other(cloudformation):
    # Given each function's environment after the Globals merge (R2)
    found = {name: f.environment for name, (_, f) in rehearse(cloudformation).items() if f.environment}
    # Then it sets every setting its code needs in AWS, none of the local stack's, and none it never reads
    assert found == {}, "\n".join(f"{name}: {line}" for name, lines in found.items() for line in lines)


def test_every_call_of_every_function_is_followed(cloudformation):
    # Given each function's code: no project collaborator is handed to a parameter typed Any (R4)
    found = {name: f.seams for name, (_, f) in rehearse(cloudformation).items() if f.seams}
    assert found == {}, "\n".join(f"{name}: {line}" for name, lines in found.items() for line in lines)


def test_the_calls_are_followed_from_the_handler_through_the_container():
    # Given a handler that runs only the sweep, and another that hands the webhook service to an untyped function
    sweep = "from shared.container import Container\ndeps = Container.from_env()\n" \
            "def lambda_handler(event, context):\n    return deps.sweep.run(event['time'])\n"
    untyped = "from shared.container import Container\ndeps = Container.from_env()\n" \
              "def relay(service):\n    return service.receive(None, b'')\n" \
              "def lambda_handler(event, context):\n    return relay(deps.stripe_webhooks)\n"
    project = Project()
    # When the rehearsal reads them
    swept, relayed = effects_of(project, "functions.probe_sweep.app", sweep), \
        effects_of(project, "functions.probe_relay.app", untyped)
    # Then the sweep's calls are its due index's Query and its queue's send, and the settings it reads
    assert set(swept.actions()) == {("dynamodb:Query", "index:GSI3"), ("sqs:SendMessage", "sqs")}
    assert {"queue_url", "table_name"} <= swept.settings_read and swept.settings_validated
    # And the untyped hand-over is named, not silently dropped
    assert relayed.blind == {"functions.probe_relay.app.relay(service) is given a "
                             "shared.services.stripe_webhooks.StripeWebhookService"}


def test_a_query_is_on_the_indexes_its_query_objects_are_given():
    # Given a handler paging a query on the table, and a copy of it on GSI2
    source = "from dataclasses import replace\nfrom shared.container import Container\n" \
             "from shared.repositories.pages import PageQuery, read_page\ndeps = Container.from_env()\n" \
             "def lambda_handler(event, context):\n    query = PageQuery('pk = :pk', {}, {})\n" \
             "    read_page(deps.db, deps.cursors, query, scope='a', limit=1, cursor=None)\n" \
             "    other = replace(query, index='GSI2')\n" \
             "    return read_page(deps.db, deps.cursors, other, scope='b', limit=1, cursor=None)\n"
    # Then its Queries are on the table and on GSI2, no other index
    found = set(effects_of(Project(), "functions.probe_pages.app", source).actions())
    assert found == {("dynamodb:Query", "table"), ("dynamodb:Query", "index:GSI2")}


def test_a_botocore_method_handed_to_a_call_is_called():
    # Given a handler that hands its client's delete to a helper which calls it
    source = "from botocore.session import get_session\nclient = get_session().create_client('dynamodb')\n" \
             "def conditional(call, request):\n    return call(**request)\n" \
             "def lambda_handler(event, context):\n    return conditional(client.delete_item, {})\n"
    # Then the delete is one of its calls
    assert set(effects_of(Project(), "functions.probe_handed.app", source).actions()) == {
        ("dynamodb:DeleteItem", "table")}


def test_a_library_class_the_code_makes_may_call_any_of_its_methods():
    # Given a handler that makes Powertools' own DynamoDB idempotency store (no subclass of ours)
    source = "from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer\n" \
             "store = DynamoDBPersistenceLayer(table_name='t')\n"
    # Then every record operation the library may do with it is called
    found = set(effects_of(Project(), "functions.probe_store.app", source).actions())
    assert {(f"dynamodb:{op}", "table") for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")} <= found


def test_what_the_code_calls_is_read_from_the_code(cloudformation):
    # Given the rehearsal's reading of three functions' code
    found = rehearse(cloudformation)
    # Then the read-only report reads by key on the table and queries only the receivables index
    assert set(found["ReportsFunction"][0].actions()) == {("dynamodb:GetItem", "table"),
                                                          ("dynamodb:Query", "index:GSI4")}
    # And a transaction's actions are its items' (the worker's guardrails check the organization: ConditionCheck)
    worker = set(found["WorkerFunction"][0].actions())
    assert {("dynamodb:PutItem", "table"), ("dynamodb:UpdateItem", "table"),
            ("dynamodb:ConditionCheckItem", "table")} <= worker
    assert not any(action == "dynamodb:TransactWriteItems" for action, _ in worker)
    # And the sweep's batch send is sqs:SendMessage, on the queue its setting names
    assert ("sqs:SendMessage", "sqs") in set(found["SweepFunction"][0].actions())
    assert "queue_url" in found["SweepFunction"][0].settings_read


def test_removing_an_action_the_code_calls_fails_the_rehearsal(cloudformation):
    # Given the translated template with PutItem taken from the invoice-history consumer's policy (R3)
    template = copy.deepcopy(cloudformation)
    statement(template, "InvoiceHistoryFunctionRole", "WriteInvoiceHistory")["Action"] = []
    # Then the rehearsal names the function and the missing action
    found = differences(template)
    assert list(found) == ["InvoiceHistoryFunction"]
    assert found["InvoiceHistoryFunction"][0].startswith("missing dynamodb:PutItem on table")


def test_an_action_the_code_never_calls_fails_the_rehearsal(cloudformation):
    # Given the read-only report granted a Scan and a Query on the table, which it never does (R3)
    template = copy.deepcopy(cloudformation)
    statement(template, "ReportsFunctionRole", "TableRead")["Action"] += ["dynamodb:Scan", "dynamodb:Query"]
    # Then both are extra
    assert differences(template) == {"ReportsFunction": ["extra dynamodb:Query on table",
                                                         "extra dynamodb:Scan on table"]}


def test_a_policy_attached_to_a_role_from_outside_counts(cloudformation):
    # Given an AWS::IAM::Policy of its own giving the report's role a Scan
    template = copy.deepcopy(cloudformation)
    template["Resources"]["ReportsScan"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyName": "scan", "Roles": [{"Ref": "ReportsFunctionRole"}], "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": {"Fn::GetAtt": ["PaymentsTable", "Arn"]}}]}}}
    # Then the Scan is extra
    assert differences(template) == {"ReportsFunction": ["extra dynamodb:Scan on table"]}


def test_a_query_granted_on_the_wrong_index_fails_the_rehearsal(cloudformation):
    # Given the sweep's Query granted on another index than the due index it reads (R3)
    template = copy.deepcopy(cloudformation)
    other = {"Fn::Sub": "${PaymentsTable.Arn}/index/GSI1"}
    statement(template, "SweepFunctionRole", "ReadDueIndex")["Resource"] = other
    # Then the due index is missing and the other one extra
    found = differences(template)
    assert list(found) == ["SweepFunction"] and len(found["SweepFunction"]) == 2
    assert found["SweepFunction"][0].startswith("missing dynamodb:Query on index:GSI3 (called by shared.repositories.")
    assert found["SweepFunction"][1] == "extra dynamodb:Query on index:GSI1"


def test_an_event_source_needs_its_own_actions(cloudformation):
    # Given the worker's role without the managed policy that lets its queue's event source mapping read (R3)
    template = copy.deepcopy(cloudformation)
    role = template["Resources"]["WorkerFunctionRole"]["Properties"]
    role["ManagedPolicyArns"] = [a for a in role["ManagedPolicyArns"] if "SQSQueueExecution" not in str(a)]
    # Then the mapping's receive, delete and attributes are missing on the queue
    assert sorted(differences(template)["WorkerFunction"]) == [
        f"missing sqs:{a} on queue:AutoTopUpQueue (its event source mapping needs it)"
        for a in ("DeleteMessage", "GetQueueAttributes", "ReceiveMessage")]


def test_the_dead_letter_queue_of_asynchronous_invocations_needs_its_send(cloudformation):
    # Given the sweep's role without what SAM adds for its dead-letter queue (Lambda sends there as the function)
    template = copy.deepcopy(cloudformation)
    role = template["Resources"]["SweepFunctionRole"]["Properties"]
    role["Policies"] = [p for p in role["Policies"] if p["PolicyName"] != "DeadLetterQueuePolicy"]
    # Then the send is missing, and why
    assert differences(template) == {"SweepFunction": [
        "missing sqs:SendMessage on queue:SweepDeadLetterQueue (its asynchronous invocations' dead-letter queue "
        "needs it)"]}


def test_a_queue_encrypted_with_a_key_of_the_stack_needs_the_key_for_whoever_sends_or_reads(cloudformation):
    # Given the automatic top-ups' queue encrypted with a customer managed key of the stack
    template = copy.deepcopy(cloudformation)
    template["Resources"]["QueueKey"] = {"Type": "AWS::KMS::Key", "Properties": {}}
    template["Resources"]["AutoTopUpQueue"]["Properties"]["KmsMasterKeyId"] = {"Ref": "QueueKey"}
    # Then its sender (the sweep) needs to make and read data keys, and its reader (the worker's mapping) to read them
    found = differences(template)
    assert found == {"SweepFunction": ["missing kms:Decrypt on key:QueueKey (its queue's key needs it)",
                                       "missing kms:GenerateDataKey on key:QueueKey (its queue's key needs it)"],
                     "WorkerFunction": ["missing kms:Decrypt on key:QueueKey (its queue's key needs it)"]}


def test_an_alias_between_an_event_source_and_its_function_is_followed(cloudformation):
    # Given the worker published with an alias (AutoPublishAlias) and its queue's mapping naming the alias
    template = copy.deepcopy(cloudformation)
    resources = template["Resources"]
    resources["WorkerFunctionVersion1"] = {"Type": "AWS::Lambda::Version",
                                           "Properties": {"FunctionName": {"Ref": "WorkerFunction"}}}
    resources["WorkerFunctionAliaslive"] = {"Type": "AWS::Lambda::Alias", "Properties": {
        "FunctionName": {"Ref": "WorkerFunction"}, "FunctionVersion": {"Fn::GetAtt": ["WorkerFunctionVersion1",
                                                                                      "Version"]}, "Name": "live"}}
    resources["WorkerFunctionQueue"]["Properties"]["FunctionName"] = {"Ref": "WorkerFunctionAliaslive"}
    # Then the rehearsal still finds nothing to say
    assert differences(template) == {}


def test_a_missing_or_unread_variable_fails_the_rehearsal(cloudformation):
    # Given the sweep without its queue's URL, and the worker with a variable nothing reads (R3)
    template = copy.deepcopy(cloudformation)
    del template["Resources"]["SweepFunction"]["Properties"]["Environment"]["Variables"]["AUTO_TOP_UP_QUEUE_URL"]
    template["Resources"]["WorkerFunction"]["Properties"]["Environment"]["Variables"]["WEBHOOK_QUEUE_URL"] = "x"
    # Then both are named
    found = {name: f.environment for name, (_, f) in rehearse(template).items() if f.environment}
    assert found == {"SweepFunction": ["AUTO_TOP_UP_QUEUE_URL is not set (the code needs it)"],
                     "WorkerFunction": ["WEBHOOK_QUEUE_URL is set but never read"]}
