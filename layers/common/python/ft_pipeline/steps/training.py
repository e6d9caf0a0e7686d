"""Step 2 of the flow: DatasetValidated → a Bedrock customization job → ModelTrained | TrainingFailed.

Every transition is a conditional write on the run's ledger record, and only the caller whose write
succeeds publishes: three deliveries of an event, or an event racing the reconciler, make one transition
and one announcement. Job state always comes from GetModelCustomizationJob, never from the event alone,
so late or out-of-order events cannot move a run backwards.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from ft_pipeline.adapters.bedrock_customization import JobSnapshot, PermanentJobError
from ft_pipeline.contracts import (
    CustomizationStarted,
    CustomizationStartedDetail,
    DatasetValidatedDetail,
    ModelTrained,
    ModelTrainedDetail,
    ObjectRef,
    TrainingFailed,
    TrainingFailedDetail,
    TrainingMetricsSummary,
)
from ft_pipeline.dataset.options import DatasetOptions
from ft_pipeline.ledger import IN_FLIGHT_TRAINING, RunRecord, RunStatus, utc_now
from ft_pipeline.naming import client_request_token, custom_model_name, dataset_id_from_job_name, job_name
from ft_pipeline.observability import logger, metrics
from ft_pipeline.settings import TrainingSettings
from ft_pipeline.steps.announce import announce

MAX_CURVE_POINTS = 200  # loss curves kept in the ledger; the full curves are in training_metrics.json


class BedrockJobs(Protocol):
    def create_job(self, request: dict[str, Any]) -> str: ...
    def get_job(self, job_name: str) -> JobSnapshot: ...
    def stop_job(self, job_name: str) -> None: ...


class Ledger(Protocol):
    def get(self, dataset_id: str) -> RunRecord | None: ...
    def transition(self, dataset_id: str, allowed_from: Any, to_status: str, fields: dict[str, Any],
                   note: str) -> bool: ...
    def runs_in_status(self, status: str, updated_since: str | None = None) -> list[RunRecord]: ...
    def mark_announced(self, dataset_id: str) -> None: ...


class Publisher(Protocol):
    def publish(self, detail: BaseModel, event_type: type, resources: list[str] | None = None) -> str: ...


class Notifier(Protocol):
    def notify(self, subject: str, message: str) -> None: ...


class ArtifactStore(Protocol):
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...
    def read_small(self, bucket: str, key: str, max_bytes: int = ...) -> bytes | None: ...
    def put_json(self, bucket: str, key: str, document: object) -> str: ...


@dataclass
class TrainingDeps:
    settings: TrainingSettings
    bedrock: BedrockJobs
    ledger: Ledger
    publisher: Publisher
    notifier: Notifier
    store: ArtifactStore


class StepOutcome(BaseModel):
    action: str
    dataset_id: str | None = None
    detail: str = ""


# --- start ------------------------------------------------------------------------------------------------


def build_job_request(validated: DatasetValidatedDetail, options: DatasetOptions,
                      settings: TrainingSettings) -> dict[str, Any]:
    """CreateModelCustomizationJob's request, all of it derived from the dataset id and the options."""
    prefix, dataset_id = settings.resource_prefix, validated.dataset_id
    tags = [{"key": "dataset-id", "value": dataset_id}, {"key": "pipeline", "value": settings.stack_name or prefix}]
    request: dict[str, Any] = {
        "jobName": job_name(prefix, dataset_id),
        "customModelName": custom_model_name(prefix, dataset_id),
        "roleArn": settings.customization_role_arn,
        "clientRequestToken": client_request_token(prefix, dataset_id),
        "baseModelIdentifier": options.base_model,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": validated.training_data_uri},
        "outputDataConfig": {"s3Uri": f"s3://{settings.data_bucket}/{settings.output_prefix}{dataset_id}/"},
        "hyperParameters": options.api_hyperparameters(),
        "jobTags": tags,
        "customModelTags": tags,
    }
    if validated.validation_data_uri:
        request["validationDataConfig"] = {"validators": [{"s3Uri": validated.validation_data_uri}]}
    if settings.custom_model_kms_key_arn:
        request["customModelKmsKeyId"] = settings.custom_model_kms_key_arn
    vpc = settings.vpc_config()
    if vpc:
        request["vpcConfig"] = vpc
    return request


