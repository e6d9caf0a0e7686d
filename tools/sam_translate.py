"""Translate template.yaml to plain CloudFormation JSON, offline, so cfn-lint sees the resources SAM generates.

cfn-lint >= 1.54 validates SAM resources against schemas only and misses circular dependencies and bad
Ref/GetAtt inside them; linting the translated stack catches those.  usage: sam_translate.py IN OUT
"""

from __future__ import annotations

import json
import sys

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse


def main(source: str, target: str, region: str = "us-east-1") -> None:
    with open(source) as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():  # like `sam validate`: no packaging needed
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = "s3://local-placeholder/" + props[key].strip("/")
    session = boto3.session.Session(region_name=region)
    output = Translator(None, Parser(), boto_session=session).translate(
        template, parameter_values={}, get_managed_policy_map=lambda: {})
    with open(target, "w") as f:
        json.dump(output, f, indent=1, default=str)
    print(f"{source} -> {target}: {len(output['Resources'])} CloudFormation resources")


if __name__ == "__main__":
    main(*sys.argv[1:])
