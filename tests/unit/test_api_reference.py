"""docs/api.md, the API reference a newcomer reads, cannot drift from the API (issue 26).

The page is read in the simple forms it states itself ("How this page is checked"):

  - a route is a heading `### METHOD /path`;
  - in a route's section, the table after the line starting `**Request body**` lists the request's fields, the
    first `(#anchor)` link after `**Answer**` names the shape of its answer (of a list's items), and the codes
    after `**Errors**` (each after its status or a comma: "409 `a`, `b`") are error codes of the table;
  - a shape is a `#### Name` heading followed by a table; a row whose type links to another shape is that field's
    shape;
  - a field table's first column is the field's name in backticks;
  - the error codes are the second column of the tables under `## Error codes`.

These are checked against the OpenAPI document (`local.openapi.document()`, what `GET /openapi.json` serves) by
names only (routes, fields, parameters), never by how a schema is built, and the error codes against a scan of
the service's own code (`shared/`, `functions/`).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.conftest import openapi_document

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "api.md"
METHODS = ("get", "post", "put", "patch", "delete")

ROUTE = re.compile(r"^### (GET|POST|PUT|PATCH|DELETE) (/\S*)\s*$")
HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")
LINK = re.compile(r"\]\(#([^)\s]+)\)")
FIELD = re.compile(r"^`([^`]+)`$")
CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")  # a snake_case error code
NAMED_CODE = re.compile(r"(?:\b[1-5][0-9][0-9]|,) `([a-z][a-z0-9_]*)`")  # "409 `a`, `b`" in an **Errors** line


# --- the page --------------------------------------------------------------------------------------------
def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@dataclass
class Section:
    level: int
    title: str
    lines: list[str] = field(default_factory=list)


def sections(text: str) -> list[Section]:
    """The page cut at every heading (code blocks' `#` comments are not headings)."""
    out = [Section(0, "")]
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if match:
            out.append(Section(len(match.group(1)), match.group(2)))
        else:
            out[-1].lines.append(line)
    return out


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tables(lines: list[str]) -> list[tuple[int, list[list[str]]]]:
    """Each markdown table of `lines`: (the index of its header line, its body rows as cells)."""
    found: list[tuple[int, list[list[str]]]] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) and re.match(r"^\s*\|[\s:|-]+\|\s*$",
                                                                                  lines[i + 1]):
            start, i = i, i + 2
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            found.append((start, rows))
        else:
            i += 1
    return found


def field_names(rows: list[list[str]]) -> list[str]:
    names = []
    for row in rows:
        match = FIELD.match(row[0])
        assert match, f"a field table's first column is the field name in backticks, not {row[0]!r}"
        names.append(match.group(1))
    return names


@dataclass
class Route:
    request: list[list[str]] | None  # the request body's table rows
    answer: str | None  # the anchor of the answer's shape
    text: str


@dataclass
class Reference:
    routes: dict[tuple[str, str], Route]
    shapes: dict[str, list[list[str]]]  # anchor -> table rows
    error_codes: set[str]
    named_codes: dict[tuple[str, str], set[str]]  # route -> the codes its text names


@cache
def reference() -> Reference:
    text = REFERENCE.read_text()
    routes: dict[tuple[str, str], Route] = {}
    shapes: dict[str, list[list[str]]] = {}
    error_codes: set[str] = set()
    in_errors = False
    for section in sections(text):
        if section.level <= 2:
            in_errors = section.title == "Error codes"
        route = ROUTE.match(f"{'#' * section.level} {section.title}")
        if route:
            key = (route.group(1), route.group(2))
            assert key not in routes, f"{key} has two sections"
            request = None
            for start, rows in tables(section.lines):
                if any(line.startswith("**Request body**") for line in section.lines[:start]):
                    request = rows
                    break
            answers = [line.split("**Answer**", 1)[1] for line in section.lines if "**Answer**" in line]
            links = LINK.findall(answers[0]) if answers else []
            routes[key] = Route(request, links[0] if links else None, "\n".join(section.lines))
        elif section.level == 4:
            found = tables(section.lines)
            if found:
                anchor = slug(section.title)
                assert anchor not in shapes, f"two shapes are called {section.title!r}"
                shapes[anchor] = found[0][1]
        if in_errors:
            for _, rows in tables(section.lines):
                for row in rows:
                    error_codes |= set(re.findall(r"`([a-z_]+)`", row[1]))
    named = {key: set(NAMED_CODE.findall(route.text.split("**Errors**", 1)[1]))
             for key, route in routes.items() if "**Errors**" in route.text}
    return Reference(routes, shapes, error_codes, named)


# --- the OpenAPI document ----------------------------------------------------------------------------------
def openapi() -> dict[str, Any]:
    return openapi_document()


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, item in openapi()["paths"].items()
            for method, op in item.items() if method in METHODS}


