"""`Idempotency-Key` on money-moving POSTs, with Powertools idempotency stored on the shared table.

Powertools writes an INPROGRESS record before the work and a COMPLETED record (the saved response)
after it: three writes with ours in between, and a crash between our write and its COMPLETED
update would let a retry do the money move again. So the COMPLETED record rides in the business
TransactWriteItems itself (`completion_item`), conditioned on the record still being INPROGRESS:
the money move and the saved response commit together or not at all, and a request costs two
writes (INPROGRESS put + one transaction). Everything else (key hashing, payload validation, replay,
INPROGRESS expiry, delete on failure) is Powertools' own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import STATUS_CONSTANTS, Encoder

from shared.errors import Conflict, Unprocessable

# A write that carries the idempotency record's completion into the business transaction.
Completion = Callable[[dict[str, Any]], dict[str, Any]]

MAX_KEY_LENGTH = 255


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


class Idempotency:
    def __init__(self, table_name: str, client_provider: Callable[[], Any], ttl_seconds: int):
        self._table_name = table_name
        self._client_provider = client_provider
        self.config = IdempotencyConfig(
            event_key_jmespath="key", payload_validation_jmespath="body",
            expires_after_seconds=ttl_seconds, raise_on_no_idempotency_key=True,
        )
        self._store: TransactionalPersistenceLayer | None = None

    @property
    def store(self) -> TransactionalPersistenceLayer:
        if self._store is None:
            self._store = TransactionalPersistenceLayer(
                table_name=self._table_name, key_attr="pk", sort_key_attr="sk",
                static_pk_value="IDEMPOTENCY", boto3_client=self._client_provider(),
            )
        return self._store

    def register_context(self, context: Any) -> None:
        self.config.register_lambda_context(context)

    def run(self, *, scope: str, key: str | None, body: dict[str, Any],
            action: Callable[[Completion | None], dict[str, Any]]) -> dict[str, Any]:
        """Run `action` once per (scope, key); a replay returns the first response unchanged.

        `action` receives a Completion (or None without a key) that it must add to its one
        transaction, with the exact dict it returns.
        """
        if key is None:
            return action(None)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise Unprocessable("Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key")
        data = {"key": f"{scope}#{key}", "body": body}
        store = self.store

        @idempotent_function(data_keyword_argument="data", config=self.config, persistence_store=store)
        def once(data: dict[str, Any]) -> dict[str, Any]:
            return action(lambda result: store.completion_item(data, result))

        try:
            return once(data=data)
        except IdempotencyValidationError:
            raise Conflict("idempotency_key_reused",
                           "This Idempotency-Key was already used with a different request body.") from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict("idempotency_request_in_progress",
                           "A request with this Idempotency-Key is still being processed.") from None
