"""A run record as the runs API shows it: plain functions from the ledger's record to the API's models."""

from __future__ import annotations

from ft_pipeline.run_record import RunRecord
from ft_pipeline.runs.api_models import (
    CostView,
    EvaluationView,
    ImportView,
    ModelView,
    RunDetail,
    RunSummary,
    ServingView,
    StateTime,
    TrainingView,
)


def cost_usd(record: RunRecord) -> float | None:
    """The cost so far as last recorded (the sweeper and teardown keep it current), else the training estimate."""
    if record.cost.total_usd is not None:
        return record.cost.total_usd
    return record.cost.estimated_training_usd


def summary(record: RunRecord) -> RunSummary:
    return RunSummary(run_id=record.run_id, kind=record.kind, status=record.status, created_at=record.created_at,
                      state_since=record.state_since, key=record.source.key,
                      base_model=record.model.base_model or record.options.get("base_model"),
                      serving_state=record.serving.state, cost_usd=cost_usd(record),
                      passed=record.evaluation.passed)


def detail(record: RunRecord, scores: dict[str, float] | None = None, metric: str | None = None) -> RunDetail:
    training, serving, evaluation = record.training, record.serving, record.evaluation
    metrics = training.metrics
    return RunDetail(
        run_id=record.run_id, kind=record.kind, status=record.status, created_at=record.created_at,
        updated_at=record.updated_at,
        state_since=record.state_since,
        source={"bucket": record.source.bucket, "key": record.source.key, "version_id": record.source.version_id},
        counts=record.validation.counts.model_dump() if record.validation.counts else None,
        reasons=record.validation.reasons,
        timeline=[StateTime(status=t.status, at=t.at, transition=t.transition, note=t.note) for t in record.timeline],
        training=TrainingView(job_name=training.job_name, job_arn=training.job_arn, started_at=training.started_at,
                              ended_at=training.ended_at, failure_message=training.failure_message,
                              training_loss=metrics.training_loss if metrics else None,
                              validation_loss=metrics.validation_loss if metrics else None),
        model=ModelView(base_model=record.model.base_model or record.options.get("base_model"),
                        custom_model_arn=record.model.custom_model_arn, deleted_at=record.model.deleted_at),
        serving=ServingView(state=serving.state, mode=serving.mode, name=serving.name, arn=serving.arn,
                            deadline=serving.deadline, created_at=serving.created_at, active_at=serving.active_at,
                            deleted_at=serving.deleted_at, reason=serving.reason, keep=serving.keep),
        cost=CostView(**record.cost.model_dump()),
        evaluation=EvaluationView(summary=evaluation.summary, scores=scores, metric=metric,
                                  passed=evaluation.passed, reason=evaluation.reason, examples=evaluation.examples),
        model_import=ImportView(**record.model_import.model_dump(include=set(ImportView.model_fields)))
        if record.kind == "import" else None,
        stop_requested_at=record.stop.requested_at if record.stop else None,
        stop_requested_by=record.stop.requested_by if record.stop else None,
    )
