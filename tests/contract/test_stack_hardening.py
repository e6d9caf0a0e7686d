"""The stack's own guarantees, for every function present and future: logs kept, failures caught and alarmed,
permissions no wider than their purpose, and a template that deploys on a fresh account."""

import json
import re
import tomllib

import pytest

from local_emulation.template import Stack
from tests.conftest import REPO

LAYER = REPO / "layers/common/python"


@pytest.fixture(scope="module")
def stack():
    return Stack(REPO / "template.yaml", "contract")


def functions(stack):
    return stack.of_type("AWS::Serverless::Function")


def events(stack, lid):
    return {name: (event["Type"], stack.resolve(event.get("Properties") or {}))
            for name, event in (functions(stack)[lid]["Properties"].get("Events") or {}).items()}


def statements(stack, lid):
    """Every statement a function's own policies grant (inline and the stack's managed policies)."""
    found = []
    for policy in stack.resolve(functions(stack)[lid]["Properties"].get("Policies") or []):
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
        elif isinstance(policy, str):
            lid_of = next(k for k, v in stack.physical.items() if v.ref == policy)
            found += stack.resolve(stack.resources[lid_of]["Properties"]["PolicyDocument"])["Statement"]
    return found


def actions(statement):
    value = statement["Action"]
    return [value] if isinstance(value, str) else value


def alarms(stack):
    return {lid: stack.resolve(r["Properties"]) for lid, r in stack.of_type("AWS::CloudWatch::Alarm").items()}


# ---------------------------------------------------------------- logs


def test_every_function_logs_to_a_group_with_the_retention_parameter(stack):
    groups = stack.of_type("AWS::Logs::LogGroup")
    for lid in functions(stack):
        config = stack.function_property(lid, "LoggingConfig")
        assert config["LogFormat"] == "JSON", lid
        group = next((g for g, r in groups.items() if stack.ref(g) == config.get("LogGroup")), None)
        assert group, f"{lid} logs to no log group of this stack"
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, lid
        # Lambda refuses custom group names that start with aws/ (and would then log nowhere)
        assert not stack.ref(group).startswith("aws/"), lid


def test_the_api_access_logs_follow_the_parameter(stack):
    for choice, logs in (("create-account-role", True), ("account-role-exists", True), ("off", False)):
        other = Stack(REPO / "template.yaml", "contract", {"ApiAccessLogs": choice})
        api = other.resolve(other.resources["HeadlineApi"]["Properties"])
        assert ("AccessLogSetting" in api) is logs, choice
        assert bool(other.of_type("AWS::ApiGateway::Account")) is (choice == "create-account-role")
        assert bool(other.of_type("AWS::Logs::LogGroup").get("HeadlineApiAccessLogs")) is logs


def test_the_stage_waits_for_the_account_logging_role_it_creates(stack):
    api = stack.resources["HeadlineApi"]["Properties"]
    # DependsOn cannot be conditional: a stage variable refers to the account resource instead
    assert api["Variables"]["accountLoggingRole"]["Fn::If"][1] == {"Ref": "ApiGatewayAccount"}
    for lid in ("ApiGatewayAccount", "ApiGatewayCloudWatchRole"):  # account-wide: other stacks rely on them
        assert stack.resources[lid]["DeletionPolicy"] == "Retain", lid


def test_one_stage_only(stack):
    # without OpenApiVersion, SAM adds a stage named "Stage" with no logs, throttling or usage plan
    assert stack.resources["HeadlineApi"]["Properties"]["OpenApiVersion"].startswith("3.")


# ---------------------------------------------------------------- failures are retried, kept and alarmed


def test_every_function_retries_and_keeps_what_failed(stack):
    queues = stack.of_type("AWS::SQS::Queue")
    for lid in functions(stack):
        kinds = {kind for kind, _ in events(stack, lid).values()}
        assert kinds, f"{lid} has no trigger: say how it runs and what happens when it fails"
        for name, (kind, props) in events(stack, lid).items():
            if kind in ("EventBridgeRule", "Schedule"):
                assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1, (lid, name)
                assert props["DeadLetterConfig"]["Arn"] in {stack.get_att(q, "Arn") for q in queues}, (lid, name)
            elif kind == "SQS":
                queue = next(q for q in queues if stack.get_att(q, "Arn") == props["Queue"])
                redrive = stack.resolve(queues[queue]["Properties"]["RedrivePolicy"])
                assert redrive["maxReceiveCount"] >= 1 and redrive["deadLetterTargetArn"], (lid, name)
                assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], (lid, name)
            else:
                assert kind == "Api", f"{lid}.{name}: {kind} is not covered by this test yet"
        if kinds & {"EventBridgeRule", "Schedule"}:  # asynchronous: Lambda's own retries, then a destination
            config = stack.resolve(functions(stack)[lid]["Properties"]["EventInvokeConfig"])
            assert config["MaximumRetryAttempts"] >= 1, lid
            assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS", lid


def test_every_function_has_an_errors_alarm(stack):
    watched = {a["Dimensions"][0]["Value"] for a in alarms(stack).values()
               if a["Namespace"] == "AWS/Lambda" and a["MetricName"] == "Errors"}
    for lid in functions(stack):
        assert stack.ref(lid) in watched, f"{lid} has no Errors alarm"


