"""Schemathesis against the running local stack, from Powertools' own OpenAPI: no input, however odd,
gets a server error (it found three kinds, now fixed: non-UTF-8 bodies, non-ASCII cursors, unknown
HTTP methods). A fixed seed keeps CI deterministic; run more with FUZZ_EXAMPLES."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from local.auth import mint
from tests.conftest import ROOT, new_partner

EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "12")


def test_no_request_gets_a_server_error(stack, tmp_path: Path):
    schema = subprocess.run([sys.executable, "-m", "local.openapi"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    assert len(json.loads(schema)["paths"]) >= 18
    path = tmp_path / "openapi.json"
    path.write_text(schema)
    st = Path(sys.executable).with_name("st")
    token = mint("fuzz@example.com", new_partner(), ["finance-admin"])  # its own tenant: it writes what it fuzzes
    run = subprocess.run([str(st), "run", str(path), "--url", stack.api, "-H", f"Authorization: Bearer {token}",
                          "--checks", "not_a_server_error", "--max-examples", EXAMPLES, "--seed", "20261121",
                          "--no-color"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
