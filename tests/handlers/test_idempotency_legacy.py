"""Records of the format before issue 31, written by Powertools (pk `IDEMPOTENCY`), still answered for their TTL.

Invariant L1: a retry that arrives after the deploy of issue 31 with a key the code before it had recorded is
answered as that code would have: the saved response replayed (nothing written), another body 409
idempotency_key_reused, one still running 409 idempotency_request_in_progress.

The records are written here through Powertools' public API configured as shared/idempotency.py configured it before
issue 31 (the function name its decorator gave: the function's name, then the decorated function's module and
qualname). DELETE THIS FILE with shared/idempotency_legacy.py (docs/decisions.md, issue 31).
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from local.aws import TABLE_NAME
from local.dynamodb import LOCAL_CREDENTIALS
from shared.idempotency_legacy import legacy_sk
from shared.models import PaymentCreate
from tests.handlers.conftest import NO_KEY, admin, viewer

BODY = {"amount": 5_000, "currency": "SGD", "received_date": "2026-11-20", "method": "cash"}
# What the code before issue 31 named its records with, in PaymentsFunction
PREFIX = "PaymentsFunction.shared.idempotency.Idempotency._run.<locals>.once"


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def old_layer(lambdas) -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    """The persistence layer and configuration shared/idempotency.py used before issue 31 (in an invocation)."""
    config = IdempotencyConfig(event_key_jmespath="key", payload_validation_jmespath="body",
                               expires_after_seconds=86_400, raise_on_no_idempotency_key=True)
    config.register_lambda_context(Context())
    client = boto3.client("dynamodb", endpoint_url=lambdas.aws.dynamodb.endpoint, **LOCAL_CREDENTIALS)
    return DynamoDBPersistenceLayer(table_name=TABLE_NAME, key_attr="pk", sort_key_attr="sk",
                                    static_pk_value="IDEMPOTENCY", boto3_client=client), config


def old_data(partner: str, key: str, body: dict) -> dict:
    return {"key": f"{partner}#payment.create#{key}",
            "body": PaymentCreate.model_validate(body).model_dump(mode="json")}


def payments_of(lambdas, partner: str) -> list[str]:
    return [p["id"] for p in lambdas.payments("list_payments", query={}, **viewer(partner))[1]["items"]]


def test_l1_a_record_written_before_the_deploy_is_replayed_and_guards_its_key(lambdas, partner):
    # Given a payment the code before issue 31 recorded with a key, its answer saved in Powertools' format
    status, made = lambdas.payments("create_payment", body=BODY, headers=NO_KEY, **admin(partner))
    assert status == 201
    layer, config = old_layer(lambdas)
    key = f"old-{partner}"

    @idempotent_function(data_keyword_argument="data", config=config, persistence_store=layer, key_prefix=PREFIX)
    def once(data: dict) -> dict:
        return made

    once(data=old_data(partner, key, BODY))
    old_key = {"pk": {"S": "IDEMPOTENCY"}, "sk": {"S": legacy_sk(f"{partner}#payment.create", key, "PaymentsFunction")}}
    assert lambdas.ddb.get_item(TableName=TABLE_NAME, Key=old_key)["Item"]["status"]["S"] == "COMPLETED"  # the format
    before = lambdas.snapshot()
    # When the client retries it after the deploy
    again = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    # Then the saved answer is replayed, and nothing was written: no second payment, no record of the new format
    assert again == (201, made)
    assert lambdas.snapshot() == before and payments_of(lambdas, partner) == [made["id"]]
    # And the key with another body is refused, as it was before
    status, reused = lambdas.payments("create_payment", body={**BODY, "amount": 5_001},
                                      headers={"idempotency-key": key}, **admin(partner))
    assert (status, reused["error"]["code"]) == (409, "idempotency_key_reused")
    assert lambdas.snapshot() == before


def test_l1_a_request_still_running_in_the_code_before_the_deploy_holds_its_key(lambdas, partner):
    # Given a request with a key that the code before issue 31 is still running (its INPROGRESS record, 60 s left)
    layer, config = old_layer(lambdas)
    layer.configure(config, key_prefix=PREFIX)
    key = f"running-{partner}"
    layer.save_inprogress(data=old_data(partner, key, BODY), remaining_time_in_millis=60_000)
    before = lambdas.snapshot()
    # When the client retries it in the code after the deploy
    status, body = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    # Then it is told the request is in progress, and nothing was written
    assert (status, body["error"]["code"]) == (409, "idempotency_request_in_progress"), body
    assert lambdas.snapshot() == before and payments_of(lambdas, partner) == []


def test_l1_a_record_whose_invocation_ended_without_completing_frees_its_key(lambdas, partner):
    # Given an INPROGRESS record of the code before issue 31 whose invocation has ended (no time left)
    layer, config = old_layer(lambdas)
    layer.configure(config, key_prefix=PREFIX)
    key = f"ended-{partner}"
    layer.save_inprogress(data=old_data(partner, key, BODY), remaining_time_in_millis=0)
    # When the client retries it after the deploy
    status, made = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    # Then the payment is recorded (nothing had been: the old transaction carried its completion), once
    assert status == 201 and payments_of(lambdas, partner) == [made["id"]]
