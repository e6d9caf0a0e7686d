"""The training step's logic with in-memory fakes: naming, the job request, and refusals without AWS."""

import pytest

from ft_pipeline.adapters.bedrock_customization import PermanentJobError
from ft_pipeline.contracts import DatasetValidatedDetail, ObjectRef, SplitCounts
from ft_pipeline.dataset.options import DatasetOptions
from ft_pipeline.ledger import RunRecord
from ft_pipeline.naming import (
    CUSTOM_MODEL_NAME,
    JOB_NAME,
    client_request_token,
    custom_model_name,
    dataset_id_from_job_name,
    job_name,
)
from ft_pipeline.settings import TrainingSettings
from ft_pipeline.steps.training import TrainingDeps, build_job_request, start_customization

LONGEST_ID = "a" * 24 + "-0123456789"  # make_dataset_id never returns more


def settings(**extra):
    env = {"DATA_BUCKET": "bkt", "LEDGER_TABLE": "t", "EVENT_BUS_NAME": "bus", "RESOURCE_PREFIX": "ftp",
           "CUSTOMIZATION_ROLE_ARN": "arn:aws:iam::123456789012:role/r", "STACK_NAME": "stack"} | extra
    return TrainingSettings.model_validate(env)


def validated(options=None, validation=True):
    prefix = "s3://bkt/datasets/d-1/"
    return DatasetValidatedDetail(
        dataset_id="d-1", source=ObjectRef(bucket="bkt", key="incoming/x.csv"),
        base_model="amazon.nova-micro-v1:0:128k",
        output_format="bedrock-conversation-2024", training_data_uri=prefix + "train.jsonl",
        validation_data_uri=prefix + "validation.jsonl" if validation else None, test_data_uri=prefix + "test.jsonl",
        report_uri=prefix + "report.json", rejected_uri=prefix + "rejected.jsonl",
        counts=SplitCounts(train=8, validation=1, test=1, rejected=0, duplicates=0, blank=0, records_read=10),
        options=options or DatasetOptions().model_dump(mode="json"))


def test_names_fit_bedrocks_rules_for_the_longest_dataset_id():
    for prefix in ("ftp", "a" * 12):
        assert len(job_name(prefix, LONGEST_ID)) <= 63 and JOB_NAME.fullmatch(job_name(prefix, LONGEST_ID))
        name = custom_model_name(prefix, LONGEST_ID)
        assert len(name) <= 63 and CUSTOM_MODEL_NAME.fullmatch(name)
    assert client_request_token("ftp", "d-1") == client_request_token("ftp", "d-1")
    assert client_request_token("ftp", "d-1") != client_request_token("ftp", "d-2")
    assert dataset_id_from_job_name("ftp", job_name("ftp", "d-1")) == "d-1"
    assert dataset_id_from_job_name("ftp", "other-job-d-1") is None


