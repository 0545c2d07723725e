"""TransactWriteItems for the embedded DynamoDB, without moto's whole-table copies.

moto 5.2 snapshots the entire table (copy.deepcopy) once per item of every TransactWriteItems, so
each transaction costs O(table size) and the local stack slows down as data grows. This version
keeps DynamoDB's semantics and moto's own item operations:
  1. every item's condition is evaluated against the state before the transaction (as DynamoDB
     does), and any failure cancels the whole transaction with per-item reasons, writing nothing;
  2. then the writes are applied; should one of them fail validation, the items already written are
     restored from item-level snapshots, and the error is raised.
It is installed once by local.dynamodb; the endpoint's lock makes each transaction atomic.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

OPS = {"ConditionCheck", "Put", "Delete", "Update"}


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    plan, seen = [], set()
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in OPS:
            raise ValueError("Unsupported transaction operation")
        key = _key(self, op_type, op)
        identity = (op["TableName"], str(sorted((k, str(v)) for k, v in key.items())))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        plan.append((op_type, op, key))

    # 1. Conditions, all against the state before the transaction.
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for _, op, key in plan:
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is not None and not get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")).expr(current):
            old = (current.to_json()["Attributes"] if current is not None
                   and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None)
            errors.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
        else:
            errors.append((None, None, None))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    # 2. Writes, undone item by item should one fail.
    written: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    try:
        for op_type, op, key in plan:
            table_name = op["TableName"]
            if op_type == "ConditionCheck":
                continue
            before = self.get_item(table_name, key)
            written.append((table_name, key, copy.deepcopy(before.to_json()["Attributes"]) if before else None))
            names, vals = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"], expression_attribute_names=names,
                              expression_attribute_values=vals)
            elif op_type == "Delete":
                self.delete_item(table_name, key, expression_attribute_names=names, expression_attribute_values=vals)
            else:
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 expression_attribute_names=names, expression_attribute_values=vals)
    except Exception:
        for table_name, key, before in reversed(written):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before)
        raise


def install() -> None:
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
