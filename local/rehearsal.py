"""The deploy rehearsal (docs/deploy.md): template.yaml as CloudFormation will deploy it (the SAM translator, run
offline by the tools venv), and, for every Lambda function in it, the IAM actions its role grants against the ones
its code calls (local/rehearsal_code.py), and its environment against the settings its code needs.

`python -m local.rehearsal` prints each function's differences (none when the template is right).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.rehearsal_code import ANY_INDEX, Effects, effects_of
from local.rehearsal_project import Project, operations

ROOT = Path(__file__).resolve().parent.parent
TOOLS_PYTHON = ROOT / ".tools" / "bin" / "python"

LOGS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
SQS_SOURCE = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
STREAM_SOURCE = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                 "dynamodb:ListStreams"}
VPC = {"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
       "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"}
# The AWS managed policies a role may name, by name (the end of the ARN): their actions, all on "*".
MANAGED = {
    "AWSLambdaBasicExecutionRole": LOGS,
    "AWSLambdaSQSQueueExecutionRole": LOGS | SQS_SOURCE,
    "AWSLambdaDynamoDBExecutionRole": LOGS | STREAM_SOURCE,
    "AWSXRayDaemonWriteAccess": {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                 "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"},
    "AWSLambdaVPCAccessExecutionRole": LOGS | VPC,
}
# What the platform needs of a function's role, not its code: the logs, tracing, a VPC's network interfaces, and
# (per function, below) what an event source mapping does with the role (read the queue or the stream, send what it
# gave up on to its on-failure destination) and the customer managed keys of the queues it sends to or reads.
PLATFORM = LOGS | VPC | {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                         "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"}
# Settings that are never set in AWS (the local stack's endpoints and test switches) or that Lambda sets itself.
LOCAL_ONLY = {"DYNAMODB_ENDPOINT", "SQS_ENDPOINT", "EVENTS_ENDPOINT", "STRIPE_API_BASE", "WEBHOOK_ALLOW_LOOPBACK"}
RUNTIME = {"AWS_REGION"}
# Variables a function may carry without its code reading them, and why.
UNREAD_ALLOWED = ("POWERTOOLS_",)  # Powertools' own settings (service name, metrics namespace, log level...)
# Globals give every function TABLE_NAME and CURSOR_SECRET; the pre token trigger reads neither (docs/deploy.md).
UNREAD_BY_FUNCTION = {"PreTokenFunction": {"TABLE_NAME", "CURSOR_SECRET"}}


def translated() -> dict[str, Any]:
    """template.yaml through the SAM translator (`.tools/bin/python -m local.sam_translate`), offline."""
    if not TOOLS_PYTHON.exists():
        raise RuntimeError(f"{TOOLS_PYTHON} is missing: run `make tools` (aws-sam-cli's venv) first")
    done = subprocess.run([str(TOOLS_PYTHON), "-m", "local.sam_translate"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the SAM translator refused template.yaml:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@dataclass
class Deployed:
    """One AWS::Lambda::Function of the translated template, with what its role and event sources give it."""

    name: str
    source: str  # the handler module's source (functions/<x>/app.py, or the inline ZipFile)
    environment: dict[str, Any]
    granted: set[tuple[str, str]] = field(default_factory=set)  # (action, resource)
    # what the platform does with the role -> who: an event source mapping, the asynchronous invocations' dead-letter
    # queue or destinations
    platform: dict[tuple[str, str], str] = field(default_factory=dict)
    managed: set[str] = field(default_factory=set)


def resource_of(value: Any, resources: dict[str, Any]) -> str:
    """A policy Resource as the rehearsal names it: `table`, `index:<name>`, `index:*`, `stream`, `queue:<id>`,
    `bus:<id>`, `*`, or the logical id (or text) otherwise."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"] if isinstance(value["Fn::GetAtt"], list) else \
            value["Fn::GetAtt"].split(".", 1)
        kind = resources.get(target, {}).get("Type", "")
        if kind == "AWS::DynamoDB::Table":
            return "stream" if attribute == "StreamArn" else "table"
        named = {"AWS::SQS::Queue": f"queue:{target}", "AWS::Events::EventBus": f"bus:{target}",
                 "AWS::KMS::Key": f"key:{target}"}
        return named.get(kind, str(target))
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        match = re.fullmatch(r"\$\{(\w+)\.(Arn|StreamArn)\}(?:/index/(.+)|/stream/.*)?", value["Fn::Sub"])
        if match:
            base = resource_of({"Fn::GetAtt": [match[1], match[2]]}, resources)
            if match[3]:
                return f"index:{match[3]}"
            return "stream" if "/stream/" in value["Fn::Sub"] else base
        return value["Fn::Sub"]
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return str(value)


