"""template.yaml against the contracts: patterns, environment, retries, permissions, runtime."""

import json

import pytest
from moto.events.models import EventPattern

from ft_pipeline.contracts import DatasetRejected, DatasetValidated, S3ObjectCreatedEvent, pattern_for
from ft_pipeline.settings import ValidatorSettings
from local_emulation.template import Stack
from tests.conftest import EVENTS, REPO


@pytest.fixture(scope="module")
def stack():
    return Stack(REPO / "template.yaml", "contract")


def functions(stack):
    return stack.of_type("AWS::Serverless::Function")


def rules(stack):
    for lid, res in functions(stack).items():
        for name, event in (res["Properties"].get("Events") or {}).items():
            if event["Type"] == "EventBridgeRule":
                yield lid, name, stack.resolve(event["Properties"])


def matches(pattern, event) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def fixture(name, bucket=None):
    event = json.loads((EVENTS / name).read_text())
    if bucket:
        event["detail"]["bucket"]["name"] = bucket
    return event


def test_validator_rule_is_the_contract_pattern(stack):
    props = stack.resolve(functions(stack)["DatasetValidatorFunction"]["Properties"]["Events"]["DatasetUploaded"]
                          ["Properties"])
    bucket, prefix = stack.ref("DataBucket"), stack.parameters["IncomingPrefix"]
    assert props["Pattern"] == S3ObjectCreatedEvent.pattern(bucket, prefix)
    assert "EventBusName" not in props  # S3 sends to the default bus


def test_validator_rule_matches_uploads_and_nothing_else(stack):
    pattern = S3ObjectCreatedEvent.pattern(stack.ref("DataBucket"), stack.parameters["IncomingPrefix"])
    bucket = stack.ref("DataBucket")
    assert matches(pattern, fixture("s3_object_created.json", bucket))
    assert matches(pattern, fixture("s3_object_created_encoded_key.json", bucket))
    other_prefix = fixture("s3_object_created.json", bucket)
    other_prefix["detail"]["object"]["key"] = "datasets/x/train.jsonl"  # our own outputs
    assert not matches(pattern, other_prefix)
    assert not matches(pattern, fixture("s3_object_created.json", "someone-elses-bucket"))
    deleted = fixture("s3_object_created.json", bucket) | {"detail-type": "Object Deleted"}
    assert not matches(pattern, deleted)


def test_pipeline_events_are_told_apart_by_their_patterns():
    validated, rejected = fixture("dataset_validated.json"), fixture("dataset_rejected.json")
    assert matches(pattern_for(DatasetValidated), validated) and not matches(pattern_for(DatasetValidated), rejected)
    assert matches(pattern_for(DatasetRejected), rejected) and not matches(pattern_for(DatasetRejected), validated)


def test_every_rule_retries_and_dead_letters(stack):
    found = list(rules(stack))
    assert found
    for lid, name, props in found:
        assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1, (lid, name)
        assert props["DeadLetterConfig"]["Arn"] == stack.get_att("PipelineDeadLetterQueue", "Arn"), (lid, name)


def test_every_event_driven_function_has_an_on_failure_destination(stack):
    for lid in {lid for lid, _, _ in rules(stack)}:
        config = stack.resolve(functions(stack)[lid]["Properties"]["EventInvokeConfig"])
        assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS", lid
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == stack.get_att("PipelineDeadLetterQueue",
                                                                                       "Arn")


def test_validator_environment_satisfies_its_settings(stack):
    env = stack.function_environment("DatasetValidatorFunction")
    settings = ValidatorSettings.model_validate(env)
    assert settings.event_bus_name == stack.ref("PipelineBus")
    assert settings.ledger_table == stack.ref("LedgerTable")
    assert settings.option_defaults()["base_model"] == stack.parameters["DefaultBaseModel"]
    # what a dataset may write must fit the function's /tmp, with room for the rest of the work folder
    storage_mb = functions(stack)["DatasetValidatorFunction"]["Properties"]["EphemeralStorage"]["Size"]
    assert settings.work_dir_budget_mb <= storage_mb - 256


