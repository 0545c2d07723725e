"""Idempotency-Key records (issue 31): their format, pinned; a committed request whose answer is lost; a race.

Invariants:
  I1  the record's format is the one docs/data-model.md draws: its key and every attribute's name and type, for
      INPROGRESS and COMPLETED (a change of format fails here: records already written would no longer be read);
  I2  a request whose transaction committed is answered by its saved response, never undone and never redone,
      whatever is raised after the commit (an answer lost on the way back, a resent transaction refused, a rule
      decided again on the state the request had itself just written); a retry replays it;
  I3  N requests at once with one key and body move money once: one runs, the others answer its saved response
      or 409 idempotency_request_in_progress.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError

from local.aws import TABLE_NAME
from shared.auth import Principal
from shared.container import Container
from shared.errors import ApiError
from shared.models import PaymentCreate, WithdrawalIn
from shared.repositories.dynamo import Dynamo
from shared.settings import get_settings
from tests.handlers.conftest import NO_KEY, admin, create_org, record, viewer

BODY = {"amount": 5_000, "currency": "SGD", "received_date": "2026-11-20", "method": "cash"}
TTL = 86_400


def record_key(scope: str, key: str) -> dict[str, Any]:
    """The record's key, computed here from the format's definition (not by the code under test)."""
    digest = hashlib.sha256(json.dumps([scope, key]).encode()).hexdigest()
    return {"pk": {"S": f"IDEMPOTENCY#{digest}"}, "sk": {"S": "RECORD"}}


def canonical_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_record(lambdas, scope: str, key: str) -> dict[str, Any] | None:
    return lambdas.ddb.get_item(TableName=TABLE_NAME, Key=record_key(scope, key), ConsistentRead=True).get("Item")


def shape(item: dict[str, Any]) -> dict[str, str]:
    """Each attribute's DynamoDB type."""
    return {name: next(iter(value)) for name, value in item.items()}


class Context:
    """A Lambda context's remaining time (what an INPROGRESS record's in-progress expiry comes from)."""

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class Tapped:
    """The functions' DynamoDB client, with `around` wrapped about each TransactWriteItems (a fault, a look)."""

    def __init__(self, real: Any, around: Callable[[Callable[[], Any], dict[str, Any]], Any]):
        self._real, self._around = real, around

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def transact_write_items(self, **request: Any) -> Any:
        return self._around(lambda: self._real.transact_write_items(**request), request)


def container(around: Callable[[Callable[[], Any], dict[str, Any]], Any] | None = None) -> Container:
    """The functions' own code and settings in this process, begun as an invocation with 30 s left."""
    settings = get_settings()
    overrides: dict[str, Any] = {}
    if around is not None:
        real = Dynamo(settings).client
        overrides["db"] = Dynamo(settings, client_factory=lambda: Tapped(real, around))
    deps = Container(settings, overrides=overrides)
    deps.idempotency.register_context(Context())
    return deps


def finance(partner: str) -> Principal:
    return Principal(sub="admin@example.com", partner_id=partner, groups=frozenset({"finance-admin"}))


def payments_of(lambdas, partner: str) -> list[str]:
    status, page = lambdas.payments("list_payments", query={}, **viewer(partner))
    assert status == 200, page
    return [p["id"] for p in page["items"]]


# --- I1: the format -------------------------------------------------------------------------------------------------

def test_i1_a_completed_record_has_the_pinned_key_and_attributes(lambdas, partner):
    # Given a payment recorded through the payments function with an Idempotency-Key
    key = f"fmt-{partner}"
    before = time.time()
    status, answered = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key},
                                        **admin(partner))
    assert status == 201, answered
    # When its record is read back from the table, at the key the format names (one partition per key)
    item = read_record(lambdas, f"{partner}#payment.create", key)
    # Then it holds exactly these attributes, of these types
    assert item is not None
    assert shape(item) == {"pk": "S", "sk": "S", "entity": "S", "status": "S", "body_hash": "S", "claim": "S",
                           "expiration": "N", "response": "S"}
    assert (item["entity"]["S"], item["status"]["S"]) == ("idempotency", "COMPLETED")
    # And the body's hash is the SHA-256 of its canonical JSON (the request body as its model dumps it)
    assert item["body_hash"]["S"] == canonical_hash(PaymentCreate.model_validate(BODY).model_dump(mode="json"))
    # And the claim is the random marker of the request that wrote it, the TTL 24 h in epoch seconds
    assert len(item["claim"]["S"]) == 32 and int(item["claim"]["S"], 16) >= 0
    assert int(before) + TTL <= int(item["expiration"]["N"]) <= int(time.time()) + TTL
    # And the response is the answer, as JSON, which a replay answers unchanged
    assert json.loads(item["response"]["S"]) == answered
    again = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    assert again == (201, answered)


