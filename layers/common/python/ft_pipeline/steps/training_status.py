"""The job's outcome: Bedrock's state-change event, or the sweeper, → ModelTrained | TrainingFailed.

Both only say "look": the job's state always comes from GetModelCustomizationJob, never from the event
alone, so late or out-of-order events cannot move a run backwards, and whichever of event and sweeper comes
first makes the one transition.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from ft_pipeline.clock import iso
from ft_pipeline.contracts import ModelTrained, ModelTrainedDetail, TrainingMetricsSummary
from ft_pipeline.lifecycle import TRANSITIONS, WAITS, RunState
from ft_pipeline.naming import run_id_from_job_name
from ft_pipeline.observability import metrics
from ft_pipeline.ports import JobSnapshot, StepOutcome, TrainingDeps
from ft_pipeline.run_record import Lease, RunRecord
from ft_pipeline.steps.outbox import deliver_pending, new_event
from ft_pipeline.steps.training_events import training_failed_event

MAX_CURVE_POINTS = 200  # loss curves kept in the ledger; the full curves are in training_metrics.json
# the states a job's outcome can move (from the lifecycle's table, not spelled here)
_MAY_FINISH = frozenset().union(*(TRANSITIONS[name].sources for name in (
    "training_completed", "training_failed", "training_stopped", "training_completed_after_stop")))


def handle_job_event(job_name: str, deps: TrainingDeps, trigger: str) -> StepOutcome:
    """A state-change event named this job: look at the job itself and apply what it says."""
    run_id = run_id_from_job_name(deps.settings.resource_prefix, job_name)
    if run_id is None:
        return StepOutcome(action="ignored", detail=f"job {job_name} is not one of this stack's")
    record = deps.ledger.get(run_id)
    if record is None:
        return StepOutcome(action="ignored", run_id=run_id, detail="no ledger record")
    if record.status not in _MAY_FINISH:
        deliver_pending(record, deps)
        return StepOutcome(action="duplicate", run_id=run_id, detail=f"run already {record.status}")
    job = deps.bedrock.get_job(job_name)
    if job is None:
        return StepOutcome(action="ignored", run_id=run_id, detail=f"no job named {job_name}")
    return apply_job_state(record, job, deps, trigger)


def apply_job_state(record: RunRecord, job: JobSnapshot, deps: TrainingDeps, trigger: str) -> StepOutcome:
    run_id = record.run_id
    if job.status not in ("Completed", "Failed", "Stopped"):
        return StepOutcome(action="in-progress", run_id=run_id, detail=job.status)
    changes: dict[str, Any] = {"training.job_arn": job.job_arn, "training.job_name": job.job_name,
                               "training.ended_at": job.end_time or iso(deps.clock.now()),
                               "training.status_source": trigger}
    if job.status == "Completed":
        if not job.output_model_arn:
            raise RuntimeError(f"job {job.job_name} is Completed but has no outputModelArn yet")
        summary, curves = _training_metrics(job, deps, run_id)
        changes |= {"model.custom_model_arn": job.output_model_arn,
                    "model.custom_model_name": job.output_model_name,
                    "training.metrics": summary.model_dump(exclude_none=True) | {"curves": curves}}
    if job.status == "Completed" and record.status is not RunState.STOPPING:
        name = "training_completed"
        note = f"custom model {job.output_model_arn}"
        event = new_event(ModelTrained, ModelTrainedDetail(
            run_id=run_id, source=record.source, job_arn=job.job_arn, custom_model_arn=job.output_model_arn,
            custom_model_name=job.output_model_name, base_model=record.model.base_model or "",
            metrics=summary, test_data_uri=record.validation.outputs.get("test.jsonl"),
            labels=record.validation.labels, options=record.options,
        ), resources=[job.job_arn, job.output_model_arn or ""])
    elif job.status == "Completed":  # a stop was asked for: keep the model, but nothing after training runs
        name = "training_completed_after_stop"
        note = (f"the job completed before the stop took effect; model {job.output_model_arn} kept, "
                "not deployed")
        event = training_failed_event(record, job.job_arn, "Stopped", note)
    else:
        name = "training_failed" if job.status == "Failed" else "training_stopped"
        note = job.failure_message or f"job {job.status.lower()}"
        changes["training.failure_message"] = note
        event = training_failed_event(record, job.job_arn, job.status, note)  # type: ignore[arg-type]
    # a trained run is owed a claim by the deploy step; the sweeper asks again if it never comes
    lease = Lease(owner="deploy", until=iso(deps.clock.now() + (WAITS[RunState.TRAINED].retry_after
                                                                or timedelta(minutes=15))))
    applied = deps.ledger.apply(run_id, name, changes=changes, event=event, note=f"{note} (seen by {trigger})",
                                lease=lease if name == "training_completed" else None)
    if applied is None:
        current = deps.ledger.get(run_id)
        if current is not None and current.status in _MAY_FINISH and current.status is not record.status:
            return apply_job_state(current, job, deps, trigger)  # it moved meanwhile (a stop): decide again
        deliver_pending(current, deps)
        return StepOutcome(action="duplicate", run_id=run_id, detail="transition taken by another caller")
    deliver_pending(applied, deps)
    if name == "training_completed":
        metrics.add_metric(name="ModelsTrained", unit="Count", value=1)
    elif name == "training_failed":  # the job ended Failed (the dashboard's "Training jobs" widget)
        metrics.add_metric(name="TrainingJobsFailed", unit="Count", value=1)
    else:  # stopped, or completed after a stop was asked for
        metrics.add_metric(name="RunsStopped", unit="Count", value=1)
    return StepOutcome(action=applied.status.value.lower(), run_id=run_id, detail=f"by {trigger}")


def look(record: RunRecord, deps: TrainingDeps) -> StepOutcome:
    """The sweeper's question for a training run: what does the job say now?"""
    if not record.training.job_name:
        raise RuntimeError("a training run without a job name")
    job = deps.bedrock.get_job(record.training.job_name)
    if job is None:
        raise RuntimeError(f"job {record.training.job_name} of a training run does not exist")
    return apply_job_state(record, job, deps, "sweeper")


