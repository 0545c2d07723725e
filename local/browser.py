"""Debian's Chromium as Playwright drives it here (the browser tests, bench.console, local.screenshots): by its
path, since Playwright cannot download its own browser on these machines, headless, with none of Chromium's
calls home (this machine refuses them, and they are noise anyway)."""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def launch(playwright: Any) -> Any:
    """A headless Chromium from `sync_playwright()`'s object."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
