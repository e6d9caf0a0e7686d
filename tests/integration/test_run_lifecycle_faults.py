"""The run lifecycle under faults injected at the boto layer (local_emulation/faults.py): failed publishes,
deaths between writes, stops racing the start, broken records in a sweep. Each test asserts on the emulated
world (events on the buses, Bedrock's jobs), not only on the ledger."""

import json

import pytest

from ft_pipeline.lifecycle import MAX_ATTEMPTS
from tests.conftest import BAD_INPUTS, HEADLINES

HEADLINES_CSV = (HEADLINES / "validation.csv").read_bytes()
LEASE_LAPSED = 16  # minutes: the validator's lease is its 15-minute timeout plus a margin
DEPLOYMENT_READY = 20  # minutes: the emulated on-demand deployment is Active after 10; the sweeper polls every 10


def ours(pipeline, detail_type):
    return [e for e in pipeline.events_of(detail_type) if e["source"].startswith("ft-pipeline")]


def the_run(pipeline):
    (run,) = pipeline.ledger()
    return run


def transitions(pipeline):
    return [t["transition"] for t in the_run(pipeline)["timeline"]]


def pending(run):
    return [e["detail_type"] for e in run["outbox"].values() if not e.get("announced_at")]


def jobs_by_status(pipeline):
    return sorted(job.status for job in pipeline.bedrock.jobs().values())


def announced_once(pipeline, detail_type):
    """The event is on the bus, for one transition: at least once, and every copy carries the same event_id."""
    found = ours(pipeline, detail_type)
    assert found, f"no {detail_type} on the bus"
    assert len({e["detail"]["event_id"] for e in found}) == 1, found
    return found


def stop_request(pipeline, run_id):
    return {"source": "ft-pipeline.user", "detail-type": "StopRequested", "detail": {"run_id": run_id},
            "account": "123456789012", "region": "us-east-1", "time": "2026-12-02T00:00:00Z", "resources": [],
            "id": "stop-1", "version": "0"}


def detail_type_is(name):
    return lambda params: params["Entries"][0]["DetailType"] == name


# --- scenarios that reach each event -------------------------------------------------------------------------


def to_validated(pipeline):
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()


def to_rejected(pipeline):
    pipeline.upload("incoming/wrong.jsonl", (BAD_INPUTS / "wrong_schema.jsonl").read_bytes())
    pipeline.run()


def to_trained(pipeline):
    to_validated(pipeline)
    pipeline.bedrock.finish(pipeline.bedrock.in_progress()[0], "Completed")
    pipeline.run()


def to_failed(pipeline):
    to_validated(pipeline)
    pipeline.bedrock.finish(pipeline.bedrock.in_progress()[0], "Failed", failure_message="Internal error.")
    pipeline.run()


def to_deployed(pipeline):
    to_trained(pipeline)
    pipeline.advance(minutes=DEPLOYMENT_READY)


def to_deployment_failed(pipeline):
    pipeline.bedrock.serving.fail_next("on-demand")
    to_trained(pipeline)
    pipeline.advance(minutes=DEPLOYMENT_READY)


def to_retry_requested(pipeline):
    pipeline.faults.die("s3.GetObject", when=lambda p: p["Key"] == "incoming/h.csv")
    to_validated(pipeline)
    pipeline.advance(minutes=LEASE_LAPSED)
    pipeline.tick()


SCENARIOS = {
    "DatasetValidated": (to_validated, "TRAINING"),
    "DatasetRejected": (to_rejected, "REJECTED"),
    "CustomizationStarted": (to_validated, "TRAINING"),
    "ModelTrained": (to_trained, "DEPLOYING"),  # the deploy step claims the trained run
    "TrainingFailed": (to_failed, "TRAINING_FAILED"),
    "StepRetryRequested": (to_retry_requested, "TRAINING"),
    "DeploymentStarted": (to_trained, "DEPLOYING"),
    "ModelDeployed": (to_deployed, "COMPLETED"),
    "RunCompleted": (to_deployed, "COMPLETED"),
    "DeploymentFailed": (to_deployment_failed, "DEPLOYMENT_FAILED"),
}


