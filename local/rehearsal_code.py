"""The AWS calls a function's code can make, read from the code (no AWS, no DynamoDB Local, no other test run).

From the handler module (functions/<name>/app.py, or an inline ZipFile), every method and function the code can
reach is followed through the project's own type annotations: `deps.accounts.debit(...)` is `Container.accounts`
(its return annotation, AccountService), then `AccountService.debit`, whose `self.store` is the Store its
constructor was given, and so on down to the calls that leave the process:

- the DynamoDB wrapper (shared/repositories/dynamo.py, `Dynamo`) is modelled rather than followed: `get` is
  GetItem, `batch_get` BatchGetItem, `query`/`query_all` Query (on the index its `index=` names, a table Query
  without it, both when the index is not a literal), `put_absent` PutItem, and `transact` TransactWriteItems,
  whose IAM actions are those of its items: the item builders the function can reach (`put_new`/`put_if`: Put,
  `delete_if`: Delete, and every `{"Update": ...}` / `{"ConditionCheck": ...}` built in reachable code);
- any other call of a botocore operation (`client.send_message(...)`, `self.client.put_item(...)`) on a receiver
  that is not one of the project's classes: the operation of the service whose client the code creates;
- a project class deriving from a library's (the idempotency store on Powertools' persistence layer), or a library
  class the code makes whose module makes AWS clients, may have any of its methods called by the library: making
  it reaches all of them, the library's own included.

Reachability over-approximates (a branch never taken still counts; a method referenced counts as called; an
override counts on every class made that has it), so a function is granted what some path of its code may call.
A project object handed to a parameter typed Any (or not at all) is recorded (`Effects.blind`): its calls there
cannot be followed, and the rehearsal fails until the parameter is typed. The types themselves:
local/rehearsal_types.py; the parsed project: local/rehearsal_project.py.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache

from local.rehearsal_project import EXT, Module, Project, Types, clients, operations
from local.rehearsal_types import Function, Scope, Typing

DYNAMO = "shared.repositories.dynamo.Dynamo"
SETTINGS = "shared.settings.Settings"
TRANSACTION_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}
TABLE, ANY_INDEX = "table", "index:*"
# API operations whose IAM action has another name
IAM_ACTIONS = {"sqs:SendMessageBatch": "sqs:SendMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
               "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}


@dataclass
class Effects:
    """What a function's code may do: botocore operations (service, operation, resource) and settings fields read."""

    operations: set[tuple[str, str, str]] = field(default_factory=set)
    transaction_items: set[str] = field(default_factory=set)
    # where each was found: (service, operation, resource) or ("transaction", kind, "") -> the functions' names
    origins: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    settings_read: set[str] = field(default_factory=set)
    # a project object handed to a parameter typed Any (or not at all): its calls there are not followed
    blind: set[str] = field(default_factory=set)
    settings_validated: bool = False

    def add(self, where: str, service: str, operation: str, resource: str) -> None:
        if service == "transaction":
            self.transaction_items.add(operation)
        else:
            self.operations.add((service, operation, resource))
        self.origins.setdefault((service, operation, resource), set()).add(where)

    def actions(self) -> dict[tuple[str, str], set[str]]:
        """(IAM action, resource) -> where the code calls it. Resources: `table`, `index:<name>`, `index:*` (an
        index not known here) for DynamoDB; the service's name otherwise. A TransactWriteItems is the actions of
        the items it may hold; a batch operation its single one's action (SendMessageBatch: sqs:SendMessage)."""
        out: dict[tuple[str, str], set[str]] = {}
        for service, operation, resource in self.operations:
            where = self.origins[(service, operation, resource)]
            if (service, operation) == ("dynamodb", "TransactWriteItems"):
                for kind in self.transaction_items:
                    built = self.origins[("transaction", kind, "")]
                    out.setdefault((f"dynamodb:{TRANSACTION_ITEMS[kind]}", TABLE), set()).update(
                        {f"{w} (transaction)" for w in where} | {f"{w} (its {kind} item)" for w in built})
            else:
                action = IAM_ACTIONS.get(f"{service}:{operation}", f"{service}:{operation}")
                out.setdefault((action, resource), set()).update(where)
        return out


