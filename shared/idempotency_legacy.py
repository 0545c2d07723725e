"""Records written before issue 31 (Powertools' format, in one partition), read for one TTL period after its deploy.

DELETE THIS MODULE (and its one call in shared/idempotency.py, and tests/handlers/test_idempotency_legacy.py) in the
first release deployed more than `IDEMPOTENCY_TTL_SECONDS` (24 h) after issue 31's: by then every such record has
expired (docs/decisions.md, "Idempotency records spread over partitions (issue 31)").

The format is re-computed here by our own code, as the code before issue 31 wrote it through Powertools 3.37
(`DynamoDBPersistenceLayer(static_pk_value="IDEMPOTENCY", key_attr="pk", sort_key_attr="sk")`, event key `key`,
payload validation on `body`, md5): pk `IDEMPOTENCY`, sk `{function name}#{md5 of the JSON string "{scope}#{key}"}`,
where the function name was `{AWS_LAMBDA_FUNCTION_NAME}.shared.idempotency.Idempotency._run.<locals>.once`;
`status`, `expiration` (s), `in_progress_expiration` (ms), `validation` (md5 of the body's JSON, keys sorted),
`data` (the response's JSON).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from shared.idempotency_store import Record, live
from shared.repositories.dynamo import from_av, to_av

LEGACY_PK = "IDEMPOTENCY"
_FUNCTION = "shared.idempotency.Idempotency._run.<locals>.once"  # the decorated function's module and qualname


def legacy_hash(value: Any) -> str:
    return hashlib.md5(json.dumps(value, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def legacy_sk(scope: str, key: str, function_name: str | None = None) -> str:
    name = function_name if function_name is not None else os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "test-func")
    return f"{name}.{_FUNCTION}#{legacy_hash(f'{scope}#{key}')}"


def legacy_record(client: Any, table: str, scope: str, key: str, body: dict[str, Any], now: float) -> Record | None:
    """The record the code before issue 31 kept for (scope, key), if it still holds the key at `now`."""
    res = client.get_item(TableName=table, Key=to_av({"pk": LEGACY_PK, "sk": legacy_sk(scope, key)}),
                          ConsistentRead=True)
    if "Item" not in res:
        return None
    item = from_av(res["Item"])
    # the same rule as a record of ours: expired, or in progress past its invocation's end (nothing done): key free
    if not live(item | {"in_progress_expiration_ms": item.get("in_progress_expiration")}, now):
        return None
    return Record(item["status"], item.get("validation") == legacy_hash(body), item.get("data"))
