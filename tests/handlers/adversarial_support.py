"""The adversarial suite's routes, strategies and arena (tests/handlers/test_adversarial.py).

Routes: every operation of the OpenAPI document (`local.openapi.document()`), mapped to the function that
serves it through the template's HttpApi events, plus the template's routes the document leaves out
(`POST /webhooks/stripe`). Requests: hypothesis strategies over every part a caller controls (claims,
headers, path ids, query values, bodies), derived from the route's own parameters and request schema.
Arena: a DynamoDB Local, a local Stripe and the functions' execution environments of the suite's own,
with a small seed (two partners' organizations, invoices, payments, credit notes, void invoices, bounced
payments and withdrawals); a refused request is held to leave its table exactly as it was.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.client
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from local.template import Template
from shared.auth import PARTNER_ID
from shared.stripe_signature import header_for
from tests.conftest import EVENTS, openapi_document

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PARTNER, BYSTANDER = "ptn_adversary", "ptn_bystander"  # the seeded partner, and another with data of its own
SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Refusals the edge and request validation make before anyone's claims are read (shared/api.py handle(),
# Powertools' validation): an unauthenticated request may get these instead of its 401.
BEFORE_AUTH = frozenset({"malformed_json", "unsupported_media_type", "validation_error", "not_found",
                         "route_not_found"})


# --- routes ---------------------------------------------------------------------------------------------


@cache
def sample_events() -> dict[str, str]:
    """route key -> the events/ sample of that route (the first, by name, when several share one)."""
    found: dict[str, str] = {}
    for path in sorted(EVENTS.rglob("*.json")):
        key = json.loads(path.read_text()).get("routeKey")
        if key and key not in found:
            found[key] = str(path.relative_to(EVENTS))
    return found


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    function: str
    authorized: bool
    path_params: tuple[str, ...]
    query: tuple[tuple[str, Any], ...] = field(compare=False)  # (name, schema) per query parameter
    body: Any = field(compare=False)  # the request body's schema, $refs resolved (None: takes no body)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def writes(self) -> bool:
        return self.method in WRITES

    @property
    def webhook(self) -> bool:
        return not self.authorized


def resolve(schema: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """`schema` with every `$ref` replaced by the component it names."""
    if depth > 20:
        return schema
    if isinstance(schema, dict):
        if "$ref" in schema:
            return resolve(components[schema["$ref"].rsplit("/", 1)[1]], components, depth + 1)
        return {k: resolve(v, components, depth + 1) for k, v in schema.items()}
    if isinstance(schema, list):
        return [resolve(v, components, depth + 1) for v in schema]
    return schema


@cache
def route_cases() -> tuple[RouteCase, ...]:
    """Every operation of the OpenAPI document that a function serves (not the stack's own `/openapi.json` and
    `/docs`), then the template's routes the document does not hold."""
    doc = openapi_document()
    components = doc.get("components", {}).get("schemas", {})
    served = {(r.method, r.path): r for r in Template.load().routes()}
    cases = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            route = served.get((method.upper(), path))
            if route is None:
                continue  # the stack's description of itself: no function, no table, nothing to write
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            cases.append(RouteCase(
                method=method.upper(), path=path, function=route.function, authorized=route.authorized,
                path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                query=tuple((p["name"], resolve(p.get("schema", {}), components)) for p in params
                            if p["in"] == "query"),
                body=resolve(body, components) if body else None))
    documented = {(c.method, c.path) for c in cases}
    for (method, path), route in served.items():
        if (method, path) not in documented:
            cases.append(RouteCase(method=method, path=path, function=route.function, authorized=route.authorized,
                                   path_params=tuple(re.findall(r"\{(\w+)\}", path)), query=(), body=None))
    return tuple(cases)


@cache
def _sample(route_key: str) -> dict[str, Any]:
    """The route's events/ sample; a route without one gets another route's, re-addressed."""
    samples = sample_events()
    name = samples.get(route_key) or samples["GET /organizations"]
    event = json.loads((EVENTS / name).read_text())
    method = route_key.split(" ", 1)[0]
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    event["requestContext"]["http"]["method"] = method
    return event


