"""The local Lambda host: every execution environment is its own process (Amazon's runtime interface
client), serving one request at a time, as Lambda runs them.

Invariants: (H1) two requests in flight never share a process; (H2) a warm environment keeps its module
state and serves its requests one after another; (H3) an environment that dies or overruns its timeout
fails only its own request (500 through the HTTP API, as API Gateway answers) and is replaced; (H4) at
most `max_environments` processes per function; (H5) stop() leaves no process behind.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from local.lambdas import FunctionHost, InvocationError
from local.servers import HttpApiServer
from local.template import Template

PROBE = Template({"Resources": {"Probe": {"Type": "AWS::Serverless::Function", "Properties": {
    "CodeUri": "tests/unit/probe_function/", "Handler": "app.handler", "Timeout": 2, "MemorySize": 256,
    "Environment": {"Variables": {"PROBE_SETTING": "from-the-template"}},
    "Events": {"Api": {"Type": "HttpApi", "Properties": {"Method": "post", "Path": "/probe",
                                                         "Auth": {"Authorizer": "NONE"}}}}}}}})


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie not yet reaped is dead too
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.fixture
def host():
    h = FunctionHost(PROBE, {}, max_environments=3)
    yield h
    h.stop()


def test_a_warm_environment_is_one_process_that_keeps_its_module_state(host):
    # Given a cold function
    # When it is invoked three times, one after another
    answers = [host.invoke("Probe", {"tag": i}) for i in range(3)]
    # Then one process served all three, in order, with its module state kept (H2), in another process
    assert {a["pid"] for a in answers} == {answers[0]["pid"]} != {os.getpid()}
    assert answers[-1]["served"] == [0, 1, 2] and host.cold_starts == 1
    # and the context follows the function's timeout and a fresh request id each time
    assert 0 < answers[0]["remaining_ms"] <= 2000 and len({a["request_id"] for a in answers}) == 3


def test_the_environment_is_the_functions_own(host):
    # When the function reads its environment
    setting = host.invoke("Probe", {"action": "init_env", "name": "PROBE_SETTING"})
    name = host.invoke("Probe", {"action": "init_env", "name": "AWS_LAMBDA_FUNCTION_NAME"})
    # Then it sees the template's variables and Lambda's own
    assert setting == {"value": "from-the-template"} and name == {"value": "Probe"}


def test_requests_in_flight_never_share_a_process_and_environments_are_bounded(host):
    # Given a function limited to 3 environments
    # When 6 requests that each take 0.5 s arrive at once
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: host.invoke("Probe", {"action": "sleep", "seconds": 0.5, "tag": i}),
                                range(6)))
    # Then each got its own answer (H1), at most 3 processes served them (H4), and they were reused
    assert [a["tag"] for a in answers] == list(range(6))
    pids = {a["pid"] for a in answers}
    assert len(pids) <= 3 and host.cold_starts == len(pids)
    assert sum(len(a["served"]) for a in answers) >= 6
    for pid in pids:  # each process served its requests one at a time: its own list grew one by one
        mine = sorted(len(a["served"]) for a in answers if a["pid"] == pid)
        assert mine == list(range(1, len(mine) + 1))


def test_an_environment_that_crashes_fails_its_request_and_is_replaced(host):
    # Given a warm environment
    first = host.invoke("Probe", {"tag": "before"})["pid"]
    # When its process dies mid-request
    with pytest.raises(InvocationError) as failed:
        host.invoke("Probe", {"action": "crash"})
    # Then the request fails as Lambda reports it, the process is gone, and the next request cold-starts
    assert failed.value.died and failed.value.payload["errorType"] == "Runtime.ExitError"
    assert not alive(first)
    after = host.invoke("Probe", {"tag": "after"})
    assert after["pid"] != first and after["served"] == ["after"]


def test_an_environment_that_overruns_its_timeout_is_killed_and_replaced(host):
    # Given a function with a 2 s timeout
    first = host.invoke("Probe", {"tag": "warm"})["pid"]
    # When a request runs past it
    with pytest.raises(InvocationError) as failed:
        host.invoke("Probe", {"action": "sleep", "seconds": 30})
    # Then it fails with Lambda's timeout error and the environment is killed (H3)
    assert failed.value.died and failed.value.payload["errorType"] == "Sandbox.Timedout"
    assert not alive(first)
    assert host.invoke("Probe", {"tag": "next"})["pid"] != first


def test_a_handler_error_keeps_the_environment(host):
    # Given a warm environment
    first = host.invoke("Probe", {"tag": "warm"})["pid"]
    # When the handler raises
    with pytest.raises(InvocationError) as failed:
        host.invoke("Probe", {"action": "raise"})
    # Then the error is the handler's, in Lambda's shape, and the same process serves the next request
    assert not failed.value.died
    assert failed.value.payload["errorType"] == "ValueError"
    assert failed.value.payload["errorMessage"] == "the handler failed"
    assert host.invoke("Probe", {"tag": "again"})["pid"] == first


def test_a_dead_environment_answers_500_through_the_http_api(host):
    # Given the HTTP API in front of the host
    api = HttpApiServer(0, host, PROBE)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{api.server_address[1]}/probe"
    try:
        # When a request crashes its environment, another raises, and a third is served
        crashed = requests.post(url, json={"action": "crash"}, timeout=10)
        raised = requests.post(url, json={"action": "raise"}, timeout=10)
        served = requests.post(url, json={"tag": "ok"}, timeout=10)
    finally:
        api.shutdown()
        api.server_close()
    # Then API Gateway's answers: 500 {"message":"Internal Server Error"} for the dead environment and for the
    # handler's error alike (the HTTP API answers 500 for any integration failure), then 200
    assert (crashed.status_code, raised.status_code, served.status_code) == (500, 500, 200)
    assert crashed.json() == raised.json() == {"message": "Internal Server Error"}


def test_stop_leaves_no_process_behind():
    # Given a host with three environments in use
    host = FunctionHost(PROBE, {}, max_environments=3)
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda i: host.invoke("Probe", {"action": "sleep", "seconds": 0.3}), range(3)))
    pids = host.pids()
    assert len(pids) == 3 and all(alive(p) for p in pids)
    # When it stops
    host.stop()
    # Then every process is gone (H5), and it refuses further requests
    assert not any(alive(p) for p in pids)
    with pytest.raises(InvocationError):
        host.invoke("Probe", {})
