"""Each pipeline metric comes out as CloudWatch EMF with its name, unit and dimensions, in the situation that
should emit it: the steps with in-memory ports, and one whole run on the local stack (its handlers' EMF)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, NamedTuple

import pytest

from ft_pipeline.clock import iso
from ft_pipeline.lifecycle import RunState
from ft_pipeline.naming import serving_name
from ft_pipeline.observability import NAMESPACE, SERVICE, metrics
from ft_pipeline.ports import JobSnapshot, ServingSnapshot, TrainingDeps
from ft_pipeline.settings import TrainingSettings
from ft_pipeline.steps.start_training import start_training
from ft_pipeline.steps.sweep import sweep
from ft_pipeline.steps.training_status import apply_job_state
from tests.fakes import InMemoryLedger, RecordingPublisher, ScriptedBedrock

ONLY_SERVICE = {"service": SERVICE}


class Emitted(NamedTuple):
    name: str
    unit: str
    dimensions: dict[str, str]
    value: float


def emf_documents(text: str) -> list[Emitted]:
    found = []
    for line in text.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            dimensions = {d: document[d] for d in directive["Dimensions"][0]}
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                found.append(Emitted(metric["Name"], metric["Unit"], dimensions,
                                     sum(value) if isinstance(value, list) else value))
    return found


@pytest.fixture
def emf(capsys, monkeypatch):
    """The EMF the steps print, and what the handler decorator would flush at the end of the invocation."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics.clear_metrics()
    capsys.readouterr()

    def read() -> list[Emitted]:
        if metrics.metric_set:
            metrics.flush_metrics()
        return emf_documents(capsys.readouterr().out)

    yield read
    metrics.clear_metrics()


def named(emitted: list[Emitted], name: str) -> list[Emitted]:
    return [e for e in emitted if e.name == name]


def training_deps(ledger, bedrock=None, serving=None, **env) -> TrainingDeps:
    settings = TrainingSettings.model_validate({
        "DATA_BUCKET": "bkt", "LEDGER_TABLE": "t", "EVENT_BUS_NAME": "bus", "RESOURCE_PREFIX": "ftp",
        "CUSTOMIZATION_ROLE_ARN": "arn:aws:iam::123456789012:role/r", "STACK_NAME": "stack"} | env)
    recorder = RecordingPublisher()
    return TrainingDeps(settings=settings, bedrock=bedrock or ScriptedBedrock(), ledger=ledger, publisher=recorder,
                        notifier=recorder, store=None, serving=serving, clock=ledger.clock)


# --- training ---------------------------------------------------------------------------------------------------


def test_a_started_job_counts_customization_jobs_started(emf):
    from tests.unit.test_training_logic import validated_run

    ledger = InMemoryLedger()
    validated_run(ledger)
    start_training("d-1", deps=training_deps(ledger), owner="inv-1", remaining_ms=60_000)
    assert named(emf(), "CustomizationJobsStarted") == [Emitted("CustomizationJobsStarted", "Count", ONLY_SERVICE, 1)]


@pytest.mark.parametrize(("status", "metric"), [("Failed", "TrainingJobsFailed"), ("Completed", "ModelsTrained"),
                                                ("Stopped", "RunsStopped")])
def test_a_job_that_ended_counts_its_outcome(emf, status, metric):
    from tests.unit.test_training_logic import validated_run

    ledger = InMemoryLedger()
    record = validated_run(ledger, status=RunState.TRAINING)
    job = JobSnapshot(job_arn="arn:job", job_name="ftp-job-d-1", status=status, failure_message="boom",
                      output_model_arn="arn:model/m" if status == "Completed" else None, output_model_name="m")
    apply_job_state(record, job, training_deps(ledger), "event")
    emitted = [e for e in emf() if e.name in ("TrainingJobsFailed", "ModelsTrained", "RunsStopped")]
    assert emitted == [Emitted(metric, "Count", ONLY_SERVICE, 1)]


# --- the sweeper's gauges ---------------------------------------------------------------------------------------


class Ledger(InMemoryLedger):
    def record_cost(self, run_id: str, cost: dict[str, Any]) -> None:
        self.items[run_id]["cost"] = cost


class Serving:
    def __init__(self, snapshots: list[ServingSnapshot]) -> None:
        self.snapshots = snapshots

    def list_ours(self, prefix: str) -> list[ServingSnapshot]:
        return [s for s in self.snapshots if s.name.startswith(prefix)]

    def tags(self, arn: str) -> dict[str, str]:
        return {}