def dead_letter_queue_arns(stack):
    arns = set()
    for lid in functions(stack):
        for _kind, props in events(stack, lid).values():
            if "DeadLetterConfig" in props:
                arns.add(props["DeadLetterConfig"]["Arn"])
        config = stack.resolve(functions(stack)[lid]["Properties"].get("EventInvokeConfig") or {})
        if config:
            arns.add(config["DestinationConfig"]["OnFailure"]["Destination"])
    for queue in stack.of_type("AWS::SQS::Queue").values():
        if "RedrivePolicy" in queue["Properties"]:
            arns.add(stack.resolve(queue["Properties"]["RedrivePolicy"])["deadLetterTargetArn"])
    return arns


def test_every_dead_letter_queue_raises_an_alarm_when_not_empty(stack):
    queues = stack.of_type("AWS::SQS::Queue")
    watched = {a["Dimensions"][0]["Value"] for a in alarms(stack).values()
               if a["MetricName"] == "ApproximateNumberOfMessagesVisible" and a["Threshold"] == 0}
    arns = dead_letter_queue_arns(stack)
    assert len(arns) >= 2
    for arn in arns:
        queue = next(q for q in queues if stack.get_att(q, "Arn") == arn)
        assert stack.get_att(queue, "QueueName") in watched, f"{queue} fills silently"


def test_every_alarm_notifies(stack):
    for lid, alarm in alarms(stack).items():
        assert alarm["AlarmActions"] == [stack.ref("NotificationsTopic")], lid


def test_the_dead_letter_queue_takes_only_this_stacks_rules():
    stack = Stack(REPO / "template.yaml", "contract")
    policy = stack.resources["PipelineDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    listed = {ref["Fn::GetAtt"][0] for ref in policy["Condition"]["ArnEquals"]["aws:SourceArn"]}
    # SAM names the rule of event E of function F "FE"
    dead_lettering = {f"{lid}{name}" for lid in functions(stack) for name, (_, props) in events(stack, lid).items()
                      if props.get("DeadLetterConfig", {}).get("Arn") == stack.get_att("PipelineDeadLetterQueue",
                                                                                          "Arn")}
    assert listed == dead_lettering


def test_no_reserved_concurrency(stack):
    # new accounts have a concurrency limit of 10, and reserving any of it fails the deployment there
    for lid in functions(stack):
        assert stack.function_property(lid, "ReservedConcurrentExecutions") is None, lid


# ---------------------------------------------------------------- permissions


def test_jobs_are_stopped_only_when_this_stack_tagged_them(stack):
    stoppers = 0
    for lid in functions(stack):
        for statement in statements(stack, lid):
            if "bedrock:StopModelCustomizationJob" in actions(statement):
                stoppers += 1
                assert actions(statement) == ["bedrock:StopModelCustomizationJob"], lid
                assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/pipeline": "contract"}}, lid
    assert stoppers == 3  # the start (a run stopped meanwhile), the stop request, the sweeper


def test_the_training_code_tags_jobs_as_the_condition_expects():
    from ft_pipeline.naming import PIPELINE_TAG, pipeline_tag
    assert PIPELINE_TAG == "pipeline" and pipeline_tag("contract", "ftp") == "contract"


def test_network_interfaces_only_in_the_chosen_subnets():
    stack = Stack(REPO / "template.yaml", "contract",
                  {"VpcSubnetIds": "subnet-0a,subnet-0b", "VpcSecurityGroupIds": "sg-01"})
    role = stack.resolve(stack.resources["BedrockCustomizationRole"]["Properties"])
    granted = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    ec2 = [s for s in granted if any(a.startswith("ec2:") for a in actions(s))]
    assert ec2
    for statement in ec2:
        if all(a.startswith("ec2:Describe") for a in actions(statement)):
            continue  # Describe* takes no resource
        assert statement["Resource"] != "*" or statement.get("Condition"), statement["Sid"]
    chosen = next(s for s in ec2 if s["Sid"] == "InTheChosenSubnetsAndSecurityGroups")
    assert sorted(chosen["Resource"]) == ["arn:aws:ec2:*:*:security-group/sg-01", "arn:aws:ec2:*:*:subnet/subnet-0a",
                                          "arn:aws:ec2:*:*:subnet/subnet-0b"]
    without_vpc = Stack(REPO / "template.yaml", "contract")
    role = without_vpc.resolve(without_vpc.resources["BedrockCustomizationRole"]["Properties"])
    assert not [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]
                if any(a.startswith("ec2:") for a in actions(s))]


def test_the_notification_key_serves_only_the_alarms(stack):
    policy = stack.resources["NotificationsKey"]["Properties"]["KeyPolicy"]["Statement"]
    services = [s["Principal"]["Service"] for s in policy if "Service" in s["Principal"]]
    assert services == ["cloudwatch.amazonaws.com"]