def resolve(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The object a schema describes: `$ref` followed, the non-null (or object) branch of an `anyOf`, an array's
    items; `{}` for anything else."""
    schemas = openapi()["components"]["schemas"]
    while schema:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in schema or "oneOf" in schema:  # `X | None`: X; a union of several: its object branch
            branches = [s for s in schema.get("anyOf", schema.get("oneOf", [])) if s.get("type") != "null"]
            objects = [s for s in branches if resolve(s).get("properties")]
            schema = objects[0] if objects else branches[0] if len(branches) == 1 else None
        elif schema.get("type") == "array":
            schema = schema["items"]
        else:
            return schema
    return {}


def properties(schema: dict[str, Any] | None) -> dict[str, Any]:
    return resolve(schema).get("properties", {})


def success(op: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of the operation's 2xx JSON body (None without one)."""
    for status, answer in sorted(op["responses"].items()):
        if status.startswith("2"):
            return answer.get("content", {}).get("application/json", {}).get("schema")
    return None


def item_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """A list's answer (`{items, next_cursor}` or `{items}`) is documented by its items' shape."""
    props = properties(schema)
    if "items" in props and set(props) <= {"items", "next_cursor"}:
        return props["items"]
    return schema


# --- the service's error codes --------------------------------------------------------------------------------
def _params(fn: ast.FunctionDef, method: bool) -> list[str]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    return names[1:] if method else names


def service_error_codes() -> set[str]:
    """Every error code the code of `shared/` and `functions/` names: a `code="..."` argument, a `code = "..."`
    class attribute, a `*_CODE = "..."` constant, a `"code": "..."` entry, a `code` parameter's default, and a
    literal passed where a function or class takes its `code` positionally (`Conflict("...", ...)`,
    `error_body("...")`, `error_response(404, "...")`, `check_not_future(..., "...")`)."""
    files = sorted((ROOT / "shared").rglob("*.py")) + sorted((ROOT / "functions").rglob("*.py"))
    trees = [ast.parse(path.read_text(), str(path)) for path in files]
    positions: dict[str, set[int]] = {}  # callable name -> where its `code` sits among the positional arguments
    codes: set[str] = set()

    def note(value: ast.expr | None) -> None:
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and CODE.match(value.value):
            codes.add(value.value)

    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__" and "code" in _params(item, True):
                        at = _params(item, True).index("code")
                        positions.setdefault(node.name, set()).add(at)
                        positions.setdefault("__init__", set()).add(at)  # super().__init__("...", ...)
                    targets = (item.targets if isinstance(item, ast.Assign) else
                               [item.target] if isinstance(item, ast.AnnAssign) else [])
                    if any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                        note(item.value)  # type: ignore[union-attr]
            elif isinstance(node, ast.FunctionDef):
                names = _params(node, False)
                if "code" in names and names[0] not in ("self", "cls"):
                    positions.setdefault(node.name, set()).add(names.index("code"))
                positional = node.args.posonlyargs + node.args.args
                defaults = zip(positional[len(positional) - len(node.args.defaults):], node.args.defaults, strict=True)
                for arg, default in [*defaults, *zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)]:
                    if arg.arg == "code":
                        note(default)
            elif isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and t.id.endswith("_CODE") for t in node.targets):
                    note(node.value)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "code":
                        note(value)
            elif isinstance(node, ast.keyword) and node.arg == "code":
                note(node.value)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                for at in positions.get(name, ()):
                    if at < len(node.args):
                        note(node.args[at])
    return codes


# --- the tests ---------------------------------------------------------------------------------------------
def test_every_route_of_the_api_has_its_section_and_every_section_is_a_route():
    # Given the routes the OpenAPI document describes (every route of template.yaml, /openapi.json and /docs)
    in_document = set(operations())
    # When the reference is read for its `### METHOD /path` sections
    documented = set(reference().routes)
    # Then each route has its section, and no section describes a route that does not exist
    assert in_document, "the OpenAPI document holds no route"
    assert sorted(in_document - documented) == [], "routes without a section in docs/api.md"
    assert sorted(documented - in_document) == [], "sections of docs/api.md for routes that do not exist"


def test_every_request_body_lists_exactly_the_fields_the_api_takes():
    ref = reference()
    for key, op in sorted(operations().items()):
        # Given a route's request body in the document, and what its section lists
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        wanted = properties(schema)
        listed = ref.routes[key].request
        # When the body has fields, the section has its table; when it has none, the section has no table
        if not wanted:
            assert listed is None, f"{key}: a request table for a body without fields"
            continue
        assert listed is not None, f"{key}: no **Request body** table"
        # Then the table lists exactly the schema's fields, and each nested object its own shape's
        check_table(f"{key} request", listed, wanted)