def reached(run, final):
    """The run reached `final` and, unless that is a failure, went on no worse (the sweeper's tick may move a
    deploying run on to COMPLETED)."""
    statuses = [t["status"] for t in run["timeline"]]
    return final in statuses and (run["status"] == final or not run["status"].endswith(("FAILED", "REJECTED")))


def nothing_paid_alive(pipeline):
    return [r.name for r in pipeline.bedrock.serving.alive()] == [] or \
        the_run(pipeline)["status"] in ("DEPLOYING", "DEPLOYED")


@pytest.mark.parametrize("detail_type", sorted(SCENARIOS))
def test_one_failed_publish_of_any_event_is_repaired_and_announced_once(pipeline, detail_type):
    scenario, final = SCENARIOS[detail_type]
    fault = pipeline.faults.fail("eventbridge.PutEvents", when=detail_type_is(detail_type))
    scenario(pipeline)
    pipeline.tick()  # whatever a retry did not repair, the sweeper does
    assert fault.hits == 1
    announced_once(pipeline, detail_type)
    run = the_run(pipeline)
    assert reached(run, final) and pending(run) == [] and "outbox_state" not in run
    assert nothing_paid_alive(pipeline)


@pytest.mark.parametrize("detail_type", sorted(SCENARIOS))
def test_an_outage_outlasting_every_retry_still_ends_in_one_announcement(pipeline, detail_type):
    scenario, final = SCENARIOS[detail_type]
    outage = pipeline.faults.fail("eventbridge.PutEvents", times=None, when=detail_type_is(detail_type))
    scenario(pipeline)
    assert ours(pipeline, detail_type) == []  # recorded in the outbox, never published
    assert detail_type in pending(the_run(pipeline))
    pipeline.faults.faults.remove(outage)  # EventBridge is back
    pipeline.tick()
    announced_once(pipeline, detail_type)
    run = the_run(pipeline)
    assert reached(run, final) and pending(run) == []
    assert nothing_paid_alive(pipeline)


def test_a_failure_notification_is_sent_once_even_when_its_event_needs_a_retry(pipeline):
    from tests.integration.test_training_lifecycle import notifications

    notifications(pipeline)
    pipeline.faults.fail("eventbridge.PutEvents", times=3, when=detail_type_is("TrainingFailed"))
    to_failed(pipeline)
    pipeline.tick()
    assert len(ours(pipeline, "TrainingFailed")) == 1
    assert len(notifications(pipeline)) == 1


# --- deaths between two writes --------------------------------------------------------------------------------


def test_a_validator_that_dies_is_retried_once_its_lease_lapses(pipeline):
    pipeline.faults.die("s3.GetObject", when=lambda p: p["Key"] == "incoming/h.csv")
    to_validated(pipeline)
    run = the_run(pipeline)
    assert run["status"] == "VALIDATING"  # Lambda's retries found the dead attempt's lease still live
    pipeline.tick()
    assert the_run(pipeline)["status"] == "VALIDATING"  # a sweep before the lease lapses leaves it be
    pipeline.advance(minutes=LEASE_LAPSED)
    pipeline.tick()
    assert the_run(pipeline)["status"] == "TRAINING"
    assert len(ours(pipeline, "DatasetValidated")) == 1 and len(pipeline.bedrock.jobs()) == 1
    (retry,) = ours(pipeline, "StepRetryRequested")
    assert retry["detail"]["step"] == "validate" and retry["detail"]["retry"] == 1
    assert "validation_redriven" in transitions(pipeline)


def test_a_validator_that_always_dies_ends_in_a_rejection_with_the_reason(pipeline):
    deaths = pipeline.faults.die("s3.GetObject", times=None, when=lambda p: p["Key"] == "incoming/h.csv")
    to_validated(pipeline)
    for _ in range(MAX_ATTEMPTS + 1):
        pipeline.advance(minutes=25)
    run = the_run(pipeline)
    assert run["status"] == "REJECTED"
    (rejected,) = ours(pipeline, "DatasetRejected")
    assert f"did not finish in {MAX_ATTEMPTS} attempts" in rejected["detail"]["reasons"][0]
    assert len(ours(pipeline, "StepRetryRequested")) == MAX_ATTEMPTS - 1
    assert deaths.hits >= MAX_ATTEMPTS and pipeline.bedrock.jobs() == {}


