"""The local IAM evaluator (local_emulation/iam.py) against AWS's documented identity-policy semantics: explicit Deny
over Allow, implicit deny, Action/NotAction, Resource/NotResource, wildcards, condition operators with IfExists and
the ForAllValues/ForAnyValue set operators; what IAM is asked for one botocore call; and a real function's policies
from template.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from local_emulation.iam import (
    Environment,
    Policy,
    Request,
    UnmappedOperation,
    authorizations,
    evaluate,
    function_policies,
)
from local_emulation.template import Stack
from tests.conftest import REPO

REGION, ACCOUNT = "us-east-1", "123456789012"
JOBS = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/*"
JOB = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/abc123"
FOREIGN_JOB = "arn:aws:bedrock:eu-west-1:999999999999:model-customization-job/x"
PROVISIONED = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/pm1"
OBJECT = "arn:aws:s3:::bucket/datasets/2024/run-1/train.jsonl"


def policy(*statements: dict[str, Any], name: str = "p") -> Policy:
    return Policy.from_document(name, {"Statement": list(statements)})


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def allowed(statement: dict[str, Any], action: str = "s3:GetObject", resource: str = OBJECT,
            **context: Any) -> bool:
    return evaluate([policy(statement)], Request(action, resource, context)).allowed


def holds(operator: str, key: str, expected: Any, **context: Any) -> bool:
    """Whether an Allow conditioned on `{operator: {key: expected}}` applies, with `context` as the request's keys."""
    return allowed(allow(Condition={operator: {key: expected}}), **context)


# -- Allow, Deny, implicit deny --------------------------------------------------------------------------------------

def test_a_matching_allow_allows_and_names_its_statement() -> None:
    decision = evaluate([policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*", Sid="Read"), name="Reader")],
                        Request("s3:GetObject", OBJECT))
    assert decision.allowed
    assert [s.label for s in decision.allowed_by] == ["Reader/Read"]


def test_nothing_allowing_it_is_an_implicit_deny() -> None:
    decision = evaluate([policy(allow("s3:GetObject", "arn:aws:s3:::bucket/*"))], Request("s3:PutObject", OBJECT))
    assert not decision.allowed
    assert decision.allowed_by == [] and decision.denied_by == []
    assert "implicit" in decision.reason


def test_no_policies_at_all_is_an_implicit_deny() -> None:
    assert not evaluate([], Request("s3:GetObject", OBJECT)).allowed


def test_an_explicit_deny_beats_any_allow() -> None:
    decision = evaluate([policy(allow("s3:*"), deny("s3:GetObject", "arn:aws:s3:::bucket/datasets/*", Sid="No"))],
                        Request("s3:GetObject", OBJECT))
    assert not decision.allowed
    assert [s.sid for s in decision.denied_by] == ["No"]
    assert "explicit" in decision.reason


def test_an_explicit_deny_in_one_policy_beats_an_allow_in_another() -> None:
    policies = [policy(allow("s3:GetObject", OBJECT), name="A"), policy(deny("s3:*"), name="B")]
    decision = evaluate(policies, Request("s3:GetObject", OBJECT))
    assert not decision.allowed
    assert [s.policy for s in decision.denied_by] == ["B"]


def test_a_deny_that_does_not_match_leaves_the_allow_in_force() -> None:
    policies = [policy(allow("s3:*")), policy(deny("s3:DeleteObject"))]
    assert evaluate(policies, Request("s3:GetObject", OBJECT)).allowed


def test_an_effect_other_than_allow_or_deny_is_rejected() -> None:
    with pytest.raises(ValueError, match="Effect"):
        evaluate([policy({"Effect": "allow", "Action": "*", "Resource": "*"})], Request("s3:GetObject", OBJECT))


def test_a_statement_given_as_a_single_object_is_read() -> None:
    single = Policy.from_document("p", {"Statement": allow("s3:GetObject")})
    assert evaluate([single], Request("s3:GetObject", OBJECT)).allowed


# -- actions ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "action", "expected"), [
    ("s3:GetObject", "s3:GetObject", True),
    ("s3:Get*", "s3:GetObject", True),
    ("s3:Get*", "s3:GetObjectTagging", True),
    ("s3:Get*", "s3:PutObject", False),
    ("bedrock:*", "bedrock:StopModelCustomizationJob", True),
    ("bedrock:*", "sagemaker:InvokeEndpoint", False),
    ("*", "dynamodb:UpdateItem", True),
    ("s3:?etObject", "s3:GetObject", True),
    ("s3:?etObject", "s3:GGetObject", False),  # ? is exactly one character
    ("S3:GETOBJECT", "s3:GetObject", True),  # actions are case-insensitive
    ("s3:getobject", "S3:GetObject", True),
    ("s3:GetObject", "s3:GetObjectVersion", False),  # no implicit prefix match
])
def test_action_patterns(pattern: str, action: str, expected: bool) -> None:
    assert allowed(allow(pattern), action=action) is expected


