"""The Finance console on the local stack (same origin as the API, as deployed behind one CloudFront):

  GET  /console/...          the built single-page app (console/dist), every path without a file -> index.html
  GET  /console/config.json  its runtime configuration: local sign-in, the local Stripe's Stripe.js stand-in
  POST /local/token          local sign-in: `{"partner_id", "role", "org_id"}` -> `{"token"}` (`org_id` for a
                             customer's roles only), minted as `python -m local.auth` mints it (the signing secret
                             never leaves the stack); not deployed

Every console answer carries the headers the deployed distribution's response-headers policy sets (CSP without
inline script or eval, nosniff, no framing). `python -m local.console currencies` prints the console's table of
currency digits (console/src/generated/currencies.ts), generated from shared/money.py.
"""

from __future__ import annotations

import json
import mimetypes
import re
import sys
from pathlib import Path
from typing import Any

from local.auth import mint
from shared.ids import is_id
from shared.money import MINOR_UNITS

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "console" / "dist"
PREFIX = "/console/"
TOKEN_PATH = "/local/token"
ROLES = ("finance-admin", "finance-viewer", "org-admin", "org-viewer")
CUSTOMER_ROLES = ("org-admin", "org-viewer")  # a customer organization's own staff: their token names it
PARTNER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def csp(stripe_origin: str) -> str:
    """The console's Content-Security-Policy: its own scripts and Stripe.js only, no inline script, no eval."""
    return "; ".join([
        "default-src 'self'", f"script-src 'self' {stripe_origin}", f"frame-src {stripe_origin}",
        f"connect-src 'self' {stripe_origin}", "img-src 'self' data:", "style-src 'self'", "object-src 'none'",
        "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"])


def security_headers(stripe_origin: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp(stripe_origin), "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def config(stripe_endpoint: str) -> dict[str, Any]:
    """What the console reads at start (deployed, the same file is written from the stack's outputs)."""
    return {"api_base": "", "auth": {"kind": "local"},
            "stripe": {"js_url": f"{stripe_endpoint}/js.stripe.com/v3/", "publishable_key": "pk_test_local"}}


def asset(path: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of a console path; a path with no file is the app's page (its router
    decides), unless it names a file (has a dot): 404. Nothing outside console/dist is ever read."""
    name = path[len(PREFIX):] if path.startswith(PREFIX) else ""
    index = DIST / "index.html"
    if not index.is_file():
        return (503, b"The console is not built: run `make run` (it builds console/ with npm).",
                "text/plain; charset=utf-8")
    target = (DIST / name).resolve()
    if name and DIST.resolve() in target.parents and target.is_file():
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "text/javascript", "application/json"):
            kind += "; charset=utf-8"
        return 200, target.read_bytes(), kind
    if "." in name.rsplit("/", 1)[-1]:
        return 404, b"Not Found", "text/plain; charset=utf-8"
    return 200, index.read_bytes(), "text/html; charset=utf-8"


def token(body: bytes) -> tuple[int, dict[str, Any]]:
    """Local sign-in: a token for a partner's finance role (what `python -m local.auth` mints)."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        request = None
    if not isinstance(request, dict):
        return 400, {"error": {"code": "validation_error", "message": "Send {\"partner_id\", \"role\"}.",
                               "details": []}}
    partner, role, org = request.get("partner_id"), request.get("role"), request.get("org_id")
    details = []
    if not isinstance(partner, str) or not PARTNER.match(partner):
        details.append({"field": "partner_id", "message": "a partner id: letters, digits, _ or -"})
    if role not in ROLES:
        details.append({"field": "role", "message": f"one of {', '.join(ROLES)}"})
    if role in CUSTOMER_ROLES and not (isinstance(org, str) and is_id(org, "org")):
        details.append({"field": "org_id", "message": "a customer's staff sign in to their organization: its id, "
                                                      "org_..."})
    if role not in CUSTOMER_ROLES and org is not None:
        details.append({"field": "org_id", "message": "only a customer's staff sign in to an organization"})
    if details or not isinstance(partner, str) or not isinstance(role, str):
        return 422, {"error": {"code": "validation_error", "message": "The sign-in has invalid fields.",
                               "details": details}}
    sub = f"{role.split('-')[1]}@{org or partner}.local"
    token = mint(sub, partner, [role], ttl=8 * 3600, extra={"org_id": org} if org else None)
    return 200, {"token": token, "sub": sub, "partner_id": partner, "groups": [role], "org_id": org}


def currencies_ts() -> str:
    rows = ",\n".join(f"  {code}: {digits}" for code, digits in sorted(MINOR_UNITS.items()))
    return ("// Generated by `python -m local.console currencies` from shared/money.py: do not edit.\n"
            "// The minor-unit digits of each currency the API accepts (ISO 4217).\n"
            f"export const MINOR_UNITS: Readonly<Record<string, number>> = {{\n{rows},\n}};\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["currencies"]:
        sys.stdout.write(currencies_ts())
    else:
        sys.exit("usage: python -m local.console currencies")
