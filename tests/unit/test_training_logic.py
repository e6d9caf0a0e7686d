"""The training steps' logic with in-memory ports: naming, the job request, refusals, the start/stop race."""

import pytest

from ft_pipeline.catalogue.options import DatasetOptions
from ft_pipeline.contracts import SplitCounts
from ft_pipeline.lifecycle import RunState
from ft_pipeline.naming import (
    CUSTOM_MODEL_NAME,
    JOB_NAME,
    client_request_token,
    custom_model_name,
    job_name,
    run_id_from_job_name,
)
from ft_pipeline.ports import JobSnapshot, PermanentJobError, TrainingDeps
from ft_pipeline.settings import TrainingSettings
from ft_pipeline.steps.start_training import build_job_request, start_training
from ft_pipeline.steps.training_status import apply_job_state
from tests.fakes import InMemoryLedger, RecordingPublisher, ScriptedBedrock

LONGEST_ID = "a" * 24 + "-0123456789"  # make_dataset_id never returns more
PREFIX = "s3://bkt/datasets/d-1/"


def settings(**extra):
    env = {"DATA_BUCKET": "bkt", "LEDGER_TABLE": "t", "EVENT_BUS_NAME": "bus", "RESOURCE_PREFIX": "ftp",
           "CUSTOMIZATION_ROLE_ARN": "arn:aws:iam::123456789012:role/r", "STACK_NAME": "stack"} | extra
    return TrainingSettings.model_validate(env)


def validated_run(ledger, options=None, validation=True, status=RunState.VALIDATED):
    outputs = {name: PREFIX + name for name in ("train.jsonl", "validation.jsonl", "test.jsonl")}
    counts = SplitCounts(train=8, validation=1 if validation else 0, test=1, rejected=0, duplicates=0, blank=0,
                         records_read=10)
    return ledger.put("d-1", status, options=options or DatasetOptions().model_dump(mode="json"),
                      validation={"outputs": outputs, "counts": counts.model_dump()},
                      model={"base_model": "amazon.nova-micro-v1:0:128k"})


def deps(ledger, bedrock, recorder=None):
    recorder = recorder or RecordingPublisher()
    return TrainingDeps(settings=settings(), bedrock=bedrock, ledger=ledger, publisher=recorder, notifier=recorder,
                        store=None, clock=ledger.clock)


def test_names_fit_bedrocks_rules_for_the_longest_run_id():
    for prefix in ("ftp", "a" * 12):
        assert len(job_name(prefix, LONGEST_ID)) <= 63 and JOB_NAME.fullmatch(job_name(prefix, LONGEST_ID))
        name = custom_model_name(prefix, LONGEST_ID)
        assert len(name) <= 63 and CUSTOM_MODEL_NAME.fullmatch(name)
    assert client_request_token("ftp", "d-1") == client_request_token("ftp", "d-1")
    assert client_request_token("ftp", "d-1") != client_request_token("ftp", "d-2")
    assert run_id_from_job_name("ftp", job_name("ftp", "d-1")) == "d-1"
    assert run_id_from_job_name("ftp", "other-job-d-1") is None


def test_job_request_carries_splits_options_tags_and_optional_key_and_vpc():
    options = DatasetOptions(base_model="meta.llama3-1-8b-instruct-v1", hyperparameters={"epochCount": 3},
                             deployment={"mode": "provisioned"})
    record = validated_run(InMemoryLedger(), options.model_dump(mode="json"))
    request = build_job_request(record, options, settings(CUSTOM_MODEL_KMS_KEY_ARN="arn:aws:kms:us-east-1:1:key/k",
                                                          VPC_SUBNET_IDS="subnet-1,subnet-2",
                                                          VPC_SECURITY_GROUP_IDS="sg-1"))
    assert request["baseModelIdentifier"] == "meta.llama3-1-8b-instruct-v1:0:128k"
    assert request["hyperParameters"] == {"epochCount": "3", "batchSize": "1", "learningRate": "0.0001"}
    assert request["validationDataConfig"] == {"validators": [{"s3Uri": PREFIX + "validation.jsonl"}]}
    assert request["outputDataConfig"] == {"s3Uri": "s3://bkt/customization-output/d-1/"}
    assert request["customModelKmsKeyId"] == "arn:aws:kms:us-east-1:1:key/k"
    assert request["vpcConfig"] == {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]}
    assert {"key": "dataset-id", "value": "d-1"} in request["jobTags"]
    plain = build_job_request(validated_run(InMemoryLedger(), validation=False), DatasetOptions(), settings())
    assert "validationDataConfig" not in plain and "vpcConfig" not in plain and "customModelKmsKeyId" not in plain


