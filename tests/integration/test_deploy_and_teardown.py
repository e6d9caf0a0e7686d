"""Deploy and teardown on the local stack, under faults. Every test ends by asking the emulated account what is
still alive (local_emulation/bedrock_serving.py), not the ledger: nothing paid may be left running."""

import json
from datetime import timedelta

import pytest

from local_emulation.harness import LocalPipeline
from tests.conftest import HEADLINES

HEADLINES_CSV = (HEADLINES / "validation.csv").read_bytes()
READY = 20  # minutes: an emulated deployment is Active after 10 (a PT InService after 20); the sweeper polls every 10
PT_PRICED = {"ProvisionedThroughputHourlyUsd": "20"}  # provisioned mode needs a known price


def alive(pipeline):
    return sorted(r.name for r in pipeline.bedrock.serving.alive())


def created(pipeline):
    return [r.name for r in pipeline.bedrock.serving.history]


def the_run(pipeline):
    (run,) = pipeline.ledger()
    return run


def ours(pipeline, detail_type):
    return [e for e in pipeline.events_of(detail_type) if e["source"].startswith("ft-pipeline")]


def once(pipeline, detail_type):
    found = ours(pipeline, detail_type)
    assert found and len({e["detail"]["event_id"] for e in found}) == 1, (detail_type, found)
    return found[0]


def trained(pipeline, manifest=None):
    if manifest is not None:
        pipeline.upload("incoming/h.csv.options.json", json.dumps(manifest).encode())
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Completed")
    pipeline.run()
    return the_run(pipeline)