def test_validator_reads_only_uploads_and_writes_only_datasets(stack):
    statements = stack.resolve(functions(stack)["DatasetValidatorFunction"]["Properties"]["Policies"])[0]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    bucket_arn = stack.get_att("DataBucket", "Arn")
    assert by_sid["ReadUploads"]["Resource"] == f"{bucket_arn}/incoming/*"
    assert by_sid["WriteDatasets"]["Resource"] == f"{bucket_arn}/datasets/*"
    assert by_sid["WriteDatasets"]["Action"] == "s3:PutObject"
    assert all("*" not in json.dumps(s["Action"]) for s in statements)
    assert by_sid["AnnounceOutcome"]["Resource"] == stack.get_att("PipelineBus", "Arn")
    # the one PutItem it may make is a content claim, never a run record
    assert by_sid["ContentClaims"]["Action"] == "dynamodb:PutItem"
    assert by_sid["ContentClaims"]["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["content#*"]}}


def test_runtime_architecture_and_layer(stack):
    fn_globals = stack.template["Globals"]["Function"]
    assert fn_globals["Runtime"] == "python3.13" and fn_globals["Architectures"] == ["arm64"]
    assert fn_globals["Layers"] == [{"Ref": "CommonLayer"}]
    layer = stack.resources["CommonLayer"]
    content = REPO / layer["Properties"]["ContentUri"]
    assert (content / "requirements.txt").is_file() and (content / "ft_pipeline" / "__init__.py").is_file()
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_bucket_sends_events_to_eventbridge_and_is_locked_down(stack):
    props = stack.resolve(stack.resources["DataBucket"]["Properties"])
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(props["PublicAccessBlockConfiguration"].values())
    policy = stack.resolve(stack.resources["DataBucketPolicy"]["Properties"])["PolicyDocument"]
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def rule_props(stack, function, event):
    return stack.resolve(functions(stack)[function]["Properties"]["Events"][event]["Properties"])


def test_training_rules_are_the_contract_patterns_on_the_right_buses(stack):
    from ft_pipeline.contracts import BedrockJobStateChange, StopRequested
    from ft_pipeline.naming import job_name_prefix

    start = rule_props(stack, "StartCustomizationFunction", "DatasetValidated")
    assert start["Pattern"] == pattern_for(DatasetValidated)
    assert start["EventBusName"] == stack.ref("PipelineBus")
    state = rule_props(stack, "JobStateChangeFunction", "JobStateChange")
    assert state["Pattern"] == BedrockJobStateChange.pattern(job_name_prefix(stack.parameters["ResourcePrefix"]))
    assert "EventBusName" not in state  # Bedrock sends to the default bus
    stop = rule_props(stack, "StopRunFunction", "StopRequested")
    assert stop["Pattern"] == pattern_for(StopRequested) and stop["EventBusName"] == stack.ref("PipelineBus")


@pytest.mark.parametrize(("fixture_name", "routed"), [
    ("bedrock_job_completed.json", True), ("bedrock_job_failed.json", True), ("bedrock_job_stopped.json", True)])
def test_bedrock_state_changes_reach_the_handler_and_in_progress_does_not(stack, fixture_name, routed):
    pattern = rule_props(stack, "JobStateChangeFunction", "JobStateChange")["Pattern"]
    event = fixture(fixture_name)
    assert matches(pattern, event) is routed
    assert not matches(pattern, event | {"detail": event["detail"] | {"jobStatus": "InProgress"}})
    assert not matches(pattern, event | {"detail": event["detail"] | {"jobName": "other-team-job-1"}})


def test_training_functions_environment_satisfies_their_settings(stack):
    from ft_pipeline.settings import TrainingSettings

    for lid in ("StartCustomizationFunction", "JobStateChangeFunction", "SweepRunsFunction", "StopRunFunction"):
        settings = TrainingSettings.model_validate(stack.function_environment(lid))
        assert settings.ledger_table == stack.ref("LedgerTable"), lid
        assert settings.notifications_topic_arn == stack.ref("NotificationsTopic"), lid
    start = TrainingSettings.model_validate(stack.function_environment("StartCustomizationFunction"))
    assert start.customization_role_arn == stack.get_att("BedrockCustomizationRole", "Arn")
    assert start.vpc_config() is None  # no VPC unless both parameters are given


def test_only_the_customization_role_can_be_passed_and_only_to_bedrock(stack):
    policies = stack.resolve(functions(stack)["StartCustomizationFunction"]["Properties"]["Policies"])
    (pass_role,) = [s for p in policies if isinstance(p, dict) for s in p["Statement"]
                    if s and s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == stack.get_att("BedrockCustomizationRole", "Arn")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}


def test_bedrock_role_trusts_bedrock_for_this_account_only_and_reads_only_datasets(stack):
    role = stack.resolve(stack.resources["BedrockCustomizationRole"]["Properties"])
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].endswith(":123456789012:model-customization-job/*")
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"] if s}
    bucket = stack.get_att("DataBucket", "Arn")
    assert statements["ReadValidatedDatasets"]["Resource"] == f"{bucket}/datasets/*"
    assert statements["WriteJobOutput"]["Resource"] == f"{bucket}/customization-output/*"
    assert "EncryptCustomModel" not in statements and "RunInCustomerVpc" not in statements  # parameters unset


def test_sweeper_runs_on_a_schedule(stack):
    sweep = stack.resolve(functions(stack)["SweepRunsFunction"]["Properties"]["Events"]["Sweep"])
    assert sweep["Type"] == "Schedule"
    assert sweep["Properties"]["Schedule"] == stack.parameters["SweepSchedule"]


@pytest.mark.parametrize(("function", "step"), [("DatasetValidatorFunction", "validate"),
                                                ("StartCustomizationFunction", "start_training")])
