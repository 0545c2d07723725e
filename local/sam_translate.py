"""template.yaml transformed by the SAM translator, offline: prints the CloudFormation template CloudFormation itself
would deploy (the AWS::Serverless-2016-10-31 transform applied) as JSON.

Run with the tools venv's python (`.tools/bin/python -m local.sam_translate`): samtranslator comes with aws-sam-cli
(tools-requirements.txt), never in the app's venv. It is what `sam validate` does, without its one AWS call: the
managed policies a template names by name come from a fixed map here instead of IAM's ListPolicies (names given as
ARNs, like the basic execution role SAM adds, need no map at all). Local CodeUri/ContentUri paths become S3 URIs, as
`sam validate` does, and the template's parameters take their defaults unless given (`Name=value` arguments).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The AWS managed policies a function may name by name (Policies: [AWSLambdaBasicExecutionRole]): their ARNs.
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/service-role/{name}"
    for name in ("AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSLambdaDynamoDBExecutionRole",
                 "AWSXRayDaemonWriteAccess")
}
PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
          "AWS::StackName": "rehearsal", "AWS::URLSuffix": "amazonaws.com"}


def s3_uris(template: dict[str, Any]) -> None:
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = f"s3://rehearsal/{props['CodeUri'].strip('/')}"
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = f"s3://rehearsal/{props['ContentUri'].strip('/')}"


def translate(path: Path, parameters: dict[str, str]) -> dict[str, Any]:
    import boto3  # the tools venv's (aws-sam-cli's pin): a session names the region, and makes no call
    from samcli.yamlhelper import yaml_parse  # the tools venv only
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = yaml_parse(path.read_text())
    s3_uris(template)
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), plugins=[],
                            boto_session=boto3.session.Session(region_name=PSEUDO["AWS::Region"]))
    translated: dict[str, Any] = translator.translate(
        sam_template=template, parameter_values={**PSEUDO, **parameters},
        get_managed_policy_map=lambda: MANAGED_POLICIES)
    return translated


def main(argv: list[str]) -> None:
    parameters = dict(arg.split("=", 1) for arg in argv)
    json.dump(translate(ROOT / "template.yaml", parameters), sys.stdout, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main(sys.argv[1:])
