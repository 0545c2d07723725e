"""The Finance console in a real browser: Debian's Chromium driven by Playwright, against the local stack as
`make run` starts it (seeded, the console built into console/dist and served at /console/).

Nothing here skips: without Chromium or a built console the tests fail and say what to do."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.browser import CHROMIUM, launch
from local.process import StackProcess
from tests.conftest import seeded_stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def console_stack() -> Iterator[StackProcess]:
    if not (ROOT / "console" / "dist" / "index.html").is_file():
        pytest.fail("The console is not built: run `make test` (it runs `npm ci` and `npm run build` in console/), "
                    "or `npm --prefix console ci && npm --prefix console run build`.")
    yield from seeded_stack()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install -y chromium fonts-liberation` "
                    "(make test does it), or set CHROMIUM to its path.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, console_stack: StackProcess) -> Iterator[Any]:
    context = browser.new_context(base_url=console_stack.api, viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    # a refusal's status is logged by the browser ("Failed to load resource"): expected; anything else is not
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error"
           and not message.text.startswith("Failed to load resource") else None)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"  # a CSP violation or a script error fails the test
