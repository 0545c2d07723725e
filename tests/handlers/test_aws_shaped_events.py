"""The real handlers, run through the local host (one process per execution environment) with events in exactly
the shapes AWS documents, written here from AWS's own examples rather than from events/:

- API Gateway HTTP API, payload format 2.0, with a JWT authorizer: every claim a string, list claims flattened
  as "[a b]", cookies as a list, repeated query parameters joined by commas, a base64-encoded body
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html);
- an SQS batch as the event source mapping delivers it to the worker
  (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html);
- an EventBridge scheduled event, for the sweep and the reconciliation
  (https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html, "Scheduled Event").
"""

from __future__ import annotations

import base64
import json
from typing import Any

from shared.domain.attempt import business_date_of
from tests.conftest import new_partner
from tests.handlers.conftest import create_org


def http_api_event(method: str, path: str, route_key: str, partner: str, *, groups: str = "[finance-admin]",
                   query: str = "", query_params: dict[str, str] | None = None, body: bytes | None = None,
                   path_params: dict[str, str] | None = None) -> dict[str, Any]:
    """AWS's documented payload 2.0 example, with this route, claims and body."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "cookies": ["cookie1=value1", "cookie2=value2"],
        "headers": {"accept": "application/json", "content-type": "application/json",
                    "host": "id.execute-api.us-east-1.amazonaws.com", "user-agent": "agent",
                    "x-forwarded-for": "192.0.2.1", "x-forwarded-proto": "https", "header2": "value1,value2"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "authorizer": {"jwt": {"claims": {
                "sub": "0f1e2d3c-aaaa-bbbb-cccc-111122223333", "partner_id": partner, "groups": groups,
                "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example", "client_id": "payments-api",
                "token_use": "access", "auth_time": "1763700000", "iat": "1763700000", "exp": "1763703600",
                "email_verified": "true"}, "scopes": None}},
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1",
                     "userAgent": "agent"},
            "requestId": "id",
            "routeKey": route_key,
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390,
        },
        "isBase64Encoded": False,
    }
    if query_params:
        event["queryStringParameters"] = query_params
    if path_params:
        event["pathParameters"] = path_params
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event


def call(lambdas: Any, function: str, event: dict[str, Any]) -> tuple[int, Any]:
    res = lambdas.host.invoke(function, event)
    return res["statusCode"], (json.loads(res["body"]) if res.get("body") else None)


def scheduled_event(time: str) -> dict[str, Any]:
    """AWS's documented EventBridge scheduled event."""
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": time, "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"], "detail": {}}


def test_a_base64_body_with_flattened_claims_creates_for_the_tokens_partner(lambdas):
    # Given a finance admin of a partner, as the JWT authorizer hands its claims, and a base64-encoded JSON body
    partner = new_partner()
    body = json.dumps({"name": "Base64 Telecom", "currency": "SGD"}).encode()
    # When the organization is created with the AWS-shaped event
    status, org = call(lambdas, "AccountsFunction",
                       http_api_event("POST", "/organizations", "POST /organizations", partner, body=body))
    # Then it is created, for that partner
    assert status == 201, org
    assert org["name"] == "Base64 Telecom"
    assert org.get("partner_id", partner) == partner


def test_a_list_read_with_the_aws_shaped_event_answers_200_for_the_right_tenant(lambdas):
    # Given an organization of partner A and one of partner B
    a, b = new_partner(), new_partner()
    mine = create_org(lambdas, a, name="Acme Shaped")
    create_org(lambdas, b, name="Acme Other")
    # When A's viewer lists organizations with AWS's event (cookies, repeated query parameters joined by commas)
    event = http_api_event("GET", "/organizations", "GET /organizations", a, groups="[finance-viewer]",
                           query="name=acme&limit=20&limit=20", query_params={"name": "acme", "limit": "20"})
    status, page = call(lambdas, "AccountsFunction", event)
    # Then 200 with A's organization only
    assert status == 200, page
    assert [o["id"] for o in page["items"]] == [mine["id"]]


def test_a_groups_claim_flattened_with_two_groups_is_understood(lambdas):
    # "[finance-viewer platform-admin]": both groups, as the authorizer flattens a list claim
    partner = new_partner()
    create_org(lambdas, partner, name="Two Groups")
    event = http_api_event("GET", "/organizations", "GET /organizations", partner,
                           groups="[finance-viewer platform-admin]")
    status, page = call(lambdas, "AccountsFunction", event)
    assert status == 200 and [o["name"] for o in page["items"]] == ["Two Groups"]
    # And a viewer-only token may not write
    write = http_api_event("POST", "/organizations", "POST /organizations", partner, groups="[finance-viewer]",
                           body=json.dumps({"name": "Nope", "currency": "SGD"}).encode())
    status, refused = call(lambdas, "AccountsFunction", write)
    assert status == 403 and refused["error"]["code"] == "forbidden"


def test_the_worker_processes_an_sqs_record_as_the_event_source_mapping_delivers_it(lambdas):
    # Given an organization and AWS's documented SQS event carrying the sweep's message for it
    partner = new_partner()
    org = create_org(lambdas, partner, name="Queued Org")
    message = {"business_date": "2026-11-21", "org_id": org["id"]}
    event = {"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
        "body": json.dumps(message),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                       "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:my-queue",
        "awsRegion": "us-east-1"}]}
    # When the worker is invoked with it
    result = lambdas.host.invoke("WorkerFunction", event)
    # Then the record is processed: no partial batch failure is reported
    assert result == {"batchItemFailures": []}


def test_the_sweep_reads_the_scheduled_events_time(lambdas):
    # Given AWS's scheduled events at two times that fall on different business dates
    for when in ("2026-11-21T01:00:00Z", "2026-12-02T23:30:00Z"):
        # When the sweep is invoked with it
        result = lambdas.host.invoke("SweepFunction", scheduled_event(when))
        # Then it sweeps for the business date of the event's time
        assert result["business_date"] == business_date_of(when), when


def test_the_reconciliation_runs_on_the_scheduled_event(lambdas):
    result = lambdas.host.invoke("ReconcileFunction", scheduled_event("2026-11-21T01:15:00Z"))
    assert isinstance(result, dict) and not result.get("errors"), result
