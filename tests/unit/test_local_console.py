"""The local stack's console pieces (local/console.py): the local sign-in, the files, the headers.

  LC1 the local sign-in mints a token the local authorizer accepts, for a finance role of one partner only;
      anything else is refused in the contract's error shape (the signing secret never leaves the stack);
  LC2 only files inside console/dist are ever served; a path with no file is the app's page (its router decides),
      a missing asset is 404;
  LC3 the console's paths and the sign-in are no route of the API's (they cannot shadow one), and the CSP allows
      no inline script, no eval and no framing.
"""

from __future__ import annotations

import json

import pytest

from local import console
from local.auth import flatten_claims, verify
from local.template import Template


def test_lc1_the_local_sign_in_mints_a_token_the_authorizer_accepts():
    # When a finance admin of a partner signs in
    status, body = console.token(json.dumps({"partner_id": "ptn_demo", "role": "finance-admin"}).encode())
    # Then the token is one the local authorizer accepts, naming that partner and role
    assert status == 200
    claims = flatten_claims(verify(body["token"]))
    assert (claims["partner_id"], claims["groups"]) == ("ptn_demo", "[finance-admin]")
    assert "secret" not in json.dumps(body).lower()


def test_lc1_a_customers_staff_sign_in_to_their_organization():
    # When an org-admin signs in to an organization
    org = "org_01KB9Z3K2N5P7Q9R1S3T5V7W9X"
    status, body = console.token(json.dumps({"partner_id": "ptn_demo", "role": "org-admin", "org_id": org}).encode())
    # Then the token names the organization, as a deployed customer's token does
    assert status == 200
    claims = flatten_claims(verify(body["token"]))
    assert (claims["partner_id"], claims["org_id"], claims["groups"]) == ("ptn_demo", org, "[org-admin]")


@pytest.mark.parametrize(("body", "status", "fields"), [
    (b"not json", 400, []),
    (b"[]", 400, []),
    (json.dumps({"partner_id": "ptn_demo", "role": "platform-admin"}).encode(), 422, ["role"]),
    (json.dumps({"partner_id": "ptn demo<script>", "role": "finance-viewer"}).encode(), 422, ["partner_id"]),
    (json.dumps({"role": "finance-viewer"}).encode(), 422, ["partner_id"]),
    (json.dumps({"partner_id": "ptn_demo", "role": "org-admin"}).encode(), 422, ["org_id"]),
    (json.dumps({"partner_id": "ptn_demo", "role": "org-viewer", "org_id": "acme"}).encode(), 422, ["org_id"]),
    (json.dumps({"partner_id": "ptn_demo", "role": "finance-admin",
                 "org_id": "org_01KB9Z3K2N5P7Q9R1S3T5V7W9X"}).encode(), 422, ["org_id"]),
])
def test_lc1_anything_else_is_refused_in_the_error_shape(body, status, fields):
    got, answer = console.token(body)
    assert got == status
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message", "details"}
    assert [d["field"] for d in answer["error"]["details"]] == fields


def test_lc2_only_files_inside_the_build_are_served(tmp_path, monkeypatch):
    # Given a build with a page and a script, and a secret beside the build folder
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Finance</title>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("do not serve")
    monkeypatch.setattr(console, "DIST", dist)
    # Then the script is served as JavaScript, a screen's path is the page, a missing asset is 404
    assert console.asset("/console/assets/app.js")[::2] == (200, "text/javascript; charset=utf-8")
    assert console.asset("/console/payments/pay_1")[:2] == (200, b"<!doctype html><title>Finance</title>")
    assert console.asset("/console/assets/missing.js")[0] == 404
    # And nothing outside the build is ever read, however the path climbs
    for path in ("/console/../secret.txt", "/console/assets/../../secret.txt", "/console//etc/passwd"):
        status, data, _ = console.asset(path)
        assert b"do not serve" not in data and b"root:" not in data, path
        assert status in (200, 404), path


def test_lc3_the_console_paths_shadow_no_route_and_the_csp_is_strict():
    paths = {r.path for r in Template.load().routes()}
    assert not [p for p in paths if p.startswith(("/console", "/local"))]
    csp = console.csp("http://127.0.0.1:8420")
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self' http://127.0.0.1:8420" in csp
