"""DatasetValidated → Bedrock job → ModelTrained | TrainingFailed, through the harness (moto + emulated Bedrock)."""

import json

import pytest

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
    assert run["status"] == "TRAINING" and run["training"]["job_name"] == job_name
    job = pipeline.bedrock.jobs()[job_name]
    dataset_id = run["run_id"]
    assert job_name == f"ftp-job-{dataset_id}" and job.custom_model_name == f"ftp-model-{dataset_id}"
    assert job.base_model_identifier == "amazon.nova-micro-v1:0:128k"
    assert job.hyper_parameters == {"epochCount": "2", "learningRate": "1e-05", "learningRateWarmupSteps": "10"}
    assert job.training_data_config["s3Uri"] == run["validation"]["outputs"]["train.jsonl"]
    assert job.validation_data_config["validators"][0]["s3Uri"] == run["validation"]["outputs"]["validation.jsonl"]
    assert job.output_data_config["s3Uri"] == f"s3://{pipeline.data_bucket}/customization-output/{dataset_id}/"
    assert {"key": "dataset-id", "value": dataset_id} in job.job_tags
    assert job.role_arn.endswith(pipeline.resource_name("BedrockCustomizationRole"))
    (started,) = events(pipeline, "CustomizationStarted")
    assert started["detail"]["job_arn"] == run["training"]["job_arn"] == job.job_arn


