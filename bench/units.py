"""Write capacity units of a DynamoDB request, computed from the items it wrote (their sizes before and after) and
the table's global secondary indexes as template.yaml declares them (key schema, projection).

DynamoDB Local reports consumed capacity (ReturnConsumedCapacity) right for single-item writes, but undercounts
TransactWriteItems (it reported 8 units for a transaction of nine items); so every write is counted here, by
DynamoDB's documented rules:
  - an item's size: the UTF-8 bytes of its attribute names and values (a number: 1 byte per two significant
    digits, plus 1; a boolean or null: 1; a map or list: 3 bytes plus its elements, plus 1 byte each);
  - a write: ceil(size / 1 KB) units of the larger of the item before and after; in a transaction, twice that;
    a ConditionCheck in a transaction is counted like a write of the item it checks (2 units per KB);
  - each GSI: a write of the projected item when the item enters the index or its projection changes, a delete
    when it leaves, both when its index key changes; each ceil(projected size / 1 KB) units, twice inside a
    transaction (as DynamoDB Local charges them; the plan takes the higher figure).
A write whose condition failed is not counted (it consumes its units in DynamoDB: retries are extra).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import Decimal
from typing import Any

from local.template import Template

type Item = dict[str, Any]  # a DynamoDB item as it travels (attribute values: {"S": ...})
KB = 1024


def _value_size(av: dict[str, Any]) -> int:
    (kind, value), = av.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        digits = Decimal(value).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in value.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in value)
    return len(str(value).encode())  # B, SS, NS, BS: not stored by this service


def size(item: Item | None) -> int:
    return 0 if not item else sum(len(k.encode()) + _value_size(v) for k, v in item.items())


def units(nbytes: int) -> int:
    return max(1, math.ceil(nbytes / KB))


class Indexes:
    """The table's GSIs from template.yaml: their key attributes and projected attributes."""

    def __init__(self, template: Template):
        table = next(r for r in template.resources.values() if r.get("Type") == "AWS::DynamoDB::Table")
        props = table["Properties"]
        self.table_keys = [k["AttributeName"] for k in props["KeySchema"]]
        self.gsis: dict[str, tuple[list[str], list[str] | None]] = {}
        for gsi in props.get("GlobalSecondaryIndexes", []):
            keys = [k["AttributeName"] for k in gsi["KeySchema"]]
            projection = gsi["Projection"]
            included = None if projection["ProjectionType"] == "ALL" else (
                projection.get("NonKeyAttributes", []) if projection["ProjectionType"] == "INCLUDE" else [])
            self.gsis[gsi["IndexName"]] = (keys, included)

    def projected(self, index: str, item: Item | None) -> Item | None:
        keys, included = self.gsis[index]
        if not item or any(k not in item for k in keys):
            return None
        if included is None:
            return item
        wanted = {*self.table_keys, *keys, *included}
        return {k: v for k, v in item.items() if k in wanted}


PARTITION_ID = re.compile(r"^([a-z]+_[0-9A-Za-z]+|[0-9a-f]{16,}|\d+)$")


def partition_class(pk: str) -> str:
    """A partition key with its ids replaced by `*`: PTN#ptn_1#... -> PTN#*; the shape a hot-partition row names."""
    return "#".join("*" if PARTITION_ID.match(part) else part for part in pk.split("#"))


def write_units(indexes: Indexes, before: Item | None, after: Item | None, transactional: bool,
                check: bool = False) -> Counter[str]:
    """The units one item's write consumed: "write" (all), "table", each GSI, and per partition class (`pk:...`,
    `GSIn:...`) for the hot-partition table."""
    factor = 2 if transactional else 1
    out: Counter[str] = Counter()
    item = after or before or {}
    base = factor * units(max(size(before), size(after)))
    out["table"] += base
    if item:
        out[f"pk:{partition_class(item['pk']['S'])}"] += base
    if check:
        out["write"] += base
        return out
    for index, (keys, _) in indexes.gsis.items():
        old, new = indexes.projected(index, before), indexes.projected(index, after)
        writes: list[Item] = []
        if old and new and all(old[k] == new[k] for k in keys):
            if old != new:
                writes.append(new)
        else:
            writes += [p for p in (old, new) if p]
        for p in writes:
            n = factor * units(size(p))
            out[index] += n
            out[f"{index}:{partition_class(p[keys[0]]['S'])}"] += n
    out["write"] += out["table"] + sum(out[i] for i in indexes.gsis)
    return out
