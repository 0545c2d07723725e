"""Runs the template's functions as Lambda does: each execution environment is its own process.

An environment is Amazon's runtime interface client, `python -m awslambdaric app.lambda_handler` (the
bootstrap of a Lambda container image), started in the function's code folder with the function's own
environment, speaking the Lambda Runtime API (2018-06-01) to a small endpoint of its own in this
process. It imports the handler module once (init, the cold start) and then serves one invocation at a
time. A request takes the most recently used free environment of its function, else starts a new one
(up to `max_environments` per function; beyond that it waits for one to free up, as a function with
reserved concurrency would throttle). An environment whose process dies mid-request (crash, kill) or
that overruns the function's timeout answers a `Runtime.ExitError` / `Sandbox.Timedout` error, is
killed and is replaced by the next request. `stop()` kills every process by pid.

Why processes and not threads: Powertools keeps the current event on a class attribute of the resolver
(process-global), so two requests served by threads of one process can read each other's claims, path
and body. Lambda never runs two requests in one process at once; neither does this host.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

from local.processes import kill_group, popen
from local.template import ROOT, Function, Template

MAX_ENVIRONMENTS = 8
INIT_TIMEOUT_S = 10  # Lambda's init phase limit
RUNTIME_API = "/2018-06-01/runtime"
# What a Lambda execution environment inherits besides the function's variables (Lambda sets its own
# PATH, LANG and TZ; the rest here only makes the local interpreter work).
PASSED_THROUGH = ("PATH", "HOME", "LANG", "TZ", "TMPDIR", "SYSTEMROOT", "COVERAGE_PROCESS_START")


@dataclass
class LambdaContext:
    """The attributes of the real context object, for tests that call a handler module in process."""

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
    """A function error, in Lambda's own shape (`errorMessage`, `errorType`, `stackTrace`).

    `died` is true when the environment itself failed (its process exited or timed out): it is replaced;
    a handler's unhandled exception leaves the environment alive. Through the HTTP API both are API Gateway's
    500 {"message":"Internal Server Error"}.
    """

    def __init__(self, payload: dict[str, Any], died: bool = False):
        super().__init__(payload.get("errorMessage", "function error"))
        self.payload = payload
        self.died = died


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


@dataclass
class _Invocation:
    request_id: str
    event: bytes
    timeout_s: int
    result: Future[Any] = field(default_factory=Future)
    started: float | None = None  # when the runtime took it (GET /next)


class _RuntimeApi(BaseHTTPRequestHandler):
    """The Lambda Runtime API an environment's runtime interface client polls."""

    protocol_version = "HTTP/1.1"
    server: _RuntimeServer

    def log_message(self, format: str, *args: Any) -> None:
        """Not logged: the environment's own output is the log."""

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} {'OK' if status < 300 else 'Error'}", "Content-Type: application/json",
                f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def do_GET(self) -> None:
        if self.path != f"{RUNTIME_API}/invocation/next":
            return self._reply(404, b'{"errorMessage": "unknown path"}')
        invocation = self.server.environment.next_invocation()
        if invocation is None:  # the host is stopping
            return self._reply(500, b'{"errorMessage": "stopping"}')
        deadline = int((time.time() + invocation.timeout_s) * 1000)
        fn = self.server.environment.fn
        self._reply(200, invocation.event, {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:000000000000:function:{fn.logical_id}",
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        })

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = self.server.environment
        if self.path == f"{RUNTIME_API}/init/error":
            env.init_error = json.loads(body or b"{}")
            return self._reply(202, b'{"status": "OK"}')
        prefix = f"{RUNTIME_API}/invocation/"
        request_id, _, outcome = self.path[len(prefix):].partition("/")
        if not self.path.startswith(prefix) or outcome not in {"response", "error"}:
            return self._reply(404, b'{"errorMessage": "unknown path"}')
        env.complete(request_id, outcome, body)
        self._reply(202, b'{"status": "OK"}')


