"""IAM, locally: each function's identity policies from template.yaml, and every AWS call its handler makes checked
against them, as AWS would before the call reaches the service.

- `evaluate(policies, request)`: an identity-policy evaluator. Allow / Deny statements, Action / NotAction and
  Resource / NotResource with `*` and `?` wildcards (actions case-insensitive, ARNs matched segment by segment), and
  the condition operators below, with the ForAllValues: / ForAnyValue: qualifiers and the IfExists suffix. An explicit
  Deny wins; no Allow is an implicit deny. An operator this evaluator does not know is never guessed at: an Allow
  statement carrying it does not apply (a Deny one does), and it is listed in `Decision.unevaluated`.
- `function_policies(stack, logical_id)`: what a function's role holds once SAM has built it: its `Policies` (inline
  statements, `!Ref` to an AWS::IAM::ManagedPolicy of the stack), plus what SAM adds on its own (basic execution
  role, X-Ray for Tracing: Active, the SQS poller policy for an SQS event source), which are not under test.
- `authorizations(...)`: what IAM authorizes for one botocore call: (action, resource ARN, condition keys), several
  for some operations (CreateModelCustomizationJob: the job, the base model, the custom model, iam:PassRole of the
  service role, bedrock:TagResource for the tags; an S3 or SNS call on a KMS-encrypted bucket or topic: the KMS
  actions the service performs on the caller's behalf). An operation without a mapping raises `UnmappedOperation`:
  nothing is allowed by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote, urlparse

ContextValue = str | list[str]


# -- evaluation ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    action: str  # "service:Action"
    resource: str  # an ARN, or "*"
    context: dict[str, ContextValue] = field(default_factory=dict)  # condition keys (names are case-insensitive)


@dataclass
class Statement:
    policy: str  # where it comes from: "inline", a managed policy's logical id, "sam:AWSLambdaBasicExecutionRole"
    index: int
    doc: dict[str, Any]

    @property
    def sid(self) -> str:
        return str(self.doc.get("Sid") or f"#{self.index}")

    @property
    def label(self) -> str:
        return f"{self.policy}/{self.sid}"

    @property
    def effect(self) -> str:
        return str(self.doc.get("Effect", ""))

    @property
    def actions(self) -> list[str]:
        return _as_list(self.doc.get("Action"))

    @property
    def resources(self) -> list[str]:
        return _as_list(self.doc.get("Resource"))


@dataclass
class Policy:
    name: str
    statements: list[Statement]
    under_test: bool = True  # False: what SAM adds by itself (logs, X-Ray, the SQS poller)

    @classmethod
    def from_document(cls, name: str, document: dict[str, Any], under_test: bool = True) -> Policy:
        raw = document.get("Statement") or []
        raw = [raw] if isinstance(raw, dict) else raw
        return cls(name, [Statement(name, i, s) for i, s in enumerate(raw) if s], under_test)


@dataclass
class Decision:
    allowed: bool
    reason: str  # "allowed by X", "denied by X (explicit)", "no statement allows it"
    allowed_by: list[Statement] = field(default_factory=list)
    denied_by: list[Statement] = field(default_factory=list)
    unevaluated: list[str] = field(default_factory=list)  # "<statement>: <operator>" not understood


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """`s3:Get*` matches `s3:GetObject`; service prefix and action name are case-insensitive."""
    return _glob(pattern, True).fullmatch(action) is not None


def _arn_parts(arn: str) -> list[str]:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 else []


def resource_matches(pattern: str, arn: str) -> bool:
    """ARN patterns match segment by segment (partition, service, region, account), case-sensitively; the resource
    segment is the rest of the ARN, where wildcards may span ':' and '/'. `*` alone matches everything."""
    if pattern == "*":
        return True
    pat, res = _arn_parts(pattern), _arn_parts(arn)
    if not pat or not res:
        return _glob(pattern, False).fullmatch(arn) is not None
    return all(_glob(p, False).fullmatch(r) is not None for p, r in zip(pat, res, strict=True))


# condition operators: name -> (match one request value against one policy value, negated?)
def _string_like(value: str, pattern: str) -> bool:
    return _glob(pattern, False).fullmatch(value) is not None


def _arn_like(value: str, pattern: str) -> bool:
    return resource_matches(pattern, value) if _arn_parts(value) else False


def _bool(value: str, expected: str) -> bool:
    return value.lower() == expected.lower()


_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),  # AWS: ArnEquals and ArnLike are the same comparison, wildcards and all
    "ArnNotEquals": (_arn_like, True),
    "ArnLike": (_arn_like, False),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
}


class _Unevaluated(Exception):  # noqa: N818 - internal signal
    pass


def _lookup(context: dict[str, ContextValue], key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key.lower():
            return _as_list(value)
    return None


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, ContextValue]) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    wanted = _as_list(expected)
    values = _lookup(context, key)
    if name == "Null":  # Null: true means "the key is absent"
        return (values is None or values == []) == (wanted[0].lower() == "true")
    if name not in _OPERATORS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise _Unevaluated(operator)
    match, negated = _OPERATORS[name]

    def holds_for(value: str) -> bool:  # one request value: matches any policy value (negated: none of them)
        return any(match(value, p) for p in wanted) != negated

    if qualifier == "ForAllValues":  # every value in the request holds (vacuously: none)
        return all(holds_for(v) for v in values) if values else True
    if qualifier == "ForAnyValue":  # at least one value in the request holds (none: false)
        return any(holds_for(v) for v in values) if values else False
    if values is None or values == []:
        return if_exists or negated  # an absent key matches nothing; a negated operator then holds
    if negated:
        return not any(match(v, p) for v in values for p in wanted)
    return any(match(v, p) for v in values for p in wanted)


def _conditions_hold(statement: Statement, context: dict[str, ContextValue], unevaluated: list[str]) -> bool:
    """All operators, all keys: AND; the values of one key: OR."""
    conditions = statement.doc.get("Condition") or {}
    for operator, keys in conditions.items():
        for key, expected in (keys or {}).items():
            try:
                if not _condition_holds(operator, key, expected, context):
                    return False
            except _Unevaluated:
                unevaluated.append(f"{statement.label}: {operator} on {key}")
                if statement.effect != "Deny":
                    return False  # conservative: an unknown Allow never applies
                # a Deny: the unknown condition is taken to hold, the others still decide (AND, in any order)
    return True


def statement_applies(statement: Statement, request: Request, unevaluated: list[str] | None = None) -> bool:
    doc = statement.doc
    if "NotAction" in doc:
        if any(action_matches(p, request.action) for p in _as_list(doc["NotAction"])):
            return False
    elif not any(action_matches(p, request.action) for p in statement.actions):
        return False
    if "NotResource" in doc:
        if any(resource_matches(p, request.resource) for p in _as_list(doc["NotResource"])):
            return False
    elif not any(resource_matches(p, request.resource) for p in statement.resources):
        return False
    return _conditions_hold(statement, request.context, unevaluated if unevaluated is not None else [])


def evaluate(policies: Iterable[Policy], request: Request) -> Decision:
    allowed_by: list[Statement] = []
    denied_by: list[Statement] = []
    unevaluated: list[str] = []
    for policy in policies:
        for statement in policy.statements:
            if statement.effect not in ("Allow", "Deny"):
                raise ValueError(f"{statement.label}: Effect must be Allow or Deny, not {statement.effect!r}")
            if statement_applies(statement, request, unevaluated):
                (denied_by if statement.effect == "Deny" else allowed_by).append(statement)
    if denied_by:
        return Decision(False, f"denied by {denied_by[0].label} (explicit)", allowed_by, denied_by, unevaluated)
    if allowed_by:
        return Decision(True, f"allowed by {', '.join(s.label for s in allowed_by)}", allowed_by, [], unevaluated)
    return Decision(False, "no statement allows it (implicit deny)", [], [], unevaluated)


# -- the policies of a function, from the template --------------------------------------------------------------------

BASIC_EXECUTION = {"Statement": [{"Sid": "AWSLambdaBasicExecutionRole", "Effect": "Allow", "Resource": "*",
                                  "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]}]}
XRAY_WRITE = {"Statement": [{"Sid": "AWSXrayWriteOnlyAccess", "Effect": "Allow", "Resource": "*",
                             "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                        "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"]}]}
SQS_POLLER = {"Statement": [{"Sid": "AWSLambdaSQSQueueExecutionRole", "Effect": "Allow", "Resource": "*",
                             "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]}]}


class PolicyError(ValueError):
    pass


def function_policies(stack: Any, logical_id: str) -> list[Policy]:
    """The identity policies of a function's role, as SAM builds it (read from the template every time)."""
    resource = stack.resources[logical_id]
    props = resource.get("Properties") or {}
    policies = [Policy.from_document("sam:AWSLambdaBasicExecutionRole", BASIC_EXECUTION, under_test=False)]
    if str(stack.function_property(logical_id, "Tracing", "PassThrough")) == "Active":
        policies.append(Policy.from_document("sam:AWSXrayWriteOnlyAccess", XRAY_WRITE, under_test=False))
    if any(e.get("Type") == "SQS" for e in (props.get("Events") or {}).values()):
        policies.append(Policy.from_document("sam:AWSLambdaSQSQueueExecutionRole", SQS_POLLER, under_test=False))
    if props.get("Role"):
        raise PolicyError(f"{logical_id}: an explicit Role is not modelled (only SAM's Policies)")
    managed = {stack.physical[lid].arn: lid for lid in stack.of_type("AWS::IAM::ManagedPolicy")}
    raw = props.get("Policies") or []
    raw = raw if isinstance(raw, list) else [raw]
    inline = 0
    for item in stack.resolve(raw):
        if isinstance(item, str):
            if item not in managed:
                raise PolicyError(f"{logical_id}: policy {item!r} is neither a managed policy of this stack nor "
                                  "modelled here (AWS managed policies are not)")
            lid = managed[item]
            document = stack.resolve(stack.resources[lid]["Properties"]["PolicyDocument"])
            policies.append(Policy.from_document(lid, document))
        elif isinstance(item, dict) and "Statement" in item:
            policies.append(Policy.from_document("inline" if inline == 0 else f"inline{inline}", item))
            inline += 1
        elif isinstance(item, dict) and len(item) == 1:
            raise PolicyError(f"{logical_id}: SAM policy template {next(iter(item))} is not modelled here")
        else:
            raise PolicyError(f"{logical_id}: unrecognised policy entry {item!r}")
    return policies