# --- requests -------------------------------------------------------------------------------------------
@dataclass
class Request:
    """One adversarial request: what the caller controls, and who the caller is."""

    who: str  # admin | viewer | platform | bystander | unauthenticated | no_partner (webhook: stripe)
    claims: dict[str, Any] | None
    path: dict[str, str]
    query: dict[str, str] | None
    headers: dict[str, str]
    body: str | None
    base64: bool
    seeded: bool = False  # one of seeded_requests(): answers exactly as its missing_twin() does

    def __repr__(self) -> str:
        body = self.body if self.body is None or len(self.body) <= 300 else f"{self.body[:300]}...({len(self.body)})"
        return (f"Request(who={self.who!r}, claims={self.claims!r}, path={self.path!r}, query={self.query!r}, "
                f"headers={self.headers!r}, base64={self.base64!r}, body={body!r}"
                + (", seeded=True)" if self.seeded else ")"))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis prints a failing example with this, bodies cut short

    def event(self, case: RouteCase) -> dict[str, Any]:
        """The API Gateway HTTP API (payload 2.0) event of this request, built on the route's sample."""
        event = copy.deepcopy(_sample(case.key))
        raw_path = case.path
        for name, value in self.path.items():
            raw_path = raw_path.replace("{" + name + "}", quote(value, safe=""))
        event["rawPath"] = event["requestContext"]["http"]["path"] = raw_path
        if self.path:
            event["pathParameters"] = dict(self.path)
        else:
            event.pop("pathParameters", None)
        event["queryStringParameters"] = self.query or None
        event["rawQueryString"] = urlencode(self.query or {}, quote_via=quote)
        if not event["queryStringParameters"]:
            event.pop("queryStringParameters")
        headers = {k: v for k, v in event["headers"].items()
                   if k not in {"content-type", "content-length", "if-match", "idempotency-key", "stripe-signature"}}
        event["headers"] = {**headers, **self.headers}
        if self.body is None:
            event.pop("body", None)
        else:
            event["body"] = self.body
        event["isBase64Encoded"] = self.base64
        if self.claims is None:
            event["requestContext"].pop("authorizer", None)
        elif case.authorized:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": self.claims, "scopes": None}}
        return event


def _ulid_body(seed: int) -> str:
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    out = []
    for _ in range(26):
        seed, rem = divmod(seed, 32)
        out.append(alphabet[rem])
    return "".join(out)


ID_BODIES = st.integers(min_value=0, max_value=32**26 - 1).map(_ulid_body)
# Text a hostile or careless caller types: any Unicode, separators, white space, look-alike digits, overlong.
ODD_TEXT = st.one_of(
    st.text(max_size=24),
    st.sampled_from(["", " ", "\t", "\u3000", "\u00a0", "#", "%23", "%2F", "a#b", "PTN#ptn_x#ORG", "/", "..",
                     "²", "1³", "١٢", "\x00", "\ufeff", "null", "undefined", "[]", "{}", "'\"", "*", "\U0001f4b8"]),
    st.integers(min_value=65, max_value=5000).map(lambda n: "x" * n),
)
DATES = st.sampled_from(["2026-11-21", "2026-02-29", "2026-13-01", "2026-11-21T00:00:00Z", "21/11/2026", "0000-00-00",
                         "9999-12-31", "2026-1-1", "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff11"])
ENUM_NOISE = st.sampled_from(["", "PAID", "paid ", "unknown", "stripe", "top-up"])


class Ids:
    """The seed's ids, by kind, and whose each is."""

    def __init__(self) -> None:
        self.by_kind: dict[str, list[str]] = {}
        self.owner: dict[str, str] = {}
        self.org_of: dict[str, str | None] = {}  # the organization each seeded record belongs to (None: none)

    def add(self, kind: str, value: str, owner: str, org: str | None = None) -> None:
        self.by_kind.setdefault(kind, []).append(value)
        self.owner[value] = owner
        self.org_of[value] = org

    def customer_org(self, partner: str) -> str:
        """The organization whose staff the generated customer tokens are: the partner's first."""
        return next(v for v in self.of("org") if self.owner[v] == partner)

    def of(self, kind: str) -> list[str]:
        return self.by_kind.get(kind, [])

    def all(self) -> list[str]:
        return list(self.owner)


KIND_OF_PARAM = {"org_id": "org", "payment_id": "pay", "invoice_id": "inv", "partner_id": "ptn",
                 "credit_note_id": "crn"}