def test_i1_an_inprogress_record_has_the_pinned_key_and_attributes(lambdas, partner):
    # Given a request with a key, looked at just before its transaction commits
    key = f"fmt-{partner}"
    seen: list[dict[str, Any]] = []

    def look(commit: Callable[[], Any], request: dict[str, Any]) -> Any:
        seen.append(read_record(lambdas, f"{partner}#payment.create", key) or {})
        return commit()

    before = time.time()
    # When it runs (an invocation with 30 s left)
    out = container(look).payments.create(finance(partner), PaymentCreate.model_validate(BODY), key)
    # Then its record was INPROGRESS with exactly these attributes, of these types
    inprogress = seen[0]
    assert shape(inprogress) == {"pk": "S", "sk": "S", "entity": "S", "status": "S", "body_hash": "S", "claim": "S",
                                 "expiration": "N", "in_progress_expiration_ms": "N"}
    assert (inprogress["entity"]["S"], inprogress["status"]["S"]) == ("idempotency", "INPROGRESS")
    assert inprogress["body_hash"]["S"] == canonical_hash(PaymentCreate.model_validate(BODY).model_dump(mode="json"))
    # And it holds the key until the invocation's end (epoch milliseconds), then for the TTL (epoch seconds)
    ends = int(inprogress["in_progress_expiration_ms"]["N"])
    assert int(before * 1000) + 30_000 <= ends <= int(time.time() * 1000) + 30_000
    assert int(before) + TTL <= int(inprogress["expiration"]["N"]) <= int(time.time()) + TTL
    # And the transaction that moved the money completed that very record: same claim, the in-progress expiry gone
    done = read_record(lambdas, f"{partner}#payment.create", key)
    assert done is not None and done["status"]["S"] == "COMPLETED" and done["claim"] == inprogress["claim"]
    assert "in_progress_expiration_ms" not in done and json.loads(done["response"]["S"])["id"] == out.id


def test_i1_a_keyed_payment_costs_two_writes_the_claim_and_its_transaction(lambdas, partner):
    # Given the functions' DynamoDB client, its writes counted
    writes: list[str] = []

    class Counted(Tapped):
        def __getattr__(self, name: str) -> Any:
            if name in ("put_item", "update_item", "delete_item", "batch_write_item"):
                writes.append(name)
            return super().__getattr__(name)

    def count(commit: Callable[[], Any], request: dict[str, Any]) -> Any:
        writes.append("transact_write_items")
        return commit()

    settings = get_settings()
    real = Dynamo(settings).client
    deps = Container(settings, overrides={"db": Dynamo(settings, client_factory=lambda: Counted(real, count))})
    deps.idempotency.register_context(Context())
    # When a payment is recorded with a key
    deps.payments.create(finance(partner), PaymentCreate.model_validate(BODY), f"cost-{partner}")
    # Then it wrote twice: the INPROGRESS claim, and the transaction that completed it with the payment
    assert writes == ["put_item", "transact_write_items"]


# --- I2: the lost answer --------------------------------------------------------------------------------------------

def test_i2_a_committed_payment_whose_answer_is_lost_is_answered_and_replayed_never_made_twice(lambdas, partner):
    # Given DynamoDB committing the payment's transaction and its answer lost on the way back
    lost = []

    def lose_the_answer(commit: Callable[[], Any], request: dict[str, Any]) -> Any:
        commit()
        if not lost:
            lost.append(request)
            raise ConnectionClosedError(endpoint_url="http://dynamodb")

    key = f"lost-{partner}"
    first = container(lose_the_answer)
    # When the payment is recorded with a key
    out = first.payments.create(finance(partner), PaymentCreate.model_validate(BODY), key)
    # Then the answer lost was the commit of the payment with its record's completion, and the request answers the
    # payment it made (its saved response; not a replay: the move was this request's)
    assert lost and first.idempotency.replayed is False
    item = read_record(lambdas, f"{partner}#payment.create", key)
    assert item is not None and item["status"]["S"] == "COMPLETED" and json.loads(item["response"]["S"])["id"] == out.id
    # And the client's retry is a replay of it, through the function: one payment
    status, again = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    assert (status, again["id"]) == (201, out.id)
    assert payments_of(lambdas, partner) == [out.id]