def test_half_a_vpc_configuration_is_an_error():
    with pytest.raises(Exception, match="must be set together"):
        settings(VPC_SUBNET_IDS="subnet-1").vpc_config()


def test_out_of_range_hyperparameters_fail_the_start_and_no_job_is_requested():
    ledger, bedrock, recorder = InMemoryLedger(), ScriptedBedrock(), RecordingPublisher()
    options = DatasetOptions().model_dump(mode="json") | {"hyperparameters": {"epochCount": "99"}}
    validated_run(ledger, options)
    outcome = start_training("d-1", deps=deps(ledger, bedrock, recorder), owner="inv-1", remaining_ms=60_000)
    assert outcome.action == "start-failed" and "epochCount" in outcome.detail
    assert bedrock.requests == []
    assert ledger.get("d-1").status is RunState.TRAINING_FAILED
    assert recorder.types() == ["TrainingFailed"] and len(recorder.notes) == 1


def test_bedrock_refusal_fails_the_run_with_bedrocks_reason():
    ledger, recorder = InMemoryLedger(), RecordingPublisher()
    bedrock = ScriptedBedrock(refuse=PermanentJobError("ValidationException", "The training data has too few records."))
    validated_run(ledger)
    outcome = start_training("d-1", deps=deps(ledger, bedrock, recorder), owner="inv-1", remaining_ms=60_000)
    assert outcome.action == "start-failed"
    assert "too few records" in ledger.get("d-1").training.failure_message
    assert recorder.events[-1].detail["status"] == "StartFailed"


def test_a_run_that_moved_on_is_not_started_again():
    ledger, bedrock, recorder = InMemoryLedger(), ScriptedBedrock(), RecordingPublisher()
    validated_run(ledger, status=RunState.TRAINING)
    assert start_training("d-1", deps=deps(ledger, bedrock, recorder), owner="i", remaining_ms=1).action == "duplicate"
    assert bedrock.requests == [] and recorder.events == []


def test_a_stop_between_the_create_and_its_record_stops_the_job_the_start_created():
    ledger, recorder = InMemoryLedger(), RecordingPublisher()
    validated_run(ledger)

    class StopLandsDuringCreate(ScriptedBedrock):
        def create_job(self, request):
            arn = super().create_job(request)
            from ft_pipeline.steps.stop_run import stop_run  # the user's stop arrives right now

            stop_run("d-1", "alice", deps(ledger, self, recorder))
            return arn

    bedrock = StopLandsDuringCreate()
    outcome = start_training("d-1", deps=deps(ledger, bedrock, recorder), owner="i", remaining_ms=60_000)
    assert outcome.action == "stopped-after-start"
    (job,) = bedrock.jobs.values()
    assert job.status == "Stopping"  # nothing is left training
    assert ledger.get("d-1").status is RunState.STOPPING
    assert "CustomizationStarted" not in recorder.types()


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_jobs_still_running_or_stopping_change_nothing(status):
    ledger, recorder = InMemoryLedger(), RecordingPublisher()
    record = validated_run(ledger, status=RunState.TRAINING)
    job = JobSnapshot(job_arn="arn:job", job_name="ftp-job-d-1", status=status)
    outcome = apply_job_state(record, job, deps(ledger, ScriptedBedrock(), recorder), "sweeper")
    assert outcome.action == "in-progress" and outcome.detail == status
    assert ledger.applied == [] and recorder.events == []


def test_a_completed_job_without_its_model_arn_yet_is_retried_not_recorded():
    ledger = InMemoryLedger()
    record = validated_run(ledger, status=RunState.TRAINING)
    job = JobSnapshot(job_arn="arn:job", job_name="ftp-job-d-1", status="Completed")
    with pytest.raises(RuntimeError, match="no outputModelArn"):
        apply_job_state(record, job, deps(ledger, ScriptedBedrock()), "event")
    assert ledger.applied == []