def expand(action: str) -> set[str]:
    """An action, its wildcards expanded over the service's operations (`dynamodb:Get*`)."""
    if "*" not in action:
        return {action}
    service, _, pattern = action.partition(":")
    if service == "*":
        return {"*"}
    regex = re.compile(pattern.replace("*", ".*") + "$")
    names = {op for op in operations(service).values() if regex.match(op)} if service in (
        "dynamodb", "sqs", "events") else {pattern}
    return {f"{service}:{name}" for name in names}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_of(ref: Any, resources: dict[str, Any]) -> str:
    """The function an event source mapping names: itself, or through its alias or version (AutoPublishAlias)."""
    name = ref.get("Ref", "") if isinstance(ref, dict) else str(ref)
    if isinstance(ref, dict) and "Fn::GetAtt" in ref:
        name = ref["Fn::GetAtt"][0]
    for _ in range(3):
        resource = resources.get(name, {})
        if resource.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            inner = resource["Properties"]["FunctionName"]
            name = inner.get("Ref", "") if isinstance(inner, dict) else str(inner)
    return name


def statements(document: dict[str, Any], resources: dict[str, Any], where: str) -> set[tuple[str, str]]:
    """The (action, resource) pairs a policy document allows."""
    out: set[tuple[str, str]] = set()
    for statement in as_list(document["Statement"]):
        if "NotAction" in statement or "NotResource" in statement:
            raise ValueError(f"{where}: NotAction/NotResource is not read by the rehearsal: list what is allowed")
        if statement.get("Effect") == "Allow":
            targets = {resource_of(r, resources) for r in as_list(statement.get("Resource", "*"))}
            out |= {(a, t) for action in as_list(statement["Action"]) for a in expand(action) for t in targets}
    return out


def role_grants(role: str, resources: dict[str, Any], fn: Deployed) -> None:
    """What a role allows: its managed policies (`MANAGED`), its inline policies, and the AWS::IAM::Policy,
    RolePolicy and ManagedPolicy resources that name it."""
    props = resources[role]["Properties"]
    for arn in props.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in resources:
            continue  # a managed policy of the template: read below, with the policies that name the role
        text = arn if isinstance(arn, str) else json.dumps(arn)
        policy = re.split(r"[/\"]", text.rstrip('"}'))[-1]
        if policy not in MANAGED:
            raise ValueError(f"{fn.name}: managed policy {text} is not known: add its actions to MANAGED")
        fn.managed.add(policy)
        fn.granted |= {(action, "*") for action in MANAGED[policy]}
    for policy in props.get("Policies", []):
        fn.granted |= statements(policy["PolicyDocument"], resources, fn.name)
    for name, resource in resources.items():
        kind, attached = resource.get("Type"), resource.get("Properties", {})
        names_role = {"Ref": role} in attached.get("Roles", []) or attached.get("RoleName") == {"Ref": role}
        in_arns = {"Ref": name} in props.get("ManagedPolicyArns", [])
        if kind in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy") and (names_role or in_arns):
            fn.granted |= statements(attached["PolicyDocument"], resources, f"{fn.name} ({name})")