@pytest.mark.parametrize(("action", "expected"), [
    ("s3:GetObject", True),
    ("s3:DeleteObject", False),
    ("S3:deleteobject", False),
])
def test_not_action_allows_everything_but_the_listed_actions(action: str, expected: bool) -> None:
    assert allowed({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}, action=action) is expected


def test_a_deny_with_not_action_denies_everything_but_the_listed_actions() -> None:
    policies = [policy(allow("*"), {"Effect": "Deny", "NotAction": ["logs:*"], "Resource": "*"})]
    assert evaluate(policies, Request("logs:PutLogEvents", "*")).allowed
    assert not evaluate(policies, Request("s3:GetObject", OBJECT)).allowed


# -- resources -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "resource", "expected"), [
    ("*", OBJECT, True),
    ("arn:aws:s3:::bucket/datasets/*", OBJECT, True),  # * spans the '/' of nested keys
    ("arn:aws:s3:::bucket/datasets/*", "arn:aws:s3:::bucket/other/x.jsonl", False),
    ("arn:aws:s3:::bucket/datasets/*", "arn:aws:s3:::bucket", False),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket", True),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket2", False),
    ("arn:aws:s3:::Bucket/datasets/*", OBJECT, False),  # ARNs are case-sensitive
    (JOBS, JOB, True),
    (JOBS, PROVISIONED, False),  # another resource type of the same service
    ("arn:aws:bedrock:*:*:model-customization-job/*", JOB, True),
    ("arn:aws:bedrock:*:*:model-customization-job/*", FOREIGN_JOB, True),
    ("arn:aws:bedrock:*:*:model-customization-job/*", PROVISIONED, False),
    ("arn:aws:bedrock:us-east-?:123456789012:model-customization-job/*", JOB, True),
    ("arn:aws:bedrock:us-west-2:123456789012:model-customization-job/*", JOB, False),  # region segment
    ("arn:aws:bedrock:us-east-1:111111111111:model-customization-job/*", JOB, False),  # account segment
    ("arn:aws:dynamodb:*:*:table/Ledger", "arn:aws:dynamodb:us-east-1:123456789012:table/Ledger/index/ByRun", False),
    ("arn:aws:dynamodb:*:*:table/Ledger*", "arn:aws:dynamodb:us-east-1:123456789012:table/Ledger/index/ByRun", True),
])
def test_resource_patterns_match_arn_segment_by_segment(pattern: str, resource: str, expected: bool) -> None:
    assert allowed(allow("*", pattern), resource=resource) is expected


def test_a_list_of_resources_matches_any_of_them() -> None:
    statement = allow("bedrock:*", [PROVISIONED, JOBS])
    assert allowed(statement, action="bedrock:GetModelCustomizationJob", resource=JOB)
    assert allowed(statement, action="bedrock:GetProvisionedModelThroughput", resource=PROVISIONED)


@pytest.mark.parametrize(("resource", "expected"), [
    (OBJECT, True),
    ("arn:aws:s3:::secrets/key", False),
    ("arn:aws:s3:::secrets", False),
])
def test_not_resource_allows_every_resource_but_the_listed_ones(resource: str, expected: bool) -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "NotResource": ["arn:aws:s3:::secrets", "arn:aws:s3:::secrets/*"]}
    assert allowed(statement, resource=resource) is expected


