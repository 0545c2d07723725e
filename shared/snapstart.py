"""Lambda SnapStart (docs/deploy.md): what an API function does once before its snapshot, and after every restore.

Lambda initializes a SnapStart function when a version is published, snapshots the initialized execution environment
and resumes each new environment of that version from the snapshot. So:

- Before the snapshot the function is primed with what its first request would otherwise pay: the modules its routes
  import on first use (the use cases and their repositories, the idempotency store, `stripe`) and the DynamoDB client
  *object*. botocore opens no connection until a request is sent and none is sent here, so the snapshot holds no socket
  (tests/unit/test_snapstart.py checks the pool is empty); its credentials are Lambda's container credentials under
  SnapStart, refreshed by botocore when they expire.
- After each restore what must differ between environments is made anew: the `random` module's state, seeded from
  the OS when the interpreter started and so the same in every environment restored from one snapshot (the jitter of
  `with_retries` and of botocore's retries would step in lockstep across environments, the herd jitter is there to
  break), and Powertools' log sampling decision, drawn from it at init.

Ids, signing secrets and idempotency keys are drawn from the OS (`secrets`) when made, never at init: nothing to redo.
Nothing reads the clock at import. The hooks register with `snapshot_restore_py`, which Lambda's Python runtimes include
(and awslambdaric, the local stack's runtime client, depends on), and only in a SnapStart init
(`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`, which Lambda sets and its runtime checks before running them): an
on-demand environment, the local stack's and the tests' (which import handlers many times) register nothing and
initialize exactly as before.
"""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

    from shared.container import Container

def prepare(deps: Container, logger: Logger, *, use_cases: Sequence[str] = (), modules: Sequence[str] = ()) -> bool:
    """Register the function's hooks: prime `deps` (its DynamoDB client and `use_cases`, the container's collaborators
    the routes call) and import `modules` before the snapshot; reseed after each restore. False outside a SnapStart
    init. A name the container does not have fails here, at import, not when a version is published."""
    unknown = [name for name in use_cases if not isinstance(getattr(type(deps), name, None), cached_property)]
    if unknown:
        raise AttributeError(f"Container has no collaborator {unknown}")
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return False  # an on-demand init: not even the hooks' module is imported
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # pragma: no cover - Lambda's Python runtimes include it
        return False
    register_before_snapshot(prime, deps, tuple(use_cases), tuple(modules))
    register_after_restore(restore_uniqueness, logger)
    return True


def prime(deps: Container, use_cases: Sequence[str], modules: Sequence[str]) -> None:
    """What the snapshot keeps so that a restored environment's first request does not pay it."""
    for module in modules:
        importlib.import_module(module)
    for name in use_cases:
        getattr(deps, name)  # built once: the service and its repositories imported and wired, no request made
    deps.db.client  # noqa: B018 - creating the client object is the point; it sends nothing


def restore_uniqueness(logger: Logger) -> None:
    """In each restored environment: what every environment must not share with its siblings."""
    random.seed()  # from os.urandom: a state of this environment's own
    logger.refresh_sample_rate_calculation()  # POWERTOOLS_LOGGER_SAMPLE_RATE's draw, now from that state