def deployed(template: dict[str, Any], root: Path = ROOT) -> dict[str, Deployed]:
    resources: dict[str, Any] = template["Resources"]
    out: dict[str, Deployed] = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        props = resource["Properties"]
        code = props.get("Code", {})
        if "ZipFile" in code:
            source = code["ZipFile"]
        elif code.get("S3Bucket") == "rehearsal":  # local/sam_translate.py put the CodeUri in the S3 key
            source = (root / code["S3Key"] / f"{props['Handler'].rsplit('.', 1)[0]}.py").read_text()
        else:
            raise ValueError(f"{name}: its code is neither inline nor a CodeUri of this repository")
        role = props.get("Role")
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise ValueError(f"{name}: its role is not one of the template's (Role: !GetAtt <role>.Arn)")
        fn = Deployed(name, source, dict(props.get("Environment", {}).get("Variables", {})))
        role_grants(role["Fn::GetAtt"][0], resources, fn)
        dead_letters = props.get("DeadLetterConfig", {}).get("TargetArn")
        if dead_letters is not None:  # Lambda sends an asynchronous event it gave up on there, as the function
            fn.platform[send(dead_letters, resources)] = "its asynchronous invocations' dead-letter queue"
        out[name] = fn
    for resource in resources.values():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::Lambda::EventSourceMapping":
            fn = out[function_of(props["FunctionName"], resources)]
            source = resource_of(props["EventSourceArn"], resources)
            needs = SQS_SOURCE if source.startswith("queue:") else STREAM_SOURCE
            fn.platform |= {(action, source): "its event source mapping" for action in needs}
            failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if failure is not None:
                fn.platform[send(failure, resources)] = "its event source mapping"
        elif kind == "AWS::Lambda::EventInvokeConfig":
            fn = out[function_of(props["FunctionName"], resources)]
            for outcome in ("OnSuccess", "OnFailure"):
                target = props.get("DestinationConfig", {}).get(outcome, {}).get("Destination")
                if target is not None:
                    fn.platform[send(target, resources)] = "its asynchronous invocations' destination"
    return out


def send(target: Any, resources: dict[str, Any]) -> tuple[str, str]:
    """What handing a record to a destination (a queue, a topic, a bus, a function) takes, and on what."""
    resource = resource_of(target, resources)
    named = (target.get("Fn::GetAtt") or [target.get("Ref", "")])[0] if isinstance(target, dict) else ""
    kind = resources.get(named, {}).get("Type", "")
    action = {"AWS::SNS::Topic": "sns:Publish", "AWS::Lambda::Function": "lambda:InvokeFunction",
              "AWS::Events::EventBus": "events:PutEvents"}.get(kind, "sqs:SendMessage")
    return action, resource


@dataclass
class Findings:
    missing: list[str] = field(default_factory=list)  # called (or needed by the platform) but not granted
    extra: list[str] = field(default_factory=list)  # granted, never called
    environment: list[str] = field(default_factory=list)
    seams: list[str] = field(default_factory=list)  # calls the rehearsal cannot follow (a collaborator typed Any)

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.environment or self.seams)


def covers(granted: str, needed: str) -> bool:
    """Whether a grant on `granted` allows a call on `needed`. Resources are compared for DynamoDB (the table, an
    index, the stream), SQS queues, EventBridge buses and KMS keys; another service's calls by action only."""
    if granted in (needed, "*") or (granted == ANY_INDEX and needed.startswith("index:")):
        return True
    return needed not in ("table", "stream") and not needed.startswith(("index:", "queue:", "bus:", "key:"))


def targets(fn: Deployed, effects: Effects, service: str, kind: str, resources: dict[str, Any]) -> set[str]:
    """The queues (or buses) the code can address: those its settings' variables name (`Ref: <id>`)."""
    from shared.settings import Settings

    out = set()
    for field_name in effects.settings_read:
        value = fn.environment.get(Settings.model_fields[field_name].alias or "")
        if isinstance(value, dict) and resources.get(value.get("Ref", ""), {}).get("Type") == kind:
            out.add(f"{service}:{value['Ref']}")
    return out or {f"{service}:?"}


def check(fn: Deployed, effects: Effects, resources: dict[str, Any]) -> Findings:
    found = Findings()
    called: dict[tuple[str, str], set[str]] = {}
    for (action, resource), where in effects.actions().items():
        if resource == "sqs":
            resolved = targets(fn, effects, "queue", "AWS::SQS::Queue", resources)
        elif resource == "events":
            resolved = targets(fn, effects, "bus", "AWS::Events::EventBus", resources)
        else:
            resolved = {resource}
        for r in resolved:
            called.setdefault((action, r), set()).update(where)
    for (action, resource), where in sorted(called.items()):
        if not any(a == action and covers(r, resource) for a, r in fn.granted):
            found.missing.append(f"{action} on {resource} (called by {', '.join(sorted(where)[:3])})")
    needs = fn.platform | {k: "its queue's key" for k in keys(called, set(fn.platform), resources)}
    for (action, resource), why in sorted(needs.items()):
        if not any(a == action and covers(r, resource) for a, r in fn.granted):
            found.missing.append(f"{action} on {resource} ({why} needs it)")
    for action, resource in sorted(fn.granted):
        used = any(a == action and covers(resource, r) for a, r in called) or \
            any(a == action and covers(resource, r) for a, r in needs)
        if not used and action not in PLATFORM:  # the logs, tracing, network interfaces: on any resource
            found.extra.append(f"{action} on {resource}")
    found.environment = environment(fn, effects)
    found.seams = sorted(effects.blind)
    return found