def test_every_answer_names_the_shape_whose_fields_the_api_answers():
    ref = reference()
    for key, op in sorted(operations().items()):
        # Given a route's success body in the document (a list's: its items), and the shape its section names
        schema = item_schema(success(op))
        wanted = properties(schema)
        anchor = ref.routes[key].answer
        # When the body has fields, the **Answer** line links to a shape; when it has none, to no shape
        if not wanted:
            assert anchor is None, f"{key}: an answer shape for a body without fields"
            continue
        assert anchor is not None, f"{key}: its **Answer** line names no shape"
        assert anchor in ref.shapes, f"{key}: the answer's shape #{anchor} is not a `#### ` shape of docs/api.md"
        # Then that shape lists exactly the fields answered
        check_table(f"{key} answer #{anchor}", ref.shapes[anchor], wanted)


def check_table(where: str, rows: list[list[str]], wanted: dict[str, Any]) -> None:
    names = field_names(rows)
    assert len(names) == len(set(names)), f"{where}: a field listed twice"
    assert sorted(names) == sorted(wanted), f"{where}: listed {sorted(names)}, the API has {sorted(wanted)}"
    for row, name in zip(rows, names, strict=True):
        nested = properties(wanted[name])
        links = LINK.findall(" ".join(row[1:2]))
        if nested:
            assert links, f"{where}: `{name}` is an object: its type column must link its shape"
        if links:
            shapes = reference().shapes
            assert links[0] in shapes, f"{where}: `{name}` links #{links[0]}, which is no shape of docs/api.md"
            check_table(f"{where} > {name} #{links[0]}", shapes[links[0]], nested)


def test_every_parameter_of_a_route_is_named_in_its_section():
    ref = reference()
    for key, op in sorted(operations().items()):
        # Given the query, header and path parameters a route takes
        names = {p["name"] for p in op.get("parameters", []) if p["in"] in ("query", "header", "path")}
        # When its section (with its heading) is read
        text = f"{key[1]}\n{ref.routes[key].text}"
        # Then each parameter is named there, and a required header is said to be required
        missing = sorted(n for n in names if f"`{n}" not in text and f"{{{n}}}" not in text)
        assert missing == [], f"{key}: parameters not named in its section"
        for p in op.get("parameters", []):
            if p["in"] == "header" and p.get("required") and p["name"] != "Stripe-Signature":
                assert "required" in text.lower(), f"{key}: the required header {p['name']} is not said required"


def test_every_error_code_of_the_service_is_in_the_error_code_table_and_nothing_else_is():
    # Given every error code the service's code names, and the codes of the reference's error-code tables
    in_code = service_error_codes()
    in_table = reference().error_codes
    # Then the scan found the codes it must (it cannot silently find nothing) ...
    assert {"malformed_json", "insufficient_balance", "route_not_found", "received_date_in_future",
            "invalid_signature", "payment_provider_unavailable", "version_mismatch"} <= in_code
    # ... every one is in the table, and the table holds no code the service no longer has
    assert sorted(in_code - in_table) == [], "error codes of the service missing from docs/api.md's Error codes"
    assert sorted(in_table - in_code) == [], "codes in docs/api.md's Error codes that the service does not have"


def test_every_error_code_a_route_names_is_in_the_error_code_table():
    ref = reference()
    for key, codes in sorted(ref.named_codes.items()):
        # Given the codes a route's **Errors** paragraph names
        # Then each is one of the error-code table's
        assert sorted(codes - ref.error_codes) == [], f"{key}: codes not in the Error codes table"


def test_the_reference_stands_alone():
    # Given the reference as a newcomer gets it with the repository
    text = REFERENCE.read_text()
    # Then it sends the reader nowhere outside the repository's own files (only to AWS's and Stripe's pages)
    assert "../shared" not in text and "/work/" not in text and "contract.md" not in text
    # and every in-page link lands on a heading of the page
    anchors = {slug(s.title) for s in sections(text) if s.level}
    assert sorted(set(LINK.findall(text)) - anchors) == [], "links to anchors the page does not have"
    # and every other doc it links exists
    for target in re.findall(r"\]\(([\w\-]+\.md)(?:#[^)]*)?\)", text):
        assert (REFERENCE.parent / target).exists(), target


def test_every_ref_of_the_document_resolves_so_generated_clients_build():
    """Found by generating the console's types (openapi-typescript refused the document): the unused
    `ResponseValidationError` schema pointed at the removed `ValidationError`. Every `$ref` must name a schema."""
    # Given the served document
    doc = openapi_document()
    text = json.dumps(doc)
    # When every $ref is looked up
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    # Then each names a schema of the document
    assert refs - set(doc["components"]["schemas"]) == set()
