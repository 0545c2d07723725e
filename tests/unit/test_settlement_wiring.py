"""Issue 30: the card money path is one typed service, called downward.

The settlement of a PaymentIntent (shared.services.settlement) is reached from the webhook, card refunds and
disputes, and the reconciliation. Invariants: (S1) the arrows among these four modules point one way (the webhook
and the reconciliation -> card money back -> settlement; nothing imports the webhook or the reconciliation), so
there is no circle for an import to hide; (S2) the container wires them with no lambda; (S3) every collaborator
their constructors take is typed, with no `Any` anywhere in its annotation (so mypy checks each call); (S4) the
container builds all three entry points on one Settlement and one gateway.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from pathlib import Path
from typing import Any

import pytest

from shared.container import Container
from shared.services.card_money_back import CardMoneyBackService
from shared.services.reconciliation import Reconciliation
from shared.services.settlement import Settlement
from shared.services.stripe_webhooks import StripeWebhookService
from shared.settings import Settings

SERVICES = Path(__file__).resolve().parents[2] / "shared" / "services"
PATH = ("stripe_webhooks", "card_money_back", "reconciliation", "settlement")
MAY_IMPORT = {  # of the card money path's modules, what each may import
    "settlement": set(),
    "card_money_back": {"settlement"},
    "stripe_webhooks": {"card_money_back", "settlement"},
    "reconciliation": {"card_money_back", "settlement"},
}


def services_imported(path: Path) -> set[str]:
    """The modules of shared/services that `path` imports, in any form (`import a.b`, `from a.b import c`,
    `from shared.services import b`), at run time or for type checking."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {m.removeprefix("shared.services.") for m in found if m.startswith("shared.services.")}


@pytest.mark.parametrize("module", PATH)
def test_the_card_money_path_points_one_way(module):
    # Given the module's imports, among the card money path's modules
    found = services_imported(SERVICES / f"{module}.py") & set(PATH)
    # Then it imports only what lies below it (the settlement imports none of the three that call it)
    assert found <= MAY_IMPORT[module]  # S1


@pytest.mark.parametrize("name", ["settlement", "stripe_webhooks", "card_money_back", "reconciliation"])
def test_the_container_wires_the_card_money_path_with_no_lambda(name):
    # Given the container's property that builds the service
    source = textwrap.dedent(inspect.getsource(getattr(Container, name).func))
    # Then no lambda hides a collaborator in it
    assert not [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Lambda)]  # S2


def _mentions_any(hint: Any) -> bool:
    """`Any` anywhere in the annotation, a Callable's parameter list included."""
    inner = hint if isinstance(hint, list) else typing.get_args(hint)
    return hint is Any or any(_mentions_any(arg) for arg in inner)


@pytest.mark.parametrize("service", [Settlement, StripeWebhookService, CardMoneyBackService, Reconciliation],
                         ids=lambda s: s.__name__)
def test_every_collaborator_of_the_card_money_path_is_typed(service):
    # Given the constructor's annotations, resolved
    hints = typing.get_type_hints(service.__init__)
    params = [p for p in inspect.signature(service.__init__).parameters if p != "self"]
    # Then each collaborator has one, and no `Any` in it (no `Callable[..., Any]` seam)
    assert set(params) <= set(hints)
    assert [p for p in params if _mentions_any(hints[p])] == []  # S3


def test_the_container_builds_the_three_entry_points_on_one_settlement():
    # Given a container (nothing is called, so nothing is read)
    deps = Container(Settings(TABLE_NAME="unit-table", CURSOR_SECRET="0123456789abcdef"), overrides={"store": None})
    # When the three entry points are built (a circle among the properties would never end)
    webhook, refunds, reconciliation = deps.stripe_webhooks, deps.card_money_back, deps.reconciliation
    # Then they share the container's settlement, card money back and gateway
    assert webhook._settlement is refunds._settlement is reconciliation._settlement is deps.settlement  # S4
    assert webhook._card_money is reconciliation._card_money is refunds
    assert refunds._gateway is reconciliation._gateway is deps.stripe
