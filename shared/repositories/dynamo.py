"""The one DynamoDB client of a function, (de)serialisation, and transaction error translation."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError
from botocore.session import get_session

from shared.errors import StoreUnavailable
from shared.settings import Settings

INDEXES = {f"GSI{n}": (f"gsi{n}pk", f"gsi{n}sk") for n in (1, 2, 3, 4)}

# The client's limits. botocore's defaults are a 60 s connect and a 60 s read timeout with the legacy retries (up to
# 10 tries for DynamoDB): a request to a stalled connection would outlive the function (10 s; 29 s for the report),
# and Lambda's timeout is API Gateway's 500, which no client knows to retry. DynamoDB answers an item in single-digit
# milliseconds and a 1 MB page in tens: 1 s to connect and 2 s to read are each over 20 times that, and `standard`
# retries (throttling, 5xx, timeouts and dropped connections; backoff with jitter, 25 ms up for DynamoDB's transient
# errors and 1 s up for throttling; a retry quota per client, so that a DynamoDB in trouble is not hammered) with 3
# tries in all make a call give up after ~6 s on a stalled connection (three read timeouts), ~9 s at the very worst
# (three connect and read timeouts), or ~3 s of throttling: inside the function's time, so that the answer is our
# 503 with Retry-After (StoreUnavailable), not Lambda's timeout (shared.idempotency skips its after-failure look
# with under 4 s left; a request whose several calls each stall can still outlive the function: money stays safe). A
# retried TransactWriteItems is safe: botocore sends the same ClientRequestToken with each try of one call, and
# DynamoDB applies a token once (DynamoDB Local too).
CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 3})

# DynamoDB's answers that mean "not now" (after the client's own tries): throttling of a table, a partition or the
# account, a transaction holding the item, DynamoDB's own 500/503. A TransactionCanceledException whose reasons say
# the same is one too (see `transact`).
NOT_NOW = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                     "TransactionConflictException", "TransactionInProgressException", "InternalServerError",
                     "ServiceUnavailable", "ReplicatedWriteConflictException"})
NOT_NOW_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


def not_now(error: BaseException) -> bool:
    """Whether `error` is DynamoDB (or the way to it) not answering now: a code of NOT_NOW, a 5xx, or the connection
    (refused, timed out, dropped, reset, a response cut short)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.response.get("Error", {}).get("Code") in NOT_NOW or status >= 500
    return isinstance(error, ConnectionError | HTTPClientError | IncompleteReadError)