class Analysis(Typing):
    """The effects of one function's code: everything reachable from its handler module."""

    def __init__(self, project: Project, services: set[str]):
        super().__init__(project)
        self.ops = {name: service for service in sorted(services) for name in operations(service)}
        self.effects = Effects()
        self.walked: set[tuple[str, int]] = set()
        self.instantiated: set[str] = set()
        self.virtual: set[tuple[str, str]] = set()  # (receiver class, method): overrides reached as they appear
        self.where = ""
        self.scope: Scope | None = None  # the function being walked
        self.built: dict[str, list[tuple[Module, ast.Call, Scope | None]]] = {}  # constructor calls reached, by class
        self.deferred: dict[tuple[str, str], set[str]] = {}  # (class, field) an index was read from -> where
        self.copies: dict[str, list[tuple[Module, ast.Call, Scope | None]]] = {}  # dataclasses.replace(<class>, ...)

    # --- reaching ------------------------------------------------------------------------------------------------
    def walk(self, module: Module, scope: Scope, owner: str | None) -> None:
        key = (owner or module.name, id(scope))
        if key in self.walked:
            return
        self.walked.add(key)
        outer, outer_scope = self.where, self.scope
        self.where = (owner or module.name) + ("" if isinstance(scope, ast.Module) else f".{scope.name}")
        self.scope = scope
        try:
            self.visit(module, scope, owner)
        finally:
            self.where, self.scope = outer, outer_scope

    def visit(self, module: Module, scope: Scope, owner: str | None) -> None:
        env = self.env(module, scope, owner)
        called: set[int] = set()
        handed: set[int] = set()  # the arguments of calls (a method handed over is called there)
        nodes = self.project.walk(scope)
        for node in nodes:
            if isinstance(node, ast.Call):
                called.add(id(node.func))
                handed |= {id(a) for a in node.args} | {id(k.value) for k in node.keywords}
                self.call(node, module, env)
        for node in nodes:
            if id(node) in called:
                continue
            if isinstance(node, ast.Attribute):
                self.reference(node, module, env, None, handed=id(node) in handed)
            elif isinstance(node, ast.Name):
                for t in self.typeof(node, module, env):
                    if t.startswith("func:"):
                        self.function(t[5:])
            elif isinstance(node, ast.Dict):
                for k in node.keys:
                    if isinstance(k, ast.Constant) and isinstance(k.value, str) and k.value in TRANSACTION_ITEMS:
                        self.effects.add(self.where, "transaction", k.value, "")

    def call(self, node: ast.Call, module: Module, env: dict[str, Types]) -> None:
        if isinstance(node.func, ast.Attribute):
            self.reference(node.func, module, env, node)
        callee = self.typeof(node.func, module, env)
        if self.project.qualify(module, node.func) == "dataclasses.replace" and node.args:  # a copy, fields given
            for t in self.typeof(node.args[0], module, env):
                if ":" not in t and t not in EXT:
                    self.copies.setdefault(t, []).append((module, node, self.scope))
        if not callee and isinstance(node.func, ast.Name) and node.func.id not in env and \
                module.name.startswith(("shared.", "functions.", "inline.")):
            library = self.project.definition(self.project.qualify(module, node.func), library=True)
            if library is not None and isinstance(library[1], ast.ClassDef):  # a library's class, made here
                callee = frozenset({f"cls:{library[2]}"})
        for t in callee:
            if t.startswith("cls:"):
                self.built.setdefault(t[4:], []).append((module, node, self.scope))
                self.instantiate(t[4:], module)
            elif t.startswith("func:"):
                self.function(t[5:])
            self.seams(t, node, module, env)

    def ours(self, qualname: str) -> bool:
        cls = self.project.cls(qualname)
        return cls is not None and not cls.external

    def data(self, qualname: str) -> bool:
        """A pydantic model or an exception: data, not a collaborator with calls of its own."""
        todo, seen = [qualname], set()
        while todo:
            name = todo.pop()
            cls = self.project.cls(name)
            if cls is None or name in seen:
                continue
            seen.add(name)
            bases = [self.project.qualify(cls.module, b) for b in cls.node.bases]
            if any(b.endswith(("BaseModel", "Exception")) for b in bases):
                return True
            todo += bases
        return False

    def seams(self, callee: str, node: ast.Call, module: Module, env: dict[str, Types]) -> None:
        """A project object passed to a parameter typed Any: an Any seam, through which calls are not followed."""
        kind, _, name = callee.partition(":")
        found: tuple[Module, Function] | None = None
        if kind in ("meth", "cls"):
            qualname, method = name.rsplit(".", 1) if kind == "meth" else (name, "__init__")
            cls = self.project.cls(qualname)
            hit = self.project.method(cls, method) if cls is not None else None
            found = (hit[0].module, hit[1]) if hit is not None and not hit[0].external else None
        elif kind == "func":
            definition = self.project.definition(name)
            if definition is not None and isinstance(definition[1], ast.FunctionDef | ast.AsyncFunctionDef):
                found = (definition[0], definition[1])
        if found is None:
            return
        target, fn = found
        params = fn.args.posonlyargs + fn.args.args
        if kind == "cls" or (params and params[0].arg in ("self", "cls")):
            params = params[1:]
        given = list(zip(params, node.args, strict=False)) + [
            (p, k.value) for k in node.keywords for p in fn.args.args + fn.args.kwonlyargs if p.arg == k.arg]
        for param, arg in given:
            ours = {t for t in self.typeof(arg, module, env) if ":" not in t and t not in EXT and not self.data(t)
                    and self.ours(t)}
            if ours and not self.annotation(target, param.annotation):
                self.effects.blind.add(f"{target.name}.{fn.name}({param.arg}) is given a {sorted(ours)[0]}")

    def reference(self, node: ast.Attribute, module: Module, env: dict[str, Types], call: ast.Call | None,
                  handed: bool = False) -> None:
        """`receiver.attr` (called or not): the method or property it names, a settings field read, or, on a
        receiver that is none of the project's classes, a botocore operation."""
        receiver = self.typeof(node.value, module, env)
        if SETTINGS in receiver and node.attr in self.settings_fields():
            self.effects.settings_read.add(node.attr)
        ours = False
        for t in receiver - EXT:
            if t.startswith("cls:") or ":" not in t:
                ours = True
                self.method(t.removeprefix("cls:"), node.attr, call, module, env)
        if not ours and node.attr in self.ops and (call is not None or handed):  # `retry(client.delete_item)`
            self.botocore(self.ops[node.attr], operations(self.ops[node.attr])[node.attr], call, module, env)


    @cache  # noqa: B019
    def settings_fields(self) -> set[str]:
        cls = self.project.cls(SETTINGS)
        assert cls is not None
        return {n.target.id for n in cls.node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}

    def method(self, qualname: str, name: str, call: ast.Call | None, module: Module | None = None,
               env: dict[str, Types] | None = None) -> None:
        if qualname == DYNAMO:
            self.dynamo(name, call, module, env or {})
            return
        cls = self.project.cls(qualname, external_ok=True)
        found = self.project.method(cls, name) if cls is not None and not cls.external else None
        if found is None:
            return
        owner, node = found
        self.virtual.add((qualname, name))
        if owner.qualname == SETTINGS:
            self.effects.settings_validated = True
        self.walk(owner.module, node, qualname)

    def function(self, qualname: str) -> None:
        definition = self.project.definition(qualname)
        if definition is not None and isinstance(definition[1], ast.FunctionDef | ast.AsyncFunctionDef):
            if qualname == "shared.settings.get_settings":
                self.effects.settings_validated = True
            self.walk(definition[0], definition[1], None)

    def instantiate(self, qualname: str, site: Module | None = None) -> None:
        if qualname in self.instantiated or qualname == DYNAMO:
            return
        cls = self.project.cls(qualname, external_ok=True)
        ours = site is None or site.name.startswith(("shared.", "functions.", "inline."))
        # a library's own class is followed only when the project's code makes it and its module makes AWS clients
        # (Powertools' idempotency store): the library may then call any of its methods
        if cls is None or (cls.external and not (ours and clients(self.project, cls.module.name))):
            return
        self.instantiated.add(qualname)
        if qualname == SETTINGS:
            self.effects.settings_validated = True
        for init in ("__init__", "__post_init__"):
            self.method(qualname, init, None)
        chain = list(self.project.mro(cls))
        if any(c.external for c in chain):  # a library's class or subclass: the library may call any method
            for owner in chain:
                for node in owner.methods.values():
                    self.walk(owner.module, node, qualname)

    def settle(self) -> None:
        """Overrides: a method reached on a class (a Protocol's too) is reached on every class instantiated that
        derives from it (or, for a Protocol, defines it), until nothing new is reached."""
        while True:
            before = len(self.walked)
            for receiver, name in sorted(self.virtual):
                recv = self.project.cls(receiver, external_ok=True)
                protocol = recv is not None and any(self.decorator(b) == "Protocol" for b in recv.node.bases)
                for made in sorted(self.instantiated):
                    cls = self.project.cls(made, external_ok=True)
                    if cls is None or made == receiver:
                        continue
                    if protocol or receiver in {c.qualname for c in self.project.mro(cls)}:
                        found = self.project.method(cls, name)
                        if found is not None:
                            self.walk(found[0].module, found[1], made)
            if len(self.walked) == before:
                return

    # --- what leaves the process ---------------------------------------------------------------------------------
    def dynamo(self, name: str, call: ast.Call | None, module: Module | None, env: dict[str, Types]) -> None:
        wrapper = self.project.cls(DYNAMO)
        assert wrapper is not None
        self.effects.settings_read |= {n.attr for n in ast.walk(wrapper.node) if isinstance(n, ast.Attribute)
                                       and isinstance(n.value, ast.Attribute) and n.value.attr == "settings"}
        simple = {"get": "GetItem", "batch_get": "BatchGetItem", "put_absent": "PutItem",
                  "transact": "TransactWriteItems"}
        if name in simple:
            self.effects.add(self.where, "dynamodb", simple[name], TABLE)
        elif name in ("query", "query_all"):
            for resource in self.index(call, "index", module, env):
                self.effects.add(self.where, "dynamodb", "Query", resource)
        elif name in ("put_new", "put_if"):
            self.effects.add(self.where, "transaction", "Put", "")
        elif name == "delete_if":
            self.effects.add(self.where, "transaction", "Delete", "")
        elif name not in ("client", "table", "settings", "client_factory", "__init__", "__post_init__"):
            found = self.project.method(wrapper, name)  # a method not modelled here: its body, like any other
            if found is not None:
                self.walk(found[0].module, found[1], DYNAMO)

    def index(self, call: ast.Call | None, keyword: str, module: Module | None = None,
              env: dict[str, Types] | None = None) -> set[str]:
        """The resources of a Query: the index its keyword names, the table without one, both when the index is not
        known here. Known: a literal, a module's constant, or a field of a project class (`query.index` of a
        PageQuery): the values that field is given by the constructor calls reached (resolved in `finish`)."""
        if call is None or module is None or env is None:
            return {TABLE, ANY_INDEX}
        given = {k.arg: k.value for k in call.keywords}
        if keyword not in given:
            return {TABLE, ANY_INDEX} if None in given else {TABLE}
        value = given[keyword]
        if isinstance(value, ast.Attribute):
            owners = [t for t in self.typeof(value.value, module, env) if ":" not in t]
            if owners:
                for owner in owners:
                    self.deferred.setdefault((owner, value.attr), set()).add(self.where)
                return set()
        return self.resources(self.constant(module, value, self.scope))

    @staticmethod
    def resources(values: list[object]) -> set[str]:
        out: set[str] = set()
        for value in values:
            out |= {TABLE} if value is None else {f"index:{value}"} if isinstance(value, str) else {TABLE, ANY_INDEX}
        return out

    def constant(self, module: Module, expr: ast.expr | None, scope: Scope | None = None) -> list[object]:
        """The values an expression may have: a literal, a module-level constant's, or those of a local name its
        function binds only to such (`index, ipk, isk = "GSI2", "gsi2pk", "gsi2sk"`); `...` where not known."""
        if expr is None or isinstance(expr, ast.Constant):
            return [None if expr is None else expr.value]
        if isinstance(expr, ast.IfExp):
            return self.constant(module, expr.body, scope) + self.constant(module, expr.orelse, scope)
        if not isinstance(expr, ast.Name):
            return [...]
        if scope is not None and not isinstance(scope, ast.Module):
            bound = self.local(scope, expr.id)
            if bound is not None:
                return [v for value in bound for v in self.constant(module, value)] if bound else [...]
        modname, _, name = module.names.get(expr.id, f"{module.name}.{expr.id}").rpartition(".")
        for node in self.project.modules[modname].tree.body if modname in self.project.modules else []:
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant) and \
                    any(isinstance(t, ast.Name) and t.id == name
                        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])):
                return [node.value.value]
        return [...]

    def local(self, scope: Function, name: str) -> list[ast.expr] | None:
        """What a function assigns to a local name: None if it is no local of it; [] if bound otherwise than by a
        plain assignment (a parameter, a for, a with, an unpacking of something else): not known."""
        values: list[ast.expr] = []
        for node in self.project.walk(scope):
            if isinstance(node, ast.arg) and node.arg == name:
                return []
            if isinstance(node, ast.Assign):
                values += [v for t, v in self.pairs(node.targets, node.value)
                           if isinstance(t, ast.Name) and t.id == name]
        stores = sum(1 for n in self.project.walk(scope)
                     if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store))
        if stores == 0:
            return None
        return values if stores == len(values) else []

    def finish(self) -> None:
        """The Queries whose index is a field: every value the reached constructor calls give that field."""
        for (owner, attr), wheres in sorted(self.deferred.items()):
            cls = self.project.cls(owner)
            assert cls is not None
            fields = [n for n in cls.node.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
            position = next((i for i, n in enumerate(fields) if n.target.id == attr), None)  # type: ignore[union-attr]
            found: set[str] = set() if self.built.get(owner) else {TABLE, ANY_INDEX}
            for module, call, scope in self.copies.get(owner, []):  # a copy changes only the fields it names
                given = {k.arg: k.value for k in call.keywords}
                if attr in given or None in given:
                    found |= self.resources(self.constant(module, given[attr], scope) if attr in given else [...])
            for module, call, scope in self.built.get(owner, []):
                given = {k.arg: k.value for k in call.keywords}
                if attr in given:
                    found |= self.resources(self.constant(module, given[attr], scope))
                elif position is not None and position < len(call.args):
                    found |= self.resources(self.constant(module, call.args[position], scope))
                elif None in given or any(isinstance(a, ast.Starred) for a in call.args):
                    found |= {TABLE, ANY_INDEX}
                else:
                    found |= self.resources(self.constant(cls.module, fields[position].value if position is not None
                                                          else None))
            for resource in found:
                for where in wheres:
                    self.effects.add(where, "dynamodb", "Query", resource)

    def botocore(self, service: str, operation: str, call: ast.Call | None, module: Module,
                 env: dict[str, Types]) -> None:
        resources = {service} if service != "dynamodb" else \
            self.index(call, "IndexName", module, env) if operation in ("Query", "Scan") else {TABLE}
        for resource in resources:
            self.effects.add(self.where, service, operation, resource)


def effects_of(project: Project, name: str, source: str) -> Effects:
    """The effects of the handler module `source` (functions/<x>/app.py, or a template's inline code)."""
    module = project.add(name, source)
    analysis = Analysis(project, clients(project))
    analysis.walk(module, module.tree, None)
    analysis.settle()
    analysis.finish()
    return analysis.effects
