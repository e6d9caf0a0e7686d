"""`make faults`: the deploy/teardown fault scenarios, end to end on the local stack, and what each leaves.

Each scenario uploads the bundled headlines, lets the emulated Bedrock train, injects its fault at the boto
layer or in the harness, and runs the clock on for six hours (the sweeper every ten minutes). It then asks the
emulated account, not the ledger, what of this stack is still alive and what the serving resources cost.
Exit status 1 if anything of this stack is left alive anywhere.

    make faults                      # every scenario
    make faults SCENARIO=quota       # those whose name contains "quota"
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from local_emulation.harness import REPO_ROOT, LocalPipeline

DATA = REPO_ROOT / "data" / "headlines" / "validation.csv"
PT_PRICE = 20.0  # $/model-unit-hour given to the stack for these runs (the real price is the account's own)
FOREIGN_MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/other-team"
RUN_ON = timedelta(hours=6)


@dataclass
class Scenario:
    name: str
    what: str
    before: Callable[[LocalPipeline], None] = lambda p: None  # faults armed before the upload
    after: Callable[[LocalPipeline], None] = lambda p: None  # what happens once the model is trained
    manifest: dict[str, Any] = field(default_factory=dict)
    deliveries: int = 1


def _foreign_pts(pipeline: LocalPipeline) -> None:
    for name in ("team-a-pt", "team-b-pt"):
        pipeline.client("bedrock").create_provisioned_model_throughput(
            provisionedModelName=name, modelUnits=1, modelId=FOREIGN_MODEL)


def _free_one_later(pipeline: LocalPipeline) -> None:
    pipeline.advance(minutes=40)
    pipeline.client("bedrock").delete_provisioned_model_throughput(provisionedModelId="team-a-pt")


def _stop(pipeline: LocalPipeline) -> None:
    (run,) = pipeline.ledger()
    pipeline.put_event({"source": "ft-pipeline.user", "detail-type": "StopRequested", "id": "stop", "version": "0",
                        "detail": {"run_id": run["run_id"], "requested_by": "faults"}, "account": "123456789012",
                        "region": "us-east-1", "time": "2026-12-02T00:00:00Z", "resources": []},
                       bus=pipeline.resource_name("PipelineBus"))
    pipeline.run()


def _lose_model_deployed(pipeline: LocalPipeline) -> None:
    pipeline.routes = [r for r in pipeline.routes if r.function != "EvaluateModelFunction"]


def _redeliver_model_deployed(pipeline: LocalPipeline) -> None:
    pipeline.advance(minutes=30)
    for detail_type, function in (("ModelDeployed", "EvaluateModelFunction"),
                                  ("EvaluationCompleted", "CompleteRunFunction")):
        for event in pipeline.events_of(detail_type):
            pipeline.invoke(function, event)


def _orphan(pipeline: LocalPipeline) -> None:
    """What a crashed run of this stack could leave: named and tagged as the deploy step does, no ledger record."""
    pipeline.client("bedrock").create_custom_model_deployment(
        modelDeploymentName="ftp-dep-orphan-0123456789", modelArn=FOREIGN_MODEL,
        tags=[{"key": "pipeline", "value": pipeline.stack.stack_name}, {"key": "run-id", "value": "orphan-0123456789"}])


def _stop_racing_create_then_die(pipeline: LocalPipeline) -> None:
    pipeline.faults.call("bedrock.CreateCustomModelDeployment", lambda _: _stop(pipeline))
    pipeline.faults.die("bedrock.CreateCustomModelDeployment", after=True)


def _other_stack_same_prefix(pipeline: LocalPipeline) -> None:
    pipeline.client("bedrock").create_custom_model_deployment(
        modelDeploymentName="ftp-dep-prodrun-0123456789", modelArn=FOREIGN_MODEL,
        tags=[{"key": "pipeline", "value": "ft-pipeline-prod"}, {"key": "run-id", "value": "prodrun-0123456789"}])


def _queue_then_free_late(pipeline: LocalPipeline) -> None:
    pipeline.advance(hours=2)
    pipeline.client("bedrock").delete_provisioned_model_throughput(provisionedModelId="team-a-pt")


def _slow_provisioned(pipeline: LocalPipeline) -> None:
    pipeline.bedrock.serving.ready_after["provisioned"] = timedelta(hours=1)


def _lower_ceiling(pipeline: LocalPipeline) -> None:
    (run,) = pipeline.ledger()
    pipeline.client("dynamodb").update_item(
        TableName=pipeline.resource_name("LedgerTable"), Key={"dataset_id": {"S": run["run_id"]}},
        UpdateExpression="SET #o.cost_ceiling_usd = :c", ExpressionAttributeNames={"#o": "options"},
        ExpressionAttributeValues={":c": {"N": "5"}})


PROVISIONED = {"deployment": {"mode": "provisioned"}}
SCENARIOS = [
    Scenario("happy-path", "on-demand deployment, Active, released"),
    Scenario("happy-path-provisioned", "provisioned throughput, InService, released", manifest=PROVISIONED),
    Scenario("crash-after-create", "the deploy dies after CreateCustomModelDeployment, before the ledger write",
             before=lambda p: p.faults.die("bedrock.CreateCustomModelDeployment", after=True)),
    Scenario("create-always-dies", "every deploy attempt dies before the create call",
             before=lambda p: p.faults.die("bedrock.CreateCustomModelDeployment", times=None)),
    Scenario("deployment-failed", "Bedrock reports the deployment Failed",
             before=lambda p: p.bedrock.serving.fail_next("on-demand")),
    Scenario("deadline-passed", "not Active by its 30-minute deadline",
             before=lambda p: p.bedrock.serving.ready_after.update({"on-demand": timedelta(hours=3)}),
             manifest={"deployment": {"max_hours": 0.5}}),
    Scenario("pt-quota-wait", "two PTs of other teams: queued, starts when one is deleted", before=_foreign_pts,
             after=_free_one_later, manifest=PROVISIONED),
    Scenario("pt-quota-never-frees", "two PTs of other teams, never freed: fails after its queue time",
             before=_foreign_pts, manifest={"deployment": {"mode": "provisioned", "max_queue_hours": 1}}),
    Scenario("pt-quota-fail", "two PTs of other teams, on_pt_quota fail", before=_foreign_pts,
             manifest={"deployment": {"mode": "provisioned", "on_pt_quota": "fail"}}),
    Scenario("duplicate-events", "every event delivered three times", deliveries=3),
    Scenario("teardown-repeated", "a stale ModelDeployed redelivered after the run ended",
             after=_redeliver_model_deployed),
    Scenario("delete-throttled", "the first delete calls are throttled",
             before=lambda p: p.faults.fail("bedrock.DeleteCustomModelDeployment", "ThrottlingException", times=2)),
    Scenario("evaluation-never-comes", "ModelDeployed never reaches the evaluation", before=_lose_model_deployed),
    Scenario("evaluation-chunks-die", "every chunk worker dies mid-call: requeued, then the evaluation fails",
             before=lambda p: p.faults.die("bedrock-runtime.Converse", times=None)),
    Scenario("stop-during-deployment", "the user stops the run while its deployment is Creating", after=_stop),
    Scenario("stop-racing-the-create", "the stop lands just before the create call",
             before=lambda p: p.faults.call("bedrock.CreateCustomModelDeployment", lambda _: _stop(p))),
    Scenario("created-after-teardown", "a stop lands mid-create and the deploy dies before recording the resource",
             before=_stop_racing_create_then_die),
    Scenario("on-demand-quota", "Bedrock refuses the deployment with ServiceQuotaExceededException",
             before=lambda p: p.faults.fail("bedrock.CreateCustomModelDeployment", "ServiceQuotaExceededException",
                                            times=None)),
    Scenario("queued-past-lifetime", "queued 2 h with a 1 h lifetime: starts with a fresh one", before=_foreign_pts,
             after=_queue_then_free_late, manifest={"deployment": {"mode": "provisioned", "max_hours": 1}}),
    Scenario("orphan", "a deployment named and tagged like ours that no run owns", before=_orphan),
    Scenario("other-stack-same-prefix", "another stack's deployment with the same prefix (left alone)",
             before=_other_stack_same_prefix),
    Scenario("cost-ceiling", "a slow PT billing past its run's $5 ceiling", before=_slow_provisioned,
             after=_lower_ceiling, manifest=PROVISIONED),
]


def run_scenario(scenario: Scenario) -> dict[str, Any]:
    with LocalPipeline(parameter_overrides={"ProvisionedThroughputHourlyUsd": str(PT_PRICE)},
                       deliveries=scenario.deliveries, log_level="CRITICAL") as pipeline:
        scenario.before(pipeline)
        if scenario.manifest:
            pipeline.upload("incoming/headlines.csv.options.json", json.dumps(scenario.manifest).encode())
        pipeline.upload("incoming/headlines.csv", DATA.read_bytes())
        pipeline.run()
        for job in pipeline.bedrock.in_progress():
            pipeline.bedrock.finish(job, "Completed")
        pipeline.run()
        scenario.after(pipeline)
        pipeline.advance(seconds=RUN_ON.total_seconds())
        serving, stack = pipeline.bedrock.serving, pipeline.stack.stack_name

        def mine(resource: Any) -> bool:  # what this stack made: its pipeline tag, whatever the name
            return {"key": "pipeline", "value": stack} in resource.tags

        ours = [r.name for r in serving.alive() if mine(r)]
        runs = pipeline.ledger()
        return {
            "scenario": scenario.name, "what": scenario.what,
            "status": ",".join(r.get("status", "?") for r in runs) or "-",
            "created": sum(1 for r in serving.history if mine(r)),
            "alive": ours, "others_alive": [r.name for r in serving.alive() if r.name not in ours],
            "pt_hours": round(sum(r.model_units * ((r.deleted_at or pipeline.clock.now()) - r.created_at)
                                  .total_seconds() / 3600 for r in serving.history
                                  if r.mode == "provisioned" and mine(r)), 3),
            "invocation_failures": len(pipeline.failures),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="", help="run only the scenarios whose name contains this")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if args.scenario in s.name]
    started, results = time.perf_counter(), []
    print(f"{'scenario':<24} {'run status':<18} {'created':>7} {'alive':>5} {'others':>6} {'PT h':>6} {'serving $':>9}"
          "  what   (created, alive: this stack's, by its pipeline tag; others: not its own, left alone)")
    for scenario in chosen:
        result = run_scenario(scenario)
        result["serving_usd"] = round(result["pt_hours"] * PT_PRICE, 2)
        results.append(result)
        print(f"{result['scenario']:<24} {result['status']:<18} {result['created']:>7} {len(result['alive']):>5} "
              f"{len(result['others_alive']):>6} {result['pt_hours']:>6.2f} {result['serving_usd']:>9.2f}  "
              f"{result['what']}"
              + (f"  (still alive: {result['alive']})" if result["alive"] else ""))
    left = [r for r in results if r["alive"]]
    print(f"\n{len(results)} scenarios in {time.perf_counter() - started:.0f}s; each ran {RUN_ON} on after training "
          f"(PT priced at ${PT_PRICE:g}/h here). Paid resources of this stack left alive: "
          f"{sum(len(r['alive']) for r in results)}.\n'serving $' is the hourly charge only: on-demand deployments "
          "bill per token used, provisioned throughputs per model-unit hour whether used or not.")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