def test_job_request_carries_splits_options_tags_and_optional_key_and_vpc():
    options = DatasetOptions(base_model="amazon.titan-text-lite-v1", hyperparameters={"epochCount": 3},
                             deployment={"mode": "provisioned"})
    request = build_job_request(validated(options.model_dump(mode="json")), options,
                                settings(CUSTOM_MODEL_KMS_KEY_ARN="arn:aws:kms:us-east-1:1:key/k",
                                         VPC_SUBNET_IDS="subnet-1,subnet-2", VPC_SECURITY_GROUP_IDS="sg-1"))
    assert request["baseModelIdentifier"] == "amazon.titan-text-lite-v1:0:4k"
    assert request["hyperParameters"] == {"epochCount": "3", "batchSize": "1", "learningRate": "1e-05",
                                          "learningRateWarmupSteps": "5"}
    assert request["validationDataConfig"] == {"validators": [{"s3Uri": "s3://bkt/datasets/d-1/validation.jsonl"}]}
    assert request["outputDataConfig"] == {"s3Uri": "s3://bkt/customization-output/d-1/"}
    assert request["customModelKmsKeyId"] == "arn:aws:kms:us-east-1:1:key/k"
    assert request["vpcConfig"] == {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"]}
    assert {"key": "dataset-id", "value": "d-1"} in request["jobTags"]
    plain = build_job_request(validated(validation=False), DatasetOptions(), settings())
    assert "validationDataConfig" not in plain and "vpcConfig" not in plain and "customModelKmsKeyId" not in plain


def test_half_a_vpc_configuration_is_an_error():
    with pytest.raises(Exception, match="must be set together"):
        settings(VPC_SUBNET_IDS="subnet-1").vpc_config()


class FakeLedger:
    def __init__(self, status="VALIDATED"):
        self.record = RunRecord(dataset_id="d-1", status=status, created_at="t", updated_at="t",
                                source={"bucket": "bkt", "key": "incoming/x.csv"})
        self.moves = []

    def get(self, dataset_id):
        return self.record

    def transition(self, dataset_id, allowed_from, to_status, fields, note):
        if self.record.status not in allowed_from:
            return False
        self.moves.append((to_status, fields))
        self.record.status = to_status
        return True


class Recorder:
    def __init__(self):
        self.calls = []

    def publish(self, detail, event_type, resources=None):
        self.calls.append((event_type.DETAIL_TYPE, detail))
        return "id"

    def notify(self, subject, message):
        self.calls.append(("notify", message))


class RefusingBedrock:
    def __init__(self):
        self.requests = []

    def create_job(self, request):
        self.requests.append(request)
        raise PermanentJobError("ValidationException", "The training data has too few records.")


def deps(ledger, bedrock, recorder):
    return TrainingDeps(settings=settings(), bedrock=bedrock, ledger=ledger, publisher=recorder, notifier=recorder,
                        store=None)


def test_out_of_range_hyperparameters_fail_the_start_and_no_job_is_requested():
    ledger, bedrock, recorder = FakeLedger(), RefusingBedrock(), Recorder()
    options = DatasetOptions().model_dump(mode="json") | {"hyperparameters": {"epochCount": "99"}}
    outcome = start_customization(validated(options), deps(ledger, bedrock, recorder))
    assert outcome.action == "start-failed" and "epochCount" in outcome.detail
    assert bedrock.requests == []
    assert ledger.moves[0][0] == "TRAINING_FAILED"
    kinds = [c[0] for c in recorder.calls]
    assert kinds == ["notify", "TrainingFailed"]


def test_bedrock_refusal_fails_the_run_with_bedrocks_reason():
    ledger, bedrock, recorder = FakeLedger(), RefusingBedrock(), Recorder()
    outcome = start_customization(validated(), deps(ledger, bedrock, recorder))
    assert outcome.action == "start-failed"
    assert "too few records" in ledger.moves[0][1]["failure_message"]
    assert recorder.calls[-1][1].status == "StartFailed"


def test_a_run_that_moved_on_is_not_started_again():
    ledger, bedrock, recorder = FakeLedger(status="TRAINING"), RefusingBedrock(), Recorder()
    assert start_customization(validated(), deps(ledger, bedrock, recorder)).action == "duplicate"
    assert bedrock.requests == [] and recorder.calls == []


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_jobs_still_running_or_stopping_change_nothing(status):
    from ft_pipeline.adapters.bedrock_customization import JobSnapshot
    from ft_pipeline.steps.training import apply_job_state

    ledger, recorder = FakeLedger(status="TRAINING"), Recorder()
    job = JobSnapshot(job_arn="arn:job", job_name="ftp-job-d-1", status=status)
    outcome = apply_job_state(ledger.record, job, deps(ledger, RefusingBedrock(), recorder), "reconciler")
    assert outcome.action == "in-progress" and outcome.detail == status
    assert ledger.moves == [] and recorder.calls == []


def test_a_completed_job_without_its_model_arn_yet_is_retried_not_recorded():
    from ft_pipeline.adapters.bedrock_customization import JobSnapshot
    from ft_pipeline.steps.training import apply_job_state

    ledger = FakeLedger(status="TRAINING")
    job = JobSnapshot(job_arn="arn:job", job_name="ftp-job-d-1", status="Completed")
    with pytest.raises(RuntimeError, match="no outputModelArn"):
        apply_job_state(ledger.record, job, deps(ledger, RefusingBedrock(), Recorder()), "event")
    assert ledger.moves == []