def test_a_validator_that_dies_after_recording_its_outcome_publishes_it_on_the_retry(pipeline):
    pipeline.faults.die("eventbridge.PutEvents", when=detail_type_is("DatasetValidated"))
    to_validated(pipeline)
    assert len(ours(pipeline, "DatasetValidated")) == 1 and the_run(pipeline)["status"] == "TRAINING"


def test_a_death_after_publishing_but_before_the_mark_publishes_the_same_event_again(pipeline):
    """At least once: the bus may carry a copy, with the same event_id, and the job starts once."""
    pipeline.faults.die("eventbridge.PutEvents", after=True, when=detail_type_is("DatasetValidated"))
    to_validated(pipeline)
    copies = announced_once(pipeline, "DatasetValidated")
    assert len(copies) == 2
    assert len(pipeline.bedrock.jobs()) == 1 and len(ours(pipeline, "CustomizationStarted")) == 1


def test_a_start_that_dies_before_creating_the_job_is_retried_by_the_sweeper(pipeline):
    pipeline.faults.die("bedrock.CreateModelCustomizationJob")
    to_validated(pipeline)
    assert the_run(pipeline)["status"] == "TRAINING_STARTING" and pipeline.bedrock.jobs() == {}
    pipeline.tick()  # the lease (a 60 s function + margin) has lapsed: no job by that name, so ask for a retry
    assert the_run(pipeline)["status"] == "TRAINING"
    assert len(pipeline.bedrock.jobs()) == 1 and len(ours(pipeline, "CustomizationStarted")) == 1


def test_a_start_that_dies_after_creating_the_job_is_found_by_name(pipeline):
    pipeline.faults.die("bedrock.CreateModelCustomizationJob", after=True)
    to_validated(pipeline)
    assert the_run(pipeline)["status"] == "TRAINING_STARTING" and jobs_by_status(pipeline) == ["InProgress"]
    pipeline.tick()
    run = the_run(pipeline)
    assert run["status"] == "TRAINING" and run["training"]["status_source"] == "sweeper"
    assert len(pipeline.bedrock.jobs()) == 1 and len(ours(pipeline, "CustomizationStarted")) == 1


def test_a_start_that_always_dies_fails_the_run_and_leaves_no_job(pipeline):
    pipeline.faults.die("bedrock.CreateModelCustomizationJob", times=None)
    to_validated(pipeline)
    for _ in range(MAX_ATTEMPTS + 1):
        pipeline.tick()
    assert the_run(pipeline)["status"] == "TRAINING_FAILED"
    (failed,) = ours(pipeline, "TrainingFailed")
    assert failed["detail"]["status"] == "StartFailed" and "could not be started" in failed["detail"]["reason"]
    assert pipeline.bedrock.jobs() == {}


def test_a_status_handler_that_dies_before_announcing_the_model_announces_it_on_the_retry(pipeline):
    pipeline.faults.die("eventbridge.PutEvents", when=detail_type_is("ModelTrained"))
    to_trained(pipeline)
    assert len(ours(pipeline, "ModelTrained")) == 1 and the_run(pipeline)["status"] == "DEPLOYING"
    assert len(pipeline.bedrock.serving.history) == 1  # one deployment, whoever delivered the event


