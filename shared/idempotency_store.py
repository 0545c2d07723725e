"""Powertools' DynamoDB persistence layer, with the COMPLETED record written inside our transaction.

Imported only when a request carries an Idempotency-Key: Powertools' idempotency package imports
boto3 (and s3transfer), which nothing else in the functions needs.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.base import STATUS_CONSTANTS, Encoder


class TransactionalPersistenceLayer(DynamoDBPersistenceLayer):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._completed_in_transaction: set[str] = set()

    def completion_item(self, data: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """The TransactWriteItems element that turns this request's record COMPLETED with `result`."""
        key = self._get_hashed_idempotency_key(data=data)
        if key is None:  # pragma: no cover - the key always comes with the data we build
            raise ValueError("no idempotency key in data")
        names = {"#status": self.status_attr, "#data": self.data_attr, "#expiry": self.expiry_attr}
        vals = {
            ":status": {"S": STATUS_CONSTANTS["COMPLETED"]},
            ":inprogress": {"S": STATUS_CONSTANTS["INPROGRESS"]},
            ":data": {"S": json.dumps(result, cls=Encoder, sort_keys=True)},
            ":expiry": {"N": str(self._get_expiry_timestamp())},
        }
        update = "SET #status = :status, #data = :data, #expiry = :expiry"
        if self.payload_validation_enabled:
            names["#validation"] = self.validation_key_attr
            vals[":validation"] = {"S": self._get_hashed_payload(data=data)}
            update += ", #validation = :validation"
        self._completed_in_transaction.add(key)
        return {"Update": {
            "TableName": self.table_name, "Key": self._get_key(key), "UpdateExpression": update,
            "ConditionExpression": "#status = :inprogress",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": vals,
        }}

    def save_success(self, data: dict[str, Any], result: dict) -> None:
        key = self._get_hashed_idempotency_key(data=data)
        if key in self._completed_in_transaction:
            self._completed_in_transaction.discard(key)  # already COMPLETED by the transaction
            return
        super().save_success(data, result)

    def delete_record(self, data: dict[str, Any], exception: Exception) -> None:
        self._completed_in_transaction.discard(self._get_hashed_idempotency_key(data=data) or "")
        super().delete_record(data, exception)
