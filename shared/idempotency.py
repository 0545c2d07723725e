"""`Idempotency-Key` on money-moving POSTs: our own records on the shared table (shared.idempotency_store).

A keyed request first claims its key (a conditional put of an INPROGRESS record, one item per key, so keys
spread over partitions); the COMPLETED record (the saved response) then rides in the business
TransactWriteItems itself, conditioned on the record still being this request's INPROGRESS one: the money move
and the saved response commit together or not at all, and a request costs two writes (the claim + one
transaction). A replay answers the saved response unchanged; the same key with another body is 409
`idempotency_key_reused`, one still running 409 `idempotency_request_in_progress`.

A request that fails releases its key (deletes its INPROGRESS record, conditionally). If the record is no longer
INPROGRESS but COMPLETED by this very request, its transaction committed and the failure came after (an answer
lost on the way back and every try of it failing, a rule deciding again on the state it had just written): the
saved response is the answer, now and to every retry; the money never moves twice. (botocore resends a
transaction with the same ClientRequestToken, which DynamoDB applies once: a resend after a lost answer succeeds.)

The store is imported on the first request that carries a key (what `bench.coldstart`'s "1st key" column times).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from shared.errors import Conflict, Unprocessable

if TYPE_CHECKING:
    from shared.idempotency_store import Claim, IdempotencyStore, Record

# A write that carries the idempotency record's completion (the response, as the model it is) into the business
# transaction.
Completion = Callable[[BaseModel], dict[str, Any]]

MAX_KEY_LENGTH = 255
LOG = logging.getLogger(__name__)


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Idempotency:
    def __init__(self, table_name: str, client_provider: Callable[[], Any], ttl_seconds: int,
                 clock: Callable[[], float] = time.time):
        self._table_name = table_name
        self._client_provider = client_provider
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._context: LambdaContext | None = None
        self._store: IdempotencyStore | None = None
        # Whether the last `run` answered a replay (the saved first response, nothing done): a handler counts a
        # business metric only when it is False. One invocation at a time per execution environment (Lambda).
        self.replayed = False

    def register_context(self, context: LambdaContext) -> None:
        """This invocation's Lambda context: an INPROGRESS record holds its key until the invocation's end."""
        self._context = context

    def _load(self) -> IdempotencyStore:
        if self._store is None:
            from shared.idempotency_store import IdempotencyStore

            self._store = IdempotencyStore(self._table_name, self._client_provider(), self._ttl_seconds)
        return self._store

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
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise Unprocessable("Idempotency-Key must be 1 to 255 characters.", code="invalid_idempotency_key")
        from shared.idempotency_legacy import legacy_record
        from shared.idempotency_store import Claim, response_json

        store = self._load()
        claim = Claim.new(scope, key, body)
        remaining = None if self._context is None else self._context.get_remaining_time_in_millis()
        held = store.claim(claim, self._clock(), remaining)
        if held is None:  # claimed; a record of the format before issue 31 may still hold the key (one TTL period)
            try:
                held = legacy_record(store.client, store.table, scope, key, body, self._clock())
            except Exception:
                self._release_quietly(store, claim)  # not held for its TTL without a Lambda context to expire it
                raise
            if held is not None:
                store.release(claim)
        if held is not None:
            return model.model_validate(json.loads(self._saved(held)))

        built: list[BaseModel] = []

        def complete(result: BaseModel) -> dict[str, Any]:
            built.append(result)
            return store.completion(claim, response_json(result.model_dump(mode="json")), self._clock())

        try:
            answer = action(complete)
        except Exception:
            saved = self._committed_anyway(store, claim) if self._time_left() else None
            if saved is None:
                raise
            LOG.warning("Idempotency-Key request failed after its transaction committed: answering its saved response",
                        exc_info=True)
            return model.model_validate(json.loads(saved))
        if not built or built[-1] is not answer:
            # the answer did not come from the transaction that carried the last completion: save it on its own
            # (if the record is still this request's INPROGRESS one; else that transaction had completed it)
            store.complete(claim, response_json(answer.model_dump(mode="json")), self._clock())
        return answer

    def _saved(self, record: Record) -> str:
        """The saved response of a record that holds the key, or the 409 that says why there is none to answer."""
        if not record.same_body:
            raise Conflict("idempotency_key_reused", "This Idempotency-Key was already used with a different request "
                                                     "body.")
        if record.status != "COMPLETED" or record.response is None:
            raise Conflict("idempotency_request_in_progress",
                           "A request with this Idempotency-Key is still being processed.")
        self.replayed = True
        return record.response

    # What finding out after a failure may take: a release and a read, each up to the client's three tries against a
    # stalled DynamoDB (shared.repositories.dynamo.CLIENT_CONFIG). With less of the invocation left, the failure is
    # answered now (a 503 the client retries) rather than by Lambda's timeout (API Gateway's 500): the record then
    # frees its key at its in-progress expiry, the invocation's end, and the retry finds whatever committed.
    AFTER_FAILURE_MS = 4_000

    def _time_left(self) -> bool:
        return self._context is None or self._context.get_remaining_time_in_millis() >= self.AFTER_FAILURE_MS

    @staticmethod
    def _release_quietly(store: IdempotencyStore, claim: Claim) -> None:
        try:
            store.release(claim)
        except Exception:
            LOG.warning("Idempotency-Key record not released after a failed request", exc_info=True)

    @staticmethod
    def _committed_anyway(store: IdempotencyStore, claim: Claim) -> str | None:
        """After `action` failed: release the key, unless this request's own transaction completed its record (then
        the saved response). None when the failure stands (any error here leaves the action's to be raised: the
        record then frees its key at its in-progress expiry)."""
        try:
            if store.release(claim):
                return None
            record = store.get(claim)
        except Exception:
            LOG.warning("Idempotency-Key record not released after a failed request", exc_info=True)
            return None
        if record is not None and record.status == "COMPLETED" and record.claim == claim.marker:
            return record.response
        return None