def start_customization(validated: DatasetValidatedDetail, deps: TrainingDeps) -> StepOutcome:
    dataset_id = validated.dataset_id
    record = deps.ledger.get(dataset_id)
    if record is None:
        logger.warning("no ledger record for this dataset; not ours or not recorded yet")
        return StepOutcome(action="ignored", dataset_id=dataset_id, detail="no ledger record")
    if record.status != RunStatus.VALIDATED:
        return StepOutcome(action="duplicate", dataset_id=dataset_id, detail=f"run is {record.status}")

    try:
        options = DatasetOptions.model_validate(validated.options)
        request = build_job_request(validated, options, deps.settings)
    except (ValidationError, ValueError) as exc:
        return _fail_start(deps, validated.source, dataset_id, f"invalid job options: {exc}")
    try:
        job_arn = deps.bedrock.create_job(request)
    except PermanentJobError as exc:
        return _fail_start(deps, validated.source, dataset_id, f"Bedrock refused the job: {exc}")

    fields = {"job_name": request["jobName"], "job_arn": job_arn, "custom_model_name": request["customModelName"],
              "training_started_at": utc_now(), "output_uri": request["outputDataConfig"]["s3Uri"],
              "hyperparameters": request["hyperParameters"]}
    if not deps.ledger.transition(dataset_id, {RunStatus.VALIDATED}, RunStatus.TRAINING, fields,
                                  f"job {request['jobName']} started"):
        # the job exists either way; another delivery (or an early completion) already moved the run on
        return StepOutcome(action="duplicate", dataset_id=dataset_id, detail="transition taken by another caller")
    deps.publisher.publish(CustomizationStartedDetail(
        dataset_id=dataset_id, source=validated.source, job_arn=job_arn, job_name=request["jobName"],
        custom_model_name=request["customModelName"], base_model=options.base_model,
        hyperparameters=request["hyperParameters"], output_uri=request["outputDataConfig"]["s3Uri"],
    ), CustomizationStarted, resources=[job_arn])
    metrics.add_metric(name="CustomizationJobsStarted", unit="Count", value=1)
    return StepOutcome(action="started", dataset_id=dataset_id, detail=job_arn)


def _fail_start(deps: TrainingDeps, source: ObjectRef, dataset_id: str, reason: str) -> StepOutcome:
    if deps.ledger.transition(dataset_id, {RunStatus.VALIDATED}, RunStatus.TRAINING_FAILED,
                              {"failure_message": reason}, reason):
        _announce_failure(deps, dataset_id, source, None, "StartFailed", reason)
    return StepOutcome(action="start-failed", dataset_id=dataset_id, detail=reason)


def _announce_failure(deps: TrainingDeps, dataset_id: str, source: ObjectRef, job_arn: str | None, status: str,
                      reason: str) -> None:
    deps.notifier.notify(f"Fine-tuning run {dataset_id}: training {status.lower()}",
                         f"Run {dataset_id} ({source.uri})\nStatus: {status}\nJob: {job_arn or '-'}\n"
                         f"Reason: {reason}")
    deps.publisher.publish(TrainingFailedDetail(dataset_id=dataset_id, source=source, job_arn=job_arn,
                                                status=status, reason=reason),  # type: ignore[arg-type]
                           TrainingFailed, resources=[job_arn] if job_arn else [])
    metrics.add_metric(name="TrainingFailures", unit="Count", value=1)


# --- job state ------------------------------------------------------------------------------------------

_TERMINAL = {"Completed": RunStatus.TRAINED, "Failed": RunStatus.TRAINING_FAILED,
             "Stopped": RunStatus.TRAINING_STOPPED}
# VALIDATED: the job finished before the start was recorded (the start then finds the run moved on)
_MAY_FINISH = frozenset({RunStatus.VALIDATED, RunStatus.TRAINING, RunStatus.STOPPING})


def handle_job_event(job_name_: str, deps: TrainingDeps, trigger: str) -> StepOutcome:
    """A state-change event named this job: look at the job itself and apply what it says."""
    dataset_id = dataset_id_from_job_name(deps.settings.resource_prefix, job_name_)
    if dataset_id is None:
        return StepOutcome(action="ignored", detail=f"job {job_name_} is not one of this stack's")
    record = deps.ledger.get(dataset_id)
    if record is None:
        return StepOutcome(action="ignored", dataset_id=dataset_id, detail="no ledger record")
    if record.status not in _MAY_FINISH:
        return StepOutcome(action="duplicate", dataset_id=dataset_id, detail=f"run already {record.status}")
    return apply_job_state(record, deps.bedrock.get_job(job_name_), deps, trigger)