def _training_metrics(job: JobSnapshot, deps: TrainingDeps, run_id: str
                      ) -> tuple[TrainingMetricsSummary, dict[str, list[list[float]]]]:
    """Loss curves from the files the job writes under its output prefix, where present (AWS: "Analyze the
    results of a model customization job"), plus the job's own final metrics."""
    curves: dict[str, list[list[float]]] = {}
    steps = epochs = None
    if job.output_uri:
        bucket, _, prefix = job.output_uri.removeprefix("s3://").partition("/")
        for key in deps.store.list_keys(bucket, prefix):
            name = key.rsplit("/", 1)[-1]
            column = {"step_wise_training_metrics.csv": "training_loss",
                      "validation_metrics.csv": "validation_loss"}.get(name)
            if column is None:
                continue
            rows = list(csv.DictReader(io.StringIO((deps.store.read_small(bucket, key, 16 << 20) or b"").decode())))
            points = [[float(r["step_number"]), float(r.get("epoch_number") or 0), float(r[column])]
                      for r in rows if r.get(column) not in (None, "")]
            curves[column] = points
            if points:
                steps = max(steps or 0, int(points[-1][0]))
                epochs = max(epochs or 0, int(points[-1][1]) + 1)
    metrics_uri = None
    if curves:
        settings = deps.settings
        metrics_uri = deps.store.put_json(settings.data_bucket,
                                          f"{settings.datasets_prefix}{run_id}/training_metrics.json",
                                          {"job_arn": job.job_arn, "columns": ["step", "epoch", "loss"], **curves})
    last = {name: points[-1][2] for name, points in curves.items() if points}
    summary = TrainingMetricsSummary(
        training_loss=job.training_loss if job.training_loss is not None else last.get("training_loss"),
        validation_loss=job.validation_losses[-1] if job.validation_losses else last.get("validation_loss"),
        steps=steps, epochs=epochs, metrics_uri=metrics_uri)
    return summary, {name: _thin(points) for name, points in curves.items()}


def _thin(points: list[list[float]]) -> list[list[float]]:
    if len(points) <= MAX_CURVE_POINTS:
        return points
    stride = len(points) / MAX_CURVE_POINTS
    return [points[int(i * stride)] for i in range(MAX_CURVE_POINTS - 1)] + [points[-1]]
