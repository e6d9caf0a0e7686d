"""The validator Lambda through the local harness: wiring from template.yaml, moto for AWS."""

import json

import pytest

from local_emulation.harness import LocalPipeline
from tests.conftest import BAD_INPUTS, HEADLINES

HEADLINES_CSV = (HEADLINES / "validation.csv").read_bytes()


def validator_invocations(pipeline):
    return [i for i in pipeline.invocations if i.function == "DatasetValidatorFunction"]


def statuses(run):
    return [t["status"] for t in run["timeline"]]


def pipeline_events(pipeline, detail_type):
    return [e for e in pipeline.events_of(detail_type) if e["source"] == "ft-pipeline.dataset-validator"]


def test_upload_becomes_validated_splits_event_and_ledger_record(pipeline):
    pipeline.upload("incoming/headlines.csv", HEADLINES_CSV)
    pipeline.run()

    (event,) = pipeline_events(pipeline, "DatasetValidated")
    detail = event["detail"]
    dataset_id = detail["run_id"]
    assert detail["counts"] | {} == {"train": 1600, "validation": 201, "test": 199, "rejected": 0,
                                     "duplicates": 0, "blank": 0, "records_read": 2000}
    assert detail["labels"] == ["business", "entertainment", "health", "science"]
    prefix = f"datasets/{dataset_id}/"
    assert sorted(pipeline.list_keys(prefix)) == [prefix + f for f in (
        "rejected.jsonl", "report.json", "test.jsonl", "train.jsonl", "validation.jsonl")]
    for uri in (detail["training_data_uri"], detail["validation_data_uri"], detail["test_data_uri"]):
        assert uri.startswith(f"s3://{pipeline.data_bucket}/{prefix}")
    assert pipeline.read_object("incoming/headlines.csv") == HEADLINES_CSV  # the input is untouched

    (run,) = pipeline.ledger()
    assert run["run_id"] == dataset_id
    # DatasetValidated started the next step
    assert statuses(run) == ["VALIDATING", "VALIDATED", "TRAINING_STARTING", "TRAINING"]
    assert run["validation"]["outputs"]["train.jsonl"] == detail["training_data_uri"]
    assert run["validation"]["counts"]["train"] == 1600 and run["cost"]["estimated_training_usd"] > 0
    assert "lease" not in run


def test_outputs_written_by_the_validator_do_not_trigger_it_again(pipeline):
    pipeline.upload("incoming/headlines.csv", HEADLINES_CSV)
    pipeline.run()
    created = [e["detail"]["object"]["key"] for e in pipeline.events_of("Object Created")]
    assert len(created) == 6  # the upload and the five outputs
    assert len(validator_invocations(pipeline)) == 1


def test_three_deliveries_validate_once():
    with LocalPipeline(deliveries=3) as pipeline:
        pipeline.upload("incoming/headlines.csv", HEADLINES_CSV)
        pipeline.run()
        outcomes = [i.result["outcome"] for i in validator_invocations(pipeline)]
        assert outcomes == ["VALIDATED", "SKIPPED_DUPLICATE", "SKIPPED_DUPLICATE"]
        assert len(pipeline_events(pipeline, "DatasetValidated")) == 1
        assert statuses(pipeline.ledger()[0])[:3] == ["VALIDATING", "VALIDATED", "TRAINING_STARTING"]


@pytest.mark.parametrize("encode", [True, False])
def test_keys_with_spaces_and_plus_signs_are_found_whether_or_not_encoded(encode):
    with LocalPipeline(encode_s3_keys=encode) as pipeline:
        key = "incoming/team a/news+headlines (v2).csv"
        pipeline.upload(key, HEADLINES_CSV)
        pipeline.run()
        (event,) = pipeline_events(pipeline, "DatasetValidated")
        assert event["detail"]["source"]["key"] == key