def test_retry_requests_reach_the_step_they_name_and_no_other(stack, function, step):
    from ft_pipeline.contracts import StepRetryRequested

    props = rule_props(stack, function, "RetryRequested")
    assert props["Pattern"] == StepRetryRequested.pattern(step)
    assert props["EventBusName"] == stack.ref("PipelineBus")
    other = "start_training" if step == "validate" else "validate"
    event = fixture(f"step_retry_requested_{'validate' if step == 'validate' else 'start'}.json")
    assert matches(props["Pattern"], event)
    assert not matches(props["Pattern"], event | {"detail": event["detail"] | {"step": other}})


def test_every_step_a_retry_can_name_has_a_rule(stack):
    """StepRetryRequested's steps are exactly the steps whose functions listen for it."""
    import typing

    from ft_pipeline.contracts import StepRetryRequestedDetail

    steps = set(typing.get_args(StepRetryRequestedDetail.model_fields["step"].annotation))
    routed = {props["Pattern"]["detail"]["step"][0] for _, name, props in rules(stack) if name == "RetryRequested"}
    assert routed == steps


def test_ledger_indexes_are_the_ones_the_adapter_queries(stack):
    from ft_pipeline.adapters import ledger_table

    table = stack.resolve(stack.resources["LedgerTable"]["Properties"])
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]}
    assert indexes[ledger_table.BY_STATUS] == ["status", "updated_at"]
    assert indexes[ledger_table.BY_PENDING_EVENT] == ["outbox_state", "updated_at"]
    assert table["KeySchema"] == [{"AttributeName": ledger_table.KEY, "KeyType": "HASH"}]


def test_only_the_sweeper_and_the_runs_api_query_the_ledger_and_only_their_indexes(stack):
    table = stack.get_att("LedgerTable", "Arn")
    for lid, res in functions(stack).items():
        policies = stack.resolve(res["Properties"].get("Policies") or [])
        text = json.dumps(policies)
        if lid in ("SweepRunsFunction", "RunsApiFunction"):
            queries = [s for p in policies if isinstance(p, dict) for s in p["Statement"]
                       if "dynamodb:Query" in json.dumps(s.get("Action"))]
            assert queries, lid
            for statement in queries:  # an index of the table, never the table itself
                resources = statement["Resource"]
                resources = resources if isinstance(resources, list) else [resources]
                assert all(r.startswith(f"{table}/index/") for r in resources), (lid, resources)
        else:
            assert "dynamodb:Query" not in text, lid
    shared = json.dumps(stack.resolve(stack.resources["PipelineRunAccessPolicy"]["Properties"]))
    assert "dynamodb:Query" not in shared and "dynamodb:Scan" not in shared


@pytest.mark.parametrize(("alarm", "metric"), [("StuckRunsAlarm", "RunsStuck"), ("SweepErrorsAlarm", "SweepErrors"),
                                               ("PaidResourceOverdueAlarm", "PaidResourcesOverdue")])
def test_the_sweepers_alarms_watch_the_metrics_it_emits(stack, alarm, metric):
    from ft_pipeline.observability import NAMESPACE, SERVICE

    props = stack.resolve(stack.resources[alarm]["Properties"])
    assert props["Namespace"] == NAMESPACE and props["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert props["MetricName"] == metric and props["Threshold"] == 0
    assert props["AlarmActions"] == [stack.ref("NotificationsTopic")]


def test_the_emitted_gauges_are_the_ones_the_alarms_watch():
    """The sweeper's gauge names, as it emits them, match the alarms' (a rename would silence an alarm)."""
    import inspect

    from ft_pipeline.steps import sweep

    source = inspect.getsource(sweep.sweep)
    for metric in ("RunsStuck", "SweepErrors", "PaidResourcesOverdue"):
        assert f'record_gauge("{metric}"' in source


def test_a_silent_sweeper_raises_an_alarm(stack):
    props = stack.resolve(stack.resources["SweeperNotRunningAlarm"]["Properties"])
    assert props["Namespace"] == "AWS/Lambda" and props["MetricName"] == "Invocations"
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": stack.ref("SweepRunsFunction")}]
    assert props["TreatMissingData"] == "breaching" and props["ComparisonOperator"] == "LessThanThreshold"


def test_only_the_deploy_function_may_create_paid_serving_resources(stack):
    creates = ("bedrock:CreateProvisionedModelThroughput", "bedrock:CreateCustomModelDeployment")
    for lid, res in stack.resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        text = json.dumps(stack.resolve(res["Properties"].get("Policies") or []))
        assert any(c in text for c in creates) == (lid == "DeployModelFunction"), lid
    teardown = stack.ref("ServingTeardownPolicy")
    for lid in ("DeployModelFunction", "CompleteRunFunction", "StopRunFunction", "SweepRunsFunction"):
        assert teardown in stack.resolve(stack.resources[lid]["Properties"]["Policies"]), lid
    policy = json.dumps(stack.resolve(stack.resources["ServingTeardownPolicy"]["Properties"]))
    assert "Create" not in policy and "bedrock:Delete" in policy
