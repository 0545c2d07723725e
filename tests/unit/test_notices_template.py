"""The notices' resources in template.yaml (issue 30): the stream consumer reads only the changes it needs, retries
a failing record alone and parks what it gives up on behind an alarm; the delivery queue outlives three days of
retries and hides a failed try's message (its function may change visibility, not delete or receive beyond its
mapping); the routes' function touches the table only; the loopback setting cannot be switched on deployed."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from local.streams import matches
from local.template import Template
from shared.settings import Settings

template = Template.load()
resources = template.resources


def test_the_notices_consumer_reads_the_stream_alone_and_parks_what_it_gives_up_on():
    fn = resources["NoticesFunction"]["Properties"]
    [event] = fn["Events"].values()
    props = event["Properties"]
    assert event["Type"] == "DynamoDB" and props["StartingPosition"] == "TRIM_HORIZON"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and props["BisectBatchOnFunctionError"]
    queue = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(d.get("Value") == {"Fn::GetAtt": [queue, "QueueName"]} for a in alarms for d in a.get("Dimensions", []))
    # The filter lets through the items notices come from, and deliveries that just became pending, nothing else
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]

    def wanted(name: str, new: dict, old: dict | None = None) -> bool:
        record = {"eventName": name, "dynamodb": {"NewImage": new, **({"OldImage": old} if old else {})}}
        return any(matches(p, record) for p in patterns)

    entity = {"entity": {"S": "organization"}}
    assert wanted("MODIFY", entity) and wanted("INSERT", {"entity": {"S": "payment"}})
    assert not wanted("INSERT", {"entity": {"S": "audit"}}) and not wanted("REMOVE", entity)
    pending, failed = {"entity": {"S": "webhook_delivery"}, "status": {"S": "pending"}}, {"status": {"S": "failed"}}
    assert wanted("INSERT", pending) and wanted("MODIFY", pending, failed)
    assert not wanted("MODIFY", pending, {"status": {"S": "pending"}})  # a failed try: no second message
    assert not wanted("MODIFY", {"entity": {"S": "webhook_delivery"}, "status": {"S": "delivered"}}, pending)


def test_the_delivery_queue_outlives_the_retries_and_its_function_only_hides_messages():
    queue = resources["WebhookDeliveryQueue"]["Properties"]
    fn = resources["NoticeDeliveryFunction"]["Properties"]
    assert queue["MessageRetentionPeriod"] >= 4 * 86_400  # three days of retries, and a person's retry after
    assert queue["VisibilityTimeout"] >= 6 * fn["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 100  # three days of tries take ~80 receives
    [event] = fn["Events"].values()
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    actions = {a for st in fn["Policies"][0]["Statement"] for a in st["Action"]}
    assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "sqs:ChangeMessageVisibility"}
    routes = {a for st in resources["WebhookEndpointsFunction"]["Properties"]["Policies"][0]["Statement"]
              for a in st["Action"]}
    assert routes == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    # no function of the template sets the loopback setting: the local stack does
    assert not any("WEBHOOK_ALLOW_LOOPBACK" in f.environment for f in template.functions().values())


def test_the_loopback_setting_is_refused_without_a_local_dynamodb():
    base = {"TABLE_NAME": "payments", "CURSOR_SECRET": "x" * 32, "WEBHOOK_ALLOW_LOOPBACK": "true"}
    with pytest.raises(ValidationError, match="local stack"):
        Settings.from_env(base)
    assert Settings.from_env({**base, "DYNAMODB_ENDPOINT": "http://127.0.0.1:8000"}).webhook_allow_loopback
    deployed = {k: v for k, v in base.items() if k != "WEBHOOK_ALLOW_LOOPBACK"}
    assert not Settings.from_env(deployed).webhook_allow_loopback
    with pytest.raises(ValidationError):
        Settings.from_env({**base, "DYNAMODB_ENDPOINT": "x", "WEBHOOK_FIRST_RETRY_SECONDS": "31"})


def test_the_notices_functions_reach_only_the_partners_webhooks_partitions():
    # Given the three functions of the notices (one of them talks to hosts the partners choose)
    for name in ("WebhookEndpointsFunction", "NoticesFunction", "NoticeDeliveryFunction"):
        statements = [s for p in resources[name]["Properties"]["Policies"] for s in p["Statement"]]
        table = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
        # Then every table permission holds to the WEBHOOKS# partitions
        assert table and all(s["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["WEBHOOKS#*"]}}
                             for s in table), name


def test_a_notice_is_never_given_up_on_while_its_record_lives_and_a_stuck_consumer_alarms():
    [event] = resources["NoticesFunction"]["Properties"]["Events"].values()
    assert event["Properties"]["MaximumRetryAttempts"] == -1 and event["Properties"]["BisectBatchOnFunctionError"]
    alarm = resources["NoticesIteratorAgeAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Dimensions"]) == ("IteratorAge", [
        {"Name": "FunctionName", "Value": {"Ref": "NoticesFunction"}}])
    assert alarm["Threshold"] <= 15 * 60 * 1000