def id_values(name: str, ids: Ids) -> st.SearchStrategy[str]:
    """A path or query id: one of the seed's (its own kind, another kind, another partner's), well-formed but
    missing, or malformed (separators, Unicode, white space, overlong, the wrong case or prefix)."""
    kind = KIND_OF_PARAM.get(name, "org")
    own = ids.of(kind) or ids.all()
    seeded = st.sampled_from(own)
    prefix = kind if kind != "ptn" else "org"
    return st.one_of(
        *[seeded.map(lambda v: v) for _ in range(7)],
        st.sampled_from(ids.all()),  # a valid id of another type (or partner)
        ID_BODIES.map(lambda b: f"{prefix}_{b}"),  # well-formed, never issued
        st.tuples(seeded, st.sampled_from([" ", "\t", "\n", "#", "%23", "/", "\u3000", "x" * 300])).map(
            lambda t: t[0] + t[1]),
        st.tuples(st.sampled_from([" ", "#", "o#", "PTN#"]), seeded).map(lambda t: t[0] + t[1]),
        seeded.map(str.lower), seeded.map(str.upper), seeded.map(lambda v: v[:-1]),
        ODD_TEXT,
    )


def query_values(name: str, schema: dict[str, Any], ids: Ids) -> st.SearchStrategy[str]:
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    first = options[0] if options else {}
    if name.endswith("_id"):
        return id_values(name, ids)
    if "enum" in first:
        return st.one_of(st.sampled_from(first["enum"]), ENUM_NOISE, ODD_TEXT)
    if first.get("type") == "integer":
        return st.one_of(st.integers(min_value=-5, max_value=105).map(str),
                         st.sampled_from(["1.0", "1e2", "²", "\u0661\u0660", " 5", "0x10", "9" * 30, "-0"]), ODD_TEXT)
    if first.get("examples") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(first["examples"][0])):
        return st.one_of(DATES, ODD_TEXT)
    if name == "cursor":  # empty (a console sending `?cursor=` on the first page), forged, overlong, any text
        forged = st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode())
        return st.one_of(st.just(""), st.just(""), forged, st.integers(4090, 4200).map(lambda n: "A" * n), ODD_TEXT)
    return st.one_of(st.sampled_from(["acme", "Acme Telecom", "INV-000001", "TT-2026-0042"]), ODD_TEXT)


# JSON of any shape, with the values that break parsers and number types.
JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=16),
    st.sampled_from([0, -1, 10**15, 10**15 + 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**999, 1e308, -0.0, 1.5,
                     "", " ", "²", "SGD", "sgd", "2026-11-21", "\u0000", "A" * 300]),
    st.characters(categories=["Cs"]).map(lambda c: f"x{c}"),  # a lone surrogate: JSON may escape one ("\ud800")
)
JSON_VALUES = st.recursive(JSON_LEAVES, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=10)
WRONG: st.SearchStrategy[Any] = st.one_of(JSON_VALUES, st.sampled_from([
    None, "", -1, 0, 10**15 + 1, 10**999, "100", 100.0, True, [], {}, "x" * 5000, "stripe", "org_" + "A" * 26,
    "inv_01JZ8Q7B2C3D4E5F6G7H8J9K0#"]))


def exemplar(schema: Any, name: str, ids: Ids) -> Any:
    """A value close to what `schema` wants (a body of one field wrong starts from it)."""
    if not isinstance(schema, dict):
        return None
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return exemplar(options[0], name, ids) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: exemplar(v, k, ids) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [exemplar(schema.get("items", {}), name, ids) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        low = schema["exclusiveMinimum"] + 1 if "exclusiveMinimum" in schema else schema.get("minimum", 0)
        return int(min(max(100, low), schema.get("maximum", 10**15)))
    if kind == "boolean":
        return False
    if kind == "string":
        if name in KIND_OF_PARAM and ids.of(KIND_OF_PARAM[name]):
            return ids.of(KIND_OF_PARAM[name])[0]
        if name == "currency":
            return "SGD"
        if schema.get("examples"):
            return schema["examples"][0]
        return "adversarial"[: schema.get("maxLength", 11)].ljust(schema.get("minLength", 0), "x")
    return None


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*path, k)
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*path, i)
            yield from _leaves(v, (*path, i))


def _set(value: Any, path: tuple[Any, ...], new: Any, drop: bool = False) -> Any:
    out = copy.deepcopy(value)
    holder = out
    for part in path[:-1]:
        holder = holder[part]
    if drop:
        del holder[path[-1]]
    else:
        holder[path[-1]] = new
    return out


