"""`Idempotency-Key` on money-moving POSTs, with Powertools idempotency stored on the shared table.

Powertools writes an INPROGRESS record before the work and a COMPLETED record (the saved response)
after it: three writes with ours in between, and a crash between our write and its COMPLETED
update would let a retry do the money move again. So the COMPLETED record rides in the business
TransactWriteItems itself (shared.idempotency_store), conditioned on the record still being
INPROGRESS: the money move and the saved response commit together or not at all, and a request
costs two writes (INPROGRESS put + one transaction). Everything else (key hashing, payload
validation, replay, INPROGRESS expiry, delete on failure) is Powertools' own.

Powertools' idempotency package is imported on the first request that carries a key, not at cold
start (it imports boto3 and s3transfer, ~100 ms that reads never need).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from shared.errors import Conflict, Unprocessable

# A write that carries the idempotency record's completion (the response, as the model it is) into the business
# transaction.
Completion = Callable[[BaseModel], dict[str, Any]]
# What Powertools' persistence layer completes: the response's JSON dump.
_DumpCompletion = Callable[[dict[str, Any]], dict[str, Any]]

MAX_KEY_LENGTH = 255


class Idempotency:
    def __init__(self, table_name: str, client_provider: Callable[[], Any], ttl_seconds: int):
        self._table_name = table_name
        self._client_provider = client_provider
        self._ttl_seconds = ttl_seconds
        self._context: Any = None
        self._store: Any = None
        self._config: Any = None
        # Whether the last `run` answered a replay (the saved first response, nothing done): a handler counts a
        # business metric only when it is False. One invocation at a time per execution environment (Lambda).
        self.replayed = False

    def register_context(self, context: Any) -> None:
        self._context = context
        if self._config is not None:
            self._config.register_lambda_context(context)

    def _load(self) -> tuple[Any, Any]:
        if self._store is None:
            from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

            from shared.idempotency_store import TransactionalPersistenceLayer

            self._config = IdempotencyConfig(
                event_key_jmespath="key", payload_validation_jmespath="body",
                expires_after_seconds=self._ttl_seconds, raise_on_no_idempotency_key=True,
            )
            if self._context is not None:
                self._config.register_lambda_context(self._context)
            self._store = TransactionalPersistenceLayer(
                table_name=self._table_name, key_attr="pk", sort_key_attr="sk",
                static_pk_value="IDEMPOTENCY", boto3_client=self._client_provider(),
            )
        return self._store, self._config

    def run[M: BaseModel](self, *, scope: str, key: str | None, body: dict[str, Any], model: type[M],
                          action: Callable[[Completion | None], M]) -> M:
        """Run `action` once per (scope, key); a replay returns the first response unchanged, as its `model`.

        `action` receives a Completion (or None without a key) that it must add to its one transaction, with
        the model it returns: the record saves its JSON dump (`model_dump(mode="json")`), which a replay
        validates back into `model`.
        """
        self.replayed = False
        if key is None:
            return action(None)
        first: list[M] = []

        def dumped(complete: _DumpCompletion | None) -> dict[str, Any]:
            answer = action(None if complete is None else lambda result: complete(result.model_dump(mode="json")))
            first.append(answer)
            return answer.model_dump(mode="json")

        saved = self._run(scope=scope, key=key, body=body, action=dumped)
        return first[-1] if first else model.model_validate(saved)

    def _run(self, *, scope: str, key: str, body: dict[str, Any],
             action: Callable[[_DumpCompletion | None], dict[str, Any]]) -> dict[str, Any]:
        """Powertools' idempotency around `action`, whose answer is the JSON dict it saves: a replay returns
        the first one unchanged."""
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise Unprocessable("Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key")
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        store, config = self._load()
        data = {"key": f"{scope}#{key}", "body": body}

        ran = False

        @idempotent_function(data_keyword_argument="data", config=config, persistence_store=store)
        def once(data: dict[str, Any]) -> dict[str, Any]:
            nonlocal ran
            ran = True
            return action(lambda result: store.completion_item(data, result))

        try:
            result = once(data=data)
            self.replayed = not ran
            return result
        except IdempotencyValidationError:
            raise Conflict("idempotency_key_reused",
                           "This Idempotency-Key was already used with a different request body.") from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict("idempotency_request_in_progress",
                           "A request with this Idempotency-Key is still being processed.") from None
