"""A port already in use stops the stack with a message naming the variable that moves it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from local.process import free_port
from local.stack import PORTS, PortInUse, check_ports
from local.template import ROOT


@pytest.mark.parametrize("variable", sorted(PORTS))
def test_each_taken_port_names_its_variable(variable):
    # Given a port held by another program
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # When the stack checks its ports with that one under `variable`
        with pytest.raises(PortInUse) as taken:
            check_ports({**{v: 0 for v in PORTS}, variable: port})
    # Then the message names the port and the variable that moves it
    assert taken.value.variable == variable
    assert f"Port {port} ({variable}) is in use" in str(taken.value)
    assert f"{variable}=" in str(taken.value)


def test_free_ports_pass():
    check_ports({"API_PORT": free_port(), "SQS_PORT": 0})


def test_make_run_stops_at_once_naming_the_variable_of_the_taken_port():
    # Given SQS_PORT's port held by another program, every other port free
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = {v: str(free_port()) for v in PORTS} | {"SQS_PORT": str(taken)}
        started = time.monotonic()
        # When the stack starts (what `make run` runs)
        run = subprocess.run([sys.executable, "-m", "local.stack", "--no-seed"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, env={**os.environ, **ports})
    # Then it stops before starting anything, saying which variable moves the port
    assert run.returncode == 1
    assert f"Port {taken} (SQS_PORT) is in use" in run.stderr
    assert "SQS_PORT=" in run.stderr
    assert "Traceback" not in run.stderr
    assert time.monotonic() - started < 30