def test_a_deny_with_not_resource_denies_everything_outside_it() -> None:
    policies = [policy(allow("s3:*"), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::bucket/*"})]
    assert evaluate(policies, Request("s3:GetObject", OBJECT)).allowed
    assert not evaluate(policies, Request("s3:GetObject", "arn:aws:s3:::elsewhere/x")).allowed


# -- condition operators ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("operator", "expected_value", "request_value", "expected"), [
    ("StringEquals", "unit", "unit", True),
    ("StringEquals", "unit", "Unit", False),  # case-sensitive
    ("StringEquals", "unit", "other", False),
    ("StringEquals", ["a", "unit"], "unit", True),  # values of one key are ORed
    ("StringNotEquals", "unit", "other", True),
    ("StringNotEquals", "unit", "unit", False),
    ("StringNotEquals", ["a", "b"], "a", False),  # negated: NOR of the values
    ("StringNotEquals", ["a", "b"], "c", True),
    ("StringEqualsIgnoreCase", "unit", "UNIT", True),
    ("StringEqualsIgnoreCase", "unit", "other", False),
    ("StringNotEqualsIgnoreCase", "unit", "UNIT", False),
    ("StringNotEqualsIgnoreCase", "unit", "other", True),
    ("StringLike", "datasets/*", "datasets/2024/x", True),
    ("StringLike", "datasets/*", "models/x", False),
    ("StringLike", "run-?", "run-1", True),
    ("StringLike", "run-?", "run-12", False),
    ("StringLike", "Datasets/*", "datasets/x", False),  # case-sensitive
    ("StringNotLike", "datasets/*", "models/x", True),
    ("StringNotLike", "datasets/*", "datasets/x", False),
    ("ArnEquals", JOB, JOB, True),
    ("ArnEquals", JOB, PROVISIONED, False),
    ("ArnEquals", JOBS, JOB, True),  # AWS: ArnEquals takes wildcards exactly like ArnLike
    ("ArnLike", JOBS, JOB, True),
    ("ArnLike", "arn:aws:bedrock:*:*:model-customization-job/*", JOB, True),
    ("ArnLike", JOBS, PROVISIONED, False),
    ("ArnLike", JOBS, "not-an-arn", False),
    ("ArnNotEquals", JOB, PROVISIONED, True),
    ("ArnNotEquals", JOB, JOB, False),
    ("ArnNotLike", JOBS, PROVISIONED, True),
    ("ArnNotLike", JOBS, JOB, False),
    ("Bool", "true", "true", True),
    ("Bool", "true", "false", False),
    ("Bool", True, "true", True),  # YAML booleans in the template
    ("Bool", False, "false", True),
    ("Bool", "false", "true", False),
])
def test_condition_operators(operator: str, expected_value: Any, request_value: str, expected: bool) -> None:
    assert holds(operator, "k:Key", expected_value, **{"k:Key": request_value}) is expected


@pytest.mark.parametrize(("operator", "expected"), [
    # a key absent from the request matches nothing: a positive operator is false ...
    ("StringEquals", False),
    ("StringEqualsIgnoreCase", False),
    ("StringLike", False),
    ("ArnEquals", False),
    ("ArnLike", False),
    ("Bool", False),
    # ... and a negated one is true (AWS: "If the policy condition requires that the key is not matched, such as
    # StringNotLike or ArnNotLike, and the right key is not present, the condition is true")
    ("StringNotEquals", True),
    ("StringNotEqualsIgnoreCase", True),
    ("StringNotLike", True),
    ("ArnNotEquals", True),
    ("ArnNotLike", True),
])
def test_a_condition_on_an_absent_key(operator: str, expected: bool) -> None:
    assert holds(operator, "k:Missing", JOB) is expected


@pytest.mark.parametrize(("operator", "context", "expected"), [
    ("StringEqualsIfExists", {}, True),  # absent: holds
    ("StringEqualsIfExists", {"k:Key": "unit"}, True),
    ("StringEqualsIfExists", {"k:Key": "other"}, False),  # present: compared as usual
    ("StringNotEqualsIfExists", {}, True),
    ("StringNotEqualsIfExists", {"k:Key": "unit"}, False),
    ("StringLikeIfExists", {"k:Key": "un*"}, False),
    ("StringLikeIfExists", {"k:Key": "unit"}, True),
    ("BoolIfExists", {}, True),
])
def test_if_exists_holds_for_an_absent_key_and_compares_a_present_one(operator: str, context: dict[str, str],
                                                                      expected: bool) -> None:
    expected_value = "true" if operator.startswith("Bool") else "unit"
    if operator.startswith("Bool"):
        context = dict.fromkeys(context, "true")
    assert holds(operator, "k:Key", expected_value, **context) is expected


@pytest.mark.parametrize(("expected_value", "context", "expected"), [
    ("true", {}, True),  # Null: true means "the key is absent"
    ("true", {"k:Key": "x"}, False),
    ("false", {"k:Key": "x"}, True),
    ("false", {}, False),
    (True, {}, True),
    ("true", {"k:Key": []}, True),  # an empty multivalued key counts as absent
])
def test_null_checks_whether_the_key_is_absent(expected_value: Any, context: dict[str, Any], expected: bool) -> None:
    assert holds("Null", "k:Key", expected_value, **context) is expected


@pytest.mark.parametrize(("operator", "policy_values", "tag_keys", "expected"), [
    # ForAllValues: every value in the request matches at least one policy value; true when there are none
    ("ForAllValues:StringEquals", ["pipeline", "run"], ["pipeline"], True),
    ("ForAllValues:StringEquals", ["pipeline", "run"], ["pipeline", "run"], True),
    ("ForAllValues:StringEquals", ["pipeline", "run"], ["pipeline", "owner"], False),
    ("ForAllValues:StringEquals", ["pipeline", "run"], None, True),  # absent key
    ("ForAllValues:StringEquals", ["pipeline", "run"], [], True),
    ("ForAllValues:StringLike", ["pipe*"], ["pipeline", "pipes"], True),
    # ForAnyValue: at least one value in the request matches; false when there are none
    ("ForAnyValue:StringEquals", ["pipeline"], ["owner", "pipeline"], True),
    ("ForAnyValue:StringEquals", ["pipeline"], ["owner", "cost"], False),
    ("ForAnyValue:StringEquals", ["pipeline"], None, False),  # absent key
    ("ForAnyValue:StringEquals", ["pipeline"], [], False),
    ("ForAnyValue:StringLike", ["pipe*"], ["owner", "pipes"], True),
    # negated operators: each request value must match none of the policy values, then the set operator applies
    ("ForAllValues:StringNotLike", ["key1*"], ["key1:legal"], False),  # AWS's documented example table
    ("ForAllValues:StringNotLike", ["key1*"], ["key2:audit"], True),
    ("ForAllValues:StringNotLike", ["key1*"], None, True),
    ("ForAllValues:StringNotEquals", ["a", "b"], ["c", "d"], True),
    ("ForAllValues:StringNotEquals", ["a", "b"], ["a", "c"], False),  # "a" is one of them
    ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "c"], True),  # "c" is none of them
    ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "b"], False),
    ("ForAnyValue:StringNotEquals", ["a", "b"], None, False),
])
def test_set_operators_on_a_multivalued_key(operator: str, policy_values: list[str], tag_keys: list[str] | None,
                                           expected: bool) -> None:
    context = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    assert holds(operator, "aws:TagKeys", policy_values, **context) is expected


def test_condition_key_names_are_case_insensitive() -> None:
    assert holds("StringEquals", "aws:ResourceTag/pipeline", "unit", **{"AWS:RESOURCETAG/PIPELINE": "unit"})
    assert holds("StringEquals", "AWS:ResourceTag/Pipeline", "unit", **{"aws:resourcetag/pipeline": "unit"})


def test_all_keys_and_all_operators_of_a_condition_must_hold() -> None:
    condition = {"StringEquals": {"k:A": "1", "k:B": "2"}, "StringLike": {"k:C": "x*"}}
    statement = allow(Condition=condition)
    assert allowed(statement, **{"k:A": "1", "k:B": "2", "k:C": "xyz"})
    assert not allowed(statement, **{"k:A": "1", "k:B": "3", "k:C": "xyz"})  # one key of one operator fails
    assert not allowed(statement, **{"k:A": "1", "k:B": "2", "k:C": "yz"})  # the other operator fails
    assert not allowed(statement, **{"k:A": "1", "k:C": "xyz"})  # a key is missing


def test_a_conditioned_deny_applies_only_when_its_condition_holds() -> None:
    policies = [policy(allow("bedrock:*"), deny("bedrock:*", Condition={"StringNotEquals": {
        "aws:ResourceTag/pipeline": "unit"}}))]
    assert evaluate(policies, Request("bedrock:StopModelCustomizationJob", JOB,
                                      {"aws:ResourceTag/pipeline": "unit"})).allowed
    assert not evaluate(policies, Request("bedrock:StopModelCustomizationJob", JOB,
                                          {"aws:ResourceTag/pipeline": "other"})).allowed
    assert not evaluate(policies, Request("bedrock:StopModelCustomizationJob", JOB)).allowed  # untagged: not "unit"


# -- operators the evaluator does not know ---------------------------------------------------------------------------

@pytest.mark.parametrize("operator", ["NumericLessThan", "DateGreaterThan", "IpAddress", "StringMatchesRegex",
                                      "ForEveryValue:StringEquals"])
def test_an_allow_with_an_unknown_operator_does_not_apply_and_is_reported(operator: str) -> None:
    statement = allow("s3:GetObject", Sid="Odd", Condition={operator: {"k:Key": "1"}})
    decision = evaluate([policy(statement, name="P")], Request("s3:GetObject", OBJECT, {"k:Key": "1"}))
    assert not decision.allowed
    assert decision.allowed_by == []
    assert decision.unevaluated == [f"P/Odd: {operator} on k:Key"]


def test_a_deny_with_an_unknown_operator_still_applies_and_is_reported() -> None:
    statement = deny("s3:*", Sid="Odd", Condition={"NumericGreaterThan": {"s3:max-keys": "10"}})
    decision = evaluate([policy(allow("s3:*"), statement, name="P")], Request("s3:GetObject", OBJECT))
    assert not decision.allowed
    assert [s.sid for s in decision.denied_by] == ["Odd"]
    assert decision.unevaluated == ["P/Odd: NumericGreaterThan on s3:max-keys"]


@pytest.mark.parametrize("condition", [
    {"NumericGreaterThan": {"s3:max-keys": "10"}, "StringEquals": {"k:Key": "yes"}},
    {"StringEquals": {"k:Key": "yes"}, "NumericGreaterThan": {"s3:max-keys": "10"}},
])
def test_a_deny_with_an_unknown_operator_still_needs_its_other_conditions_in_any_order(
        condition: dict[str, Any]) -> None:
    policies = [policy(allow("s3:*"), deny("s3:*", Condition=condition))]
    assert not evaluate(policies, Request("s3:GetObject", OBJECT, {"k:Key": "yes"})).allowed
    assert evaluate(policies, Request("s3:GetObject", OBJECT, {"k:Key": "no"})).allowed


def test_a_statement_that_does_not_match_the_action_reports_nothing_unevaluated() -> None:
    statement = allow("s3:PutObject", Condition={"NumericLessThan": {"k:Key": "1"}})
    assert evaluate([policy(statement)], Request("s3:GetObject", OBJECT)).unevaluated == []


# -- what one call asks IAM for --------------------------------------------------------------------------------------

def env(**lookups: Any) -> Environment:
    return Environment(REGION, ACCOUNT, **lookups)


def asked(requests: list[Request]) -> list[tuple[str, str]]:
    return [(r.action, r.resource) for r in requests]


def test_s3_put_object_with_tagging_asks_for_put_object_and_put_object_tagging_on_the_object() -> None:
    requests = authorizations(env(), "S3", "PutObject", {"Bucket": "b", "Key": "datasets/x.jsonl",
                                                         "Tagging": "run=1"})
    assert asked(requests) == [("s3:PutObject", "arn:aws:s3:::b/datasets/x.jsonl"),
                               ("s3:PutObjectTagging", "arn:aws:s3:::b/datasets/x.jsonl")]


def test_s3_put_object_without_tagging_asks_for_put_object_only() -> None:
    requests = authorizations(env(), "S3", "PutObject", {"Bucket": "b", "Key": "k"})
    assert asked(requests) == [("s3:PutObject", "arn:aws:s3:::b/k")]


def test_s3_put_object_to_a_kms_bucket_also_asks_for_a_data_key_via_s3() -> None:
    requests = authorizations(env(bucket_kms_key=lambda bucket: "k-1"), "S3", "PutObject", {"Bucket": "b", "Key": "k"})
    assert asked(requests) == [("s3:PutObject", "arn:aws:s3:::b/k"),
                               ("kms:GenerateDataKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k-1")]
    assert requests[1].context == {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}


def test_s3_list_objects_v2_asks_for_list_bucket_on_the_bucket_with_the_prefix() -> None:
    (request,) = authorizations(env(), "S3", "ListObjectsV2", {"Bucket": "b", "Prefix": "datasets/", "MaxKeys": 5})
    assert (request.action, request.resource) == ("s3:ListBucket", "arn:aws:s3:::b")
    assert request.context == {"s3:prefix": "datasets/", "s3:max-keys": "5"}


def test_a_prefix_condition_on_list_bucket_is_checked_against_the_call() -> None:
    statement = allow("s3:ListBucket", "arn:aws:s3:::b", Condition={"StringLike": {"s3:prefix": "datasets/*"}})
    ok = authorizations(env(), "S3", "ListObjectsV2", {"Bucket": "b", "Prefix": "datasets/2024/"})
    other = authorizations(env(), "S3", "ListObjectsV2", {"Bucket": "b", "Prefix": "models/"})
    assert evaluate([policy(statement)], ok[0]).allowed
    assert not evaluate([policy(statement)], other[0]).allowed


def test_dynamodb_update_item_asks_for_update_item_on_the_table() -> None:
    (request,) = authorizations(env(table_hash_key=lambda table: "pk"), "DynamoDB", "UpdateItem",
                                {"TableName": "Ledger", "Key": {"pk": {"S": "run-1"}}, "ReturnValues": "ALL_NEW"})
    assert (request.action, request.resource) == ("dynamodb:UpdateItem",
                                                  f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Ledger")
    assert request.context == {"dynamodb:LeadingKeys": ["run-1"], "dynamodb:ReturnValues": "ALL_NEW"}


def test_bedrock_stop_job_asks_on_the_job_arn_with_its_tags_as_resource_tags() -> None:
    tags = {JOB: {"pipeline": "unit", "run": "r1"}}
    (request,) = authorizations(env(resource_tags=tags.get), "Bedrock", "StopModelCustomizationJob",
                                {"jobIdentifier": "abc123"})
    assert (request.action, request.resource) == ("bedrock:StopModelCustomizationJob", JOB)
    assert request.context == {"aws:ResourceTag/pipeline": "unit", "aws:ResourceTag/run": "r1"}


def test_bedrock_stop_job_given_an_arn_keeps_it() -> None:
    (request,) = authorizations(env(), "Bedrock", "StopModelCustomizationJob", {"jobIdentifier": JOB})
    assert request.resource == JOB and request.context == {}


@pytest.mark.parametrize(("service", "operation"), [
    ("S3", "DeleteBucket"),
    ("DynamoDB", "DeleteTable"),
    ("Bedrock", "DeleteModelInvocationLoggingConfiguration"),
    ("SNS", "Subscribe"),
    ("Lambda", "Invoke"),  # a whole service without a mapping
])
def test_an_unmapped_operation_raises(service: str, operation: str) -> None:
    with pytest.raises(UnmappedOperation):
        authorizations(env(), service, operation, {})


# -- a real function's policies from template.yaml -------------------------------------------------------------------

@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack(REPO / "template.yaml", "unit")


def test_stop_run_function_holds_its_managed_policies_and_sams_basic_role(stack: Stack) -> None:
    policies = {p.name: p for p in function_policies(stack, "StopRunFunction")}
    for managed in ("PipelineRunAccessPolicy", "PipelineNotifyPolicy", "ServingTeardownPolicy", "inline"):
        assert managed in policies and policies[managed].under_test
    basic = policies["sam:AWSLambdaBasicExecutionRole"]
    assert not basic.under_test
    assert {a for s in basic.statements for a in s.actions} >= {"logs:CreateLogStream", "logs:PutLogEvents"}


@pytest.mark.parametrize(("pipeline_tag", "expected"), [("unit", True), ("another-stack", False), (None, False)])
def test_stop_run_may_stop_only_its_own_stacks_jobs(stack: Stack, pipeline_tag: str | None, expected: bool) -> None:
    tags = {JOB: {"pipeline": pipeline_tag}} if pipeline_tag else {}
    (request,) = authorizations(env(resource_tags=tags.get), "Bedrock", "StopModelCustomizationJob",
                                {"jobIdentifier": "abc123"})
    decision = evaluate(function_policies(stack, "StopRunFunction"), request)
    assert decision.allowed is expected
    assert decision.unevaluated == []
    if expected:
        assert [s.label for s in decision.allowed_by] == ["inline/StopThisStacksJobsOnly"]


def test_stop_run_may_not_stop_a_provisioned_model(stack: Stack) -> None:
    request = Request("bedrock:StopModelCustomizationJob", PROVISIONED, {"aws:ResourceTag/pipeline": "unit"})
    assert not evaluate(function_policies(stack, "StopRunFunction"), request).allowed
