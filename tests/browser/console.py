"""Steps a finance person takes in the console, by the controls' accessible names (the help articles' words)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

from tests.conftest import new_partner

_axe = Axe()


def sign_in(page: Any, partner: str | None = None, role: str = "finance-admin") -> str:
    """Open the console and sign in as `role` of a new partner (or `partner`); lands on Payments."""
    partner = partner or new_partner()
    page.goto("/console/")
    page.get_by_label("Partner").fill(partner)
    page.get_by_label("Role").select_option(role)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Payments", exact=True).wait_for()
    return partner


def accessible(page: Any) -> None:
    """axe-core's rules on the page as it is: no serious or critical violation."""
    results = _axe.run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], bad