def test_completed_job_records_the_model_and_its_loss_curves(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed")
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == "DEPLOYING"  # the deploy step claimed the trained run at once
    assert statuses(pipeline)[:5] == ["VALIDATING", "VALIDATED", "TRAINING_STARTING", "TRAINING", "TRAINED"]
    metrics = run["training"]["metrics"]
    assert 0 < metrics["training_loss"] < 5 and 0 < metrics["validation_loss"] < 5
    assert metrics["epochs"] == 2 and metrics["steps"] > 10
    assert len(metrics["curves"]["training_loss"]) > 2
    curves = json.loads(pipeline.read_object(metrics["metrics_uri"].split("/", 3)[3]))
    assert curves["columns"] == ["step", "epoch", "loss"]
    (trained,) = events(pipeline, "ModelTrained")
    assert trained["detail"]["custom_model_arn"] == run["model"]["custom_model_arn"]
    assert trained["detail"]["test_data_uri"] == run["validation"]["outputs"]["test.jsonl"]
    assert trained["detail"]["labels"] == ["business", "entertainment", "health", "science"]


def test_the_emulated_model_really_learned_the_task(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed")
    pipeline.run()
    run = run_record(pipeline)
    model = pipeline.bedrock.models[run["model"]["custom_model_arn"]]
    test = [json.loads(line) for line in pipeline.read_object(run["validation"]["outputs"]["test.jsonl"]
                                                              .split("/", 3)[3]).splitlines()]
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


def test_lost_completion_event_is_caught_by_the_sweeper_within_one_period(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed", deliver_event=False)
    pipeline.run()
    assert run_record(pipeline)["status"] == "TRAINING"  # nobody told us
    pipeline.tick()
    run = run_record(pipeline)
    assert "TRAINED" in statuses(pipeline) and run["training"]["status_source"] == "sweeper"
    assert run["status"] == "DEPLOYING"  # its ModelTrained reached the deploy step
    pipeline.tick()
    assert len(events(pipeline, "ModelTrained")) == 1


def test_event_and_sweeper_together_make_one_transition(pipeline):
    job_name = start(pipeline)
    pipeline.bedrock.finish(job_name, "Completed")  # the event is queued...
    pipeline.fire(pipeline.schedules[0])  # ...and the sweeper runs too
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
    assert run_record(pipeline)["status"] == "DEPLOYING" and statuses(pipeline).count("TRAINED") == 1
    assert events(pipeline, "TrainingFailed") == []


def test_completion_arriving_before_the_start_was_recorded(pipeline):
    def finish_at_once(params):
        event = pipeline.bedrock.finish(params["jobName"], "Completed", deliver_event=False)
        invocation = pipeline.invoke("JobStateChangeFunction", event)  # before the start records TRAINING
        assert invocation.error is None, invocation.result

    pipeline.faults.call("bedrock.CreateModelCustomizationJob", finish_at_once, after=True)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == "DEPLOYING" and run["training"]["job_arn"]
    assert statuses(pipeline)[:4] == ["VALIDATING", "VALIDATED", "TRAINING_STARTING", "TRAINED"]
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
    assert run["training"]["failure_message"] == "Insufficient capacity in the region."
    (failed,) = events(pipeline, "TrainingFailed")
    assert failed["detail"]["status"] == status and failed["detail"]["job_arn"] == run["training"]["job_arn"]
    (note,) = notifications(pipeline)
    assert run["run_id"] in note and "Insufficient capacity" in note


def stop_request(pipeline, run_id, **detail):
    pipeline.put_event({"source": "ft-pipeline.user", "detail-type": "StopRequested",
                        "detail": {"run_id": run_id} | detail}, bus=pipeline.resource_name("PipelineBus"))


def test_stop_request_stops_the_job_and_ends_in_stopped(pipeline):
    job_name = start(pipeline)
    stop_request(pipeline, run_record(pipeline)["run_id"], requested_by="alice")
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == "STOPPING" and run["stop"]["requested_by"] == "alice"
    assert pipeline.bedrock.jobs()[job_name].status == "Stopping"
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
    # the first versions of `make stop-run` sent `dataset_id`: still understood
    pipeline.put_event({"source": "ft-pipeline.user", "detail-type": "StopRequested",
                        "detail": {"dataset_id": run_record(pipeline)["run_id"]}},
                       bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()
    assert run_record(pipeline)["status"] == "TRAINING_STOPPED"
    pipeline.routes += held  # the delayed DatasetValidated finally arrives
    pipeline.run()
    (start,) = [i for i in pipeline.invocations if i.function == "StartCustomizationFunction"]
    assert start.result["action"] == "duplicate"
    assert pipeline.bedrock.jobs() == {}


def test_a_refused_job_fails_the_run_with_the_reason(pipeline):
    notifications(pipeline)
    pipeline.faults.fail("bedrock.CreateModelCustomizationJob", "ServiceQuotaExceededException")
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    run = run_record(pipeline)
    assert run["status"] == "TRAINING_FAILED"
    assert "ServiceQuotaExceededException" in run["training"]["failure_message"]
    (failed,) = events(pipeline, "TrainingFailed")
    assert failed["detail"]["status"] == "StartFailed"
    assert len(notifications(pipeline)) == 1
    assert pipeline.bedrock.jobs() == {}


def test_throttling_is_retried_and_nothing_is_lost(pipeline):
    pipeline.faults.fail("bedrock.CreateModelCustomizationJob", "ThrottlingException", times=2)
    job_name = start(pipeline)
    starts = [i for i in pipeline.invocations if i.function == "StartCustomizationFunction"]
    assert [i.error is None for i in starts] == [False, False, True]  # Lambda's two retries
    assert run_record(pipeline)["training"]["job_name"] == job_name
    assert len(events(pipeline, "CustomizationStarted")) == 1


def test_throttling_beyond_the_retries_reaches_the_dead_letter_queue_and_the_sweeper_starts_it(pipeline):
    pipeline.faults.fail("bedrock.CreateModelCustomizationJob", "ThrottlingException", times=3)
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    assert run_record(pipeline)["status"] == "TRAINING_STARTING"  # the job's name is recorded, no job exists
    assert pipeline.bedrock.jobs() == {}
    (body,) = pipeline.dead_letters()
    assert body["requestPayload"]["detail-type"] == "DatasetValidated"
    assert "ThrottlingException" in body["responsePayload"]["errorMessage"]
    pipeline.tick()  # the throttling has passed: the sweeper asks the start to try again
    assert run_record(pipeline)["status"] == "TRAINING"
    assert len(pipeline.bedrock.jobs()) == 1 and len(events(pipeline, "CustomizationStarted")) == 1
    (retry,) = events(pipeline, "StepRetryRequested")
    assert retry["detail"]["step"] == "start_training"


def test_jobs_of_other_stacks_are_not_our_business(pipeline):
    start(pipeline)
    foreign = {"source": "aws.bedrock", "detail-type": "Model Customization Job State Change",
               "detail": {"jobName": "someone-elses-job", "jobArn": "arn:aws:bedrock:us-east-1:123456789012:"
                          "model-customization-job/someone-elses-job", "jobStatus": "Completed"}}
    pipeline.put_event(foreign)
    pipeline.run()
    assert not [i for i in pipeline.invocations if i.function == "JobStateChangeFunction"]


def test_the_sweeper_publishes_an_outcome_that_was_recorded_but_never_announced(pipeline):
    outage = pipeline.faults.fail("eventbridge.PutEvents", times=None,
                                  when=lambda p: p["Entries"][0]["DetailType"] == "DatasetValidated")
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()  # every delivery fails to publish: recorded VALIDATED, never announced
    run = run_record(pipeline)
    assert run["status"] == "VALIDATED" and run["outbox_state"] == "PENDING"
    assert [e.get("announced_at") for e in run["outbox"].values()] == [None]
    pipeline.faults.faults.remove(outage)
    pipeline.tick()  # the next sweep publishes it, and the run moves on
    assert len(events(pipeline, "DatasetValidated")) == 1
    run = run_record(pipeline)
    assert run["status"] == "TRAINING" and "outbox_state" not in run