def test_a_stop_that_dies_before_stopping_the_job_is_finished_by_its_retry(pipeline):
    to_validated(pipeline)
    pipeline.faults.die("bedrock.StopModelCustomizationJob")
    pipeline.put_event(stop_request(pipeline, the_run(pipeline)["run_id"]), bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()
    assert jobs_by_status(pipeline) == ["Stopping"] and the_run(pipeline)["status"] == "STOPPING"


def test_a_sweeper_that_dies_after_asking_for_a_retry_delivers_the_request_next_period(pipeline):
    pipeline.faults.die("s3.GetObject", when=lambda p: p["Key"] == "incoming/h.csv")
    to_validated(pipeline)
    pipeline.advance(minutes=LEASE_LAPSED)
    pipeline.faults.die("eventbridge.PutEvents", when=detail_type_is("StepRetryRequested"))
    pipeline.tick()
    assert the_run(pipeline)["status"] == "VALIDATING" and ours(pipeline, "StepRetryRequested") == []
    pipeline.tick()
    assert len(ours(pipeline, "StepRetryRequested")) == 1 and the_run(pipeline)["status"] == "TRAINING"


# --- a stop at each point of the start -------------------------------------------------------------------------


def invoke_stop(pipeline):
    def stop(_params):
        run_id = the_run(pipeline)["run_id"]
        invocation = pipeline.invoke("StopRunFunction", stop_request(pipeline, run_id))
        assert invocation.error is None, invocation.result

    return stop


@pytest.mark.parametrize(("target", "after", "when"), [
    ("bedrock.CreateModelCustomizationJob", False, None),  # the name is recorded, the job not created yet
    ("bedrock.CreateModelCustomizationJob", True, None),  # created, not yet recorded
    ("eventbridge.PutEvents", False, detail_type_is("CustomizationStarted")),  # recorded, not yet announced
], ids=["before-create", "after-create", "after-record"])
def test_a_stop_at_any_point_of_the_start_leaves_no_job_training(pipeline, target, after, when):
    pipeline.faults.call(target, invoke_stop(pipeline), after=after, when=when)
    to_validated(pipeline)
    assert jobs_by_status(pipeline) == ["Stopping"]  # nothing is training, whatever the order
    assert the_run(pipeline)["status"] == "STOPPING"
    # before the job exists it has no pipeline tag, so IAM refuses the stop (as AWS would): the stop asks
    # for the job, finds none, and the start stops the job it then creates
    denied = {(c.function, c.operation) for c in pipeline.iam_denials()}
    before_create = target == "bedrock.CreateModelCustomizationJob" and not after
    assert denied == ({("StopRunFunction", "Bedrock.StopModelCustomizationJob")} if before_create else set())
    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Stopped", failure_message="Stopped by the user.")
    pipeline.run()
    assert the_run(pipeline)["status"] == "TRAINING_STOPPED"
    assert jobs_by_status(pipeline) == ["Stopped"]
    (failed,) = ours(pipeline, "TrainingFailed")
    assert failed["detail"]["status"] == "Stopped"
    assert ours(pipeline, "ModelTrained") == []


def test_a_stop_mid_start_whose_start_then_dies_ends_stopped_without_a_job(pipeline):
    pipeline.faults.call("bedrock.CreateModelCustomizationJob", invoke_stop(pipeline))
    pipeline.faults.die("bedrock.CreateModelCustomizationJob", times=None)
    to_validated(pipeline)
    assert the_run(pipeline)["status"] == "STOPPING" and pipeline.bedrock.jobs() == {}
    pipeline.tick()  # the start's lease lapsed and no job has its name: the stop is complete
    assert the_run(pipeline)["status"] == "TRAINING_STOPPED"
    assert "stopped_before_job_existed" in transitions(pipeline)
    assert pipeline.bedrock.jobs() == {} and len(ours(pipeline, "TrainingFailed")) == 1


def test_a_job_that_completes_before_the_stop_takes_effect_keeps_its_model_and_goes_no_further(pipeline):
    to_validated(pipeline)
    (job,) = pipeline.bedrock.in_progress()
    pipeline.put_event(stop_request(pipeline, the_run(pipeline)["run_id"]), bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()
    pipeline.bedrock.finish(job, "Completed")  # Bedrock finished the job before it acted on the stop
    pipeline.run()
    run = the_run(pipeline)
    assert run["status"] == "TRAINING_STOPPED" and run["model"]["custom_model_arn"]
    assert ours(pipeline, "ModelTrained") == []  # nothing downstream (deployment) is started
    (failed,) = ours(pipeline, "TrainingFailed")
    assert "completed before the stop took effect" in failed["detail"]["reason"]


# --- sweeps over broken records --------------------------------------------------------------------------------


def two_training_runs(pipeline):
    for name in ("a", "b"):
        pipeline.upload(f"incoming/{name}.csv", HEADLINES_CSV.replace(b"AOL", name.encode()))
        pipeline.run()
        pipeline.advance(minutes=1)  # a is older: the sweep meets it first
    runs = pipeline.ledger()
    assert [r["status"] for r in runs] == ["TRAINING", "TRAINING"]
    return runs


def test_one_run_whose_job_lookup_fails_does_not_stop_the_sweep_for_the_others(pipeline):
    first, second = two_training_runs(pipeline)
    for run in (first, second):
        pipeline.bedrock.finish(run["training"]["job_name"], "Completed", deliver_event=False)
    broken = first["training"]["job_name"]
    pipeline.faults.fail("bedrock.GetModelCustomizationJob", "InternalServerException", times=None,
                         when=lambda p: p["jobIdentifier"] == broken)
    (sweep,) = pipeline.tick()
    assert {r["run_id"]: r["status"] for r in pipeline.ledger()} == {first["run_id"]: "TRAINING",
                                                                      second["run_id"]: "DEPLOYING"}
    assert [e["run_id"] for e in sweep.result["errors"]] == [first["run_id"]]
    assert len(ours(pipeline, "ModelTrained")) == 1


def test_an_unreadable_record_is_counted_and_the_sweep_goes_on(pipeline):
    first, second = two_training_runs(pipeline)
    pipeline.client("dynamodb").put_item(TableName=pipeline.resource_name("LedgerTable"), Item={
        "dataset_id": {"S": "garbage"}, "status": {"S": "TRAINING"}, "updated_at": {"S": "2000-01-01T00:00:00.000Z"},
        "timeline": {"S": "not a list"}})
    pipeline.bedrock.finish(second["training"]["job_name"], "Completed", deliver_event=False)
    (sweep,) = pipeline.tick()
    assert [e["run_id"] for e in sweep.result["errors"]] == ["garbage"]
    assert {r["run_id"]: r["status"] for r in pipeline.ledger() if r["run_id"] != "garbage"} == {
        first["run_id"]: "TRAINING", second["run_id"]: "DEPLOYING"}
    assert sweep.result["waiting"]["TRAINING"] == 2  # the readable ones


def test_the_sweep_reports_how_many_runs_wait_and_for_how_long(pipeline):
    to_validated(pipeline)
    pipeline.advance(minutes=25)  # sweeps at 10 and 20 minutes
    (sweep,) = pipeline.tick()  # and at 30
    assert sweep.result["waiting"]["TRAINING"] == 1 and sweep.result["waiting"]["VALIDATING"] == 0
    assert sweep.result["oldest_wait_seconds"]["TRAINING"] == 30 * 60
    assert json.dumps(sweep.result)  # what the Lambda returns is plain JSON


def test_the_clock_is_the_harnesss_and_moves_only_when_told(pipeline):
    before = pipeline.clock.now()
    to_validated(pipeline)
    run = the_run(pipeline)
    assert run["created_at"] == run["updated_at"]  # no time passed inside the handlers
    fired = pipeline.advance(minutes=35)
    assert len(fired) == 3 and (pipeline.clock.now() - before).total_seconds() == 35 * 60


# --- found by a hostile review ---------------------------------------------------------------------------------


def test_a_record_with_a_malformed_time_is_unreadable_and_the_sweep_goes_on(pipeline):
    first, second = two_training_runs(pipeline)
    pipeline.client("dynamodb").update_item(
        TableName=pipeline.resource_name("LedgerTable"), Key={"dataset_id": {"S": first["run_id"]}},
        UpdateExpression="SET state_since = :s", ExpressionAttributeValues={":s": {"S": "2026-01-01T00:00:00"}})
    pipeline.bedrock.finish(second["training"]["job_name"], "Completed", deliver_event=False)
    (sweep,) = pipeline.tick()
    assert sweep.error is None and [e["run_id"] for e in sweep.result["errors"]] == [first["run_id"]]
    assert "not a UTC time" in sweep.result["errors"][0]["error"]
    assert [r.get("status") for r in pipeline.ledger()] == [None, "DEPLOYING"]


@pytest.mark.parametrize("state", ["VALIDATING", "TRAINING_STARTING"])
def test_a_waiting_run_that_lost_its_lease_is_retried_not_stuck(pipeline, state):
    target = "s3.GetObject" if state == "VALIDATING" else "bedrock.CreateModelCustomizationJob"
    pipeline.faults.die(target, when=(lambda p: p["Key"] == "incoming/h.csv") if state == "VALIDATING" else None)
    to_validated(pipeline)
    assert the_run(pipeline)["status"] == state
    pipeline.client("dynamodb").update_item(TableName=pipeline.resource_name("LedgerTable"),
                                            Key={"dataset_id": {"S": the_run(pipeline)["run_id"]}},
                                            UpdateExpression="REMOVE lease")
    pipeline.tick()
    assert the_run(pipeline)["status"] == "TRAINING" and len(pipeline.bedrock.jobs()) == 1


def test_a_stop_while_the_dataset_is_being_validated_means_no_job_ever_starts(pipeline):
    pipeline.faults.call("s3.GetObject", invoke_stop(pipeline), when=lambda p: p["Key"] == "incoming/h.csv")
    to_validated(pipeline)
    run = the_run(pipeline)
    assert run["status"] == "TRAINING_STOPPED" and pipeline.bedrock.jobs() == {}
    validator = [i for i in pipeline.invocations if i.function == "DatasetValidatorFunction"][0]
    assert validator.result["outcome"] == "SKIPPED_SUPERSEDED"
    assert ours(pipeline, "DatasetValidated") == [] and len(ours(pipeline, "TrainingFailed")) == 1


def test_a_duplicate_upload_event_reaching_the_validator_leaves_notifications_to_the_sweeper(pipeline):
    from tests.integration.test_training_lifecycle import notifications

    notifications(pipeline)
    to_validated(pipeline)
    outage = pipeline.faults.fail("sns.Publish", times=None)
    pipeline.bedrock.finish(pipeline.bedrock.in_progress()[0], "Failed", failure_message="Internal error.")
    pipeline.run()
    pipeline.put_event(pipeline.events_of("Object Created")[0])  # S3 delivers the upload's event again
    pipeline.run()
    assert [f.function for f in pipeline.failures] == ["JobStateChangeFunction"]  # the validator did not fail
    pipeline.faults.faults.remove(outage)
    pipeline.tick()
    assert len(notifications(pipeline)) == 1 and len(ours(pipeline, "TrainingFailed")) == 1


def test_a_second_stop_and_a_stop_after_the_job_ended_are_no_errors(pipeline):
    to_validated(pipeline)
    run_id = the_run(pipeline)["run_id"]
    for _ in range(2):
        pipeline.put_event(stop_request(pipeline, run_id), bus=pipeline.resource_name("PipelineBus"))
        pipeline.run()
    pipeline.bedrock.finish(pipeline.bedrock.in_progress()[0], "Stopped")  # event lost? the stop still works
    pipeline.put_event(stop_request(pipeline, run_id), bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()
    assert pipeline.failures == [] and the_run(pipeline)["status"] == "TRAINING_STOPPED"


def test_a_step_never_republishes_the_retry_request_that_triggered_it(pipeline):
    pipeline.faults.die("bedrock.CreateModelCustomizationJob")
    to_validated(pipeline)
    # the sweeper publishes its request, then dies before marking it: the start it triggers must not publish it
    pipeline.faults.die("eventbridge.PutEvents", after=True, when=detail_type_is("StepRetryRequested"))
    pipeline.tick()
    assert len(ours(pipeline, "StepRetryRequested")) == 1
    assert the_run(pipeline)["status"] == "TRAINING" and pending(the_run(pipeline)) == []


def test_a_throttled_query_for_one_state_does_not_stop_the_sweep_of_the_others(pipeline):
    to_validated(pipeline)
    pipeline.bedrock.finish(pipeline.bedrock.in_progress()[0], "Completed", deliver_event=False)
    pipeline.faults.fail("dynamodb.Query", "ProvisionedThroughputExceededException", times=None,
                         when=lambda p: p["ExpressionAttributeValues"].get(":s") == {"S": "VALIDATING"})
    (sweep,) = pipeline.tick()
    assert the_run(pipeline)["status"] == "DEPLOYING"  # trained, and its ModelTrained reached the deploy step
    assert [(e["run_id"], e["state"]) for e in sweep.result["errors"]] == [("*", "VALIDATING")]


def test_a_job_stuck_stopping_is_reported_stuck_and_never_declared_stopped_blindly(pipeline):
    to_validated(pipeline)
    pipeline.put_event(stop_request(pipeline, the_run(pipeline)["run_id"]), bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()
    sweeps = pipeline.advance(hours=3)
    assert the_run(pipeline)["status"] == "STOPPING" and jobs_by_status(pipeline) == ["Stopping"]
    assert sweeps[-1].result["stuck"] == {"STOPPING": [the_run(pipeline)["run_id"]]}
    assert sweeps[0].result["stuck"] == {}