def test_percent_encoded_slash_is_decoded(pipeline):
    pipeline.client("s3").put_object(Bucket=pipeline.data_bucket, Key="incoming/sub/h.csv", Body=HEADLINES_CSV)
    head = pipeline.client("s3").head_object(Bucket=pipeline.data_bucket, Key="incoming/sub/h.csv")
    event = pipeline.object_created_event(pipeline.data_bucket, "incoming/sub/h.csv", len(HEADLINES_CSV),
                                          head["ETag"].strip('"'), head["VersionId"])
    event["detail"]["object"]["key"] = "incoming%2Fsub%2Fh.csv"
    invocation = pipeline.invoke("DatasetValidatorFunction", event)
    assert invocation.error is None, invocation.result
    assert invocation.result["outcome"] == "VALIDATED"
    assert invocation.result["key"] == "incoming/sub/h.csv"


def test_a_new_version_of_the_same_key_is_a_new_run(pipeline):
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV.replace(b"AOL", b"A.O.L."))
    pipeline.run()
    assert len({e["detail"]["run_id"] for e in pipeline_events(pipeline, "DatasetValidated")}) == 2


def test_objects_outside_incoming_are_not_routed(pipeline):
    pipeline.upload("elsewhere/h.csv", HEADLINES_CSV)
    pipeline.run()
    assert validator_invocations(pipeline) == []


def test_options_manifest_beside_the_data_changes_the_model(pipeline):
    manifest = {"base_model": "meta.llama3-1-8b-instruct-v1", "hyperparameters": {"epochCount": "2"},
                "split": {"train": 0.9, "validation": 0.05, "test": 0.05}, "deployment": {"mode": "none"}}
    pipeline.upload("incoming/h.csv.options.json", json.dumps(manifest).encode())
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    outcomes = sorted(i.result["outcome"] for i in validator_invocations(pipeline))
    assert outcomes == ["SKIPPED_NOT_A_DATASET", "VALIDATED"]  # the manifest itself is not a dataset
    (event,) = pipeline_events(pipeline, "DatasetValidated")
    assert event["detail"]["base_model"] == "meta.llama3-1-8b-instruct-v1:0:128k"
    assert event["detail"]["options"]["hyperparameters"] == {"epochCount": "2"}
    assert abs(event["detail"]["counts"]["train"] - 1800) <= 4  # 90% of each label, to a record
    train = pipeline.read_object(event["detail"]["training_data_uri"].split("/", 3)[3])
    assert json.loads(train.splitlines()[0]).keys() == {"prompt", "completion"}


def test_invalid_manifest_rejects_the_dataset_with_the_reason(pipeline):
    pipeline.upload("incoming/h.csv.options.json", b'{"hyperparameters": {"epochCount": 50}}')
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    (event,) = pipeline_events(pipeline, "DatasetRejected")
    (reason,) = event["detail"]["reasons"]
    assert "h.csv.options.json" in reason and "hyperparameters.epochCount" in reason
    report = json.loads(pipeline.read_object(event["detail"]["report_uri"].split("/", 3)[3]))
    assert report["status"] == "REJECTED"
    assert pipeline.ledger()[0]["status"] == "REJECTED"


def test_bad_file_is_rejected_with_report_and_rejected_records(pipeline):
    pipeline.upload("incoming/wrong.jsonl", (BAD_INPUTS / "wrong_schema.jsonl").read_bytes())
    pipeline.run()
    (event,) = pipeline_events(pipeline, "DatasetRejected")
    detail = event["detail"]
    assert "none of the 20 records is valid" in detail["reasons"][0]
    rejected = pipeline.read_object(detail["rejected_uri"].split("/", 3)[3]).splitlines()
    assert len(rejected) == 20 and json.loads(rejected[0])["line"] == 1
    assert not [k for k in pipeline.list_keys("datasets/") if k.endswith("train.jsonl")]
    # the bucket's lifecycle rule expire-rejected-records finds them by their tag; the report is kept
    s3 = pipeline.client("s3")
    tags = {key.rsplit("/", 1)[1]: s3.get_object_tagging(Bucket=pipeline.data_bucket, Key=key)["TagSet"]
            for key in pipeline.list_keys("datasets/")}
    assert tags["rejected.jsonl"] == [{"Key": "retention", "Value": "rejected"}]
    assert tags["report.json"] == []


def transitions(run):
    return [t["transition"] for t in run["timeline"]]