def keys(called: dict[tuple[str, str], set[str]], platform: set[tuple[str, str]],
         resources: dict[str, Any]) -> set[tuple[str, str]]:
    """The KMS actions on the customer managed keys (`AWS::KMS::Key` of the template) of the queues a function sends
    to (kms:GenerateDataKey and kms:Decrypt) or its event source mapping reads (kms:Decrypt)."""
    out: set[tuple[str, str]] = set()
    for action, resource in set(called) | platform:
        if not resource.startswith("queue:") or action not in ("sqs:SendMessage", "sqs:ReceiveMessage"):
            continue
        key = resources.get(resource[6:], {}).get("Properties", {}).get("KmsMasterKeyId")
        target = resource_of({"Fn::GetAtt": [key["Ref"], "Arn"]} if isinstance(key, dict) and "Ref" in key else key,
                             resources) if key is not None else ""
        if target.startswith("key:"):
            out.add(("kms:Decrypt", target))
            if action == "sqs:SendMessage":
                out.add(("kms:GenerateDataKey", target))
    return out


def environment(fn: Deployed, effects: Effects) -> list[str]:
    """Every setting the code needs in AWS is set; every variable set is read (by the code or Powertools)."""
    from shared.settings import Settings

    fields = Settings.model_fields
    needed = {f.alias for f in fields.values() if f.is_required() and f.alias} if effects.settings_validated else set()
    read = {fields[name].alias for name in effects.settings_read if fields[name].alias}
    needed |= {alias for name in effects.settings_read if (alias := fields[name].alias)
               and fields[name].default is None and alias not in LOCAL_ONLY | RUNTIME}
    problems = [f"{alias} is not set (the code needs it)" for alias in sorted(needed - set(fn.environment))]
    problems += [f"{name} is set here but must never be (local stack only)" for name in sorted(
        LOCAL_ONLY & set(fn.environment))]
    allowed = UNREAD_BY_FUNCTION.get(fn.name, set())
    problems += [f"{name} is set but never read" for name in sorted(set(fn.environment) - needed - read - allowed)
                 if not name.startswith(UNREAD_ALLOWED)]
    return problems


_EFFECTS: dict[tuple[str, str], Effects] = {}  # (function, its source) -> what the code calls, read once


def rehearse(template: dict[str, Any] | None = None) -> dict[str, tuple[Effects, Findings]]:
    """Every Lambda function of the translated template (translated now unless given): what its code calls, and
    the differences with what it is granted and given."""
    template = template if template is not None else translated()
    project: Project | None = None
    out = {}
    for name, fn in sorted(deployed(template).items()):
        if (name, fn.source) not in _EFFECTS:
            project = project or Project()
            inline = "ZipFile" in template["Resources"][name]["Properties"]["Code"]
            _EFFECTS[(name, fn.source)] = effects_of(project, f"inline.{name}" if inline else f"functions.{name}.app",
                                                     fn.source)
        effects = _EFFECTS[(name, fn.source)]
        out[name] = (effects, check(fn, effects, template["Resources"]))
    return out


def main() -> None:
    failed = False
    for name, (effects, findings) in rehearse().items():
        actions = sorted(f"{a} on {r}" for a, r in effects.actions())
        print(f"{name}: {', '.join(actions) or 'no AWS call'}")
        for line in findings.missing:
            print(f"  MISSING  {line}")
        for line in findings.extra:
            print(f"  EXTRA    {line}")
        for line in findings.environment:
            print(f"  ENV      {line}")
        for line in findings.seams:
            print(f"  UNTYPED  {line}")
        failed |= bool(findings)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
