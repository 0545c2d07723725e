"""The layers point one way (docs/architecture.md), and no module grows past what one reader holds.

Invariants: (A1) nothing under shared/domain imports storage, services or the HTTP edge; (A2) services
never reach DynamoDB's client (`.db.`); (A3) no module under shared/ is over 300 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


@pytest.mark.parametrize("path", sorted((SHARED / "domain").glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_nothing_of_storage_services_or_the_edge(path):
    bad = {m for m in imports(path) if m.startswith(("shared.repositories", "shared.services", "shared.api",
                                                     "shared.container", "botocore", "boto3"))}
    assert bad == set()  # A1


@pytest.mark.parametrize("path", sorted((SHARED / "services").glob("*.py")), ids=lambda p: p.name)
def test_services_never_touch_the_dynamodb_client(path):
    assert ".db." not in path.read_text() and "botocore" not in str(imports(path))  # A2


@pytest.mark.parametrize("path", sorted(SHARED.rglob("*.py")), ids=lambda p: str(p.relative_to(SHARED)))
def test_no_module_is_over_300_lines(path):
    assert len(path.read_text().splitlines()) <= 300  # A3
