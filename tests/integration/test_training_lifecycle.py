"""DatasetValidated → Bedrock job → ModelTrained | TrainingFailed, through the harness (moto + emulated Bedrock)."""

import json

import pytest
from botocore.exceptions import ClientError

from ft_pipeline.adapters import bedrock_customization
from local_emulation.harness import LocalPipeline
from tests.conftest import HEADLINES

HEADLINES_CSV = (HEADLINES / "validation.csv").read_bytes()


def events(pipeline, detail_type):
    return [e for e in pipeline.events_of(detail_type) if e["source"].startswith("ft-pipeline")]


def run_record(pipeline):
    (run,) = pipeline.ledger()
    return run


def statuses(pipeline):
    return [t["status"] for t in run_record(pipeline)["timeline"]]


def start(pipeline, key="incoming/h.csv", data=HEADLINES_CSV):
    pipeline.upload(key, data)
    pipeline.run()
    (job_name,) = pipeline.bedrock.in_progress()
    return job_name


def notifications(pipeline):
    """Messages on the notifications topic (a queue subscribed to it, as an e-mail address would be)."""
    sqs, sns = pipeline.client("sqs"), pipeline.client("sns")
    if not hasattr(pipeline, "_note_queue"):
        url = sqs.create_queue(QueueName="notes")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        pipeline._note_queue = url
    return [m["Body"] for m in sqs.receive_message(QueueUrl=pipeline._note_queue,
                                                      MaxNumberOfMessages=10).get("Messages", [])]


def test_validated_dataset_starts_one_job_with_the_right_request(pipeline):
    job_name = start(pipeline)
    run = run_record(pipeline)
    assert run["status"] == "TRAINING" and run["job_name"] == job_name
    job = pipeline.bedrock.jobs()[job_name]
    dataset_id = run["dataset_id"]
    assert job_name == f"ftp-job-{dataset_id}" and job.custom_model_name == f"ftp-model-{dataset_id}"
    assert job.base_model_identifier == "amazon.nova-micro-v1:0:128k"
    assert job.hyper_parameters == {"epochCount": "2", "learningRate": "1e-05", "learningRateWarmupSteps": "10"}
    assert job.training_data_config["s3Uri"] == run["outputs"]["train.jsonl"]
    assert job.validation_data_config["validators"][0]["s3Uri"] == run["outputs"]["validation.jsonl"]
    assert job.output_data_config["s3Uri"] == f"s3://{pipeline.data_bucket}/customization-output/{dataset_id}/"
    assert {"key": "dataset-id", "value": dataset_id} in job.job_tags
    assert job.role_arn.endswith(pipeline.resource_name("BedrockCustomizationRole"))
    (started,) = events(pipeline, "CustomizationStarted")
    assert started["detail"]["job_arn"] == run["job_arn"] == job.job_arn


