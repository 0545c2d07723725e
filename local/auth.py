"""Local stand-in for API Gateway's JWT authorizer: HS256 tokens signed with LOCAL_JWT_SECRET."""

from __future__ import annotations

import argparse
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


# Deployed with JwtIssuer left empty, the stack's Cognito user pool issues the tokens; locally this stands for it.
LOCAL_ISSUER = "https://auth.local.invalid/"


def issuer_and_audience(template: Template | None = None) -> tuple[str, str]:
    t = template or Template.load()
    return str(t.parameter_default("JwtIssuer") or LOCAL_ISSUER), str(t.parameter_default("JwtAudience"))


def mint(sub: str, partner_id: str | None, groups: list[str], *, ttl: int = 3600, key: str | None = None,
         now: int | None = None, extra: dict[str, Any] | None = None) -> str:
    iss, aud = issuer_and_audience()
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {"sub": sub, "groups": groups, "iss": iss, "aud": aud, "iat": issued,
                              "exp": issued + ttl}
    if partner_id:
        claims["partner_id"] = partner_id
    return jwt.encode({**claims, **(extra or {})}, key or secret(), algorithm="HS256")


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization` header as the HTTP API JWT authorizer reads its identity source: the
    token alone, or prefixed with `Bearer ` (None when there is no token at all)."""
    value = (header or "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest.strip()
    return value or None


def verify(token: str, *, template: Template | None = None) -> dict[str, Any]:
    """Verified claims (raises jwt.InvalidTokenError for a bad signature, expiry, issuer or audience).

    The audience is checked as the HTTP API JWT authorizer does: `aud` must name the configured audience;
    a token without `aud` (a Cognito access token) must carry it as `client_id` instead."""
    iss, aud = issuer_and_audience(template)
    claims: dict[str, Any] = jwt.decode(token, secret(), algorithms=["HS256"], issuer=iss,
                                        options={"require": ["exp", "sub"], "verify_aud": False})
    if "aud" in claims:
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if aud not in audiences:
            raise jwt.InvalidAudienceError("the token does not have a valid audience")
    elif claims.get("client_id") != aud:
        raise jwt.InvalidAudienceError("the token does not have a valid audience")
    return claims


def _go_text(value: Any) -> str:
    """A claim value as the authorizer (a Go service) prints it: `[a b]` for a list, `map[k:v]` for an object
    (keys sorted), `true`/`false`, numbers in decimal, `<nil>` for a null inside a list or object."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_text(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def flatten_claims(claims: dict[str, Any]) -> dict[str, str]:
    """What the HTTP API JWT authorizer hands Lambda: every claim a string (lists as "[a b]", booleans
    "true"/"false", numbers in decimal, objects as "map[k:v]"), and a null claim left out."""
    return {key: _go_text(value) for key, value in claims.items() if value is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description="Mint a local bearer token for the finance API.")
    parser.add_argument("--sub", default="demo-admin@example.com")
    parser.add_argument("--partner", default="ptn_demo")
    parser.add_argument("--groups", default="finance-admin", help="comma-separated")
    parser.add_argument("--ttl", type=int, default=12 * 3600)
    parser.add_argument("--org", help="a customer's own organization (with --groups org-admin or org-viewer)")
    args = parser.parse_args()
    print(mint(args.sub, args.partner or None, [g for g in args.groups.split(",") if g], ttl=args.ttl,
               extra={"org_id": args.org} if args.org else None))


if __name__ == "__main__":
    main()