# -- what a call asks IAM for -----------------------------------------------------------------------------------------

class UnmappedOperation(Exception):  # noqa: N818 - a gap in this module, not an AWS error
    pass


@dataclass
class Environment:
    """What the mapping needs to know of the account: its ids, and lookups the harness answers from the stack and
    from moto (resource tags, the key schema of a table, the KMS key of a bucket or topic)."""

    region: str
    account: str
    partition: str = "aws"
    table_hash_key: Callable[[str], str | None] = lambda table: None
    bucket_kms_key: Callable[[str], str | None] = lambda bucket: None
    topic_kms_key: Callable[[str], str | None] = lambda topic_arn: None
    resource_tags: Callable[[str], dict[str, str] | None] = lambda arn: None
    object_exists: Callable[[str, str], bool] = lambda bucket, key: True

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def kms_key_arn(self, key: str) -> str:
        return key if key.startswith("arn:") else self.arn("kms", key if key.startswith("alias/") else f"key/{key}")


def _tag_context(tags: list[dict[str, str]] | dict[str, str] | None) -> dict[str, ContextValue]:
    if not tags:
        return {}
    pairs = tags.items() if isinstance(tags, dict) else (
        (t.get("key") or t.get("Key"), t.get("value") or t.get("Value")) for t in tags)
    context: dict[str, ContextValue] = {}
    keys = []
    for key, value in pairs:
        context[f"aws:RequestTag/{key}"] = str(value)
        keys.append(str(key))
    context["aws:TagKeys"] = keys
    return context