def test_i2_a_withdrawal_resent_after_its_lost_answer_and_refused_is_still_the_answer(lambdas, partner):
    # Given a wallet holding 10,000
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    status, _ = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]}, body={"amount": 10_000},
                                   headers=NO_KEY, **admin(partner))
    assert status == 200
    # And DynamoDB committing the withdrawal whose answer is lost, so that the transaction is sent again (as botocore
    # resends a request whose answer it lost): refused, its conditions no longer hold

    def resend(commit: Callable[[], Any], request: dict[str, Any]) -> Any:
        commit()
        return commit()

    key = f"resent-{partner}"
    # When the whole wallet is withdrawn with a key (the service re-reads after the refusal, and decides again on a
    # wallet now empty: insufficient balance)
    out = container(resend).money_back.withdraw(finance(partner), org["id"], WithdrawalIn(amount=10_000,
                                                                                         method="cash"), key)
    # Then the answer is the withdrawal made, not the refusal decided after it
    assert out.amount == 10_000
    # And a retry replays it; the wallet was debited once
    status, again = lambdas.accounts("withdraw", path={"org_id": org["id"]}, body={"amount": 10_000, "method": "cash"},
                                     headers={"idempotency-key": key}, **admin(partner))
    assert (status, again["id"]) == (201, out.id), again
    _, wallet = lambdas.accounts("get_wallet", path={"org_id": org["id"]}, **viewer(partner))
    assert wallet["balance"] == 0


def test_i2_a_request_that_failed_before_its_commit_releases_its_key(lambdas, partner):
    # Given DynamoDB unreachable for the payment's transaction (nothing committed)
    def unreachable(commit: Callable[[], Any], request: dict[str, Any]) -> Any:
        raise ConnectionClosedError(endpoint_url="http://dynamodb")

    key = f"down-{partner}"
    # When the payment is recorded with a key
    with pytest.raises(ConnectionClosedError):
        container(unreachable).payments.create(finance(partner), PaymentCreate.model_validate(BODY), key)
    # Then no record holds the key, and the retry records the payment, once
    assert read_record(lambdas, f"{partner}#payment.create", key) is None
    status, made = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    assert status == 201 and payments_of(lambdas, partner) == [made["id"]]


def test_i2_a_claim_resent_after_its_lost_answer_is_still_this_requests(lambdas, partner):
    # Given DynamoDB writing the request's INPROGRESS claim and its answer lost, so that botocore sends the same put
    # again: refused by its condition, against the record this very request wrote
    class ClaimResent:
        def __init__(self, real: Any):
            self._real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

        def put_item(self, **request: Any) -> Any:
            if request["Item"]["pk"]["S"].startswith("IDEMPOTENCY#"):
                self._real.put_item(**request)  # committed; the answer lost on the way back
            return self._real.put_item(**request)

    settings = get_settings()
    real = Dynamo(settings).client
    deps = Container(settings, overrides={"db": Dynamo(settings, client_factory=lambda: ClaimResent(real))})
    deps.idempotency.register_context(Context())
    key = f"claim-resent-{partner}"
    # When the payment is recorded with a key
    out = deps.payments.create(finance(partner), PaymentCreate.model_validate(BODY), key)
    # Then the request goes on as the key's owner (not 409 idempotency_request_in_progress for its own claim), once
    assert deps.idempotency.replayed is False
    item = read_record(lambdas, f"{partner}#payment.create", key)
    assert item is not None and item["status"]["S"] == "COMPLETED" and json.loads(item["response"]["S"])["id"] == out.id
    assert payments_of(lambdas, partner) == [out.id]


# --- I3: the race ---------------------------------------------------------------------------------------------------

def test_i3_requests_at_once_with_one_key_record_one_payment(lambdas, partner):
    """I3: eight environments (each its own container) send one payment with one key at once."""
    key, start = f"race-{partner}", threading.Barrier(8)

    def send() -> tuple[str, str | None, bool]:
        deps = container()
        start.wait()
        try:
            out = deps.payments.create(finance(partner), PaymentCreate.model_validate(BODY), key)
        except ApiError as error:
            return "refused", error.code, False
        return "answered", out.id, deps.idempotency.replayed

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: send(), range(8)))
    # Then one payment was recorded, by the one request that was not a replay
    answered = [r for r in results if r[0] == "answered"]
    ids = {r[1] for r in answered}
    assert len(ids) == 1 and [r[2] for r in answered].count(False) == 1, results
    assert payments_of(lambdas, partner) == list(ids)
    # And every other request answered it again or was told it is in progress
    assert all(r[1] == "idempotency_request_in_progress" for r in results if r[0] == "refused"), results


# --- I4: what frees a key (the claim's condition), and a failure's clean-up ---------------------------------------

def held_by_another(lambdas, partner: str, key: str, *, status: str, expiration: int, ipe_ms: int | None) -> None:
    """A record another request wrote for this key and BODY (its own claim marker), as the format defines it."""
    item: dict[str, Any] = {
        **record_key(f"{partner}#payment.create", key), "entity": {"S": "idempotency"}, "status": {"S": status},
        "body_hash": {"S": canonical_hash(PaymentCreate.model_validate(BODY).model_dump(mode="json"))},
        "claim": {"S": "f" * 32}, "expiration": {"N": str(expiration)}}
    if ipe_ms is not None:
        item["in_progress_expiration_ms"] = {"N": str(ipe_ms)}
    lambdas.ddb.put_item(TableName=TABLE_NAME, Item=item)


