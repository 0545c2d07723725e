"""Runs the template's functions as Lambda would: one module instance per execution environment.

Each "container" is its own import of the function's handler module (so module state such as the
resolver's current event is never shared between concurrent requests); a request takes a free
container or starts a new one (a cold start), and gives it back afterwards.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from local.template import ROOT, Function, Template

MAX_CONTAINERS = 16


@dataclass
class LambdaContext:
    """The attributes of the real context object that Powertools and handlers read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvocationError(Exception):
    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.payload = {"errorMessage": str(error), "errorType": type(error).__name__,
                        "stackTrace": traceback.format_exception(error)}


def resolve_environment(template: Template, fn: Function, overrides: dict[str, str]) -> dict[str, str]:
    """The function's environment with intrinsics resolved; `overrides` (local values) win."""
    env: dict[str, str] = {}
    for name, value in fn.environment.items():
        if name in overrides:
            env[name] = overrides[name]
        elif isinstance(value, str):
            env[name] = value
        elif isinstance(value, dict) and "Ref" in value and template.parameter_default(value["Ref"]) is not None:
            env[name] = str(template.parameter_default(value["Ref"]))
        else:
            raise ValueError(f"{fn.logical_id}: no local value for {name} ({value!r}); add it to the overrides")
    return {**env, **{k: v for k, v in overrides.items() if k not in env}}


def _build_deferred_models() -> None:
    """Build every pydantic model still deferred (`defer_build`), one thread at a time.

    In Lambda each execution environment is its own process, serving one request at a time. Here they
    are threads of one process and share the model classes, and pydantic's deferred build is not
    thread-safe: while one thread builds a model, another validates with the parent class's validator
    (for our `Strict` base: every field "extra"). So a container is primed before it serves.
    """
    from pydantic import BaseModel

    pending = list(BaseModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if not model.__pydantic_complete__ and not model.__pydantic_generic_metadata__.get("origin"):
            model.model_rebuild(raise_errors=False)


class FunctionHost:
    def __init__(self, template: Template, overrides: dict[str, str]):
        self.template = template
        self.functions = template.functions()
        self._free: dict[str, list[ModuleType]] = {name: [] for name in self.functions}
        self._count = itertools.count()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self.cold_starts = 0
        for fn in self.functions.values():
            # Functions share one process environment locally, so their variables must agree.
            for key, value in resolve_environment(template, fn, overrides).items():
                if os.environ.get(key, value) != value and key not in overrides:
                    raise ValueError(f"{fn.logical_id}: {key} differs between functions")
                os.environ[key] = value
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))

    def _load(self, fn: Function) -> ModuleType:
        module_file, _, _ = fn.handler.rpartition(".")
        path = fn.code_uri / f"{module_file.replace('.', '/')}.py"
        name = f"_lambda_{fn.logical_id}_{next(self._count)}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        with self._load_lock:
            spec.loader.exec_module(module)
            _build_deferred_models()
            self.cold_starts += 1
        return module

    def invoke(self, name: str, event: Any) -> Any:
        fn = self.functions.get(name)
        if fn is None:
            raise KeyError(name)
        with self._lock:
            module = self._free[name].pop() if self._free[name] else None
        if module is None:
            module = self._load(fn)
        handler = getattr(module, fn.handler.rpartition(".")[2])
        context = LambdaContext(function_name=fn.logical_id, memory_limit_in_mb=fn.memory, timeout_s=fn.timeout,
                                aws_request_id=str(uuid.uuid4()))
        try:
            return handler(event, context)
        except Exception as error:
            raise InvocationError(error) from error
        finally:
            with self._lock:
                if len(self._free[name]) < MAX_CONTAINERS:
                    self._free[name].append(module)