def near_bodies(schema: Any, ids: Ids) -> st.SearchStrategy[Any]:
    """The route's body as its schema wants it, or with one field wrong, missing or extra, or wholly wrong."""
    body = exemplar(schema, "body", ids)
    paths = list(_leaves(body))
    options = [st.just(body), WRONG]
    if paths:
        where = st.sampled_from(paths)
        options += [st.tuples(where, WRONG).map(lambda t: _set(body, t[0], t[1])),
                    st.tuples(where, WRONG).map(lambda t: _set(body, t[0], t[1])),
                    where.map(lambda path: _set(body, path, None, drop=True))]
    if isinstance(body, dict):
        extra = st.sampled_from(["extra", "partner_id", "id", "version", "__proto__"])
        options.append(st.tuples(extra, WRONG).map(lambda t: {**body, t[0]: t[1]}))
    return st.one_of(*options)


def _dumps(value: Any, ascii_only: bool) -> str:
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        text.encode("utf-8")  # a lone surrogate travels escaped, as it would in a real request's bytes
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


PATHOLOGICAL = st.one_of(
    st.sampled_from([16, 17, 40, 1000]).map(lambda n: "[" * n + "]" * n),
    st.just(100_000).map(lambda n: "[" * n + "]" * n),
    st.sampled_from([15, 16, 40]).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from([999, 1000, 1001, 4300, 4301, 20_000]).map(lambda n: '{"amount": ' + "9" * n + "}"),
    st.sampled_from(['{"amount": NaN}', '{"amount": Infinity}', "-Infinity", '{"a": 1,}', "{'a': 1}", '{"a" 1}',
                     '\ufeff{"a": 1}', '{"amount": 1, "amount": "x"}', "null", "true", "0", '""', "[]", "{}",
                     '{"a": "\\ud800"}', '{"a": "\\u0000"}', '{"a": 1e999}', "1" * 10]),
    st.just(70_000).map(lambda n: '"' + "x" * n + '"'),
    st.just(2000).map(lambda n: json.dumps({"allocations": [{"invoice_id": "inv_01JZ8Q7B2C3D4E5F6G7H8J9K0M",
                                                             "amount": 1}] * n})),
)


