"""Delivers the table's stream to the functions the template maps to it, as Lambda's DynamoDB event source mapping
does: each shard read in order (a child after its parent), records kept only when they match the mapping's
FilterCriteria, handed over in batches of `BatchSize` as a DynamoDB Streams event; a batch that fails (the function
raised, or reported `batchItemFailures`) is retried from its first failed record (split in two first, with
`BisectBatchOnFunctionError`) up to `MaximumRetryAttempts`, and then its batch info goes to the mapping's on-failure
queue, as Lambda sends it, and the shard reads on.

`drain()` delivers everything written so far, in the caller's thread (tests); `start()` polls in a thread per
mapping four times a second (Lambda polls a stream's shards four times a second)."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from local.aws import TABLE_NAME, LocalAws
from local.dynamodb import client
from local.lambdas import FunctionHost, InvocationError
from local.polling import Pollers
from local.template import Template

POLL_SECONDS = 0.25
SHARDS_SECONDS = 1.0  # how often the shards are described again (each poll reads the shards known)
RETRY_SECONDS = 0.05  # between tries of a failed batch (Lambda backs off; locally the tests wait for it)


class UnsupportedPattern(ValueError):
    """A filter the local matcher does not implement: better refused at start than matched wrongly."""


def _matches_value(rule: Any, value: Any, present: bool) -> bool:
    if isinstance(rule, dict):
        (kind, arg), = rule.items()
        if kind == "prefix":
            return present and isinstance(value, str) and value.startswith(arg)
        if kind == "exists":
            return present is bool(arg)
        if kind == "anything-but":
            return present and value not in (arg if isinstance(arg, list) else [arg])
        raise UnsupportedPattern(f"filter rule {kind!r}")
    return present and value == rule


def matches(pattern: dict[str, Any], data: Any) -> bool:
    """Lambda's event filtering: every key of the pattern must match; a list is an OR of its rules."""
    if not isinstance(data, dict):
        return False
    for name, rule in pattern.items():
        present = name in data
        if isinstance(rule, dict):
            if not present or not matches(rule, data[name]):
                return False
        elif isinstance(rule, list):
            if not any(_matches_value(r, data.get(name), present) for r in rule):
                return False
        else:
            raise UnsupportedPattern(f"a filter's leaf must be a list, not {rule!r}")
    return True


