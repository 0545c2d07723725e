"""DYNAMODB_ENDPOINT: the local stack on an existing DynamoDB (local/dynamodb.py ExistingDynamoDB, local/stack.py).

Invariants: (E1) without DYNAMODB_ENDPOINT the stack starts its own DynamoDB Local; (E2) with it, the table and the
region come from TABLE_NAME and AWS_REGION; (E3) on this machine (a DynamoDB Local, the drill's proxy) the functions
keep the local credentials; in an AWS account they get the environment's own credentials and the table's region,
never the local placeholders.
"""

from __future__ import annotations

import pytest

from local.aws import LOCAL_CREDENTIALS_ENV, TABLE_NAME
from local.dynamodb import ExistingDynamoDB
from local.stack import function_overrides

LOCAL = {"TABLE_NAME": "t", "DYNAMODB_ENDPOINT": "x", **LOCAL_CREDENTIALS_ENV}


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DYNAMODB_ENDPOINT", "TABLE_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_without_the_variable_the_stack_starts_its_own_dynamodb_local():
    assert ExistingDynamoDB.from_environment(TABLE_NAME) is None  # E1


def test_an_endpoint_on_this_machine_keeps_the_local_credentials(monkeypatch):
    # Given a DynamoDB Local already running (or the drill's proxy), and no table name
    monkeypatch.setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:8123/")
    existing = ExistingDynamoDB.from_environment(TABLE_NAME)
    # Then it is that endpoint with the stack's table, on this machine, and the functions keep the local values (E2, E3)
    assert existing is not None
    assert (existing.endpoint, existing.table_name, existing.remote, existing.pid) == (
        "http://127.0.0.1:8123", TABLE_NAME, False, None)
    assert function_overrides(LOCAL, existing) == LOCAL


def test_dynamodb_in_an_aws_account_gets_the_environments_credentials_and_region(monkeypatch):
    # Given a staging check: DynamoDB's regional endpoint, the staging table, a profile of the caller's own
    monkeypatch.setenv("DYNAMODB_ENDPOINT", "https://dynamodb.eu-west-1.amazonaws.com")
    monkeypatch.setenv("TABLE_NAME", "payments-staging")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_PROFILE", "staging")
    existing = ExistingDynamoDB.from_environment(TABLE_NAME)
    assert existing is not None and (existing.table_name, existing.region, existing.remote) == (
        "payments-staging", "eu-west-1", True)  # E2
    # When the functions' environment is made
    env = function_overrides(LOCAL, existing)
    # Then they sign with the environment's profile in the table's region, never with the local placeholders (E3)
    assert (env["AWS_PROFILE"], env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == ("staging", "eu-west-1", "eu-west-1")
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_an_endpoint_that_is_not_a_url_stops_the_start(monkeypatch):
    monkeypatch.setenv("DYNAMODB_ENDPOINT", "127.0.0.1:8000")
    with pytest.raises(SystemExit, match="DYNAMODB_ENDPOINT"):
        ExistingDynamoDB.from_environment(TABLE_NAME)
