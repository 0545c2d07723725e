"""The project's code as the deploy rehearsal reads it (local/rehearsal_code.py): shared/ parsed once, each handler
added, a library's module read only for a class the code derives from or makes; names resolved through each
module's imports (re-exports followed), classes with their methods and bases."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

Types = frozenset[str]  # "C" an instance of class C, "cls:C" the class, "meth:C.m" a method, "func:f", "call:C"
NONE: Types = frozenset()  # not known here: a receiver annotated Any (or not at all)
EXT: Types = frozenset({"ext"})  # a type that is none of the project's classes (str, dict, a library's class)


@dataclass
class Module:
    name: str
    tree: ast.Module
    names: dict[str, str] = field(default_factory=dict)  # a local name -> the qualified name it stands for


@dataclass
class Class:
    qualname: str
    module: Module
    node: ast.ClassDef
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]
    external: bool  # a library's class (only ever loaded as a project class's base)

    def bases(self, project: Project) -> list[Class]:
        found = [project.cls(project.qualify(self.module, b), external_ok=True) for b in self.node.bases]
        return [c for c in found if c is not None]


@cache
def operations(service: str) -> dict[str, str]:
    """botocore's snake_case method names of a service's client -> its operation (= IAM action) names."""
    from botocore import xform_name
    from botocore.session import get_session

    model = get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


class Project:
    """The project's modules (shared/, the handlers), parsed once; library classes parsed when a project class
    derives from one."""

    def __init__(self, root: Path = ROOT):
        self.root = root
        self.modules: dict[str, Module] = {}
        # what the analyses of every function share (types do not depend on the function): each scope's nodes,
        # local names' types, instance attributes' types, each module's clients
        self.nodes: dict[int, list[ast.AST]] = {}
        self.envs: dict[int, dict[str, Types]] = {}
        self.attrs: dict[tuple[str, str], Types] = {}
        self.clients: dict[str, set[str]] = {}
        self.trees: list[ast.Module] = []
        for path in sorted((root / "shared").rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            package = parts[-1] == "__init__"
            self.add(".".join(parts[:-1] if package else parts), path.read_text(), package=package)

    def add(self, name: str, source: str, *, package: bool = False) -> Module:
        module = Module(name, ast.parse(source))
        self.trees.append(module.tree)  # kept: the caches are keyed by the nodes' ids
        parent = name if package else name.rpartition(".")[0]
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    module.names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                        alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = parent.split(".")
                    base = ".".join(up[: len(up) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    module.names[alias.asname or alias.name] = f"{base}.{alias.name}".strip(".")
        for node in module.tree.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                module.names[node.name] = f"{name}.{node.name}"
        self.modules[name] = module
        return module

    def qualify(self, module: Module, expr: ast.expr) -> str:
        if isinstance(expr, ast.Name):
            return module.names.get(expr.id, f"builtins.{expr.id}")
        if isinstance(expr, ast.Attribute):
            return f"{self.qualify(module, expr.value)}.{expr.attr}"
        if isinstance(expr, ast.Subscript):
            return self.qualify(module, expr.value)
        return ""

    def definition(self, qualname: str, library: bool = False) -> tuple[Module, ast.AST, str] | None:
        """The class or function a qualified name names (and its own qualified name), following re-exports (`from x
        import y` in a package); a library's module is read only when asked (`library`)."""
        for _ in range(5):
            modname, _, name = qualname.rpartition(".")
            module = self.modules.get(modname) or (self.library(modname) if library else None)
            if module is None:
                return None
            for node in module.tree.body:
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                    return module, node, qualname
            if module.names.get(name, qualname) == qualname:
                return None
            qualname = module.names[name]
        return None

    @cache  # noqa: B019 - one Project per run
    def cls(self, qualname: str, external_ok: bool = False) -> Class | None:
        found = self.definition(qualname)
        if found is None and external_ok and not qualname.startswith(("shared.", "builtins.", "typing.")):
            found = self.definition(qualname, library=True)
        if found is None or not isinstance(found[1], ast.ClassDef):
            return None
        module, node, qualname = found
        assert isinstance(node, ast.ClassDef)
        external = not module.name.startswith(("shared.", "functions.", "inline."))
        methods = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
        return Class(qualname, module, node, methods, external)

    def library(self, modname: str) -> Module | None:
        """A library's module, from its source (read for a project class's base only)."""
        try:
            spec = importlib.util.find_spec(modname)
        except (ImportError, ValueError):
            return None
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return None
        return self.add(modname, Path(spec.origin).read_text(), package=spec.submodule_search_locations is not None)

    def walk(self, scope: ast.AST) -> list[ast.AST]:
        """ast.walk(scope), once."""
        if id(scope) not in self.nodes:
            self.nodes[id(scope)] = list(ast.walk(scope))
        return self.nodes[id(scope)]

    def mro(self, cls: Class) -> Iterator[Class]:
        seen: set[str] = set()
        todo = [cls]
        while todo:
            c = todo.pop(0)
            if c.qualname not in seen:
                seen.add(c.qualname)
                yield c
                todo += c.bases(self)

    def method(self, cls: Class, name: str) -> tuple[Class, ast.FunctionDef | ast.AsyncFunctionDef] | None:
        for c in self.mro(cls):
            if name in c.methods:
                return c, c.methods[name]
        return None


def clients(project: Project, only: str = "") -> set[str]:
    """The AWS services whose clients the code creates (`create_client("sqs", ...)`, `boto3.client("events")`): in
    every module read, or in one (`only`)."""
    found: set[str] = set()
    for name, module in list(project.modules.items()):
        if only and name != only:
            continue
        if name not in project.clients:
            project.clients[name] = {
                node.args[0].value for node in ast.walk(module.tree)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("client", "create_client") and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)}
        found |= project.clients[name]
    return found