def test_the_sweeper_gauges_the_deployments_alive_their_hours_and_what_live_runs_cost(emf):
    ledger = Ledger()
    now = ledger.clock.now()
    later, hours_ago = iso(now + timedelta(hours=1)), lambda h: iso(now - timedelta(hours=h))
    pt, kept = serving_name("ftp", "provisioned", "r-live"), serving_name("ftp", "on-demand", "r-kept")
    # deployed, waiting on its evaluation: trained ($10 estimate), a PT for 2 h at $20 an hour
    ledger.put("r-live", RunState.DEPLOYED, lease={"owner": "evaluate", "until": later},
               training={"job_arn": "arn:job/live"}, cost={"estimated_training_usd": 10.0},
               serving={"state": "active", "mode": "provisioned", "name": pt, "created_at": hours_ago(2),
                        "deadline": later})
    # completed, its on-demand deployment kept (no hourly charge); AWS's listing has no creation time: the record's
    ledger.put("r-kept", RunState.COMPLETED, training={"job_arn": "arn:job/kept"}, cost={"estimated_training_usd": 5.0},
               serving={"state": "active", "mode": "on-demand", "name": kept, "created_at": hours_ago(5),
                        "deadline": later, "keep": True})
    # validated, its job not started yet: nothing spent, whatever the estimate
    ledger.put("r-waiting", RunState.VALIDATED, lease={"owner": "start", "until": later},
               cost={"estimated_training_usd": 99.0})
    serving = Serving([
        ServingSnapshot(mode="provisioned", name=pt, arn=f"arn:pt/{pt}", status="InService", created_at=hours_ago(2)),
        ServingSnapshot(mode="on-demand", name=kept, arn=f"arn:dep/{kept}", status="Active"),
        ServingSnapshot(mode="provisioned", name="ftp-pt-bought", arn="arn:pt/bought", status="InService",
                        committed=True),  # someone's, with a term: listed, counted as paid, not ours
    ])
    report = sweep(training_deps(ledger, serving=serving, PT_HOURLY_USD="20"))
    assert [r.action for r in report.serving.resources] == ["kept", "kept", "ignored"]

    emitted = emf()
    gauges = {e.name: e for e in emitted if e.dimensions == ONLY_SERVICE}
    assert gauges["DeploymentsAlive"] == Emitted("DeploymentsAlive", "Count", ONLY_SERVICE, 2)
    assert gauges["DeploymentHours"] == Emitted("DeploymentHours", "None", ONLY_SERVICE, 7.0)
    assert gauges["CostAccruedUsd"] == Emitted("CostAccruedUsd", "None", ONLY_SERVICE, 55.0)  # 10 + 2 h × $20 + 5
    assert gauges["PaidResources"] == Emitted("PaidResources", "Count", ONLY_SERVICE, 3)
    for name in ("PaidResourcesOverdue", "RunsStuck", "SweepErrors", "EventsRedelivered"):
        assert gauges[name] == Emitted(name, "Count", ONLY_SERVICE, 0), name
    waiting = {e.dimensions["state"]: e for e in named(emitted, "RunsWaiting")}
    assert waiting["DEPLOYED"] == Emitted("RunsWaiting", "Count", {"service": SERVICE, "state": "DEPLOYED"}, 1)
    oldest = {e.dimensions["state"]: e for e in named(emitted, "OldestWaitSeconds")}
    assert oldest["VALIDATED"].unit == "Seconds" and len(waiting) == len(oldest) > 2


def test_with_nothing_alive_the_gauges_say_zero_and_a_stuck_run_is_counted(emf):
    ledger = Ledger()
    ledger.put("r-old", RunState.TRAINED, lease={"owner": "deploy", "until": iso(ledger.clock.now()
                                                                                 + timedelta(hours=1))})
    ledger.clock.advance(timedelta(hours=3))  # TRAINED is reported stuck after 2 hours
    sweep(training_deps(ledger, serving=Serving([])))
    gauges = {e.name: e.value for e in emf() if e.dimensions == ONLY_SERVICE}
    assert (gauges["DeploymentsAlive"], gauges["DeploymentHours"], gauges["CostAccruedUsd"]) == (0, 0, 0)
    assert gauges["RunsStuck"] == 1


# --- one whole run on the local stack -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_whole_run_emits_the_dashboards_metrics_from_its_handlers(monkeypatch):
    from local_emulation import harness
    from tests.integration.test_deploy_and_teardown import READY, the_run, trained

    monkeypatch.setitem(harness.FAKE_ENV, "POWERTOOLS_METRICS_DISABLED", "false")  # what Lambda runs with
    with harness.LocalPipeline() as pipeline:
        trained(pipeline, {"evaluation": {"max_examples": 30, "chunk_size": 10}})
        pipeline.advance(minutes=READY)
        run = the_run(pipeline)
        report = json.loads(pipeline.read_object(f"datasets/{run['run_id']}/evaluation/report.json"))
        by_function: dict[str, list[Emitted]] = {}
        for invocation in pipeline.invocations:
            by_function.setdefault(invocation.function, []).extend(emf_documents(invocation.output))
    assert run["status"] == "COMPLETED"

    validator = by_function["DatasetValidatorFunction"]
    assert named(validator, "DatasetsValidated") == [Emitted("DatasetsValidated", "Count", ONLY_SERVICE, 1)]
    assert named(validator, "RecordsRejected") == [Emitted("RecordsRejected", "Count", ONLY_SERVICE, 0)]
    assert named(by_function["StartCustomizationFunction"], "CustomizationJobsStarted") == [
        Emitted("CustomizationJobsStarted", "Count", ONLY_SERVICE, 1)]

    scores = sorted(named(by_function["EvaluateChunkFunction"], "EvaluationScore"), key=lambda e: e.dimensions["model"])
    assert scores == [Emitted("EvaluationScore", "None", {"service": SERVICE, "model": role},
                              report["models"][role]["accuracy"]) for role in ("base", "tuned")]  # once each

    sweeps = by_function["SweepRunsFunction"]
    for name, unit in (("DeploymentsAlive", "Count"), ("DeploymentHours", "None"), ("CostAccruedUsd", "None"),
                       ("PaidResourcesOverdue", "Count"), ("RunsStuck", "Count"), ("SweepErrors", "Count")):
        found = [e for e in named(sweeps, name) if e.dimensions == ONLY_SERVICE]
        assert found and {e.unit for e in found} == {unit}, name
    assert max(e.value for e in named(sweeps, "DeploymentsAlive")) == 1  # the run's deployment, while it lived
    assert max(e.value for e in named(sweeps, "CostAccruedUsd")) > 0  # its training estimate, once the job ran
    assert named(sweeps, "DeploymentsAlive")[-1].value == 0  # released at the end