def apply_job_state(record: RunRecord, job: JobSnapshot, deps: TrainingDeps, trigger: str) -> StepOutcome:
    dataset_id = record.dataset_id
    target = _TERMINAL.get(job.status)
    if target is None:
        return StepOutcome(action="in-progress", dataset_id=dataset_id, detail=job.status)
    source = ObjectRef.model_validate(record.source)
    fields: dict[str, Any] = {"job_arn": job.job_arn, "job_name": job.job_name, "training_ended_at": job.end_time
                              or utc_now(), "training_status_source": trigger}
    if target is RunStatus.TRAINED:
        if not job.output_model_arn:
            raise RuntimeError(f"job {job.job_name} is Completed but has no outputModelArn yet")
        summary, curves = _training_metrics(job, deps, dataset_id)
        fields |= {"custom_model_arn": job.output_model_arn, "custom_model_name": job.output_model_name,
                   "training_metrics": summary.model_dump(exclude_none=True) | {"curves": curves}}
        note = f"custom model {job.output_model_arn}"
    else:
        reason = job.failure_message or f"job {job.status.lower()}"
        fields["failure_message"] = reason
        note = reason
    if not deps.ledger.transition(dataset_id, _MAY_FINISH, target, fields, f"{note} (seen by {trigger})"):
        return StepOutcome(action="duplicate", dataset_id=dataset_id, detail="transition taken by another caller")

    if target is RunStatus.TRAINED:
        outputs = record.outputs or {}
        deps.publisher.publish(ModelTrainedDetail(
            dataset_id=dataset_id, source=source, job_arn=job.job_arn, custom_model_arn=job.output_model_arn,
            custom_model_name=job.output_model_name, base_model=getattr(record, "base_model", None) or "",
            metrics=summary, test_data_uri=outputs.get("test.jsonl"), labels=getattr(record, "labels", None),
            options=record.options or {},
        ), ModelTrained, resources=[job.job_arn, job.output_model_arn])
        metrics.add_metric(name="ModelsTrained", unit="Count", value=1)
    else:
        _announce_failure(deps, dataset_id, source, job.job_arn, job.status, fields["failure_message"])
    return StepOutcome(action=target.value.lower(), dataset_id=dataset_id, detail=f"by {trigger}")


def _training_metrics(job: JobSnapshot, deps: TrainingDeps, dataset_id: str
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
                                          f"{settings.datasets_prefix}{dataset_id}/training_metrics.json",
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


# --- reconciler -----------------------------------------------------------------------------------------


def reconcile(deps: TrainingDeps) -> list[StepOutcome]:
    """The safety net for best-effort events: ask Bedrock about every run still training, and publish any
    validation outcome that was recorded but never announced."""
    outcomes: list[StepOutcome] = []
    for status in IN_FLIGHT_TRAINING:
        for record in deps.ledger.runs_in_status(status):
            job = getattr(record, "job_name", None)
            if not job:
                continue
            outcomes.append(apply_job_state(record, deps.bedrock.get_job(job), deps, "reconciler"))
    # an unannounced outcome is at most minutes old: look back a day, not through the whole ledger
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for status in (RunStatus.VALIDATED, RunStatus.REJECTED):
        for record in deps.ledger.runs_in_status(status, updated_since=since):
            if announce(record, deps.publisher, deps.ledger):
                outcomes.append(StepOutcome(action="announced", dataset_id=record.dataset_id))
    return outcomes


# --- stop -----------------------------------------------------------------------------------------------


def stop_run(dataset_id: str, requested_by: str | None, deps: TrainingDeps) -> StepOutcome:
    record = deps.ledger.get(dataset_id)
    if record is None:
        return StepOutcome(action="ignored", dataset_id=dataset_id, detail="no such run")
    who = f" by {requested_by}" if requested_by else ""
    # not started yet: make sure it never starts
    if record.status == RunStatus.VALIDATED and deps.ledger.transition(
            dataset_id, {RunStatus.VALIDATED}, RunStatus.TRAINING_STOPPED,
            {"failure_message": f"stopped before training{who}"}, f"stop requested{who}"):
        _announce_failure(deps, dataset_id, ObjectRef.model_validate(record.source), None, "Stopped",
                          f"stopped before training started{who}")
        return StepOutcome(action="stopped-before-start", dataset_id=dataset_id)
    if record.status == RunStatus.TRAINING:
        deps.bedrock.stop_job(record.job_name)  # type: ignore[attr-defined]
        deps.ledger.transition(dataset_id, {RunStatus.TRAINING}, RunStatus.STOPPING, {}, f"stop requested{who}")
        # Bedrock's Stopped event (or the reconciler) finishes the run through the usual path
        return StepOutcome(action="stopping", dataset_id=dataset_id)
    return StepOutcome(action="nothing-to-stop", dataset_id=dataset_id, detail=f"run is {record.status}")