@dataclass(frozen=True)
class StreamMapping:
    function: str
    batch_size: int
    partial_failures: bool
    max_retries: int
    patterns: tuple[dict[str, Any], ...]
    on_failure: str | None  # the logical id of the on-failure queue
    bisect: bool = False

    def wants(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(matches(p, record) for p in self.patterns)


def mappings(template: Template) -> list[StreamMapping]:
    out = []
    for fn in template.functions().values():
        for event in fn.events.values():
            if event.get("Type") != "DynamoDB":
                continue
            props = event["Properties"]
            patterns = tuple(json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", []))
            for pattern in patterns:
                matches(pattern, {})  # refuses a rule it cannot match, at start
            target = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            out.append(StreamMapping(fn.logical_id, int(props.get("BatchSize", 100)),
                                     "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                                     int(props.get("MaximumRetryAttempts", -1)), patterns,
                                     target["Fn::GetAtt"][0] if target else None,
                                     bool(props.get("BisectBatchOnFunctionError", False))))
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())  # ApproximateCreationDateTime: epoch seconds in Lambda's event
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class _Shard:
    iterator: str | None = None
    done: bool = False


@dataclass
class _Reader:
    mapping: StreamMapping
    shards: dict[str, _Shard] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    listed: list[dict[str, Any]] = field(default_factory=list)  # the stream's shards as last described
    listed_at: float = float("-inf")


class StreamDelivery:
    def __init__(self, aws: LocalAws, host: FunctionHost, template: Template, table: str = TABLE_NAME):
        self.aws, self.host = aws, host
        self.streams = client(aws.dynamodb.endpoint, "dynamodbstreams")
        self.sqs = client(aws.sqs.endpoint, "sqs")
        self.arn = client(aws.dynamodb.endpoint).describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.readers = [_Reader(m) for m in mappings(template)]
        self.pollers = Pollers(POLL_SECONDS)
        self.stopped = self.pollers.stopped
        self.delivered = 0
        self.given_up = 0
        for reader in self.readers:
            self.pollers.add(f"stream delivery to {reader.mapping.function}", partial(self._poll, reader))

    def start(self) -> StreamDelivery:
        self.pollers.start()
        return self

    def stop(self) -> None:
        self.pollers.stop()

    def drain(self) -> int:
        """Deliver every record written so far to every mapping; returns how many records were read."""
        total = 0
        for reader in self.readers:
            fresh = True  # what was written so far may be in a shard opened since the last look
            while read := self._poll(reader, fresh=fresh):
                total += read
                fresh = False
        return total

    def _poll(self, reader: _Reader, fresh: bool = False) -> int:
        """One GetRecords on each readable shard (a child once its parent is done); returns records read. The
        shards are described again at most once a second (as Lambda looks for new shards now and then, not on every
        poll), when a shard has closed, or when asked (`fresh`)."""
        with reader.lock:
            if fresh or time.monotonic() - reader.listed_at > SHARDS_SECONDS:
                reader.listed = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
                reader.listed_at = time.monotonic()
            read = 0
            for shard in reader.listed:
                state = reader.shards.setdefault(shard["ShardId"], _Shard())
                parent = reader.shards.get(shard.get("ParentShardId") or "")
                if state.done or (parent is not None and not parent.done):
                    continue
                if state.iterator is None:
                    state.iterator = self.streams.get_shard_iterator(
                        StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                res = self.streams.get_records(ShardIterator=state.iterator, Limit=1000)
                records = [_jsonable(r) for r in res.get("Records", [])]
                read += len(records)
                wanted = [{**r, "eventSourceARN": self.arn} for r in records if reader.mapping.wants(r)]
                for start in range(0, len(wanted), reader.mapping.batch_size):
                    self._deliver(reader.mapping, shard["ShardId"], wanted[start:start + reader.mapping.batch_size])
                state.iterator = res.get("NextShardIterator")
                state.done = state.iterator is None  # a closed shard, read to its end
                if state.done:
                    reader.listed_at = float("-inf")  # its children: look for them on the next poll
            return read

    def _deliver(self, m: StreamMapping, shard_id: str, batch: list[dict[str, Any]]) -> None:
        tries = 0
        while batch:
            try:
                result: Any = self.host.invoke(m.function, {"Records": batch})
                reported = (result or {}).get("batchItemFailures", []) if m.partial_failures else []
                failed = {f["itemIdentifier"] for f in reported}
                first = next((i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed), None)
            except InvocationError:
                first = 0
            self.delivered += len(batch) if first is None else first
            if first is None:
                return
            batch = batch[first:]  # Lambda retries from the first failed record
            if m.bisect and len(batch) > 1:  # or splits what failed in two (a split is not a retry)
                half = len(batch) // 2
                self._deliver(m, shard_id, batch[:half])
                self._deliver(m, shard_id, batch[half:])
                return
            tries += 1
            if 0 <= m.max_retries < tries:
                self._give_up(m, shard_id, batch)
                return
            time.sleep(RETRY_SECONDS)

    def _give_up(self, m: StreamMapping, shard_id: str, batch: list[dict[str, Any]]) -> None:
        """What Lambda sends the on-failure destination when a batch ran out of tries: its place, not its records."""
        self.given_up += len(batch)
        print(f"stream delivery to {m.function} gave up on {len(batch)} records", file=sys.stderr)
        if m.on_failure is None:
            return
        now = datetime.now().astimezone().isoformat()
        self.sqs.send_message(QueueUrl=self.aws.queue_urls[m.on_failure], MessageBody=json.dumps({
            "requestContext": {"requestId": f"local-{time.time_ns()}", "functionArn": m.function,
                               "condition": "RetryAttemptsExhausted", "approximateInvokeCount": m.max_retries + 1},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": now,
            "DDBStreamBatchInfo": {"shardId": shard_id, "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                                   "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                                   "approximateArrivalOfFirstRecord": now, "approximateArrivalOfLastRecord": now,
                                   "batchSize": len(batch), "streamArn": self.arn}}))