class _RuntimeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 16

    def __init__(self, environment: Environment):
        super().__init__(("127.0.0.1", 0), _RuntimeApi)
        self.environment = environment

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed environment drops its connection mid-request: expected, not an error of the host."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Environment:
    """One execution environment: a runtime interface client process and its Runtime API endpoint."""

    def __init__(self, fn: Function, env: dict[str, str]):
        self.fn = fn
        self.init_error: dict[str, Any] | None = None
        self._lock = threading.Condition()
        self._queued: _Invocation | None = None
        self._current: _Invocation | None = None
        self._stopping = False
        self.server = _RuntimeServer(self)
        threading.Thread(target=self.server.serve_forever, name=f"runtime-api-{fn.logical_id}", daemon=True).start()
        runtime_api = f"127.0.0.1:{self.server.server_address[1]}"
        self.proc = popen(args=[sys.executable, "-m", "awslambdaric", fn.handler], cwd=fn.code_uri,
                           env={**env, "AWS_LAMBDA_RUNTIME_API": runtime_api}, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        threading.Thread(target=self._watch, name=f"env-watch-{self.pid}", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and not self._stopping

    # The Runtime API side (called from the endpoint's threads) ------------------------------------------
    def next_invocation(self) -> _Invocation | None:
        with self._lock:
            while self._queued is None and not self._stopping:
                self._lock.wait()
            invocation, self._queued = self._queued, None
            if invocation is not None:
                invocation.started = time.monotonic()
                self._current = invocation
            return invocation

    def complete(self, request_id: str, outcome: str, body: bytes) -> None:
        with self._lock:
            invocation = self._current if self._current and self._current.request_id == request_id else None
            self._current = None if invocation else self._current
        if invocation is None or invocation.result.done():
            return
        if outcome == "response":
            invocation.result.set_result(json.loads(body) if body else None)
        else:
            invocation.result.set_exception(InvocationError(json.loads(body or b"{}")))

    def _watch(self) -> None:
        """The process exited: whatever it was serving (or about to) fails as Lambda reports it."""
        code = self.proc.wait()
        with self._lock:
            pending = [i for i in (self._queued, self._current) if i is not None]
            self._queued = self._current = None
            self._stopping = True
            self._lock.notify_all()
        payload = self.init_error or {"errorType": "Runtime.ExitError", "stackTrace": [],
                                      "errorMessage": f"RequestId: exited before completing the request "
                                                      f"(Runtime exited with error: exit status {code})"}
        for invocation in pending:
            if not invocation.result.done():
                invocation.result.set_exception(InvocationError(payload, died=True))
        self.server.shutdown()
        self.server.server_close()

    # The host side --------------------------------------------------------------------------------------
    def invoke(self, event: Any) -> Any:
        invocation = _Invocation(str(uuid.uuid4()), json.dumps(event).encode(), self.fn.timeout)
        with self._lock:
            if self._stopping:
                raise InvocationError({"errorType": "Runtime.ExitError", "errorMessage": "environment stopped"},
                                      died=True)
            self._queued = invocation
            self._lock.notify_all()
        queued_at = time.monotonic()
        while True:
            started = invocation.started
            deadline = queued_at + INIT_TIMEOUT_S + self.fn.timeout if started is None else started + self.fn.timeout
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise InvocationError({
                    "errorType": "Sandbox.Timedout", "stackTrace": [],
                    "errorMessage": f"RequestId: {invocation.request_id} Error: Task timed out after "
                                    f"{self.fn.timeout:.2f} seconds"}, died=True)
            with contextlib.suppress(FutureTimeout):
                return invocation.result.result(timeout=min(remaining, 0.5))

    def kill(self) -> None:
        """SIGKILL (as Lambda ends an environment), and wait until the process is gone."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        kill_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


class FunctionHost:
    """The execution environments of every function of the template, started on demand."""

    def __init__(self, template: Template, overrides: dict[str, str], max_environments: int = MAX_ENVIRONMENTS):
        self.template = template
        self.functions = template.functions()
        self.max_environments = max_environments
        base = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
        self.environments = {
            name: {**base, **resolve_environment(template, fn, overrides), **self._lambda_variables(fn)}
            for name, fn in self.functions.items()}
        self._free: dict[str, list[Environment]] = {name: [] for name in self.functions}
        self._all: dict[str, set[Environment]] = {name: set() for name in self.functions}
        self._lock = threading.Condition()
        self._stopped = False
        self.cold_starts = 0

    @staticmethod
    def _lambda_variables(fn: Function) -> dict[str, str]:
        """What Lambda sets in every environment (the layer's /opt/python is the project root here)."""
        return {
            "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
            "LAMBDA_TASK_ROOT": str(fn.code_uri), "_HANDLER": fn.handler,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory), "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        }

    def _acquire(self, name: str) -> Environment:
        with self._lock:
            while True:
                if self._stopped:
                    raise InvocationError({"errorType": "Runtime.ExitError", "errorMessage": "host stopped"},
                                          died=True)
                while self._free[name]:
                    env = self._free[name].pop()
                    if env.alive:
                        return env
                    self._all[name].discard(env)
                if len(self._all[name]) < self.max_environments:
                    env = Environment(self.functions[name], self.environments[name])
                    self._all[name].add(env)
                    self.cold_starts += 1
                    return env
                self._lock.wait(timeout=1)

    def _release(self, name: str, env: Environment) -> None:
        with self._lock:
            if env.alive and not self._stopped:
                self._free[name].append(env)
            else:
                self._all[name].discard(env)
                env.kill()
            self._lock.notify()

    def invoke(self, name: str, event: Any) -> Any:
        if name not in self.functions:
            raise KeyError(name)
        env = self._acquire(name)
        try:
            return env.invoke(event)
        finally:
            self._release(name, env)

    def pids(self) -> list[int]:
        with self._lock:
            return [env.pid for envs in self._all.values() for env in envs if env.alive]

    def stop(self) -> None:
        """Kill every environment's process (by pid) and wait for them."""
        with self._lock:
            self._stopped = True
            envs = [env for envs in self._all.values() for env in envs]
            self._lock.notify_all()
        for env in envs:
            kill_group(env.pid, signal.SIGKILL)
        for env in envs:
            env.kill()

    def apply_environment(self, name: str) -> None:
        """This process takes the function's variables (a test reading the table as the function does)."""
        os.environ.update({k: v for k, v in self.environments[name].items() if k != "PYTHONPATH"})
        from shared.settings import get_settings

        get_settings.cache_clear()  # read again from this environment

    def load_module(self, name: str) -> ModuleType:
        """The function's handler module imported into this process, with its environment set here.

        Not an execution environment: for a test that instruments one handler from a single thread (counts
        its DynamoDB requests, injects a fault, reads its OpenAPI document). Requests that may run at once go
        through `invoke`.
        """
        fn = self.functions[name]
        self.apply_environment(name)
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        module_file = fn.handler.rpartition(".")[0]
        spec = importlib.util.spec_from_file_location(f"_lambda_{name}_{uuid.uuid4().hex[:8]}",
                                                      fn.code_uri / f"{module_file.replace('.', '/')}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
