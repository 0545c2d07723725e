"""Reads template.yaml: the table to create, the functions, their HttpApi routes and environment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml: ~6x faster
    """YAML loader that turns CloudFormation short tags (!Ref, !Sub, ...) into their long form."""


def _tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authorized: bool

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        return re.compile(f"^{regex}$")

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any]
    timeout: int
    memory: int
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Template:
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path = TEMPLATE) -> Template:
        return cls(yaml.load(path.read_text(), Loader=_CfnLoader))  # noqa: S506 - SafeLoader subclass

    @property
    def resources(self) -> dict[str, Any]:
        return self.raw["Resources"]

    def parameter_default(self, name: str) -> Any:
        return self.raw.get("Parameters", {}).get(name, {}).get("Default")

    def table(self, logical_id: str = "PaymentsTable") -> dict[str, Any]:
        """create_table arguments for the table the template defines (keys and indexes)."""
        props = self.resources[logical_id]["Properties"]
        args: dict[str, Any] = {
            "AttributeDefinitions": props["AttributeDefinitions"], "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = [
                {k: v for k, v in gsi.items() if k in {"IndexName", "KeySchema", "Projection"}}
                for gsi in props["GlobalSecondaryIndexes"]]
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        return args

    def functions(self) -> dict[str, Function]:
        glob = self.raw.get("Globals", {}).get("Function", {})
        out = {}
        for logical_id, res in self.resources.items():
            if res.get("Type") != "AWS::Serverless::Function":
                continue
            props = res["Properties"]
            env = {**glob.get("Environment", {}).get("Variables", {}),
                   **props.get("Environment", {}).get("Variables", {})}
            out[logical_id] = Function(
                logical_id=logical_id, code_uri=ROOT / props["CodeUri"],
                handler=props.get("Handler", glob.get("Handler", "app.lambda_handler")), environment=env,
                timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
                events=props.get("Events", {}))
        return out

    def routes(self) -> list[Route]:
        routes = []
        for fn in self.functions().values():
            for event in fn.events.values():
                if event.get("Type") != "HttpApi":
                    continue
                props = event["Properties"]
                auth = (props.get("Auth") or {}).get("Authorizer")
                routes.append(Route(method=props["Method"].upper(), path=props["Path"], function=fn.logical_id,
                                    authorized=auth != "NONE"))
        return routes