def test_i4_an_inprogress_record_is_held_until_its_invocation_ends_then_claimed_again(lambdas, partner):
    now = int(time.time())
    # Given a key held INPROGRESS by another request whose invocation has 20 s left
    key = f"held-{partner}"
    held_by_another(lambdas, partner, key, status="INPROGRESS", expiration=now + TTL, ipe_ms=(now + 20) * 1000)
    # When the same request is sent with it
    status, body = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    # Then it is 409 idempotency_request_in_progress, nothing done
    assert (status, body["error"]["code"]) == (409, "idempotency_request_in_progress")
    assert payments_of(lambdas, partner) == []
    # Given instead that invocation ended (its in-progress expiry passed) without completing the record
    held_by_another(lambdas, partner, key, status="INPROGRESS", expiration=now + TTL, ipe_ms=(now - 1) * 1000)
    # When the request is sent again
    status, made = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    # Then it claims the key and runs, once: the record is its own, COMPLETED
    assert status == 201, made
    assert payments_of(lambdas, partner) == [made["id"]]
    item = read_record(lambdas, f"{partner}#payment.create", key)
    assert item is not None and item["status"]["S"] == "COMPLETED" and item["claim"]["S"] != "f" * 32


def test_i4_a_completed_record_is_replayed_until_its_ttl_then_the_key_is_new(lambdas, partner):
    # Given a payment recorded with a key
    key = f"done-{partner}"
    status, first = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    assert status == 201, first
    # When it is sent again before its record's TTL: the first answer, nothing done
    assert lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner)) == (
        201, first)
    assert payments_of(lambdas, partner) == [first["id"]]
    # Given its TTL passed (DynamoDB deletes such items within days, not at once)
    lambdas.ddb.update_item(TableName=TABLE_NAME, Key=record_key(f"{partner}#payment.create", key),
                            UpdateExpression="SET expiration = :past",
                            ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}})
    # When the request is sent again
    status, made = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    # Then the key is new: the request runs, once more
    assert status == 201 and made["id"] != first["id"]
    assert sorted(payments_of(lambdas, partner)) == sorted([first["id"], made["id"]])


def test_i4_a_failed_look_for_a_record_of_the_old_format_releases_the_claim(lambdas, partner, monkeypatch):
    # Given the look for a record of the format before issue 31 failing (DynamoDB throttling it, say)
    import shared.idempotency_legacy as legacy

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionClosedError(endpoint_url="http://dynamodb")

    monkeypatch.setattr(legacy, "legacy_record", failing)
    key = f"legacy-down-{partner}"
    deps = Container(get_settings())  # no Lambda context: nothing but a release frees the key before its TTL
    # When a keyed payment is recorded
    with pytest.raises(ConnectionClosedError):
        deps.payments.create(finance(partner), PaymentCreate.model_validate(BODY), key)
    # Then its claim was released (not held for 24 h), and the retry records the payment, once
    assert read_record(lambdas, f"{partner}#payment.create", key) is None
    monkeypatch.undo()
    status, made = lambdas.payments("create_payment", body=BODY, headers={"idempotency-key": key}, **admin(partner))
    assert status == 201 and payments_of(lambdas, partner) == [made["id"]]


def test_i4_a_failure_near_the_invocation_s_end_is_answered_without_the_look_after_it(lambdas, partner):
    # Given an invocation with 3 s left and DynamoDB failing the payment's transaction (nothing committed)
    class Ending:
        def get_remaining_time_in_millis(self) -> int:
            return 3_000

    def unreachable(commit: Callable[[], Any], request: dict[str, Any]) -> Any:
        raise ConnectionClosedError(endpoint_url="http://dynamodb")

    deps = container(unreachable)
    deps.idempotency.register_context(Ending())
    key = f"ending-{partner}"
    # When the payment is recorded with a key
    with pytest.raises(ConnectionClosedError):
        deps.payments.create(finance(partner), PaymentCreate.model_validate(BODY), key)
    # Then the failure is raised at once (answered 503 by the edge), the record left INPROGRESS until the invocation's
    # end (its in-progress expiry), not released by calls that could outlive the function
    item = read_record(lambdas, f"{partner}#payment.create", key)
    assert item is not None and item["status"]["S"] == "INPROGRESS"
    ends = int(item["in_progress_expiration_ms"]["N"])
    assert ends <= int(time.time() * 1000) + 3_000
