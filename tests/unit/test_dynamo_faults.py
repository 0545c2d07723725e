"""DynamoDB not answering now is a 503 with Retry-After, never a 500 (shared.repositories.dynamo, shared.edge).

Invariants: (F1) a throttling error, a timeout or a dropped connection, as botocore itself raises it after its tries,
answers 503 `service_unavailable` with `Retry-After`, also when a dependency wrapped it (any, e.g. Powertools');
(F2) any other error stays what it was (a refused condition is not "not now"; our own bug is a 500); (F3) a
transaction cancelled only for throttling is "not now", one that a condition refused is the rule's; (F4) the
function's client has explicit timeouts and bounded standard retries.

The errors are botocore's own: each test's client answers from a `before-send` hook (nothing leaves the process),
with DynamoDB's error bodies, which botocore parses and retries as it would DynamoDB's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.session import get_session
from pydantic import SecretStr

from shared.api import create_resolver, handle
from shared.errors import StoreUnavailable
from shared.repositories.dynamo import CLIENT_CONFIG, Dynamo, TransactionCancelled, not_now
from shared.settings import Settings
from tests.conftest import load_event

SETTINGS = Settings(TABLE_NAME="payments-test", CURSOR_SECRET="c" * 16, DYNAMODB_ENDPOINT="http://127.0.0.1:9")
THROTTLING = {"__type": "com.amazon.coral.availability#ThrottlingException",
              "message": "Rate of requests exceeds the allowed throughput."}
PROVISIONED = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
               "message": "The level of configured provisioned throughput for the table was exceeded."}


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _cancelled(*codes: str) -> dict[str, Any]:
    return {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                       f"[{', '.join(codes)}]",
            "CancellationReasons": [{"Code": c, **({"Message": "m"} if c != "None" else {})} for c in codes]}


def dynamo(answer: Callable[[], tuple[int, dict[str, Any]]]) -> Dynamo:
    """A Dynamo whose client (one try, so that no test waits out a backoff) gets `answer()` for every request, or the
    exception it raises."""

    def factory() -> Any:
        client = get_session().create_client(
            "dynamodb", region_name="us-east-1", endpoint_url=SETTINGS.dynamodb_endpoint, aws_access_key_id="k",
            aws_secret_access_key="s", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

        def before_send(request: Any, **_: Any) -> AWSResponse:
            status, body = answer()
            return AWSResponse(request.url, status, {"content-type": "application/x-amz-json-1.0"},
                               _Raw(json.dumps(body).encode()))

        client.meta.events.register("before-send.dynamodb", before_send)
        return client

    return Dynamo(SETTINGS, client_factory=factory)


def raising(error: Exception) -> Callable[[], tuple[int, dict[str, Any]]]:
    def answer() -> tuple[int, dict[str, Any]]:
        raise error

    return answer


def botocore_error(answer: Callable[[], tuple[int, dict[str, Any]]]) -> Exception:
    with pytest.raises(Exception) as raised:
        dynamo(answer).get({"pk": "ORG#1", "sk": "META"})
    return raised.value


NOT_NOW = {
    "ThrottlingException": lambda: (400, THROTTLING),
    "ProvisionedThroughputExceededException": lambda: (400, PROVISIONED),
    "RequestLimitExceeded": lambda: (400, {"__type": "com.amazonaws.dynamodb.v20120810#RequestLimitExceeded",
                                           "message": "Throughput exceeds the current throughput limit"}),
    "TransactionConflictException": lambda: (400, {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
        "message": "Transaction is ongoing for the item"}),
    "InternalServerError 500": lambda: (500, {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                              "message": "Internal server error"}),
    "ReadTimeoutError": raising(ReadTimeoutError(endpoint_url=SETTINGS.dynamodb_endpoint)),
    "EndpointConnectionError": raising(EndpointConnectionError(endpoint_url=SETTINGS.dynamodb_endpoint)),
    "ConnectionClosedError": raising(ConnectionClosedError(endpoint_url=SETTINGS.dynamodb_endpoint)),
}


def answered(error: Exception) -> dict[str, Any]:
    """What the HTTP edge answers when a route raises `error`."""
    app = create_resolver(Logger(service="test"))

    @app.post("/organizations")
    def create() -> Any:
        raise error

    return handle(app, load_event("accounts/create_organization.json", body={"name": "n", "currency": "SGD"}), None)


@pytest.mark.parametrize("answer", NOT_NOW.values(), ids=NOT_NOW.keys())
def test_dynamodb_not_answering_is_503_with_retry_after(answer):
    # Given the error botocore raises for DynamoDB throttling, failing or not being reached (F1)
    error = botocore_error(answer)
    assert not_now(error), repr(error)
    # When a route raises it, as it is or wrapped by a dependency (`raise ... from`; Powertools' error as the example)
    wrapped = IdempotencyPersistenceLayerError("Failed to save in progress record to idempotency store", error)
    wrapped.__cause__ = error
    for raised in (error, wrapped):
        response = answered(raised)
        # Then the answer is 503 service_unavailable with Retry-After, in the contract's shape
        assert response["statusCode"] == 503, response
        assert response["headers"]["Retry-After"] == "1"
        assert json.loads(response["body"])["error"]["code"] == "service_unavailable"


def test_any_other_error_stays_a_500_or_the_rule_it_is():
    # Given a condition DynamoDB refused (a rule, not "not now"), and a bug of ours (F2)
    condition = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                 "message": "The conditional request failed"}
    refused = botocore_error(lambda: (400, condition))
    assert isinstance(refused, ClientError) and not not_now(refused)
    for error in (refused, ValueError("a bug")):
        # Then each is our 500, without Retry-After
        response = answered(error)
        assert response["statusCode"] == 500 and "Retry-After" not in response["headers"]


def test_a_transaction_cancelled_for_throttling_is_not_now_and_one_refused_by_a_condition_is_the_rule():
    # Given a transaction cancelled only because DynamoDB throttled one of its items (F3)
    with pytest.raises(StoreUnavailable):
        dynamo(lambda: (400, _cancelled("None", "ThrottlingError"))).transact([{}, {}])
    with pytest.raises(StoreUnavailable):
        dynamo(lambda: (400, _cancelled("ProvisionedThroughputExceeded"))).transact([{}])
    # Then; and one whose condition failed (beside a throttled item) or that lost a race is what it always was
    for codes in (("ConditionalCheckFailed", "ThrottlingError"), ("TransactionConflict", "None")):
        with pytest.raises(TransactionCancelled) as cancelled:
            dynamo(lambda codes=codes: (400, _cancelled(*codes))).transact([{}, {}])
        assert [r["Code"] for r in cancelled.value.reasons] == list(codes)


def test_the_functions_client_has_explicit_timeouts_and_bounded_standard_retries():
    # Given the client a function makes (F4)
    config = Dynamo(SETTINGS).client.meta.config
    # Then it connects within 1 s, reads within 2 s, and tries 3 times in all with standard retries: ~6 s at worst,
    # inside the API functions' 10 s
    assert (config.connect_timeout, config.read_timeout) == (1, 2)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3} == CLIENT_CONFIG.retries
    worst = config.retries["total_max_attempts"] * (config.read_timeout + 0.1)
    assert worst < 10


@pytest.mark.parametrize("answer", [NOT_NOW["ThrottlingException"], NOT_NOW["ConnectionClosedError"]],
                         ids=["ThrottlingException", "ConnectionClosedError"])
def test_a_stripe_delivery_meeting_dynamodb_not_answering_is_503_with_retry_after(answer):
    # Given the Stripe webhook's own service, whose DynamoDB throttles or drops the connection (F1, the webhook edge)
    from shared.container import Container
    from shared.webhook_edge import stripe_webhook
    from tests.handlers.stripe_support import delivery, stripe_event

    settings = SETTINGS.model_copy(update={"stripe_webhook_secret": SecretStr("whsec_faults"),
                                           "stripe_api_key": SecretStr("sk_test_faults")})
    deps = Container(settings, overrides={"db": dynamo(answer)})
    event = stripe_event("payment_intent.succeeded", {
        "id": "pi_faults", "object": "payment_intent", "amount": 5_000, "amount_received": 5_000, "currency": "sgd",
        "status": "succeeded", "metadata": {"purpose": "online_top_up", "org_id": "org_x",
                                                      "online_top_up_id": "otu_x"}})
    # When Stripe delivers a verified event
    response = stripe_webhook(deps.stripe_webhooks, delivery(event, secret="whsec_faults"), Logger(service="test"))
    # Then the answer is 503 service_unavailable with Retry-After (Stripe delivers it again), not a 500
    assert response["statusCode"] == 503, response
    assert response["headers"]["Retry-After"] == "1"
    assert json.loads(response["body"])["error"]["code"] == "service_unavailable"
