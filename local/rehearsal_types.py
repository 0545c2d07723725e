"""The types the deploy rehearsal follows calls with (local/rehearsal_code.py), read from the project's own
annotations: a parameter's, a property's or method's return, a dataclass field's, and what `self.<name> = ...`
assigns; a local name's from what it is assigned, `with ... as` or `for` over a typed collection."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from local.rehearsal_project import EXT, NONE, Module, Project, Types

Function = ast.FunctionDef | ast.AsyncFunctionDef
Scope = Function | ast.Module
PROPERTIES = ("property", "cached_property")


class Typing:
    """What an expression may be, in a module and a scope's local names (pure: cached for every function)."""

    def __init__(self, project: Project):
        self.project = project
        self._envs = project.envs
        self._attrs = project.attrs

    def annotation(self, module: Module, expr: ast.expr | None) -> Types:
        if expr is None:
            return NONE
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            try:
                return self.annotation(module, ast.parse(expr.value, mode="eval").body)
            except SyntaxError:
                return NONE
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return self.annotation(module, expr.left) | self.annotation(module, expr.right)
        if isinstance(expr, ast.Subscript):
            base = self.project.qualify(module, expr.value).rpartition(".")[2]
            args = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
            if base == "Callable" and len(args) == 2:
                return frozenset(f"call:{t}" for t in self.annotation(module, args[1]) if ":" not in t)
            if base in ("Optional", "Annotated"):
                return self.annotation(module, args[0])
            if base in ("dict", "Mapping", "list", "Sequence", "Iterable", "Iterator", "set", "frozenset", "tuple"):
                return frozenset(f"item:{t}" for t in self.annotation(module, args[-1]) if ":" not in t) or EXT
            return EXT
        if isinstance(expr, ast.Constant) and expr.value is None:
            return NONE
        qualname = self.project.qualify(module, expr)
        if qualname in ("typing.Any", "builtins.object", "builtins.Any"):
            return NONE
        found = self.project.cls(qualname)
        return frozenset({found.qualname}) if found else EXT

    def returns(self, qualname: str, name: str) -> Types:
        """What calling a method (`qualname` a class) or a function (`name` empty) gives."""
        if name:
            cls = self.project.cls(qualname)
            found = self.project.method(cls, name) if cls else None
            if found is None:
                return NONE
            owner, node = found
            if (isinstance(node.returns, ast.Name) and node.returns.id == "Self") or \
                    self.project.qualify(owner.module, node.returns or ast.Constant(None)) == owner.qualname:
                return frozenset({qualname})
            return self.annotation(owner.module, node.returns)
        definition = self.project.definition(qualname)
        if definition is None or not isinstance(definition[1], ast.FunctionDef | ast.AsyncFunctionDef):
            return NONE
        return self.annotation(definition[0], definition[1].returns)

    def attribute(self, qualname: str, attr: str) -> Types:
        """An instance attribute's types: its class-level annotation, a property's return, or what the class's
        methods assign to `self.<attr>`."""
        key = (qualname, attr)
        if key in self._attrs:
            return self._attrs[key]
        self._attrs[key] = NONE  # recursion guard
        cls = self.project.cls(qualname, external_ok=True)
        out: set[str] = set()
        for owner in self.project.mro(cls) if cls else []:
            for node in owner.node.body:
                if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == attr:
                    out |= self.annotation(owner.module, node.annotation)
            method = owner.methods.get(attr)
            if method is not None:
                if any(self.decorator(d) in PROPERTIES for d in method.decorator_list):
                    out |= self.annotation(owner.module, method.returns)
                else:
                    out.add(f"meth:{qualname}.{attr}")
            for method in owner.methods.values():
                for assign in self.project.walk(method):
                    if isinstance(assign, ast.Assign):
                        for target, value in self.pairs(assign.targets, assign.value):
                            if isinstance(target, ast.Attribute) and target.attr == attr and \
                                    isinstance(target.value, ast.Name) and target.value.id == "self":
                                out |= self.typeof(value, owner.module, self.env(owner.module, method, qualname))
        self._attrs[key] = frozenset(out)
        return self._attrs[key]

    @staticmethod
    def decorator(expr: ast.expr) -> str:
        return expr.attr if isinstance(expr, ast.Attribute) else expr.id if isinstance(expr, ast.Name) else ""

    @staticmethod
    def pairs(targets: list[ast.expr], value: ast.expr) -> Iterator[tuple[ast.expr, ast.expr]]:
        for target in targets:
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
                yield from zip(target.elts, value.elts, strict=True)
            else:
                yield target, value

    def env(self, module: Module, scope: Scope, owner: str | None) -> dict[str, Types]:
        """The local names' types in a function (its nested functions and lambdas included): annotated
        parameters, `self`/`cls`, and what assignments, `with ... as` and `for` bind."""
        if id(scope) in self._envs:
            return self._envs[id(scope)]
        env: dict[str, Types] = {}
        self._envs[id(scope)] = env
        if owner is not None and isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) and scope.args.args:
            first = scope.args.args[0].arg
            static = any(self.decorator(d) == "staticmethod" for d in scope.decorator_list)
            if not static:
                classmethod_ = any(self.decorator(d) == "classmethod" for d in scope.decorator_list)
                env[first] = frozenset({f"cls:{owner}" if classmethod_ else owner})
        for _ in range(2):
            for node in self.project.walk(scope):
                if isinstance(node, ast.arguments):
                    for arg in node.posonlyargs + node.args + node.kwonlyargs:
                        if arg.annotation is not None and arg.arg not in ("self", "cls"):
                            env[arg.arg] = env.get(arg.arg, NONE) | self.annotation(module, arg.annotation)
                elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
                    targets: list[ast.expr] = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
                    if isinstance(node, ast.AnnAssign):
                        self.bind(env, node.target, self.annotation(module, node.annotation))
                    if node.value is not None:
                        for target, value in self.pairs(targets, node.value):
                            self.bind(env, target, self.typeof(value, module, env))
                elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                    self.bind(env, node.optional_vars, self.typeof(node.context_expr, module, env))
                elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                    items = self.typeof(node.iter, module, env)
                    self.bind(env, node.target, frozenset(t[5:] for t in items if t.startswith("item:")))
        return env

    @staticmethod
    def bind(env: dict[str, Types], target: ast.expr, types: Types) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = env.get(target.id, NONE) | types

    def typeof(self, expr: ast.expr, module: Module, env: dict[str, Types]) -> Types:
        if isinstance(expr, ast.Name):
            if expr.id in env:
                return env[expr.id]
            return self.symbol(module.names.get(expr.id, ""))
        if isinstance(expr, ast.Attribute):
            out: set[str] = set()
            for t in self.typeof(expr.value, module, env):
                if t in EXT:
                    out.add(t)
                elif t.startswith("cls:"):
                    out.add(f"meth:{t[4:]}.{expr.attr}")
                elif t.startswith("module:"):
                    out |= self.symbol(f"{t[7:]}.{expr.attr}")
                elif ":" not in t:
                    out |= self.attribute(t, expr.attr)
            return frozenset(out)
        if isinstance(expr, ast.Call):
            out = set()
            for t in self.typeof(expr.func, module, env):
                kind, _, name = t.partition(":")
                if t in EXT:
                    out.add(t)
                elif kind == "meth":
                    out |= self.returns(*name.rsplit(".", 1))
                elif kind == "cls":
                    out.add(name)
                elif kind == "func":
                    out |= self.returns(name, "")
                elif kind == "call":
                    out.add(name)
            return frozenset(out)
        if isinstance(expr, ast.BoolOp):
            return frozenset().union(*(self.typeof(v, module, env) for v in expr.values))
        if isinstance(expr, ast.IfExp):
            return self.typeof(expr.body, module, env) | self.typeof(expr.orelse, module, env)
        if isinstance(expr, ast.Await | ast.NamedExpr):
            return self.typeof(expr.value, module, env)
        if isinstance(expr, ast.Subscript):
            value = self.typeof(expr.value, module, env)
            return frozenset(t[5:] for t in value if t.startswith("item:")) or (value & EXT)
        if isinstance(expr, ast.Constant | ast.JoinedStr | ast.List | ast.Dict | ast.Tuple | ast.Set | ast.BinOp |
                      ast.Compare | ast.ListComp | ast.DictComp | ast.SetComp | ast.UnaryOp):
            return EXT
        return NONE

    def symbol(self, qualname: str) -> Types:
        if not qualname:
            return NONE
        if qualname in self.project.modules:
            return frozenset({f"module:{qualname}"})
        definition = self.project.definition(qualname)
        if definition is None:
            return NONE
        kind = "cls" if isinstance(definition[1], ast.ClassDef) else "func"
        return frozenset({f"{kind}:{definition[2]}"})