def body_texts(case: RouteCase, ids: Ids) -> st.SearchStrategy[str]:
    texts: list[st.SearchStrategy[str]] = [
        st.tuples(JSON_VALUES, st.booleans()).map(lambda t: _dumps(*t)),
        PATHOLOGICAL,
        st.text(max_size=40),
        st.just(""),
    ]
    if case.body is not None:
        near = st.tuples(near_bodies(case.body, ids), st.booleans()).map(lambda t: _dumps(*t))
        texts = [near, near, near, near, *texts]
        texts.append(near.map(lambda t: t[: max(1, len(t) // 2)]))  # cut short
    return st.one_of(*texts)


def bodies(case: RouteCase, ids: Ids) -> st.SearchStrategy[tuple[str | None, bool]]:
    """(body, isBase64Encoded): text as sent, base64 as API Gateway hands over a binary body (any bytes,
    JSON in another encoding, or not base64 at all), or none."""
    texts = body_texts(case, ids)
    plain = texts.map(lambda t: (t, False))
    return st.one_of(
        plain, plain, plain, plain,
        texts.map(lambda t: (base64.b64encode(t.encode("utf-8", "surrogatepass")).decode(), True)),
        st.binary(max_size=64).map(lambda b: (base64.b64encode(b).decode(), True)),
        st.tuples(texts, st.sampled_from(["utf-16", "utf-32", "latin-1"])).map(
            lambda t: (base64.b64encode(t[0].encode(t[1], "replace")).decode(), True)),
        st.text(max_size=20).map(lambda t: (t, True)),  # "base64" that is not
        st.just((None, False)),
    )


CONTENT_TYPES = st.one_of(
    st.just("application/json"),
    st.sampled_from(["application/json", "APPLICATION/JSON", "Application/Json; charset=UTF-8",
                     "application/json;charset=utf-16", " application/json ", "application/json; x=\"y;z\"",
                     "application/problem+json", "application/json-patch+json", "text/plain", "text/json",
                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "*/*", "", ";",
                     "application/jsonp", "application/json\x00"]),
    st.text(max_size=30),
)
IF_MATCH = st.one_of(st.sampled_from(["1", "2", '"1"', 'W/"1"', "*", "0", "-1", "01", " 1 ", "1, 2", "²", "1³", "١٢",
                                      "9" * 40, "", 'W/""']), st.text(max_size=12))
IDEMPOTENCY_KEYS = st.one_of(st.sampled_from(["adv-key-1", "adv-key-2", "", " ", "\t", "k" * 255, "k" * 256]),
                             st.text(max_size=40), st.integers(256, 10_000).map(lambda n: "k" * n))


# Stripe-Signature: any text, Stripe's shape with any values, or a real signature of the body (now, or
# outside the tolerance): ("text", header) or ("signed", seconds from now).
SIGNATURES = st.one_of(
    st.text(max_size=80).map(lambda t: ("text", t)),
    st.tuples(st.one_of(st.integers(-(10**13), 10**13).map(str), ODD_TEXT), st.text(max_size=70)).map(
        lambda t: ("text", f"t={t[0]},v1={t[1]}")),
    st.sampled_from([0, 0, 0, -301, 301, -10**6]).map(lambda d: ("signed", d)),
    st.sampled_from([",", "t=", "v1=", "t=1,t=2", "x" * 3000, "t=²1796138655,v1=00", "t=1796138655,v0=00"]).map(
        lambda t: ("text", t)),
)


def signature(how: tuple[str, Any], body: str | None, base64_encoded: bool, secret: str) -> str:
    if how[0] == "text":
        return how[1]
    raw = b""
    if body:
        try:
            raw = base64.b64decode(body, validate=True) if base64_encoded else body.encode("utf-8")
        except (ValueError, UnicodeEncodeError):
            raw = b""
    return header_for(raw, secret, int(time.time()) + how[1])


def stripe_events(ids: Ids) -> st.SearchStrategy[str]:
    """A body in Stripe's event envelope, its parts any value, naming the seed's ids now and then."""
    text = st.one_of(st.sampled_from(ids.all()), ODD_TEXT)
    intent = st.fixed_dictionaries({
        "object": st.one_of(st.just("payment_intent"), JSON_LEAVES),
        "id": st.one_of(st.just("pi_adversary"), text, JSON_LEAVES),
        "amount_received": st.one_of(st.integers(), JSON_LEAVES),
        "currency": st.one_of(st.just("sgd"), JSON_LEAVES),
        "metadata": st.one_of(st.fixed_dictionaries({
            "purpose": st.one_of(st.sampled_from(["online_top_up", "auto_top_up"]), JSON_LEAVES),
            "org_id": text, "partner_id": st.one_of(st.sampled_from([PARTNER, BYSTANDER]), text),
            "online_top_up_id": text, "business_date": st.one_of(DATES, text)}), JSON_VALUES),
        "last_payment_error": JSON_VALUES,
    })
    event = st.fixed_dictionaries({
        "id": st.one_of(st.just("evt_adversary"), text, JSON_LEAVES),
        "object": st.just("event"),
        "type": st.one_of(st.sampled_from(["payment_intent.succeeded", "payment_intent.payment_failed",
                                           "charge.refunded"]), JSON_LEAVES),
        "created": st.one_of(st.integers(), JSON_LEAVES),
        "data": st.one_of(st.fixed_dictionaries({"object": intent}), JSON_VALUES),
    })
    return st.one_of(event, st.dictionaries(st.sampled_from(["id", "type", "data", "object"]), JSON_VALUES)).map(
        json.dumps)


ADMIN = {"sub": "admin@adversary.example", "partner_id": PARTNER, "groups": "[finance-admin]"}
ODD_PARTNERS = st.one_of(
    st.sampled_from(["ptn_e1#ORGPAY#o", "ptn h1", "x" * 65, "ptn_é", "a\u0000b", "%23", "ptn_adversary ",
                     " ptn_adversary", "ptn_adversary\n", "ptn_adversary#", "ptn_\uff41"]),
    st.text(min_size=1, max_size=70).filter(lambda s: not PARTNER_ID.fullmatch(s)),
    st.sampled_from([["ptn_adversary"], 42, {"id": PARTNER}, True]),
)
ODD_GROUPS = st.one_of(ODD_TEXT, st.sampled_from(["[]", "[finance-admins]", "[FINANCE-ADMIN]", '["finance-admin"',
                                                  "[finance-admin", "finance_admin"]))
_CALLERS: list[st.SearchStrategy[tuple[str, dict[str, Any] | None]]] = [
    st.sampled_from(["[finance-admin]", '["finance-admin"]', "[finance-admin finance-viewer]", "finance-admin"]).map(
        lambda g: ("admin", {**ADMIN, "groups": g})),
    st.just(("viewer", {**ADMIN, "groups": "[finance-viewer]"})),
    st.just(("platform", {"sub": "ops@platform.example", "partner_id": "ptn_platform", "groups": "[platform-admin]"})),
    st.just(("bystander", {**ADMIN, "partner_id": BYSTANDER})),
    st.just(("no_partner", {k: v for k, v in ADMIN.items() if k != "partner_id"})),
    ODD_GROUPS.map(lambda g: ("odd_groups", {**ADMIN, "groups": g})),
    ODD_PARTNERS.map(lambda p: ("unauthenticated", {**ADMIN, "partner_id": p})),
    st.just(("unauthenticated", {k: v for k, v in ADMIN.items() if k != "sub"})),
    st.just(("unauthenticated", None)),
]
# Who calls: mostly the seeded partner's administrator; also its viewer, a platform administrator, another
# partner's administrator, a token without a partner, odd groups, and tokens that are no valid identity.
_WEIGHTS = [8, 2, 1, 3, 1, 1, 2, 1, 1]  # one_of draws its branches alike: a branch's weight is its copies
CALLERS = st.one_of(*[caller.map(lambda c: c) for caller, n in zip(_CALLERS, _WEIGHTS, strict=True)
                      for _ in range(n)])


def requests(case: RouteCase, ids: Ids, webhook_secret: str) -> st.SearchStrategy[Request]:
    """Adversarial requests of `case` (every strategy built once, here: building them per draw costs more
    than the request)."""
    if case.webhook:
        events = stripe_events(ids).map(lambda t: (t, False))
        webhook_bodies = st.one_of(bodies(case, ids), events, events)
        webhook_headers = st.fixed_dictionaries({}, optional={"content-type": CONTENT_TYPES,
                                                              "stripe-signature": SIGNATURES})

        def delivery(parts: tuple[tuple[str | None, bool], dict[str, Any]]) -> Request:
            (body, encoded), headers = parts
            if "stripe-signature" in headers:
                headers["stripe-signature"] = signature(headers["stripe-signature"], body, encoded, webhook_secret)
            return Request("stripe", None, {}, None, headers, body, encoded)

        return st.tuples(webhook_bodies, webhook_headers).map(delivery)
    path = st.fixed_dictionaries({name: id_values(name, ids) for name in case.path_params})
    query = st.fixed_dictionaries({}, optional={
        **{name: query_values(name, schema, ids) for name, schema in case.query}, "unknown": ODD_TEXT})
    body = bodies(case, ids) if case.body is not None else st.one_of(*[st.just((None, False))] * 5, bodies(case, ids))
    headers = st.fixed_dictionaries({}, optional={
        "content-type": CONTENT_TYPES, "if-match": IF_MATCH, "idempotency-key": IDEMPOTENCY_KEYS,
        "stripe-signature": st.text(max_size=20)})

    # a customer organization's own staff (issue 28): the seeded partner's first organization's
    customer = st.sampled_from(["[org-admin]", "[org-viewer]", "[org-admin finance-admin]"]).map(
        lambda g: ("customer", {**ADMIN, "groups": g, "org_id": ids.customer_org(PARTNER)}))
    callers = st.one_of(CALLERS, customer)

    def request(parts: tuple[Any, ...]) -> Request:
        (who, claimed), path_ids, query_values_, (text, encoded), head, json_type = parts
        if text is not None and "content-type" not in head and json_type:
            head = {**head, "content-type": "application/json"}
        return Request(who, claimed, path_ids, query_values_, head, text, encoded)

    return st.tuples(callers, path, query, body, headers, st.booleans()).map(request)


def seeded_requests(case: RouteCase, ids: Ids) -> list[Request]:
    """The seeded partner's administrator naming every seed id of the kinds the route takes (its own and the
    other partner's: in the path, one path id at a time, the others its first; or one query id at a time), with
    the route's body as its schema wants it. Explicit examples: every route meets each real id, whatever the
    generated examples draw."""
    if case.webhook:
        return []
    body = _dumps(exemplar(case.body, "body", ids), True) if case.body is not None else None
    seeded = {name: ids.of(KIND_OF_PARAM.get(name, "org")) for name in case.path_params}
    first = {name: values[0] for name, values in seeded.items()}
    paths = list({tuple(sorted({**first, name: value}.items())): {**first, name: value}
                  for name, values in seeded.items() for value in values}.values()) or [{}]
    queries: list[dict[str, str] | None] = [None]
    if not case.path_params:
        queries += [{name: value} for name, _ in case.query if name in KIND_OF_PARAM
                    for value in ids.of(KIND_OF_PARAM[name])]
    return [Request("admin", dict(ADMIN), path, query, {"content-type": "application/json"}, body, False, True)
            for path in paths for query in queries]


def missing_twin(request: Request, ids: Ids, partner: str) -> Request | None:
    """`request` with each id of another partner than `partner` replaced by a well-formed id never issued (of
    the same prefix); None if it names none."""
    def missing(value: str) -> str:
        return f"{value.split('_', 1)[0]}_{'0' * 26}" if ids.owner.get(value, partner) != partner else value

    path = {k: missing(v) for k, v in request.path.items()}
    query = {k: missing(v) for k, v in request.query.items()} if request.query else request.query
    if path == request.path and query == request.query:
        return None
    return Request(request.who, request.claims, path, query, request.headers, request.body, request.base64)


# --- the contract's error shape -------------------------------------------------------------------------
# The 409 codes a route may answer, for the routes listed here (a route not listed has its 409s' shape checked,
# not their codes): the rules the contract names for it ("Money that comes back"), and what every write retried
# on a lost race (`concurrent_update`) or done once per Idempotency-Key may answer besides.
RETRIED = frozenset({"concurrent_update"})
ONCE = RETRIED | {"idempotency_key_reused", "idempotency_request_in_progress"}
CONFLICTS: dict[str, frozenset[str]] = {
    "POST /invoices/{invoice_id}/credit-notes": ONCE | {"credit_note_not_allowed", "credit_exceeds_invoice",
                                                        "credit_note_limit_reached", "balance_limit_exceeded"},
    "GET /credit-notes": frozenset(),
    "GET /credit-notes/{credit_note_id}": frozenset(),
    "POST /invoices/{invoice_id}/void": ONCE | {"invoice_void", "invoice_has_allocations"},
    "POST /payments/{payment_id}/bounce": ONCE | {"payment_bounced", "stripe_payment_locked"},
    "POST /organizations/{org_id}/wallet/withdrawals": ONCE | {"insufficient_balance"},
    "GET /organizations/{org_id}/wallet/withdrawals": frozenset(),
    "DELETE /payments/{payment_id}/assignment": RETRIED | {"payment_bounced", "payment_not_assigned",
                                                          "assignment_edit_limit_reached", "payment_credit_delivered"},
    "DELETE /payments/{payment_id}/allocations/{invoice_id}": RETRIED | {"payment_bounced", "invoice_provisioned",
                                                                        "payment_credit_delivered"},
}


def error_shape_problems(response: dict[str, Any]) -> list[str]:
    """What is wrong with a refusal's response, against the contract's
    `{"error": {"code": "snake_case_code", "message": "human sentence", "details": [...]}}`."""
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    problems = []
    if not str(headers.get("content-type", "")).startswith("application/json"):
        problems.append(f"content-type {headers.get('content-type')!r}")
    try:
        body = json.loads(response.get("body") or "")
    except ValueError:
        return [*problems, f"body is not JSON: {response.get('body')!r:.200}"]
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return [*problems, f"body is not {{'error': {{...}}}}: {body!r:.300}"]
    error = body["error"]
    if set(error) != {"code", "message", "details"}:
        problems.append(f"error keys {sorted(error)} (the contract's: code, message, details)")
    if not (isinstance(error.get("code"), str) and SNAKE.fullmatch(error["code"])):
        problems.append(f"code {error.get('code')!r} is not snake_case")
    if not (isinstance(error.get("message"), str) and error["message"].strip()):
        problems.append(f"message {error.get('message')!r}")
    if not isinstance(error.get("details"), list):
        problems.append(f"details {error.get('details')!r} is not a list")
    return problems


def error_code(response: dict[str, Any]) -> str | None:
    try:
        return json.loads(response.get("body") or "")["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


# --- the table, watched ---------------------------------------------------------------------------------
class TableWatch:
    """Whether the table still holds exactly what it held: each look is one Scan over a kept-alive
    connection, compared by digest; only a differing digest is parsed and compared item by item (DynamoDB
    Local may return the same items in another order after a rewrite)."""

    def __init__(self, endpoint: str, table: str):
        host, port = endpoint.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.table = table
        self.conn: http.client.HTTPConnection | None = None
        self.baseline: list[bytes] = []
        self.digest = ""

    def _post(self, body: dict[str, Any]) -> bytes:
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.Scan",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(*self.address, timeout=30)
                self.conn.request("POST", "/", json.dumps(body).encode(), headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.status != 200:
                    raise RuntimeError(f"Scan answered {response.status}: {data[:300]!r}")
                return data
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def pages(self) -> list[bytes]:
        pages, start = [], None
        while True:
            args: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
            if start:
                args["ExclusiveStartKey"] = start
            page = self._post(args)
            pages.append(page)
            start = json.loads(page).get("LastEvaluatedKey") if b'"LastEvaluatedKey"' in page else None
            if not start:
                return pages

    @staticmethod
    def items(pages: list[bytes]) -> list[dict[str, Any]]:
        items = [item for page in pages for item in json.loads(page)["Items"]]
        return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))

    @staticmethod
    def _digest(pages: list[bytes]) -> str:
        return hashlib.sha256(b"".join(pages)).hexdigest()

    def remember(self) -> None:
        self.baseline = self.pages()
        self.digest = self._digest(self.baseline)

    def changes(self) -> list[str]:
        """What differs from the remembered table (empty: nothing), keys of the items added, removed, changed."""
        now = self.pages()
        if self._digest(now) == self.digest:
            return []
        before = {(i["pk"]["S"], i["sk"]["S"]): i for i in self.items(self.baseline)}
        after = {(i["pk"]["S"], i["sk"]["S"]): i for i in self.items(now)}
        if before == after:
            self.baseline, self.digest = now, self._digest(now)  # the same items, listed in another order
            return []
        return ([f"added {k}" for k in after.keys() - before.keys()]
                + [f"removed {k}" for k in before.keys() - after.keys()]
                + [f"changed {k}" for k in before.keys() & after.keys() if before[k] != after[k]])


READ_ONLY = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable",
                       "ListTables", "DescribeTimeToLive", "DescribeContinuousBackups", "DescribeEndpoints"})


class _Forward(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: WriteTap

    def log_message(self, format: str, *args: Any) -> None:
        """Not logged."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"connection", "content-length"}}
        status, reply, reply_headers = self.server.forward(body, headers)
        if operation not in READ_ONLY and status == 200:
            self.server.wrote(operation)  # counted before the function hears back: its request is then done
        self.send_response(status)
        for name, value in reply_headers:
            if name.lower() not in {"connection", "content-length", "transfer-encoding", "date", "server"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class WriteTap(ThreadingHTTPServer):
    """A pass-through in front of DynamoDB Local that counts the write requests it answered with 200 (any
    operation not known to be read-only counts). A request during which none succeeded cannot have changed
    the table; one during which some did is checked against the table's snapshot (a refused request may
    write and undo, as an Idempotency-Key's INPROGRESS record is put and then deleted)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, upstream: str):
        super().__init__(("127.0.0.1", 0), _Forward)
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.local = threading.local()
        self.lock = threading.Lock()
        self.writes: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, name="dynamodb-write-tap", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> WriteTap:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, list[tuple[str, str]]]:
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(*self.upstream, timeout=60)
            try:
                conn.request("POST", "/", body, headers)
                response = conn.getresponse()
                return response.status, response.read(), response.getheaders()
            except (http.client.HTTPException, OSError):
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def wrote(self, operation: str) -> None:
        with self.lock:
            self.writes.append(operation)

    def mark(self) -> int:
        with self.lock:
            return len(self.writes)

    def since(self, mark: int) -> list[str]:
        with self.lock:
            return self.writes[mark:]


def restore(client: Any, table: str, watch: TableWatch, seed: list[dict[str, Any]]) -> None:
    """Put the table back to `seed` exactly (a request that succeeded may have written)."""
    current = {(i["pk"]["S"], i["sk"]["S"]): i for i in watch.items(watch.pages())}
    wanted = {(i["pk"]["S"], i["sk"]["S"]): i for i in seed}
    for k in current.keys() - wanted.keys():
        client.delete_item(TableName=table, Key={"pk": {"S": k[0]}, "sk": {"S": k[1]}})
    for k, item in wanted.items():
        if current.get(k) != item:
            client.put_item(TableName=table, Item=item)
    watch.remember()


def examples() -> int:
    return int(os.environ.get("ADVERSARIAL_EXAMPLES", "200"))

