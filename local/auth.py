"""Local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with LOCAL_JWT_SECRET."""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from typing import Any

import jwt

from local.template import Template

# The contract fixes the local default secret ("local-dev-secret", 16 bytes): fine for loopback only.
warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)

DEFAULT_SECRET = "local-dev-secret"


def secret() -> str:
    return os.environ.get("LOCAL_JWT_SECRET", DEFAULT_SECRET)


def issuer_and_audience(template: Template | None = None) -> tuple[str, str]:
    t = template or Template.load()
    return str(t.parameter_default("JwtIssuer")), str(t.parameter_default("JwtAudience"))


def mint(sub: str, partner_id: str | None, groups: list[str], *, ttl: int = 3600, key: str | None = None,
         now: int | None = None) -> str:
    iss, aud = issuer_and_audience()
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {"sub": sub, "groups": groups, "iss": iss, "aud": aud, "iat": issued,
                              "exp": issued + ttl}
    if partner_id:
        claims["partner_id"] = partner_id
    return jwt.encode(claims, key or secret(), algorithm="HS256")


def verify(token: str, *, template: Template | None = None) -> dict[str, Any]:
    """Verified claims (raises jwt.InvalidTokenError for a bad signature, expiry, issuer or audience)."""
    iss, aud = issuer_and_audience(template)
    return jwt.decode(token, secret(), algorithms=["HS256"], audience=aud, issuer=iss,
                      options={"require": ["exp", "sub"]})


def flatten_claims(claims: dict[str, Any]) -> dict[str, str]:
    """What the HTTP API JWT authorizer hands Lambda: every claim a string, lists as "[a b]"."""
    out = {}
    for key, value in claims.items():
        if isinstance(value, list):
            out[key] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Mint a local bearer token for the finance API.")
    parser.add_argument("--sub", default="demo-admin@example.com")
    parser.add_argument("--partner", default="ptn_demo")
    parser.add_argument("--groups", default="finance-admin", help="comma-separated")
    parser.add_argument("--ttl", type=int, default=12 * 3600)
    args = parser.parse_args()
    print(mint(args.sub, args.partner or None, [g for g in args.groups.split(",") if g], ttl=args.ttl))


if __name__ == "__main__":
    main()
