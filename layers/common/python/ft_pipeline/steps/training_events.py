"""The failure event of the training phase, with the notification people get for it (both via the outbox)."""

from __future__ import annotations

from typing import Literal

from ft_pipeline.contracts import TrainingFailed, TrainingFailedDetail
from ft_pipeline.run_record import Notification, OutboxEvent, RunRecord
from ft_pipeline.steps.outbox import new_event


def training_failed_event(record: RunRecord, job_arn: str | None,
                          status: Literal["Failed", "Stopped", "StartFailed"], reason: str) -> OutboxEvent:
    word = {"Failed": "failed", "Stopped": "stopped", "StartFailed": "could not start"}[status]
    note = Notification(
        subject=f"Fine-tuning run {record.run_id}: training {word}",
        message=f"Run {record.run_id} ({record.source.uri})\nStatus: {status}\nJob: {job_arn or '-'}\n"
                f"Reason: {reason}")
    return new_event(TrainingFailed, TrainingFailedDetail(run_id=record.run_id, source=record.source,
                                                          job_arn=job_arn, status=status, reason=reason),
                     resources=[job_arn] if job_arn else [], notification=note)