def test_completed_job_records_the_model_and_its_loss_curves(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed")
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == "TRAINED"
    assert statuses(pipeline) == ["VALIDATING", "VALIDATED", "TRAINING", "TRAINED"]
    metrics = run["training_metrics"]
    assert 0 < metrics["training_loss"] < 5 and 0 < metrics["validation_loss"] < 5
    assert metrics["epochs"] == 2 and metrics["steps"] > 10
    assert len(metrics["curves"]["training_loss"]) > 2
    curves = json.loads(pipeline.read_object(metrics["metrics_uri"].split("/", 3)[3]))
    assert curves["columns"] == ["step", "epoch", "loss"]
    (trained,) = events(pipeline, "ModelTrained")
    assert trained["detail"]["custom_model_arn"] == run["custom_model_arn"]
    assert trained["detail"]["test_data_uri"] == run["outputs"]["test.jsonl"]
    assert trained["detail"]["labels"] == ["business", "entertainment", "health", "science"]


def test_the_emulated_model_really_learned_the_task(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed")
    pipeline.run()
    run = run_record(pipeline)
    model = pipeline.bedrock.models[run["custom_model_arn"]]
    test = [json.loads(line) for line in pipeline.read_object(run["outputs"]["test.jsonl"].split("/", 3)[3])
            .splitlines()]
    right = sum(model.answer(r["messages"][0]["content"][0]["text"]) == r["messages"][1]["content"][0]["text"]
                for r in test)
    assert right / len(test) > 0.6  # four classes: chance is about 0.36 (the largest class)


def test_dataset_validated_three_times_starts_one_job():
    with LocalPipeline(deliveries=3) as pipeline:
        start(pipeline)
        assert len(pipeline.bedrock.jobs()) == 1
        assert len(events(pipeline, "CustomizationStarted")) == 1
        assert statuses(pipeline).count("TRAINING") == 1


def test_completion_event_three_times_makes_one_transition():
    with LocalPipeline(deliveries=3) as pipeline:
        job_name = start(pipeline)
        pipeline.bedrock.finish(job_name, "Completed")
        pipeline.run()
        assert len(events(pipeline, "ModelTrained")) == 1
        assert statuses(pipeline).count("TRAINED") == 1


def test_lost_completion_event_is_caught_by_the_reconciler_within_one_period(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed", deliver_event=False)
    pipeline.run()
    assert run_record(pipeline)["status"] == "TRAINING"  # nobody told us
    pipeline.tick()
    run = run_record(pipeline)
    assert run["status"] == "TRAINED" and run["training_status_source"] == "reconciler"
    pipeline.tick()
    assert len(events(pipeline, "ModelTrained")) == 1


def test_event_and_reconciler_together_make_one_transition(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed")  # the event is queued...
    pipeline.tick()  # ...and the reconciler runs too
    assert len(events(pipeline, "ModelTrained")) == 1
    assert statuses(pipeline).count("TRAINED") == 1


def test_a_late_event_does_not_move_a_finished_run(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed")
    pipeline.run()
    stale = pipeline.bedrock.state_change_event(pipeline.bedrock.jobs()[job_name])
    stale["detail"]["jobStatus"] = "Failed"
    pipeline.put_event(stale)
    pipeline.run()
    assert run_record(pipeline)["status"] == "TRAINED"
    assert events(pipeline, "TrainingFailed") == []


def test_completion_arriving_before_the_start_was_recorded(pipeline, monkeypatch):
    real_create = bedrock_customization.BedrockCustomization.create_job

    def create_then_finish_at_once(self, request):
        arn = real_create(self, request)
        event = pipeline.bedrock.finish(request["jobName"], "Completed", deliver_event=False)
        invocation = pipeline.invoke("JobStateChangeFunction", event)  # before start records TRAINING
        assert invocation.error is None, invocation.result
        return arn

    monkeypatch.setattr(bedrock_customization.BedrockCustomization, "create_job", create_then_finish_at_once)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == "TRAINED" and run["job_arn"]
    assert statuses(pipeline) == ["VALIDATING", "VALIDATED", "TRAINED"]
    start_result = next(i.result for i in pipeline.invocations if i.function == "StartCustomizationFunction")
    assert start_result["action"] == "duplicate"
    assert len(events(pipeline, "ModelTrained")) == 1


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_or_stopped_job_is_recorded_notified_and_announced(pipeline, status):
    notifications(pipeline)
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, status, failure_message="Insufficient capacity in the region.")
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == f"TRAINING_{status.upper()}"
    assert run["failure_message"] == "Insufficient capacity in the region."
    (failed,) = events(pipeline, "TrainingFailed")
    assert failed["detail"]["status"] == status and failed["detail"]["job_arn"] == run["job_arn"]
    (note,) = notifications(pipeline)
    assert run["dataset_id"] in note and "Insufficient capacity" in note


def test_stop_request_stops_the_job_and_ends_in_stopped(pipeline):
    job_name = start(pipeline)
    dataset_id = run_record(pipeline)["dataset_id"]
    bus = pipeline.resource_name("PipelineBus")
    pipeline.put_event({"source": "ft-pipeline.user", "detail-type": "StopRequested",
                        "detail": {"dataset_id": dataset_id, "requested_by": "alice"}}, bus=bus)
    pipeline.run()
    assert run_record(pipeline)["status"] == "STOPPING"
    assert pipeline.bedrock.jobs()[job_name].status == "Stopped"  # moto stops at once; AWS passes Stopping
    pipeline.bedrock.finish(job_name, "Stopped", failure_message="Stopped by the user.")
    pipeline.run()
    assert statuses(pipeline)[-2:] == ["STOPPING", "TRAINING_STOPPED"]
    assert len(events(pipeline, "TrainingFailed")) == 1


def test_stop_before_the_job_starts_means_it_never_starts(pipeline):
    # DatasetValidated is held back (as a slow retry would), so the stop request arrives first
    held = [r for r in pipeline.routes if r.function == "StartCustomizationFunction"]
    pipeline.routes = [r for r in pipeline.routes if r not in held]
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    dataset_id = run_record(pipeline)["dataset_id"]
    pipeline.put_event({"source": "ft-pipeline.user", "detail-type": "StopRequested",
                        "detail": {"dataset_id": dataset_id}}, bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()
    assert run_record(pipeline)["status"] == "TRAINING_STOPPED"
    pipeline.routes += held  # the delayed DatasetValidated finally arrives
    pipeline.run()
    (start,) = [i for i in pipeline.invocations if i.function == "StartCustomizationFunction"]
    assert start.result["action"] == "duplicate"
    assert pipeline.bedrock.jobs() == {}


class _FakeBedrock:
    def __init__(self, real, failures):
        self._real, self._failures = real, list(failures)

    def __getattr__(self, name):
        return getattr(self._real, name)

    def create_model_customization_job(self, **request):
        if self._failures:
            code = self._failures.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": f"simulated {code}"}},
                              "CreateModelCustomizationJob")
        return self._real.create_model_customization_job(**request)


def fail_creates(monkeypatch, *codes):
    """CreateModelCustomizationJob answers with these errors first, then as usual."""
    real_client = bedrock_customization.client
    fake = {}

    def client(service):
        if service != "bedrock":
            return real_client(service)
        if "bedrock" not in fake:
            fake["bedrock"] = _FakeBedrock(real_client("bedrock"), codes)
        return fake["bedrock"]

    monkeypatch.setattr(bedrock_customization, "client", client)


def test_a_refused_job_fails_the_run_with_the_reason(pipeline, monkeypatch):
    notifications(pipeline)
    fail_creates(monkeypatch, "ServiceQuotaExceededException")
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == "TRAINING_FAILED"
    assert "ServiceQuotaExceededException" in run["failure_message"]
    (failed,) = events(pipeline, "TrainingFailed")
    assert failed["detail"]["status"] == "StartFailed"
    assert len(notifications(pipeline)) == 1
    assert pipeline.bedrock.jobs() == {}


def test_throttling_is_retried_and_nothing_is_lost(pipeline, monkeypatch):
    fail_creates(monkeypatch, "ThrottlingException", "ThrottlingException")
    job_name = start(pipeline)
    starts = [i for i in pipeline.invocations if i.function == "StartCustomizationFunction"]
    assert [i.error is None for i in starts] == [False, False, True]  # Lambda's two retries
    assert run_record(pipeline)["job_name"] == job_name
    assert len(events(pipeline, "CustomizationStarted")) == 1


def test_throttling_beyond_the_retries_lands_in_the_dead_letter_queue(pipeline, monkeypatch):
    fail_creates(monkeypatch, *["ThrottlingException"] * 3)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    assert run_record(pipeline)["status"] == "VALIDATED"  # nothing half-done
    (body,) = pipeline.dead_letters()
    assert body["requestPayload"]["detail-type"] == "DatasetValidated"
    assert "ThrottlingException" in body["responsePayload"]["errorMessage"]


def test_jobs_of_other_stacks_are_not_our_business(pipeline):
    start(pipeline)
    foreign = {"source": "aws.bedrock", "detail-type": "Model Customization Job State Change",
               "detail": {"jobName": "someone-elses-job", "jobArn": "arn:aws:bedrock:us-east-1:123456789012:"
                          "model-customization-job/someone-elses-job", "jobStatus": "Completed"}}
    pipeline.put_event(foreign)
    pipeline.run()
    assert not [i for i in pipeline.invocations if i.function == "JobStateChangeFunction"]


def test_the_reconciler_publishes_an_outcome_that_was_recorded_but_never_announced(pipeline, monkeypatch):
    from ft_pipeline.adapters import event_bus

    real_publish = event_bus.EventBridgePublisher.publish
    down = {"on": True}

    def publish(self, detail, event_type, resources=None):
        if down["on"] and event_type.DETAIL_TYPE == "DatasetValidated":
            raise ConnectionError("EventBridge unreachable")
        return real_publish(self, detail, event_type, resources)

    monkeypatch.setattr(event_bus.EventBridgePublisher, "publish", publish)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()  # every delivery fails to publish: recorded VALIDATED, never announced
    run = run_record(pipeline)
    assert run["status"] == "VALIDATED" and "announced_at" not in run
    down["on"] = False
    pipeline.tick()  # the next sweep publishes it, and the run moves on
    assert len(events(pipeline, "DatasetValidated")) == 1
    assert run_record(pipeline)["status"] == "TRAINING"