def test_a_failed_attempt_releases_its_claim_and_the_retry_finishes(pipeline):
    pipeline.faults.fail("s3.PutObject", when=lambda p: p["Key"].startswith("datasets/"))  # S3 unreachable once
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    assert [i.error is None for i in validator_invocations(pipeline)] == [False, True]
    assert len(pipeline_events(pipeline, "DatasetValidated")) == 1
    assert transitions(pipeline.ledger()[0])[:4] == ["validation_claimed", "validation_released",
                                                     "validation_taken_over", "validation_passed"]
    assert pipeline.failures == []


def test_an_outcome_recorded_but_not_published_is_published_by_the_retry(pipeline):
    pipeline.faults.fail("eventbridge.PutEvents")  # EventBridge unreachable once
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    assert [i.error is None for i in validator_invocations(pipeline)] == [False, True]
    assert validator_invocations(pipeline)[1].result["outcome"] == "SKIPPED_DUPLICATE"
    assert len(pipeline_events(pipeline, "DatasetValidated")) == 1  # published once, by the retry
    (run,) = pipeline.ledger()
    assert statuses(run)[:2] == ["VALIDATING", "VALIDATED"]
    (event,) = [e for e in run["outbox"].values() if e["detail_type"] == "DatasetValidated"]
    assert event["announced_at"]


def test_persistent_failure_ends_in_the_dead_letter_queue(pipeline):
    pipeline.faults.fail("eventbridge.PutEvents", times=None)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    assert len(validator_invocations(pipeline)) == 3  # the first attempt and Lambda's two retries
    (body,) = pipeline.dead_letters()
    assert body["requestContext"]["condition"] == "RetriesExhausted"
    assert "Could not connect" in body["responsePayload"]["errorMessage"]


def test_a_live_claim_makes_a_concurrent_duplicate_skip(pipeline):
    """Two deliveries at once: the second finds the first's live lease and leaves the work to it."""
    held = {}

    def second_delivery_arrives(params):
        event = pipeline.object_created_event(pipeline.data_bucket, "incoming/h.csv", len(HEADLINES_CSV),
                                              *held["etag_version"])
        held["second"] = pipeline.invoke("DatasetValidatorFunction", event)

    pipeline.faults.call("s3.PutObject", second_delivery_arrives, when=lambda p: p["Key"].endswith("report.json"))
    put = pipeline.client("s3").put_object(Bucket=pipeline.data_bucket, Key="incoming/h.csv", Body=HEADLINES_CSV)
    held["etag_version"] = (put["ETag"].strip('"'), put["VersionId"])
    pipeline.invoke("DatasetValidatorFunction", pipeline.object_created_event(
        pipeline.data_bucket, "incoming/h.csv", len(HEADLINES_CSV), *held["etag_version"]))
    assert held["second"].result["outcome"] == "SKIPPED_IN_PROGRESS"
    (run,) = pipeline.ledger()
    assert transitions(run) == ["validation_claimed", "validation_passed"]


def test_a_wiring_mistake_in_the_template_fails_locally(tmp_path):
    from tests.conftest import REPO

    broken = tmp_path / "template.yaml"
    text = (REPO / "template.yaml").read_text()
    assert "key: [{prefix: !Ref IncomingPrefix}]" in text
    broken.write_text(text.replace("key: [{prefix: !Ref IncomingPrefix}]", "key: [{prefix: uploads/}]"))
    (tmp_path / "functions").symlink_to(REPO / "functions")
    with LocalPipeline(template=broken) as pipeline:
        pipeline.upload("incoming/h.csv", HEADLINES_CSV)
        pipeline.run()
        assert pipeline.invocations == []  # the upload never reaches the validator, as in AWS


