"""The local Lambda host: execution environments are threads here, so what they share must be safe."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
from local.lambdas import FunctionHost
from local.aws import LocalAws
from local.template import Template
import shared.models as models, shared.repositories.entities as entities
from pydantic import BaseModel
aws = LocalAws.start().provision(Template.load())
from local.stripe import NO_STRIPE
host = FunctionHost(Template.load(), {**aws.overrides("ERROR"), **NO_STRIPE})
deferred = lambda: sorted(n for m in (models, entities) for n, c in vars(m).items()
                          if isinstance(c, type) and issubclass(c, BaseModel) and c is not BaseModel
                          and not c.__pydantic_complete__)
before = deferred()
host._load(host.functions["AllocationFunction"])
print(bool(before), deferred())
"""


def test_a_loaded_container_leaves_no_model_for_concurrent_threads_to_build():
    # Given a fresh process where the models are still deferred (pydantic defer_build)
    # When one container (execution environment) is loaded
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    # Then every model is built: none is left for concurrent requests to build at once (pydantic's
    # deferred build is not thread-safe; a half-built model validates with its parent's validator)
    assert out.stdout.split() == ["True", "[]"], out.stdout + out.stderr