def store_unavailable(error: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable that `error` is, or that caused it (anywhere in its chain, `raise ... from` or raised while
    handling it: a dependency may wrap the client's errors), else None. The edge logs the whole chain with it, so that
    a bug raised while handling a throttle is seen, though answered 503."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, StoreUnavailable):
            return current
        if not_now(current):
            unavailable = StoreUnavailable()
            unavailable.__cause__ = current
            return unavailable
        stack += [current.__cause__, current.__context__]
    return None


# Our own (de)serialiser: boto3's TypeSerializer would import boto3 (and s3transfer), ~100 ms of cold
# start for nothing. The table holds only strings, integers, booleans, nulls, maps and lists; a
# fractional number would be a bug in the money path, so it is refused both ways.
def serialize(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return {"N": str(int(value))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, dict):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in the payments table")


def deserialize(av: dict[str, Any]) -> Any:
    (kind, value), = av.items()
    if kind == "S":
        return value
    if kind == "N":
        if not value.lstrip("-").isdigit():
            raise ValueError("non-integer number stored in the money table")
        return int(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: deserialize(v) for k, v in value.items()}
    if kind == "L":
        return [deserialize(v) for v in value]
    raise TypeError(f"unexpected DynamoDB type {kind}")


def to_av(item: dict[str, Any]) -> dict[str, Any]:
    """A Python dict (ints, strs, bools, lists, dicts; None dropped) as a DynamoDB item."""
    return {k: serialize(v) for k, v in item.items() if v is not None}


def from_av(item: dict[str, Any]) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in item.items()}


def values(**kwargs: Any) -> dict[str, Any]:
    return {f":{k}": serialize(v) for k, v in kwargs.items()}


def items_as_sent(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's `before-parse` hook for Query and Scan: their `Items` taken as DynamoDB sent them (JSON attribute
    values), the rest left to botocore. For the types this table holds (S, N, BOOL, NULL, M, L: `deserialize`
    refuses any other) that is exactly what botocore's model-driven parse gives, several times faster: a report
    reading 100,000 items spent most of its time there (docs/benchmarks.md, aged receivables)."""
    if response_dict.get("status_code") != 200:
        return
    body = json.loads(response_dict["body"])
    items = body.pop("Items", None) if isinstance(body, dict) else None
    if items is None:
        return
    customized_response_dict["Items"] = items
    response_dict["body"] = json.dumps(body).encode()


@dataclass
class TransactionCancelled(Exception):
    """A TransactWriteItems was cancelled; reasons line up with the items that were sent."""

    reasons: list[dict[str, Any]]

    def failed_conditions(self) -> list[int]:
        return [i for i, r in enumerate(self.reasons) if r.get("Code") == "ConditionalCheckFailed"]


@dataclass
class Dynamo:
    """Lazily creates its DynamoDB client (botocore's: boto3 adds nothing a DynamoDB client needs)."""

    settings: Settings
    _client: Any = field(default=None, init=False, repr=False)
    client_factory: Callable[[], Any] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            if self.client_factory is not None:
                self._client = self.client_factory()
            else:
                self._client = get_session().create_client(
                    "dynamodb", region_name=self.settings.aws_region,
                    endpoint_url=self.settings.dynamodb_endpoint, config=CLIENT_CONFIG,
                )
            for operation in ("Query", "Scan"):
                self._client.meta.events.register(f"before-parse.dynamodb.{operation}", items_as_sent)
        return self._client

    @property
    def table(self) -> str:
        return self.settings.table_name

    def get(self, key: dict[str, str]) -> dict[str, Any] | None:
        res = self.client.get_item(TableName=self.table, Key=to_av(key), ConsistentRead=True)
        return from_av(res["Item"]) if "Item" in res else None

    def batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Strongly consistent reads of up to 100 items in one round trip (more only for unprocessed keys)."""
        unique = list({(k["pk"], k["sk"]): k for k in keys}.values())
        found: list[dict[str, Any]] = []
        request = {self.table: {"Keys": [to_av(k) for k in unique], "ConsistentRead": True}}
        while request:
            res = self.client.batch_get_item(RequestItems=request)
            found.extend(from_av(i) for i in res.get("Responses", {}).get(self.table, []))
            request = res.get("UnprocessedKeys") or {}
        return found

    def query(self, *, key_condition: str, names: dict[str, str], vals: dict[str, Any],
              index: str | None = None, forward: bool = True, limit: int | None = None,
              start: dict[str, str] | None = None, filter_expression: str | None = None,
              consistent: bool = False, projection: str | None = None,
              ) -> tuple[list[dict[str, Any]], dict[str, str] | None]:
        args: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": vals, "ScanIndexForward": forward,
        }
        if names:
            args["ExpressionAttributeNames"] = names
        if index:
            args["IndexName"] = index
        elif consistent:
            args["ConsistentRead"] = True
        if limit:
            args["Limit"] = limit
        if start:
            args["ExclusiveStartKey"] = to_av(start)
        if filter_expression:
            args["FilterExpression"] = filter_expression
        if projection:
            args["ProjectionExpression"] = projection
        res = self.client.query(**args)
        last = res.get("LastEvaluatedKey")
        return [from_av(i) for i in res.get("Items", [])], (from_av(last) if last else None)

    def query_all(self, **query: Any) -> list[dict[str, Any]]:
        """Every item of a query, page after page: DynamoDB stops each page at 1 MB, and a page that ends
        there is not the end. For reads that promise "all" (a history); lists page with cursors instead."""
        items, start = self.query(**query)
        while start is not None:
            more, start = self.query(**query, start=start)
            items.extend(more)
        return items

    def transact(self, items: Sequence[dict[str, Any]]) -> None:
        """One TransactWriteItems; a cancellation becomes TransactionCancelled with its reasons."""
        try:
            self.client.transact_write_items(TransactItems=list(items))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or _reasons_from_message(
                error.response.get("Error", {}).get("Message", ""), len(items))
            codes = {r.get("Code") for r in reasons}
            if codes & NOT_NOW_REASONS and not codes & {"ConditionalCheckFailed", "TransactionConflict"}:
                raise StoreUnavailable() from error  # throttled, nothing refused: not now, rather than a rule
            raise TransactionCancelled(reasons) from error

    def put_absent(self, item: dict[str, Any]) -> bool:
        """One conditional PutItem: the item is written unless an item with its key is there (then False)."""
        try:
            self.client.put_item(TableName=self.table, Item=to_av(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # Builders for the items of a TransactWriteItems --------------------------------------------
    def put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": to_av(item),
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    def put_if(self, item: dict[str, Any], condition: str, vals: dict[str, Any],
               names: dict[str, str] | None = None) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table, "Item": to_av(item), "ConditionExpression": condition}
        if vals:
            put["ExpressionAttributeValues"] = vals
        if names:
            put["ExpressionAttributeNames"] = names
        return {"Put": put}

    def delete_if(self, key: dict[str, str], condition: str, vals: dict[str, Any]) -> dict[str, Any]:
        return {"Delete": {"TableName": self.table, "Key": to_av(key), "ConditionExpression": condition,
                           "ExpressionAttributeValues": vals}}


def _reasons_from_message(message: str, count: int) -> list[dict[str, Any]]:
    """botocore puts CancellationReasons in the response; this is the fallback when only the
    message ("... cancelled, please refer cancellation reasons for specific reasons
    [ConditionalCheckFailed, None]") came through."""
    start, end = message.rfind("["), message.rfind("]")
    codes = [c.strip() for c in message[start + 1:end].split(",")] if start != -1 < end else []
    codes = (codes + ["None"] * count)[:count]
    return [{"Code": c} for c in codes]


def key_of(item: dict[str, Any], index: str | None) -> dict[str, str]:
    """The key DynamoDB would return as LastEvaluatedKey after `item` (table key + index key)."""
    key = {"pk": item["pk"], "sk": item["sk"]}
    if index:
        ipk, isk = INDEXES[index]
        key[ipk], key[isk] = item[ipk], item[isk]
    return key
