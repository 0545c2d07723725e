"""The Finance console (issue 27): what the first screen costs.

- the JS and CSS the first screen loads, gzip-compressed (the lazy chunks apart: the sign-in's identity-provider
  client, loaded only when deployed sign-in is used, and the Partner settings tab's screens, loaded when it is first
  opened), target: under 100 kB of JS;
- in headless Chromium (Debian's) on the local stack: navigation to the first usable Payments list (the table's
  rows shown, a signed-in session), beside navigation to an empty page, p50 of RUNS.
"""

from __future__ import annotations

import gzip
import re
import statistics
import time
from pathlib import Path

from local.auth import mint
from local.browser import launch
from local.process import start_stack

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "console" / "dist"
RUNS = 7


def sizes() -> tuple[int, int, int]:
    """(JS, CSS of the first screen, the lazy chunks' JS), gzip bytes."""
    page = (DIST / "index.html").read_text()
    first = set(re.findall(r'(?:src|href)="/console/(assets/[^"]+)"', page))
    js = css = lazy = 0
    for path in (DIST / "assets").iterdir():
        size = len(gzip.compress(path.read_bytes(), 9))
        name = f"assets/{path.name}"
        if name in first and path.suffix == ".js":
            js += size
        elif name in first and path.suffix == ".css":
            css += size
        elif path.suffix == ".js":
            lazy += size
    return js, css, lazy


def timings() -> tuple[list[float], list[float], int]:
    from playwright.sync_api import sync_playwright

    stack = start_stack(ready="Demo data for partner")
    try:
        token = mint("bench@ptn_demo.local", "ptn_demo", ["finance-admin"])
        with sync_playwright() as p:
            browser = launch(p)
            console, empty, rows = [], [], 0
            for _ in range(RUNS):
                context = browser.new_context(base_url=stack.api)
                context.add_init_script(f"sessionStorage.setItem('finance.session', '{token}')")
                page = context.new_page()
                started = time.perf_counter()
                page.goto("/console/payments")
                page.locator("table tbody tr").first.wait_for()
                console.append(time.perf_counter() - started)
                rows = page.locator("table tbody tr").count()
                started = time.perf_counter()
                page.goto("data:text/html,<title>empty</title>")
                empty.append(time.perf_counter() - started)
                context.close()
            browser.close()
    finally:
        stack.stop()
    return console, empty, rows


def main() -> list[str]:
    js, css, lazy = sizes()
    console, empty, rows = timings()
    return ["## The Finance console (python -m bench.console)",
            f"first screen: JS {js / 1000:.1f} kB gzip (target < 100 kB), CSS {css / 1000:.1f} kB gzip; "
            f"loaded later (deployed sign-in, the Partner settings tab): {lazy / 1000:.1f} kB",
            f"navigation -> usable Payments list ({rows} rows, demo data): "
            f"p50 {statistics.median(console) * 1000:.0f} ms, "
            f"max {max(console) * 1000:.0f} ms; an empty page: p50 {statistics.median(empty) * 1000:.0f} ms "
            f"(headless Chromium, {RUNS} runs, a new context each)"]


if __name__ == "__main__":
    print("\n".join(main()))