def _resource_tags(env: Environment, arn: str) -> dict[str, ContextValue]:
    tags = env.resource_tags(arn)
    return {f"aws:ResourceTag/{k}": v for k, v in (tags or {}).items()}


def _s3(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    bucket = p.get("Bucket", "")
    bucket_arn = f"arn:{env.partition}:s3:::{bucket}"
    obj = f"{bucket_arn}/{p.get('Key', '')}"
    key = env.bucket_kms_key(bucket)
    via = {"kms:ViaService": f"s3.{env.region}.amazonaws.com"}
    versioned = bool(p.get("VersionId")) and p.get("VersionId") != "null"
    if op in ("GetObject", "HeadObject"):
        out = [Request("s3:GetObjectVersion" if versioned else "s3:GetObject", obj)]
        if not env.object_exists(bucket, p.get("Key", "")):
            # S3 answers 404 for a missing key only to a caller that may list the bucket, otherwise 403
            out.append(Request("s3:ListBucket", bucket_arn, {"s3:prefix": p.get("Key", "")}))
        return out + ([Request("kms:Decrypt", env.kms_key_arn(key), via)] if key and op == "GetObject" else [])
    if op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        out = [Request("s3:PutObject", obj)]
        if op == "PutObject" and p.get("Tagging"):
            out.append(Request("s3:PutObjectTagging", obj))
        if key and op in ("PutObject", "CreateMultipartUpload"):
            out.append(Request("kms:GenerateDataKey", env.kms_key_arn(key), via))
            if op == "CreateMultipartUpload":  # the parts are decrypted to be joined
                out.append(Request("kms:Decrypt", env.kms_key_arn(key), via))
        return out
    if op == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", obj)]
    if op == "DeleteObject":
        return [Request("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", obj)]
    if op in ("ListObjectsV2", "ListObjects", "ListObjectVersions"):
        context: dict[str, ContextValue] = {}
        for param, name in (("Prefix", "s3:prefix"), ("Delimiter", "s3:delimiter"), ("MaxKeys", "s3:max-keys")):
            if param in p:
                context[name] = str(p[param])
        return [Request("s3:ListBucketVersions" if op == "ListObjectVersions" else "s3:ListBucket", bucket_arn,
                        context)]
    if op == "GetObjectTagging":
        return [Request("s3:GetObjectVersionTagging" if versioned else "s3:GetObjectTagging", obj)]
    if op == "PutObjectTagging":
        return [Request("s3:PutObjectVersionTagging" if versioned else "s3:PutObjectTagging", obj)]
    raise UnmappedOperation(f"S3.{op}")


def _attribute_value(value: dict[str, Any]) -> str:
    ((_, raw),) = value.items()
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _dynamodb(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    def table_arn(name: str) -> str:
        return name if name.startswith("arn:") else env.arn("dynamodb", f"table/{name}")

    def item_request(action: str, table: str, key: dict[str, Any] | None, extra: dict[str, Any]) -> Request:
        context: dict[str, ContextValue] = {}
        hash_key = env.table_hash_key(table.rsplit("/", 1)[-1])
        if hash_key and key and hash_key in key:
            context["dynamodb:LeadingKeys"] = [_attribute_value(key[hash_key])]
        if extra.get("ReturnValues"):
            context["dynamodb:ReturnValues"] = str(extra["ReturnValues"])
        return Request(action, table_arn(table), context)

    if op in ("GetItem", "UpdateItem", "DeleteItem"):
        return [item_request(f"dynamodb:{op}", p["TableName"], p.get("Key"), p)]
    if op == "PutItem":
        return [item_request("dynamodb:PutItem", p["TableName"], p.get("Item"), p)]
    if op in ("Query", "Scan"):
        arn = table_arn(p["TableName"]) + (f"/index/{p['IndexName']}" if p.get("IndexName") else "")
        # dynamodb:LeadingKeys for a Query would be the key condition's partition key value: not parsed here, so the
        # key is absent (a ForAllValues condition on it then holds, as it would in AWS for a missing key)
        return [Request(f"dynamodb:{op}", arn)]
    if op == "TransactWriteItems":
        out = []
        for item in p.get("TransactItems") or []:
            (kind, spec), = item.items()
            action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "ConditionCheck": "ConditionCheckItem"}[kind]
            out.append(item_request(f"dynamodb:{action}", spec["TableName"], spec.get("Key") or spec.get("Item"),
                                    spec))
        return out
    if op == "BatchWriteItem":
        out = []
        for table, writes in (p.get("RequestItems") or {}).items():
            for write in writes:
                if "PutRequest" in write:
                    out.append(item_request("dynamodb:BatchWriteItem", table, write["PutRequest"]["Item"], {}))
                else:
                    out.append(item_request("dynamodb:BatchWriteItem", table, write["DeleteRequest"]["Key"], {}))
        return out
    if op == "BatchGetItem":
        return [item_request("dynamodb:BatchGetItem", table, key, {})
                for table, spec in (p.get("RequestItems") or {}).items() for key in spec.get("Keys") or []]
    if op == "DescribeTable":
        return [Request("dynamodb:DescribeTable", table_arn(p["TableName"]))]
    raise UnmappedOperation(f"DynamoDB.{op}")


def _events(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    if op != "PutEvents":
        raise UnmappedOperation(f"EventBridge.{op}")
    by_bus: dict[str, list[dict[str, Any]]] = {}
    for entry in p.get("Entries") or []:
        by_bus.setdefault(entry.get("EventBusName") or "default", []).append(entry)
    out = []
    for bus, entries in by_bus.items():
        arn = bus if bus.startswith("arn:") else env.arn("events", f"event-bus/{bus}")
        out.append(Request("events:PutEvents", arn, {
            "events:source": sorted({str(e.get("Source")) for e in entries}),
            "events:detail-type": sorted({str(e.get("DetailType")) for e in entries})}))
    return out


def _sns(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    if op not in ("Publish", "PublishBatch"):
        raise UnmappedOperation(f"SNS.{op}")
    topic = p.get("TopicArn") or p.get("TargetArn") or ""
    out = [Request("sns:Publish", topic)]
    key = env.topic_kms_key(topic)
    if key:  # SNS encrypts the message with the topic's key, as the publisher
        via = {"kms:ViaService": f"sns.{env.region}.amazonaws.com"}
        out += [Request("kms:GenerateDataKey", env.kms_key_arn(key), via),
                Request("kms:Decrypt", env.kms_key_arn(key), via)]
    return out


def _queue_arn(env: Environment, url: str) -> str:
    parts = [x for x in urlparse(url).path.split("/") if x]
    if len(parts) < 2:
        raise UnmappedOperation(f"SQS queue URL {url!r}")
    return env.arn("sqs", parts[-1], account=parts[-2])


_SQS = {"SendMessage": "SendMessage", "SendMessageBatch": "SendMessage", "ReceiveMessage": "ReceiveMessage",
        "DeleteMessage": "DeleteMessage", "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibility": "ChangeMessageVisibility", "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
        "GetQueueAttributes": "GetQueueAttributes"}


def _sqs(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    if op == "GetQueueUrl":
        return [Request("sqs:GetQueueUrl", env.arn("sqs", p["QueueName"], account=p.get("QueueOwnerAWSAccountId")))]
    if op not in _SQS:
        raise UnmappedOperation(f"SQS.{op}")
    return [Request(f"sqs:{_SQS[op]}", _queue_arn(env, p["QueueUrl"]))]


def _model_arn(env: Environment, identifier: str) -> str:
    """A model id as Bedrock authorizes it: an ARN as given, a cross-region profile id (us.*, eu.*, ...) as an
    inference profile, otherwise a foundation model of this region."""
    identifier = unquote(identifier)
    if identifier.startswith("arn:"):
        return identifier
    if re.match(r"^(us|eu|apac|us-gov|global|jp|au|ca)\.", identifier):
        return env.arn("bedrock", f"inference-profile/{identifier}")
    return env.arn("bedrock", f"foundation-model/{identifier}", account="")


def _named(env: Environment, kind: str, identifier: str) -> str:
    identifier = unquote(identifier)
    return identifier if identifier.startswith("arn:") else env.arn("bedrock", f"{kind}/{identifier}")


def _bedrock(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    if op == "CreateModelCustomizationJob":
        job = _named(env, "model-customization-job", p["jobName"])
        model = _named(env, "custom-model", p["customModelName"])
        base = _model_arn(env, p["baseModelIdentifier"])
        tags = _tag_context((p.get("jobTags") or []) + (p.get("customModelTags") or []))
        out = [Request("bedrock:CreateModelCustomizationJob", arn, tags) for arn in (job, base, model)]
        out.append(Request("iam:PassRole", p["roleArn"], {"iam:PassedToService": "bedrock.amazonaws.com"}))
        if p.get("jobTags"):
            out.append(Request("bedrock:TagResource", job, _tag_context(p["jobTags"])))
        if p.get("customModelTags"):
            out.append(Request("bedrock:TagResource", model, _tag_context(p["customModelTags"])))
        if p.get("customModelKmsKeyId"):
            key = env.kms_key_arn(p["customModelKmsKeyId"])
            via = {"kms:ViaService": f"bedrock.{env.region}.amazonaws.com"}
            out += [Request(a, key, via) for a in ("kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey",
                                                   "kms:Decrypt")]
        return out
    if op == "CreateModelImportJob":  # the job, the model it makes, the service role; tags on both
        job = _named(env, "model-import-job", p["jobName"])
        model = _named(env, "imported-model", p["importedModelName"])
        tags = _tag_context((p.get("jobTags") or []) + (p.get("importedModelTags") or []))
        out = [Request("bedrock:CreateModelImportJob", arn, tags) for arn in (job, model)]
        out.append(Request("iam:PassRole", p["roleArn"], {"iam:PassedToService": "bedrock.amazonaws.com"}))
        if p.get("jobTags"):
            out.append(Request("bedrock:TagResource", job, _tag_context(p["jobTags"])))
        if p.get("importedModelTags"):
            out.append(Request("bedrock:TagResource", model, _tag_context(p["importedModelTags"])))
        if p.get("importedModelKmsKeyId"):
            key = env.kms_key_arn(p["importedModelKmsKeyId"])
            via = {"kms:ViaService": f"bedrock.{env.region}.amazonaws.com"}
            out += [Request(a, key, via) for a in ("kms:DescribeKey", "kms:CreateGrant", "kms:GenerateDataKey",
                                                   "kms:Decrypt")]
        return out
    if op == "GetModelImportJob":
        job = _named(env, "model-import-job", p["jobIdentifier"])
        return [Request(f"bedrock:{op}", job, _resource_tags(env, job))]
    if op in ("GetImportedModel", "DeleteImportedModel"):
        arn = _named(env, "imported-model", p["modelIdentifier"])
        return [Request(f"bedrock:{op}", arn, _resource_tags(env, arn))]
    if op in ("GetModelCustomizationJob", "StopModelCustomizationJob"):
        job = _named(env, "model-customization-job", p["jobIdentifier"])
        return [Request(f"bedrock:{op}", job, _resource_tags(env, job))]
    if op in ("CreateProvisionedModelThroughput", "CreateCustomModelDeployment"):
        kind, name, model_key = (("provisioned-model", "provisionedModelName", "modelId")
                                 if op == "CreateProvisionedModelThroughput"
                                 else ("custom-model-deployment", "modelDeploymentName", "modelArn"))
        created = _named(env, kind, p[name])
        model_id = unquote(p[model_key])
        model = model_id if model_id.startswith("arn:") else _named(env, "custom-model", model_id)
        tags = _tag_context(p.get("tags"))
        out = [Request(f"bedrock:{op}", created, tags), Request(f"bedrock:{op}", model, tags)]
        if p.get("tags"):
            out.append(Request("bedrock:TagResource", created, tags))
        return out
    if op in ("GetProvisionedModelThroughput", "DeleteProvisionedModelThroughput", "UpdateProvisionedModelThroughput"):
        arn = _named(env, "provisioned-model", p["provisionedModelId"])
        return [Request(f"bedrock:{op}", arn, _resource_tags(env, arn))]
    if op in ("GetCustomModelDeployment", "DeleteCustomModelDeployment"):
        arn = _named(env, "custom-model-deployment", p["customModelDeploymentIdentifier"])
        return [Request(f"bedrock:{op}", arn, _resource_tags(env, arn))]
    if op in ("GetCustomModel", "DeleteCustomModel"):
        arn = _named(env, "custom-model", p["modelIdentifier"])
        return [Request(f"bedrock:{op}", arn, _resource_tags(env, arn))]
    if op in ("ListProvisionedModelThroughputs", "ListCustomModelDeployments", "ListCustomModels",
              "ListModelCustomizationJobs", "ListFoundationModels", "ListModelImportJobs", "ListImportedModels"):
        return [Request(f"bedrock:{op}", "*")]
    if op in ("TagResource", "UntagResource", "ListTagsForResource"):
        arn = unquote(p["resourceARN"])
        context = _resource_tags(env, arn) | (_tag_context(p.get("tags")) if op == "TagResource" else {})
        if op == "UntagResource":
            context["aws:TagKeys"] = list(p.get("tagKeys") or [])
        return [Request(f"bedrock:{op}", arn, context)]
    raise UnmappedOperation(f"Bedrock.{op}")


_RUNTIME = {"Converse": "InvokeModel", "InvokeModel": "InvokeModel",
            "ConverseStream": "InvokeModelWithResponseStream",
            "InvokeModelWithResponseStream": "InvokeModelWithResponseStream"}


def _bedrock_runtime(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    if op not in _RUNTIME:
        raise UnmappedOperation(f"Bedrock Runtime.{op}")
    return [Request(f"bedrock:{_RUNTIME[op]}", _model_arn(env, p["modelId"]))]


def _endpoint(env: Environment, name: str) -> str:
    return env.arn("sagemaker", f"endpoint/{name.lower()}")  # SageMaker lowercases endpoint ARNs


def _sagemaker_runtime(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    if op not in ("InvokeEndpoint", "InvokeEndpointWithResponseStream", "InvokeEndpointAsync"):
        raise UnmappedOperation(f"SageMaker Runtime.{op}")
    return [Request("sagemaker:InvokeEndpoint", _endpoint(env, p["EndpointName"]))]


def _sagemaker(env: Environment, op: str, p: dict[str, Any]) -> list[Request]:
    if op != "DescribeEndpoint":
        raise UnmappedOperation(f"SageMaker.{op}")
    return [Request("sagemaker:DescribeEndpoint", _endpoint(env, p["EndpointName"]))]


_SERVICES: dict[str, Callable[[Environment, str, dict[str, Any]], list[Request]]] = {
    "S3": _s3, "DynamoDB": _dynamodb, "EventBridge": _events, "SNS": _sns, "SQS": _sqs, "Bedrock": _bedrock,
    "Bedrock Runtime": _bedrock_runtime, "SageMaker Runtime": _sagemaker_runtime, "SageMaker": _sagemaker,
}


def authorizations(env: Environment, service_id: str, operation: str, params: dict[str, Any]) -> list[Request]:
    """Every (action, resource, context) IAM checks for one call; raises UnmappedOperation for any other."""
    mapper = _SERVICES.get(service_id)
    if mapper is None:
        raise UnmappedOperation(f"{service_id}.{operation}")
    return mapper(env, operation, params)


# -- the checker the harness runs --------------------------------------------------------------------------------------

@dataclass
class IamCall:
    function: str  # logical id
    operation: str  # "<service id>.<Operation>"
    action: str
    resource: str
    context: dict[str, ContextValue]
    allowed: bool
    reason: str
    allowed_by: list[str] = field(default_factory=list)  # statement labels
    unevaluated: list[str] = field(default_factory=list)


@dataclass
class Grant:
    """One action of one statement of a policy under test, as the template writes it."""

    function: str
    statement: str  # label: "<policy>/<sid>"
    action: str  # the action pattern
    resources: list[str]

    def __str__(self) -> str:
        return f"{self.statement}: {self.action} on {', '.join(self.resources) or '(NotResource)'}"


class IamChecker:
    """Checks each call a handler makes against its function's policies, records it, and (enforce) denies it as AWS
    would: a ClientError AccessDenied(Exception) before the request is sent."""

    def __init__(self, stack: Any, env: Environment, enforce: bool = True) -> None:
        self.stack = stack
        self.env = env
        self.enforce = enforce
        self.calls: list[IamCall] = []
        self.current: list[str] = []  # the functions the harness is running now, innermost last
        self._policies: dict[str, list[Policy]] = {}

    def policies(self, function: str) -> list[Policy]:
        if function not in self._policies:
            self._policies[function] = function_policies(self.stack, function)
        return self._policies[function]

    def check(self, service_id: str, operation: str, params: dict[str, Any]) -> list[IamCall]:
        function = self.current[-1]
        target = f"{service_id}.{operation}"
        try:
            requests = authorizations(self.env, service_id, operation, params)
        except UnmappedOperation as exc:
            call = IamCall(function, target, f"?:{operation}", "?", {}, False,
                           f"no IAM mapping for {exc} in local_emulation/iam.py: add one")
            self.calls.append(call)
            return [call]
        made = []
        for request in requests:
            decision = evaluate(self.policies(function), request)
            call = IamCall(function, target, request.action, request.resource, dict(request.context),
                           decision.allowed, decision.reason, [s.label for s in decision.allowed_by],
                           decision.unevaluated)
            self.calls.append(call)
            made.append(call)
        return made

    def denials(self) -> list[IamCall]:
        return [c for c in self.calls if not c.allowed]

    def unevaluated(self) -> list[str]:
        return sorted({u for c in self.calls for u in c.unevaluated})

    def grants(self, function: str) -> list[Grant]:
        return [Grant(function, s.label, a, s.resources)
                for p in self.policies(function) if p.under_test
                for s in p.statements if s.effect == "Allow" for a in s.actions]

    def unused_grants(self, functions: Iterable[str]) -> dict[str, list[Grant]]:
        """Per function, each action of its own Allow statements that no allowed call of it used."""
        unused: dict[str, list[Grant]] = {}
        for function in functions:
            used = [(c.action, label) for c in self.calls if c.function == function and c.allowed
                    for label in c.allowed_by]
            left = [g for g in self.grants(function)
                    if not any(label == g.statement and action_matches(g.action, action) for action, label in used)]
            if left:
                unused[function] = left
        return unused

    def unused_resources(self, functions: Iterable[str]) -> dict[str, list[str]]:
        """Per function, resource patterns of its own Allow statements that no allowed call touched."""
        unused: dict[str, list[str]] = {}
        for function in functions:
            calls = [c for c in self.calls if c.function == function and c.allowed]
            for policy in self.policies(function):
                if not policy.under_test:
                    continue
                for s in policy.statements:
                    for pattern in s.resources if s.effect == "Allow" else []:
                        if not any(s.label in c.allowed_by and resource_matches(pattern, c.resource) for c in calls):
                            unused.setdefault(function, []).append(f"{s.label}: {pattern}")
        return unused


def access_denied(call: IamCall, service_id: str) -> dict[str, Any]:
    """The error AWS answers a denied call with (S3: AccessDenied; the JSON services: AccessDeniedException)."""
    code = "AccessDenied" if service_id in ("S3", "SNS", "SQS") else "AccessDeniedException"
    message = (f"User: arn:aws:sts::assumed-role/{call.function}Role/{call.function} is not authorized to perform: "
               f"{call.action} on resource: {call.resource} because {call.reason}")
    return {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}


HARNESS = "<harness>"  # on top of `IamChecker.current`: the harness's own calls, made through the code's clients
_active: IamChecker | None = None
_installed = False


def install(checker: IamChecker | None) -> None:
    """Route botocore's before-parameter-build hook of every client created from now on to `checker` (None: off)."""
    global _active, _installed
    _active = checker
    if not _installed:
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _hook))
        _installed = True


def _hook(params: dict[str, Any] | None = None, model: Any = None, context: Any = None, **_: Any) -> None:
    checker = _active
    if checker is None or not checker.current or checker.current[-1] == HARNESS or model is None:
        return
    if isinstance(context, dict) and context.get("iam_exempt"):
        return  # the harness's own call (an upload, a queue drained, a test's look at the account)
    from botocore.exceptions import ClientError

    service_id = model.service_model.service_id
    made = checker.check(str(service_id), model.name, params or {})
    denied = [c for c in made if not c.allowed]
    if denied and checker.enforce:
        raise ClientError(access_denied(denied[0], str(service_id)), model.name)