def test_endpoint_names_are_lowercase():
    pattern = Stack(REPO / "template.yaml", "contract").template["Parameters"]["HeadlineEndpointName"]["AllowedPattern"]
    for ok in ("", "headline-classifier", "a", "x1-2"):
        assert re.fullmatch(pattern, ok), ok
    for bad in ("Headline-Classifier", "-x", "x_y", "a" * 64):
        assert not re.fullmatch(pattern, bad), bad


def test_a_data_key_reaches_everything_that_touches_the_bucket():
    stack = Stack(REPO / "template.yaml", "contract",
                  {"DataKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"})
    bucket = stack.resolve(stack.resources["DataBucket"]["Properties"])
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms"
    key_policy = stack.ref("DataKeyPolicy")
    bucket_arn = stack.get_att("DataBucket", "Arn")
    for lid in functions(stack):
        touches = any(str(r).startswith(bucket_arn) for s in statements(stack, lid) for r in
                      ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]))
        policies = stack.resolve(functions(stack)[lid]["Properties"].get("Policies") or [])
        assert (key_policy in policies) is touches, lid
    role = stack.resolve(stack.resources["BedrockCustomizationRole"]["Properties"])
    assert key_policy in role["ManagedPolicyArns"]


def test_rejected_and_intermediate_data_expire(stack):
    from ft_pipeline.naming import retention_tag
    rules = stack.resolve(stack.resources["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"])
    by_tag = {r["TagFilters"][0]["Value"]: r for r in rules if "TagFilters" in r}
    assert by_tag["rejected"]["ExpirationInDays"] == stack.parameters["RejectedDataRetentionDays"]
    assert by_tag["intermediate"]["ExpirationInDays"] == stack.parameters["IntermediateDataRetentionDays"]
    assert retention_tag("datasets/r1/rejected.jsonl") == ("retention", "rejected")
    assert retention_tag("datasets/r1/evaluation/chunks/00001.jsonl") == ("retention", "intermediate")
    for kept in ("datasets/r1/train.jsonl", "datasets/r1/report.json", "datasets/r1/evaluation/report.html",
                 "incoming/rejected.jsonl"):
        assert retention_tag(kept) is None, kept


# ---------------------------------------------------------------- dashboard, metrics, dependencies


def emitted_metric_names():
    """Every name the layer emits, spelled out at the call (the code writes each name literally for this)."""
    source = "\n".join(p.read_text() for p in (LAYER / "ft_pipeline").rglob("*.py"))
    return set(re.findall(r'add_metric\(name="(\w+)"', source)) | set(re.findall(r'record_gauge\(\s*"(\w+)"', source))


def test_the_dashboard_shows_metrics_the_code_emits(stack):
    body = stack.resources["PipelineDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body.replace("${AlarmArns}", '"a"')))["widgets"]
    shown = set()
    for widget in widgets:
        namespace = None  # a row may say "." for "the row above's namespace" (CloudWatch's shorthand)
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], dict):  # a SEARCH or math expression
                shown |= set(re.findall(r'FineTuningPipeline[^}]*} MetricName="(\w+)"', metric[0]["expression"]))
                continue
            namespace = namespace if metric[0] == "." else metric[0]
            if namespace == "FineTuningPipeline":
                shown.add(metric[1])
    assert shown, "no pipeline metric on the dashboard"
    missing = shown - emitted_metric_names()
    assert not missing, f"the dashboard shows metrics nothing emits: {sorted(missing)}"


def test_the_alarms_on_pipeline_metrics_watch_emitted_metrics(stack):
    watched = {a["MetricName"] for a in alarms(stack).values() if a["Namespace"] == "FineTuningPipeline"}
    assert watched and watched <= emitted_metric_names()


def test_boto3_and_botocore_are_pinned_together_in_the_layer():
    pins = dict(line.split("==") for line in (LAYER / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert "boto3" in pins and "botocore" in pins
    # boto3 x.y.z requires botocore x'.y.z' of the same release train (boto3 1.44.5 -> botocore 1.44.5)
    assert pins["boto3"].split(".")[1:] == pins["botocore"].split(".")[1:]


# ---------------------------------------------------------------- samconfig


@pytest.mark.parametrize("env", ["default", "dev", "prod"])
def test_samconfig_environments_deploy_with_valid_parameters(env):
    config = tomllib.loads((REPO / "samconfig.toml").read_text())[env]
    deploy = config["deploy"]["parameters"]
    stack_name = deploy.get("stack_name") or config["global"]["parameters"]["stack_name"]
    assert re.fullmatch(r"[a-zA-Z][-a-zA-Z0-9]{0,127}", stack_name)
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"].split())
    Stack(REPO / "template.yaml", stack_name, overrides)  # raises on an unknown value or pattern
    params = Stack(REPO / "template.yaml", stack_name).template["Parameters"]
    assert set(overrides) <= set(params), set(overrides) - set(params)
    assert "build" in config and "validate" in config, env


def test_dev_and_prod_are_different_stacks():
    config = tomllib.loads((REPO / "samconfig.toml").read_text())
    names = {env: config[env]["deploy"]["parameters"].get("stack_name") or
             config[env]["global"]["parameters"]["stack_name"] for env in ("dev", "prod")}
    assert names["dev"] != names["prod"]