def stop(pipeline, run_id, by="alice"):
    pipeline.put_event({"source": "ft-pipeline.user", "detail-type": "StopRequested",
                        "detail": {"run_id": run_id, "requested_by": by}, "account": "123456789012",
                        "region": "us-east-1", "time": "2026-12-02T00:00:00Z", "resources": [], "id": "stop-1",
                        "version": "0"}, bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()


def foreign_pt(pipeline, name):
    """A provisioned throughput of someone else in the same account: it counts against the quota."""
    return pipeline.client("bedrock").create_provisioned_model_throughput(
        provisionedModelName=name, modelUnits=1,
        modelId="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/other")


# --- the happy path, as a user follows it ----------------------------------------------------------------------


def test_a_trained_model_is_deployed_on_demand_polled_until_active_and_released(pipeline):
    run = trained(pipeline)
    name = f"ftp-dep-{run['run_id']}"
    assert run["status"] == "DEPLOYING" and created(pipeline) == [name]
    (resource,) = pipeline.bedrock.serving.alive()
    assert {"key": "run-id", "value": run["run_id"]} in resource.tags
    assert resource.model_arn == run["model"]["custom_model_arn"]
    assert once(pipeline, "DeploymentStarted")["detail"]["serving"]["mode"] == "on-demand"

    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and alive(pipeline) == []
    serving = run["serving"]
    assert serving["state"] == "deleted" and serving["created_at"] <= serving["active_at"] <= serving["deleted_at"]
    deployed = once(pipeline, "ModelDeployed")["detail"]
    assert deployed["serving"]["arn"] == serving["arn"] and deployed["test_data_uri"].endswith("test.jsonl")
    completed = once(pipeline, "RunCompleted")["detail"]
    assert completed["serving_state"] == "deleted" and completed["cost_usd"] == run["cost"]["total_usd"]
    assert run["cost"]["estimated_training_usd"] > 0 and run["cost"]["serving_usd"] == 0  # on-demand: no hourly fee
    assert "storage" in run["model"]["storage_note"]


def test_a_provisioned_throughput_bills_by_the_hour_and_is_deleted_at_the_end():
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        run = trained(pipeline, {"deployment": {"mode": "provisioned"}})
        assert created(pipeline) == [f"ftp-pt-{run['run_id']}"]
        pipeline.advance(minutes=30)
        run = the_run(pipeline)
        assert run["status"] == "COMPLETED" and alive(pipeline) == []
        hours = pipeline.bedrock.serving.billed_hours()
        assert 0.3 <= hours <= 0.6  # created, InService after 20 minutes, deleted at the next sweep
        assert run["cost"]["serving_usd"] == pytest.approx(20 * hours, abs=0.01)


def test_a_model_without_on_demand_in_the_region_is_trained_and_completed_without_a_deployment(pipeline):
    run = trained(pipeline, {"base_model": "meta.llama3-1-8b-instruct-v1"})  # the default mode is auto
    assert run["options"]["deployment"]["mode"] == "none"
    assert run["status"] == "COMPLETED" and created(pipeline) == []
    assert once(pipeline, "RunCompleted")["detail"]["outcome"] == "trained; deployment.mode none"


def test_mode_none_ends_the_run_at_the_trained_model(pipeline):
    run = trained(pipeline, {"deployment": {"mode": "none"}})
    assert run["status"] == "COMPLETED" and created(pipeline) == [] and ours(pipeline, "DeploymentStarted") == []


def test_provisioned_is_refused_at_validation_while_its_price_is_unknown(pipeline):
    pipeline.upload("incoming/h.csv.options.json", json.dumps({"deployment": {"mode": "provisioned"}}).encode())
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    (rejected,) = ours(pipeline, "DatasetRejected")
    assert "ProvisionedThroughputHourlyUsd" in rejected["detail"]["reasons"][0]
    assert pipeline.bedrock.jobs() == {} and created(pipeline) == []


def test_an_estimate_over_the_cost_ceiling_is_refused_before_training():
    with LocalPipeline(parameter_overrides={**PT_PRICED, "CostCeilingUsd": "50"}) as pipeline:
        pipeline.upload("incoming/h.csv.options.json", json.dumps({"deployment": {"mode": "provisioned"}}).encode())
        pipeline.upload("incoming/h.csv", HEADLINES_CSV)
        pipeline.run()
        (rejected,) = ours(pipeline, "DatasetRejected")
        assert "over the cost ceiling $50.00" in rejected["detail"]["reasons"][0]  # 4 h x $20 + training
        assert pipeline.bedrock.jobs() == {} and created(pipeline) == []


# --- faults ----------------------------------------------------------------------------------------------------


def test_a_deploy_that_dies_after_create_before_the_ledger_write_is_found_by_name(pipeline):
    pipeline.faults.die("bedrock.CreateCustomModelDeployment", after=True)
    run = trained(pipeline)
    assert run["status"] == "DEPLOYING" and run["serving"].get("arn") is None  # the create's answer was lost
    assert len(created(pipeline)) == 1
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and len(created(pipeline)) == 1 and alive(pipeline) == []
    assert any("(sweeper)" in t["note"] for t in run["timeline"] if t["transition"] == "deployment_created")


def test_a_create_that_fails_is_retried_by_lambda_and_creates_one_deployment(pipeline):
    pipeline.faults.fail("bedrock.CreateCustomModelDeployment", "ThrottlingException")
    trained(pipeline)
    assert len(created(pipeline)) == 1
    pipeline.advance(minutes=READY)
    assert the_run(pipeline)["status"] == "COMPLETED" and alive(pipeline) == []


def test_a_deploy_that_always_dies_before_creating_fails_the_run_and_leaves_nothing(pipeline):
    pipeline.faults.die("bedrock.CreateCustomModelDeployment", times=None)
    trained(pipeline)
    pipeline.advance(hours=2)
    run = the_run(pipeline)
    assert run["status"] == "DEPLOYMENT_FAILED" and "could not be started in 3 attempts" in run["serving"]["reason"]
    assert created(pipeline) == [] and alive(pipeline) == []
    once(pipeline, "DeploymentFailed")


def test_a_failed_deployment_fails_the_run_and_is_deleted(pipeline):
    pipeline.bedrock.serving.fail_next("on-demand", "Insufficient capacity for the requested model.")
    trained(pipeline)
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "DEPLOYMENT_FAILED" and alive(pipeline) == [] and len(created(pipeline)) == 1
    failed = once(pipeline, "DeploymentFailed")["detail"]
    assert "Insufficient capacity" in failed["reason"] and run["serving"]["state"] == "deleted"


def test_a_deployment_not_ready_by_its_deadline_is_failed_and_deleted(pipeline):
    pipeline.bedrock.serving.ready_after["on-demand"] = timedelta(hours=3)
    trained(pipeline, {"deployment": {"max_hours": 0.5}})
    pipeline.advance(minutes=20)
    assert the_run(pipeline)["status"] == "DEPLOYING" and len(alive(pipeline)) == 1
    pipeline.advance(minutes=20)
    run = the_run(pipeline)
    assert run["status"] == "DEPLOYMENT_FAILED" and "not ready by its deadline" in run["serving"]["reason"]
    assert alive(pipeline) == []


def test_duplicate_deliveries_of_every_event_create_one_deployment_and_one_teardown():
    with LocalPipeline(deliveries=3) as pipeline:
        trained(pipeline)
        pipeline.advance(minutes=READY)
        assert len(created(pipeline)) == 1 and alive(pipeline) == []
        for detail_type in ("ModelTrained", "DeploymentStarted", "ModelDeployed", "RunCompleted"):
            once(pipeline, detail_type)
        run = the_run(pipeline)
        assert run["status"] == "COMPLETED"
        assert [t["transition"] for t in run["timeline"]].count("serving_deleted") == 1


def test_a_teardown_repeated_changes_nothing_and_fails_nothing(pipeline):
    trained(pipeline)
    pipeline.advance(minutes=READY)
    before = the_run(pipeline)
    functions = {"EvaluationCompleted": "CompleteRunFunction", "ModelDeployed": "EvaluateModelFunction",
                 "ModelTrained": "DeployModelFunction"}
    for detail_type, function in functions.items():  # stale copies arrive long after the run ended
        (event,) = ours(pipeline, detail_type)
        invocation = pipeline.invoke(function, event)
        assert invocation.error is None and invocation.result["action"] == "duplicate"
    pipeline.tick()
    after = the_run(pipeline)
    assert after["timeline"] == before["timeline"] and after["cost"] == before["cost"]
    assert len(created(pipeline)) == 1 and alive(pipeline) == [] and pipeline.failures == []


def test_a_delete_that_fails_is_finished_by_the_sweeper(pipeline):
    throttled = pipeline.faults.fail("bedrock.DeleteCustomModelDeployment", "ThrottlingException", times=None)
    trained(pipeline)
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and run["serving"]["state"] == "deleting" and len(alive(pipeline)) == 1
    pipeline.faults.faults.remove(throttled)  # Bedrock answers again
    (sweep,) = pipeline.tick()
    assert the_run(pipeline)["serving"]["state"] == "deleted" and alive(pipeline) == []
    (verdict,) = sweep.result["serving"]["resources"]
    assert verdict["action"] == "deleted" and verdict["reason"] == "its run is COMPLETED"


def test_an_evaluation_that_never_comes_still_ends_the_run_and_deletes_the_deployment(pipeline):
    pipeline.routes = [r for r in pipeline.routes if r.function != "EvaluateModelFunction"]  # it never starts
    trained(pipeline)
    pipeline.advance(minutes=READY)
    assert the_run(pipeline)["status"] == "DEPLOYED" and len(alive(pipeline)) == 1
    pipeline.advance(minutes=80)  # the sweeper asks for the evaluation twice, then completes the run without it
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and alive(pipeline) == []
    assert len(ours(pipeline, "StepRetryRequested")) == 2


def test_the_maximum_lifetime_is_enforced_whatever_the_steps_do(pipeline):
    """Nothing ends the run (its ModelDeployed is lost, the sweeper cannot query its state): the sweeper's
    inventory still deletes the deployment at its run's deadline."""
    pipeline.routes = [r for r in pipeline.routes if r.function != "EvaluateModelFunction"]
    pipeline.faults.fail("dynamodb.Query", "ProvisionedThroughputExceededException", times=None,
                         when=lambda p: p.get("ExpressionAttributeValues", {}).get(":s") == {"S": "DEPLOYED"})
    trained(pipeline, {"deployment": {"max_hours": 1}})
    pipeline.advance(minutes=50)
    assert the_run(pipeline)["status"] == "DEPLOYED" and len(alive(pipeline)) == 1  # in use until its deadline
    (sweep,) = pipeline.advance(minutes=10)
    assert alive(pipeline) == []
    (verdict,) = sweep.result["serving"]["resources"]
    assert verdict["action"] == "deleted" and verdict["reason"].startswith("past its maximum lifetime")
    assert the_run(pipeline)["serving"]["state"] == "deleted"


def test_a_stop_while_the_deployment_is_created_deletes_it(pipeline):
    run = trained(pipeline)
    stop(pipeline, run["run_id"])
    run = the_run(pipeline)
    assert run["status"] == "STOPPED" and alive(pipeline) == [] and len(created(pipeline)) == 1
    assert once(pipeline, "RunStopped")["detail"]["requested_by"] == "alice"
    pipeline.advance(minutes=READY)
    assert the_run(pipeline)["status"] == "STOPPED" and alive(pipeline) == [] and ours(pipeline, "ModelDeployed") == []


def test_a_stop_that_lands_just_before_the_create_call_still_leaves_nothing(pipeline):
    def stop_now(params):
        stop(pipeline, the_run(pipeline)["run_id"])

    pipeline.faults.call("bedrock.CreateCustomModelDeployment", stop_now)
    trained(pipeline)
    assert the_run(pipeline)["status"] == "STOPPED"
    assert len(created(pipeline)) == 1 and alive(pipeline) == []  # created after the stop, deleted by the deploy


def test_a_stop_of_a_deployed_run_deletes_its_deployment(pipeline):
    pipeline.routes = [r for r in pipeline.routes if r.function != "EvaluateModelFunction"]
    run = trained(pipeline)
    pipeline.advance(minutes=READY)
    assert the_run(pipeline)["status"] == "DEPLOYED"
    stop(pipeline, run["run_id"])
    assert the_run(pipeline)["status"] == "STOPPED" and alive(pipeline) == []


# --- the provisioned-throughput quota ----------------------------------------------------------------------------


def test_at_the_pt_quota_the_run_waits_with_its_reason_and_starts_when_one_is_free():
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        foreign_pt(pipeline, "team-a-pt")
        foreign_pt(pipeline, "team-b-pt")
        run = trained(pipeline, {"deployment": {"mode": "provisioned"}})
        assert run["status"] == "DEPLOYMENT_QUEUED" and "2 no-commitment provisioned throughputs" in \
            run["serving"]["reason"]
        assert once(pipeline, "DeploymentQueued")["detail"]["reason"] == run["serving"]["reason"]
        pipeline.advance(minutes=30)
        assert the_run(pipeline)["status"] == "DEPLOYMENT_QUEUED" and alive(pipeline) == ["team-a-pt", "team-b-pt"]
        pipeline.client("bedrock").delete_provisioned_model_throughput(provisionedModelId="team-a-pt")
        pipeline.advance(minutes=10)  # the sweeper sees a free PT and asks the deploy step to try again
        assert the_run(pipeline)["status"] == "DEPLOYING"
        pipeline.advance(minutes=40)
        assert the_run(pipeline)["status"] == "COMPLETED" and alive(pipeline) == ["team-b-pt"]


def test_a_queue_that_never_frees_fails_the_run_after_its_queue_time():
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        foreign_pt(pipeline, "team-a-pt")
        foreign_pt(pipeline, "team-b-pt")
        trained(pipeline, {"deployment": {"mode": "provisioned", "max_queue_hours": 1}})
        pipeline.advance(minutes=70)
        run = the_run(pipeline)
        assert run["status"] == "DEPLOYMENT_FAILED" and "within 1 h" in run["serving"]["reason"]
        assert alive(pipeline) == ["team-a-pt", "team-b-pt"] and len(created(pipeline)) == 2  # none of ours


def test_at_the_pt_quota_with_on_pt_quota_fail_the_run_fails_at_once():
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        foreign_pt(pipeline, "team-a-pt")
        foreign_pt(pipeline, "team-b-pt")
        run = trained(pipeline, {"deployment": {"mode": "provisioned", "on_pt_quota": "fail"}})
        assert run["status"] == "DEPLOYMENT_FAILED" and "on_pt_quota is 'fail'" in run["serving"]["reason"]
        assert len(created(pipeline)) == 2


def test_the_quota_answer_from_bedrock_itself_queues_the_run():
    """Another PT was created between our count and our create: Bedrock's ServiceQuotaExceededException."""
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        foreign_pt(pipeline, "team-a-pt")
        pipeline.faults.call("bedrock.CreateProvisionedModelThroughput", lambda p: foreign_pt(pipeline, "team-b-pt"))
        run = trained(pipeline, {"deployment": {"mode": "provisioned"}})
        assert run["status"] == "DEPLOYMENT_QUEUED" and alive(pipeline) == ["team-a-pt", "team-b-pt"]


# --- the inventory: what no run owns ------------------------------------------------------------------------------


OURS = [{"key": "pipeline", "value": "ftp-local"}]  # the harness's stack name: what the deploy step tags


def test_a_paid_resource_of_this_stack_that_no_run_owns_is_deleted_and_others_are_left_alone(pipeline):
    bedrock = pipeline.client("bedrock")
    model = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/x"
    bedrock.create_custom_model_deployment(modelDeploymentName="ftp-dep-ghost-0123456789", modelArn=model, tags=OURS)
    bedrock.create_provisioned_model_throughput(provisionedModelName="ftp-pt-ghost-0123456789", modelUnits=1,
                                                modelId=model, tags=OURS)
    bedrock.create_custom_model_deployment(modelDeploymentName="someone-elses", modelArn=model)
    (sweep,) = pipeline.tick()
    assert alive(pipeline) == ["someone-elses"]
    verdicts = {r["name"]: r for r in sweep.result["serving"]["resources"]}
    assert set(verdicts) == {"ftp-dep-ghost-0123456789", "ftp-pt-ghost-0123456789"}
    assert all(v["action"] == "deleted" and v["reason"] == "no ledger record owns it" for v in verdicts.values())


def test_another_stack_with_the_same_prefix_keeps_its_resources(pipeline):
    """Found by a hostile review: a dev and a prod stack in one account, both with the default prefix."""
    name = "ftp-dep-prodrun-0123456789"
    pipeline.client("bedrock").create_custom_model_deployment(
        modelDeploymentName=name, modelArn="arn:aws:bedrock:us-east-1:123456789012:custom-model/m/prod",
        tags=[{"key": "pipeline", "value": "ft-pipeline-prod"}, {"key": "run-id", "value": "prodrun-0123456789"}])
    (sweep,) = pipeline.tick()
    (verdict,) = sweep.result["serving"]["resources"]
    assert alive(pipeline) == [name] and verdict["action"] == "ignored" and "ft-pipeline-prod" in verdict["reason"]


# --- found by a hostile review ---------------------------------------------------------------------------------


def stop_when_created(pipeline):
    pipeline.faults.call("bedrock.CreateCustomModelDeployment", lambda p: stop(pipeline, the_run(pipeline)["run_id"]))


def test_a_resource_created_after_its_runs_teardown_is_deleted_by_the_sweeper(pipeline):
    stop_when_created(pipeline)
    pipeline.faults.die("bedrock.CreateCustomModelDeployment", after=True)  # and the deploy dies before recording
    trained(pipeline)
    run = the_run(pipeline)
    assert run["status"] == "STOPPED" and run["serving"]["state"] == "deleted" and len(alive(pipeline)) == 1
    (sweep,) = pipeline.tick()
    assert alive(pipeline) == []
    (verdict,) = sweep.result["serving"]["resources"]
    assert verdict["action"] == "deleted" and the_run(pipeline)["serving"]["state"] == "deleted"
    notes = [t["note"] for t in the_run(pipeline)["timeline"] if t["transition"] == "serving_deleting"]
    assert any("found alive after its run's teardown" in n for n in notes)


def test_a_delete_refused_while_creating_is_retried_until_it_is_gone(pipeline):
    stop_when_created(pipeline)
    pipeline.faults.fail("bedrock.DeleteCustomModelDeployment", "ConflictException", times=1)
    trained(pipeline)
    pipeline.tick()
    assert the_run(pipeline)["status"] == "STOPPED" and alive(pipeline) == []


def test_a_deployment_quota_for_on_demand_fails_the_run_instead_of_queueing_it(pipeline):
    pipeline.faults.fail("bedrock.CreateCustomModelDeployment", "ServiceQuotaExceededException", times=None)
    trained(pipeline)
    run = the_run(pipeline)
    assert run["status"] == "DEPLOYMENT_FAILED" and "quota for custom model deployments" in run["serving"]["reason"]
    pipeline.advance(hours=1)
    assert the_run(pipeline)["status"] == "DEPLOYMENT_FAILED" and len(ours(pipeline, "DeploymentQueued")) == 0


def test_a_run_queued_past_its_lifetime_gets_a_fresh_one_when_it_starts():
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        foreign_pt(pipeline, "team-a-pt")
        foreign_pt(pipeline, "team-b-pt")
        trained(pipeline, {"deployment": {"mode": "provisioned", "max_hours": 1, "max_queue_hours": 6}})
        pipeline.advance(hours=2)
        pipeline.client("bedrock").delete_provisioned_model_throughput(provisionedModelId="team-a-pt")
        pipeline.advance(minutes=50)
        run = the_run(pipeline)
        assert run["status"] == "COMPLETED", run["serving"]
        assert alive(pipeline) == ["team-b-pt"]


def test_the_queue_time_counts_from_the_first_queueing_even_when_the_run_is_requeued():
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        foreign_pt(pipeline, "team-a-pt")
        foreign_pt(pipeline, "team-b-pt")
        run = trained(pipeline, {"deployment": {"mode": "provisioned", "max_queue_hours": 1}})
        first = run["serving"]["queued_since"]
        # another PT is freed and taken again at once (another team): the run is dequeued, then requeued
        pipeline.client("bedrock").delete_provisioned_model_throughput(provisionedModelId="team-a-pt")
        pipeline.faults.call("bedrock.CreateProvisionedModelThroughput", lambda p: foreign_pt(pipeline, "team-c-pt"))
        pipeline.advance(minutes=20)
        run = the_run(pipeline)
        assert run["status"] == "DEPLOYMENT_QUEUED" and run["serving"]["queued_since"] == first
        assert len(ours(pipeline, "DeploymentQueued")) == 2
        pipeline.advance(minutes=50)
        assert the_run(pipeline)["status"] == "DEPLOYMENT_FAILED"
        assert sorted(alive(pipeline)) == ["team-b-pt", "team-c-pt"]


def test_a_resource_whose_run_record_is_unreadable_is_kept_only_until_no_run_could_keep_it(pipeline):
    name = "ftp-dep-broken-0123456789"
    pipeline.client("dynamodb").put_item(TableName=pipeline.resource_name("LedgerTable"), Item={
        "dataset_id": {"S": "broken-0123456789"}, "status": {"S": "DEPLOYED"}, "timeline": {"S": "not a list"}})
    pipeline.client("bedrock").create_custom_model_deployment(
        modelDeploymentName=name, modelArn="arn:aws:bedrock:us-east-1:123456789012:custom-model/m/x", tags=OURS)
    (sweep,) = pipeline.tick()
    (verdict,) = sweep.result["serving"]["resources"]
    assert verdict["action"] == "kept" and "unreadable" in verdict["reason"] and alive(pipeline) == [name]
    pipeline.bedrock.serving.resources[name].created_at -= timedelta(hours=73)  # it has been there three days
    (sweep,) = pipeline.tick()
    assert alive(pipeline) == [] and sweep.result["serving"]["resources"][0]["overdue"]


# --- cost ---------------------------------------------------------------------------------------------------------


def test_a_provisioned_throughput_is_deleted_when_its_run_reaches_its_cost_ceiling():
    with LocalPipeline(parameter_overrides=PT_PRICED) as pipeline:
        pipeline.bedrock.serving.ready_after["provisioned"] = timedelta(hours=1)  # slow capacity: it bills meanwhile
        run = trained(pipeline, {"deployment": {"mode": "provisioned"}})
        assert run["options"]["cost_ceiling_usd"] == 100  # the stack's; the estimate (4 h x $20 + training) is under
        # the owner lowers this run's ceiling to $5 (training ~$0.17 + $20/h: reached after about 15 minutes)
        pipeline.client("dynamodb").update_item(
            TableName=pipeline.resource_name("LedgerTable"), Key={"dataset_id": {"S": run["run_id"]}},
            UpdateExpression="SET #o.cost_ceiling_usd = :c", ExpressionAttributeNames={"#o": "options"},
            ExpressionAttributeValues={":c": {"N": "5"}})
        pipeline.advance(minutes=10)
        assert len(alive(pipeline)) == 1
        pipeline.advance(minutes=20)
        assert alive(pipeline) == []
        pipeline.tick()
        run = the_run(pipeline)
        assert run["status"] == "DEPLOYMENT_FAILED" and "reached the ceiling $5.00" in run["serving"]["reason"]
        assert 5 <= run["cost"]["total_usd"] <= 5 + 20 * 10 / 60  # deleted within one sweep period of the ceiling
