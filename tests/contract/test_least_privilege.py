"""Least privilege, tested: every function's calls in the scenarios below are checked against its policies in
template.yaml (local_emulation/iam.py), as AWS would check them, and every action its own policies grant must be
used by some call of some scenario.

(a) no call is denied (the harness enforces IAM: a denied call fails as AccessDenied in the handler too);
(b) no function holds an action it never uses, except those in UNREACHED below, each with its reason.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from local_emulation import iam
from local_emulation.harness import LocalPipeline
from tests.conftest import EVENTS, HEADLINES
from tests.integration.test_deploy_and_teardown import trained as _trained  # upload, train, finish the job

DATA = (HEADLINES / "validation.csv").read_bytes()
READY = 20  # minutes: an emulated deployment is Active after 10, a PT InService after 20
SMALL = {"evaluation": {"max_examples": 30, "chunk_size": 10}}
PT_PRICED = {"ProvisionedThroughputHourlyUsd": "20"}
ENDPOINT = "headline-classifier"
FOREIGN_MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/x"

# Grants the scenarios cannot reach in reasonable time: "<function>": {"<policy>/<Sid>: <action>": why}
UNREACHED: dict[str, dict[str, str]] = {}


def _run(pipeline: LocalPipeline) -> dict:
    (run,) = pipeline.ledger()
    return run


def _stop_event(pipeline: LocalPipeline, run_id: str) -> dict:
    return {"source": "ft-pipeline.user", "detail-type": "StopRequested", "id": "stop-1", "version": "0",
            "detail": {"run_id": run_id, "requested_by": "alice"}, "account": "123456789012",
            "region": "us-east-1", "time": "2026-12-02T00:00:00Z", "resources": []}


def _stop(pipeline: LocalPipeline) -> None:
    pipeline.put_event(_stop_event(pipeline, _run(pipeline)["run_id"]), bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()


# -- the scenarios: each on a fresh stack, IAM enforced ---------------------------------------------------------------

def on_demand_evaluated_gate_fails_and_the_model_is_deleted(pipeline: LocalPipeline) -> None:
    _trained(pipeline, SMALL | {"deployment": {"keep_after_evaluation": True,
                                               "delete_custom_model_on_gate_failure": True},
                                "evaluation": {"max_examples": 30, "chunk_size": 10, "gate": {"min_accuracy": 0.999}}})
    pipeline.advance(minutes=READY)
    assert _run(pipeline)["status"] == "COMPLETED"


def provisioned_throughput_served_and_deleted(pipeline: LocalPipeline) -> None:
    _trained(pipeline, SMALL | {"deployment": {"mode": "provisioned"}})
    pipeline.advance(minutes=READY + 10)
    assert _run(pipeline)["status"] == "COMPLETED"


def the_same_dataset_twice_and_no_options_manifest(pipeline: LocalPipeline) -> None:
    pipeline.upload("incoming/a.csv", DATA)  # no a.csv.options.json: a 404, which needs s3:ListBucket
    pipeline.run()
    pipeline.upload("incoming/b.csv", DATA)  # the content is claimed already: the claim is read
    pipeline.run()


def training_fails_and_is_notified(pipeline: LocalPipeline) -> None:
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Failed", failure_message="Internal error")
    pipeline.run()
    assert _run(pipeline)["status"] == "TRAINING_FAILED"


def a_lost_completion_is_found_by_the_sweeper(pipeline: LocalPipeline) -> None:
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Completed", deliver_event=False)
    pipeline.run()
    pipeline.tick()
    assert _run(pipeline)["training"]["status_source"] == "sweeper"


def a_stop_while_training(pipeline: LocalPipeline) -> None:
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    _stop(pipeline)
    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Stopped", failure_message="Stopped by the user.")
    pipeline.run()
    assert _run(pipeline)["status"] == "TRAINING_STOPPED"


def a_stop_that_lands_while_the_job_is_created(pipeline: LocalPipeline) -> None:
    def stop_now(_params: dict) -> None:  # the start then finds its run stopped and stops the job it created
        pipeline.invoke("StopRunFunction", _stop_event(pipeline, _run(pipeline)["run_id"]))

    pipeline.faults.call("bedrock.CreateModelCustomizationJob", stop_now, after=True)
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()


def a_stop_while_deploying(pipeline: LocalPipeline) -> None:
    _trained(pipeline, SMALL)
    _stop(pipeline)
    pipeline.advance(minutes=READY)


def resources_no_run_owns_are_deleted_by_the_sweeper(pipeline: LocalPipeline) -> None:
    bedrock = pipeline.client("bedrock")
    ours = [{"key": "pipeline", "value": pipeline.stack.stack_name}, {"key": "run-id", "value": "ghost-0123456789"}]
    bedrock.create_custom_model_deployment(modelDeploymentName="ftp-dep-ghost-0123456789", modelArn=FOREIGN_MODEL,
                                           tags=ours)
    bedrock.create_provisioned_model_throughput(provisionedModelName="ftp-pt-ghost-0123456789", modelUnits=1,
                                                modelId=FOREIGN_MODEL, tags=ours)
    pipeline.tick()
    assert pipeline.bedrock.serving.alive() == []


def a_start_refused_by_bedrock_fails_the_run(pipeline: LocalPipeline) -> None:
    pipeline.faults.fail("bedrock.CreateModelCustomizationJob", "ValidationException")
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    assert _run(pipeline)["status"] == "TRAINING_FAILED"


def a_start_that_dies_after_creating_finds_its_job_by_name(pipeline: LocalPipeline) -> None:
    pipeline.faults.die("bedrock.CreateModelCustomizationJob", after=True)
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    pipeline.tick()
    assert _run(pipeline)["status"] == "TRAINING" and len(pipeline.bedrock.jobs()) == 1


def a_stop_before_training_starts(pipeline: LocalPipeline) -> None:
    starts = [r for r in pipeline.routes if r.function == "StartCustomizationFunction"]
    pipeline.routes = [r for r in pipeline.routes if r not in starts]  # DatasetValidated is not delivered yet
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    _stop(pipeline)
    assert _run(pipeline)["status"] == "TRAINING_STOPPED"


def a_lost_failure_is_found_by_the_sweeper(pipeline: LocalPipeline) -> None:
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Failed", failure_message="Internal error", deliver_event=False)
    pipeline.tick()
    assert _run(pipeline)["status"] == "TRAINING_FAILED"


def a_stop_bedrock_refuses_is_sent_again_by_the_sweeper(pipeline: LocalPipeline) -> None:
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    stops = pipeline.faults.fail("bedrock.StopModelCustomizationJob", "ThrottlingException", times=None)
    _stop(pipeline)
    pipeline.faults.faults.remove(stops)
    pipeline.tick()
    assert [j.status for j in pipeline.bedrock.jobs().values()] == ["Stopping"]


def a_stop_bedrock_refuses_as_invalid_asks_the_job(pipeline: LocalPipeline) -> None:
    pipeline.upload("incoming/h.csv", DATA)
    pipeline.run()
    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Completed", deliver_event=False)  # it ended just before the stop arrived
    pipeline.faults.fail("bedrock.StopModelCustomizationJob", "ValidationException")
    _stop(pipeline)  # refused: the stop asks the job, which is no longer in progress
    assert _run(pipeline)["status"] == "STOPPING"
    assert [j.status for j in pipeline.bedrock.jobs().values()] == ["Completed"]


def a_deployment_refused_by_bedrock_fails_the_run(pipeline: LocalPipeline) -> None:
    pipeline.faults.fail("bedrock.CreateCustomModelDeployment", "ServiceQuotaExceededException", times=None)
    _trained(pipeline, SMALL)
    assert _run(pipeline)["status"] == "DEPLOYMENT_FAILED"


def a_stop_just_before_the_deployment_is_created(pipeline: LocalPipeline) -> None:
    pipeline.faults.call("bedrock.CreateCustomModelDeployment", lambda _params: _stop(pipeline))
    _trained(pipeline, SMALL)
    assert _run(pipeline)["status"] == "STOPPED" and pipeline.bedrock.serving.alive() == []


def a_stop_just_before_the_throughput_is_created(pipeline: LocalPipeline) -> None:
    pipeline.faults.call("bedrock.CreateProvisionedModelThroughput", lambda _params: _stop(pipeline))
    _trained(pipeline, SMALL | {"deployment": {"mode": "provisioned"}})
    assert _run(pipeline)["status"] == "STOPPED" and pipeline.bedrock.serving.alive() == []


def a_stop_while_the_throughput_is_created(pipeline: LocalPipeline) -> None:
    _trained(pipeline, SMALL | {"deployment": {"mode": "provisioned"}})
    _stop(pipeline)
    assert _run(pipeline)["status"] == "STOPPED" and pipeline.bedrock.serving.alive() == []


def no_evaluation_on_demand(pipeline: LocalPipeline) -> None:
    _trained(pipeline, {"evaluation": {"enabled": False}})
    pipeline.advance(minutes=READY)
    assert _run(pipeline)["status"] == "COMPLETED" and pipeline.bedrock.serving.alive() == []


def no_evaluation_provisioned(pipeline: LocalPipeline) -> None:
    _trained(pipeline, {"evaluation": {"enabled": False}, "deployment": {"mode": "provisioned"}})
    pipeline.advance(minutes=READY + 10)
    assert _run(pipeline)["status"] == "COMPLETED" and pipeline.bedrock.serving.alive() == []


def an_evaluation_chunk_that_always_dies_is_queued_again_by_the_sweeper(pipeline: LocalPipeline) -> None:
    dies = pipeline.faults.die("s3.PutObject", times=None,  # chunk 0 is never stored: its dead-letter queue
                               when=lambda params: params["Key"].endswith("chunks/00000.jsonl"))
    _trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    assert _run(pipeline)["status"] == "EVALUATING"
    pipeline.faults.faults.remove(dies)
    pipeline.advance(hours=2)  # the lease lapses: the sweeper queues chunk 0 again
    assert _run(pipeline)["status"] == "COMPLETED"


def the_last_chunk_dies_before_finishing_and_the_sweeper_finishes(pipeline: LocalPipeline) -> None:
    dies = pipeline.faults.die("s3.PutObject", times=None,  # every chunk is stored, the report never is
                               when=lambda params: params["Key"].endswith("evaluation/predictions.jsonl"))
    _trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    assert _run(pipeline)["status"] == "EVALUATING"
    pipeline.faults.faults.remove(dies)
    pipeline.advance(hours=2)
    assert _run(pipeline)["status"] == "COMPLETED"


def runs_api(pipeline: LocalPipeline) -> None:
    _trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    run_id = _run(pipeline)["run_id"]
    server = pipeline.serve_api(apis=["RunsApi"])
    try:
        for method, path, body in (("GET", "/runs", None), ("GET", f"/runs/{run_id}", None),
                                   ("POST", "/runs", {"filename": "b.csv", "options": {"seed": "x"}}),
                                   ("POST", f"/runs/{run_id}/stop", None)):
            data = json.dumps(body).encode() if body else None
            request = urllib.request.Request(server.url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request) as answer:
                assert answer.status in (200, 201, 202), (path, answer.status)
        pipeline.upload("incoming/c.csv.options.json", b'{"allow_repeat": true}')  # the same data, a new run
        pipeline.upload("incoming/c.csv", DATA)  # a run in training, so that a stop is sent
        pipeline.run()
        (training,) = [r for r in pipeline.ledger() if r["status"] == "TRAINING"]
        request = urllib.request.Request(f"{server.url}/runs/{training['run_id']}/stop", data=b"", method="POST")
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 202
    finally:
        server.stop()


def classification_api(pipeline: LocalPipeline) -> None:
    for name in ("api_health.json", "api_classify.json"):
        pipeline.invoke("ClassifyHeadlineFunction", json.loads((EVENTS / name).read_text()))


def a_model_folder_imported_and_evaluated(pipeline: LocalPipeline) -> None:
    from tests.integration.test_model_import import READY as IMPORTED
    from tests.integration.test_model_import import the_import, upload_tiny_model

    upload_tiny_model(pipeline)  # a real tiny model with a test set: asked on demand by the evaluation
    pipeline.advance(minutes=IMPORTED + 10)
    assert the_import(pipeline)["status"] == "COMPLETED"


def a_model_folder_rejected_and_notified(pipeline: LocalPipeline) -> None:
    from tests.integration.test_model_import import folder_files, the_import, upload_folder

    upload_folder(pipeline, folder_files(**{"pytorch_model.bin": b"\0" * 64}))
    assert the_import(pipeline)["status"] == "REJECTED"


def an_import_create_answered_with_a_conflict_finds_its_job_by_name(pipeline: LocalPipeline) -> None:
    from tests.integration.test_model_import import READY as IMPORTED
    from tests.integration.test_model_import import folder_files, the_import, upload_folder

    pipeline.faults.fail("bedrock.CreateModelImportJob", "ConflictException", after=True)  # landed; answer lost
    upload_folder(pipeline, folder_files())
    pipeline.advance(minutes=IMPORTED)
    assert the_import(pipeline)["status"] == "COMPLETED"


SCENARIOS: list[tuple[Callable[[LocalPipeline], None], dict[str, str]]] = [
    (on_demand_evaluated_gate_fails_and_the_model_is_deleted, {}),
    (provisioned_throughput_served_and_deleted, PT_PRICED),
    (the_same_dataset_twice_and_no_options_manifest, {}),
    (training_fails_and_is_notified, {}),
    (a_lost_completion_is_found_by_the_sweeper, {}),
    (a_stop_while_training, {}),
    (a_stop_that_lands_while_the_job_is_created, {}),
    (a_stop_while_deploying, {}),
    (resources_no_run_owns_are_deleted_by_the_sweeper, {}),
    (a_start_refused_by_bedrock_fails_the_run, {}),
    (a_start_that_dies_after_creating_finds_its_job_by_name, {}),
    (a_stop_before_training_starts, {}),
    (a_lost_failure_is_found_by_the_sweeper, {}),
    (a_stop_bedrock_refuses_is_sent_again_by_the_sweeper, {}),
    (a_stop_bedrock_refuses_as_invalid_asks_the_job, {}),
    (a_deployment_refused_by_bedrock_fails_the_run, {}),
    (a_stop_just_before_the_deployment_is_created, {}),
    (a_stop_just_before_the_throughput_is_created, PT_PRICED),
    (a_stop_while_the_throughput_is_created, PT_PRICED),
    (no_evaluation_on_demand, {}),
    (no_evaluation_provisioned, PT_PRICED),
    (an_evaluation_chunk_that_always_dies_is_queued_again_by_the_sweeper, {}),
    (the_last_chunk_dies_before_finishing_and_the_sweeper_finishes, {}),
    (runs_api, {}),
    (classification_api, {"HeadlineEndpointName": ENDPOINT}),
    (a_model_folder_imported_and_evaluated, {}),
    (a_model_folder_rejected_and_notified, {}),
    (an_import_create_answered_with_a_conflict_finds_its_job_by_name, {}),
]


@pytest.fixture(scope="module")
def recorded() -> tuple[list[iam.IamCall], dict[str, list[iam.Grant]], list[str]]:
    """Every scenario's calls; then, per function, the grants none of them used."""
    calls: list[iam.IamCall] = []
    problems: list[str] = []
    checker = None
    for scenario, parameters in SCENARIOS:
        with LocalPipeline(parameter_overrides=parameters) as pipeline:
            try:
                scenario(pipeline)
            except AssertionError as exc:
                problems.append(f"{scenario.__name__}: {exc}")
            calls += pipeline.iam_calls()
            checker = pipeline.iam if checker is None else checker
    assert checker is not None
    checker.calls = calls  # the grants of the default-parameter stack, against the calls of every scenario
    functions = list(checker.stack.of_type("AWS::Serverless::Function"))
    return calls, checker.unused_grants(functions), problems + checker.unevaluated()


def test_every_function_is_exercised(recorded):
    calls, _, _ = recorded
    from local_emulation.harness import TEMPLATE
    from local_emulation.template import Stack

    functions = set(Stack(TEMPLATE).of_type("AWS::Serverless::Function"))
    assert functions - {c.function for c in calls} == set()


def test_no_call_is_denied(recorded):
    calls, _, _ = recorded
    denied = sorted({f"{c.function}: {c.operation} needs {c.action} on {c.resource} "
                     f"(context {c.context}): {c.reason}" for c in calls if not c.allowed})
    assert denied == []


def test_the_scenarios_ran_as_expected_and_every_condition_was_evaluated(recorded):
    _, _, problems = recorded
    assert problems == []


def test_no_function_holds_an_action_it_never_uses(recorded):
    _, unused, _ = recorded
    left = {function: sorted(f"{g.statement}: {g.action}" for g in grants
                             if f"{g.statement}: {g.action}" not in UNREACHED.get(function, {}))
            for function, grants in unused.items()}
    assert {f: g for f, g in left.items() if g} == {}, json.dumps({f: g for f, g in left.items() if g}, indent=1)
