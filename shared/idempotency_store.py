"""The idempotency records of `Idempotency-Key` requests: our own item format on the shared table, one item per key.

An item (docs/data-model.md), every attribute ours:

  pk          `IDEMPOTENCY#{sha256 hex of the JSON array [scope, key]}`: one partition per key, spread like any other
  sk          `RECORD`
  entity      `idempotency` (no stream consumer's filter names it)
  status      `INPROGRESS` while the first request runs, `COMPLETED` with its response
  body_hash   sha256 hex of the request body's canonical JSON: the same key with another body is refused
  claim       the random marker of the request that wrote INPROGRESS: only that request completes or releases it
  expiration  epoch seconds (the table's TTL attribute): the record is forgotten after it (default 24 h)
  in_progress_expiration_ms  epoch milliseconds, INPROGRESS only: the claiming invocation's end (Lambda's remaining
              time); after it a retry may claim the key again. Absent without a Lambda context (then only
              `expiration` frees it)
  response    COMPLETED only: the saved response's JSON, answered unchanged to every replay

Imported on the first request that carries a key (botocore only: what the DynamoDB client already loaded).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.repositories.dynamo import from_av, to_av

INPROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
PK_PREFIX = "IDEMPOTENCY#"
SK = "RECORD"
ENTITY = "idempotency"
_NAMES = {"#status": "status", "#claim": "claim", "#expiration": "expiration",
          "#ipe": "in_progress_expiration_ms", "#response": "response"}
_OURS = "#status = :inprogress AND #claim = :claim"  # still the INPROGRESS record this request wrote


def record_pk(scope: str, key: str) -> str:
    """The record's partition key: the hash of (scope, key) as a JSON array, so no pair names another's record."""
    return PK_PREFIX + hashlib.sha256(json.dumps([scope, key]).encode()).hexdigest()


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def response_json(response: dict[str, Any]) -> str:
    return json.dumps(response, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Claim:
    """One request's hold on its key: the record's key, its body's hash and the request's own marker."""

    pk: str
    body_hash: str
    marker: str

    @classmethod
    def new(cls, scope: str, key: str, body: dict[str, Any]) -> Claim:
        return cls(record_pk(scope, key), body_hash(body), secrets.token_hex(16))  # drawn per request, never at init


@dataclass(frozen=True)
class Record:
    """A live record found for a key: its status, whether it was written for the same body, what it saved."""

    status: str
    same_body: bool
    response: str | None = None
    claim: str | None = None


def live(item: dict[str, Any], now: float) -> bool:
    """Whether a record still holds its key at `now` (epoch seconds): unexpired and, if in progress, within its
    invocation's time (TTL deletion is lazy: an expired item may still be read)."""
    if int(item["expiration"]) < int(now):
        return False
    ends = item.get("in_progress_expiration_ms")
    return not (item["status"] == INPROGRESS and ends is not None and int(ends) < int(now * 1000))


class IdempotencyStore:
    def __init__(self, table_name: str, client: Any, ttl_seconds: int):
        self.table = table_name
        self.client = client  # botocore's DynamoDB client (the function's one)
        self.ttl_seconds = ttl_seconds

    def _key(self, pk: str) -> dict[str, Any]:
        return to_av({"pk": pk, "sk": SK})

    def _values(self, claim: Claim, **more: Any) -> dict[str, Any]:
        return to_av({":inprogress": INPROGRESS, ":claim": claim.marker, **more})

    def claim(self, claim: Claim, now: float, remaining_ms: int | None) -> Record | None:
        """Write INPROGRESS for `claim` unless a live record holds its key: None when claimed, else that record
        (taken from the failed condition itself, in the same request)."""
        item = {"pk": claim.pk, "sk": SK, "entity": ENTITY, "status": INPROGRESS, "body_hash": claim.body_hash,
                "claim": claim.marker, "expiration": int(now) + self.ttl_seconds}
        if remaining_ms is not None:
            item["in_progress_expiration_ms"] = int(now * 1000) + remaining_ms
        for _ in range(3):
            try:
                self.client.put_item(
                    TableName=self.table, Item=to_av(item), ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    ConditionExpression="attribute_not_exists(pk) OR #expiration < :now"
                                        " OR (#status = :inprogress AND #ipe < :now_ms)",
                    ExpressionAttributeNames={k: _NAMES[k] for k in ("#expiration", "#status", "#ipe")},
                    ExpressionAttributeValues=to_av({":now": int(now), ":now_ms": int(now * 1000),
                                                     ":inprogress": INPROGRESS}))
                return None
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                old = error.response.get("Item")
                found = from_av(old) if old else self._get(claim.pk)
                if found is not None and found.get("status") == INPROGRESS and found.get("claim") == claim.marker:
                    return None  # our own put, resent by botocore after its answer was lost: the key is ours
            if found is not None and live(found, now):  # else it was released or expired just now: claim again
                return self._record(found, claim)
        return Record(INPROGRESS, same_body=True)  # pragma: no cover - a key freed and taken three times at once

    def get(self, claim: Claim) -> Record | None:
        found = self._get(claim.pk)
        return None if found is None else self._record(found, claim)

    def _get(self, pk: str) -> dict[str, Any] | None:
        res = self.client.get_item(TableName=self.table, Key=self._key(pk), ConsistentRead=True)
        return from_av(res["Item"]) if "Item" in res else None

    @staticmethod
    def _record(item: dict[str, Any], claim: Claim) -> Record:
        return Record(item["status"], item.get("body_hash") == claim.body_hash, item.get("response"),
                      item.get("claim"))

    def _completing(self, claim: Claim, response: str, now: float) -> dict[str, Any]:
        return {
            "TableName": self.table, "Key": self._key(claim.pk), "ConditionExpression": _OURS,
            "UpdateExpression": "SET #status = :completed, #response = :response, #expiration = :expiration"
                                " REMOVE #ipe",
            "ExpressionAttributeNames": _NAMES,
            "ExpressionAttributeValues": self._values(claim, **{
                ":completed": COMPLETED, ":response": response, ":expiration": int(now) + self.ttl_seconds}),
        }

    def completion(self, claim: Claim, response: str, now: float) -> dict[str, Any]:
        """The TransactWriteItems element that turns this request's own INPROGRESS record COMPLETED with
        `response`: the business transaction carries it, so the money move and the saved response commit
        together or not at all."""
        return {"Update": self._completing(claim, response, now)}

    def complete(self, claim: Claim, response: str, now: float) -> bool:
        """COMPLETED on its own (an answer whose transaction did not carry the completion): False if the record
        is no longer this request's INPROGRESS one."""
        return self._conditional(self.client.update_item, self._completing(claim, response, now))

    def release(self, claim: Claim) -> bool:
        """Delete the record if it is still this request's INPROGRESS one (the request failed: the key may be used
        again). Never a COMPLETED record: its transaction committed, and a retry must replay it, not redo it."""
        return self._conditional(self.client.delete_item, {
            "TableName": self.table, "Key": self._key(claim.pk), "ConditionExpression": _OURS,
            "ExpressionAttributeNames": {k: _NAMES[k] for k in ("#status", "#claim")},
            "ExpressionAttributeValues": self._values(claim),
        })

    @staticmethod
    def _conditional(call: Any, request: dict[str, Any]) -> bool:
        try:
            call(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
