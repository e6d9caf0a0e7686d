"""Read `template.yaml` as CloudFormation would: short-form tags, parameters, conditions, intrinsics.

The local harness wires everything from this reading, so the template is the only description of the
stack: a wrong pattern, bus, prefix or environment variable there fails locally too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag_constructor(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag_constructor)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


class TemplateError(ValueError):
    pass


@dataclass
class PhysicalResource:
    logical_id: str
    type: str
    name: str  # bucket / table / bus / queue / topic / function name
    arn: str
    ref: str  # what !Ref returns
    attributes: dict[str, str] = field(default_factory=dict)


def _physical(stack: str, logical_id: str, rtype: str, props: dict[str, Any], resolve: Any) -> PhysicalResource:
    suffix = hashlib.sha1(logical_id.encode()).hexdigest()[:8]
    generated = f"{stack}-{logical_id}-{suffix}"
    arn_base = f"arn:{PARTITION}"
    if rtype == "AWS::S3::Bucket":
        name = resolve(props["BucketName"]) if "BucketName" in props else generated.lower()[:63]
        arn = f"{arn_base}:s3:::{name}"
        return PhysicalResource(logical_id, rtype, name, arn, name, {"Arn": arn})
    if rtype == "AWS::DynamoDB::Table":
        name = resolve(props["TableName"]) if "TableName" in props else generated
        arn = f"{arn_base}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        return PhysicalResource(logical_id, rtype, name, arn, name, {"Arn": arn})
    if rtype == "AWS::Events::EventBus":
        name = resolve(props["Name"])
        arn = f"{arn_base}:events:{REGION}:{ACCOUNT_ID}:event-bus/{name}"
        return PhysicalResource(logical_id, rtype, name, arn, name, {"Arn": arn, "Name": name})
    if rtype == "AWS::SQS::Queue":
        name = resolve(props["QueueName"]) if "QueueName" in props else generated[:80]
        arn = f"{arn_base}:sqs:{REGION}:{ACCOUNT_ID}:{name}"
        url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
        return PhysicalResource(logical_id, rtype, name, arn, url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
    if rtype == "AWS::SNS::Topic":
        name = resolve(props["TopicName"]) if "TopicName" in props else generated
        arn = f"{arn_base}:sns:{REGION}:{ACCOUNT_ID}:{name}"
        return PhysicalResource(logical_id, rtype, name, arn, arn, {"TopicName": name})
    if rtype == "AWS::Serverless::Function":
        name = resolve(props["FunctionName"]) if "FunctionName" in props else generated[:64]
        arn = f"{arn_base}:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        return PhysicalResource(logical_id, rtype, name, arn, name, {"Arn": arn})
    if rtype == "AWS::IAM::Role":
        name = resolve(props["RoleName"]) if "RoleName" in props else generated[:64]
        arn = f"{arn_base}:iam::{ACCOUNT_ID}:role/{name}"
        return PhysicalResource(logical_id, rtype, name, arn, name, {"Arn": arn, "RoleId": name})
    if rtype == "AWS::IAM::ManagedPolicy":
        arn = f"{arn_base}:iam::{ACCOUNT_ID}:policy/{generated}"
        return PhysicalResource(logical_id, rtype, generated, arn, arn, {"PolicyArn": arn})
    if rtype == "AWS::KMS::Key":
        key_id = hashlib.sha1(logical_id.encode()).hexdigest()[:32]
        arn = f"{arn_base}:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"
        return PhysicalResource(logical_id, rtype, key_id, arn, key_id, {"Arn": arn, "KeyId": key_id})
    arn = f"{arn_base}:local:{REGION}:{ACCOUNT_ID}:{logical_id}"
    return PhysicalResource(logical_id, rtype, generated, arn, generated, {"Arn": arn})


class Stack:
    """The template with parameters bound, able to resolve intrinsic functions to local physical values."""

    def __init__(self, template_path: Path, stack_name: str = "local",
                 parameter_overrides: dict[str, str] | None = None) -> None:
        self.path = template_path
        self.root = template_path.parent
        self.template = load_template(template_path)
        self.stack_name = stack_name
        self.parameters: dict[str, Any] = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            value = (parameter_overrides or {}).get(name, spec.get("Default"))
            if value is None:
                raise TemplateError(f"parameter {name} has no default; pass it in parameter_overrides")
            if "AllowedValues" in spec and value not in spec["AllowedValues"] and \
                    str(value) not in map(str, spec["AllowedValues"]):
                raise TemplateError(f"parameter {name}={value!r} is not one of {spec['AllowedValues']}")
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], str(value)):
                raise TemplateError(f"parameter {name}={value!r} does not match {spec['AllowedPattern']}")
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.parameters[name] = value
        self.resources: dict[str, dict[str, Any]] = self.template["Resources"]
        self._condition_exprs = self.template.get("Conditions") or {}
        self.conditions: dict[str, bool] = {}
        for name in self._condition_exprs:
            self._condition(name)
        self.physical = {lid: _physical(stack_name, lid, r["Type"], r.get("Properties") or {}, self.resolve)
                         for lid, r in self.resources.items()}

    def _condition(self, name: str) -> bool:
        """A condition's value; conditions may name others (`!Condition X`), in any order."""
        if name not in self.conditions:
            if name not in self._condition_exprs:
                raise TemplateError(f"condition {name}: not defined in {self.path.name}")
            self.conditions[name] = bool(self.resolve(self._condition_exprs[name]))
        return self.conditions[name]

    # -- intrinsics -------------------------------------------------------------------------------

    def _pseudo(self, name: str) -> str | None:
        return {"AWS::AccountId": ACCOUNT_ID, "AWS::Region": REGION, "AWS::Partition": PARTITION,
                "AWS::StackName": self.stack_name, "AWS::URLSuffix": "amazonaws.com",
                "AWS::NoValue": None}.get(name)

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in getattr(self, "physical", {}):
            return self.physical[name].ref
        raise TemplateError(f"!Ref {name}: no such parameter or resource in {self.path.name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.physical.get(logical_id)
        if resource is None:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: no such resource")
        if attribute not in resource.attributes:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute}: {resource.type} has no such attribute locally")
        return resource.attributes[attribute]

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token and not token.startswith("AWS::"):
                lid, att = token.split(".", 1)
                return self.get_att(lid, att)
            return str(self.ref(token))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):  # AWS::NoValue (None here) drops an item, as in CloudFormation
            return [item for item in (self.resolve(v) for v in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                lid, att = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(lid, att)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
                else:
                    text, variables = arg, {}
                return self._sub(text, variables)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(x) for x in self.resolve(items))
            if key == "Fn::Equals":
                a, b = self.resolve(arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in arg)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in arg)
            if key == "Condition":
                return self._condition(arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self._condition(name) else no)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
        return {k: item for k, item in ((k, self.resolve(v)) for k, v in value.items()) if item is not None}

    # -- queries used by the harness ----------------------------------------------------------------

    def of_type(self, rtype: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r["Type"] == rtype and self._enabled(r)}

    def _enabled(self, resource: dict[str, Any]) -> bool:
        condition = resource.get("Condition")
        return True if condition is None else self._condition(condition)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        globals_env = ((self.template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
        props = self.resources[logical_id].get("Properties") or {}
        merged = dict(globals_env.get("Variables") or {}) | dict((props.get("Environment") or {}).get("Variables")
                                                                  or {})
        return {k: str(self.resolve(v)) for k, v in merged.items()}

    def function_property(self, logical_id: str, name: str, default: Any = None) -> Any:
        props = self.resources[logical_id].get("Properties") or {}
        if name in props:
            return self.resolve(props[name])
        globals_fn = (self.template.get("Globals") or {}).get("Function") or {}
        return self.resolve(globals_fn.get(name, default))