def test_the_same_bytes_uploaded_twice_start_one_paid_job(pipeline):
    pipeline.upload("incoming/monday.csv", HEADLINES_CSV)
    pipeline.run()
    pipeline.upload("incoming/copy of monday.csv", HEADLINES_CSV)  # another name, the same content and options
    pipeline.run()
    (validated,) = pipeline_events(pipeline, "DatasetValidated")
    (rejected,) = pipeline_events(pipeline, "DatasetRejected")
    first = validated["detail"]["run_id"]
    (reason,) = rejected["detail"]["reasons"]
    assert f"already submitted as run {first} (now TRAINING)" in reason and "allow_repeat" in reason
    assert len(pipeline.bedrock.jobs()) == 1  # in the emulated Bedrock: one job, not two
    second = rejected["detail"]["run_id"]
    assert not [k for k in pipeline.list_keys(f"datasets/{second}/") if k.endswith("train.jsonl")]


def test_allow_repeat_trains_again_and_a_failed_run_may_be_repeated(pipeline):
    pipeline.upload("incoming/a.csv", HEADLINES_CSV)
    pipeline.run()
    pipeline.upload("incoming/b.csv.options.json", b'{"allow_repeat": true}')
    pipeline.upload("incoming/b.csv", HEADLINES_CSV)
    pipeline.run()
    assert len(pipeline_events(pipeline, "DatasetValidated")) == 2 and len(pipeline.bedrock.jobs()) == 2
    for job in pipeline.bedrock.in_progress():
        pipeline.bedrock.finish(job, "Failed")
    pipeline.run()
    pipeline.upload("incoming/c.csv", HEADLINES_CSV)  # the earlier run with this content failed: try again
    pipeline.run()
    assert len(pipeline_events(pipeline, "DatasetValidated")) == 3 and len(pipeline.bedrock.jobs()) == 3


def test_a_fault_on_the_data_ends_in_dataset_rejected_not_only_the_dead_letter_queue(pipeline):
    def fault_in_our_code(params):
        raise RecursionError("maximum recursion depth exceeded")  # stands for any bug the data provokes

    pipeline.faults.call("s3.GetObject", fault_in_our_code, when=lambda p: p["Key"] == "incoming/h.csv", times=None)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    (event,) = pipeline_events(pipeline, "DatasetRejected")
    (reason,) = event["detail"]["reasons"]
    assert "the validator failed on this dataset (RecursionError)" in reason and "maximum" not in reason
    assert len(validator_invocations(pipeline)) == 1 and pipeline.dead_letters() == []
    assert pipeline.ledger()[0]["status"] == "REJECTED"
    assert not pipeline.bedrock.jobs()


def test_an_infrastructure_failure_reading_the_data_is_retried(pipeline):
    pipeline.faults.fail("s3.GetObject", when=lambda p: p["Key"] == "incoming/h.csv")  # S3 unreachable once
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    assert [i.error is None for i in validator_invocations(pipeline)] == [False, True]
    assert len(pipeline_events(pipeline, "DatasetValidated")) == 1


def is_content_claim(params):
    return params.get("Item", {}).get("dataset_id", {}).get("S", "").startswith("content#")


@pytest.mark.parametrize("fault", ["network", "throttled", "died-after-the-claim"])
def test_a_fault_at_the_content_claim_still_trains_once(pipeline, fault):
    if fault == "died-after-the-claim":  # the claim lands, then the validator dies before recording its outcome
        pipeline.faults.die("dynamodb.PutItem", after=True, when=is_content_claim)
    else:
        pipeline.faults.fail("dynamodb.PutItem", when=is_content_claim,
                             error="ProvisionedThroughputExceededException" if fault == "throttled" else None)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    if fault == "died-after-the-claim":  # its lease lapses, and the sweeper asks for another attempt
        assert pipeline.ledger()[0]["status"] == "VALIDATING"
        pipeline.advance(minutes=20)
    (validated,) = pipeline_events(pipeline, "DatasetValidated")  # the retry claims (or finds its own claim)
    assert pipeline_events(pipeline, "DatasetRejected") == []
    assert len(pipeline.bedrock.jobs()) == 1 and pipeline.dead_letters() == []
    pipeline.upload("incoming/again.csv", HEADLINES_CSV)  # and the claim it left still stops a repeat
    pipeline.run()
    (rejected,) = pipeline_events(pipeline, "DatasetRejected")
    assert validated["detail"]["run_id"] in rejected["detail"]["reasons"][0]
    assert len(pipeline.bedrock.jobs()) == 1
