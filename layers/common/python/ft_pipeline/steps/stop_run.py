"""A user's stop request (StopRequested on the pipeline bus) → no job left running, nothing left serving.

The stop is recorded first (`stop_requested`, or `stopped_before_training` when no job was claimed yet),
then StopModelCustomizationJob is asked. Whatever the order of start and stop, nothing is left running:
- before the start claims the run, the run ends at once and the start finds nothing to claim;
- while the start creates the job, the start's own `training_started` is refused and it stops its job;
- if the start died in between, the sweeper finds no job once its lease lapsed and ends the run
  (`stopped_before_job_existed`), or stops the job it finds.
Bedrock's Stopped state then ends the run through the job-status path.
"""

from __future__ import annotations

from ft_pipeline.clock import iso
from ft_pipeline.contracts import RunStopped, RunStoppedDetail
from ft_pipeline.lifecycle import TRANSITIONS, RunState
from ft_pipeline.observability import logger, metrics
from ft_pipeline.ports import StepOutcome, TrainingDeps
from ft_pipeline.run_record import RunRecord
from ft_pipeline.steps.outbox import deliver_pending, new_event
from ft_pipeline.steps.teardown import release_or_leave_to_sweeper
from ft_pipeline.steps.training_events import training_failed_event
from ft_pipeline.steps.training_status import apply_job_state

_ATTEMPTS = 3  # the run may move between our read and our write (a start claiming it): read again


def stop_run(run_id: str, requested_by: str | None, deps: TrainingDeps) -> StepOutcome:
    who = f" by {requested_by}" if requested_by else ""
    for _ in range(_ATTEMPTS):
        record = deps.ledger.get(run_id)
        if record is None:
            return StepOutcome(action="ignored", run_id=run_id, detail="no such run")
        stop = {"stop": {"requested_at": iso(deps.clock.now()), "requested_by": requested_by}}
        if record.status in TRANSITIONS["stopped_before_training"].sources:
            reason = f"stopped before training started{who}"
            stopped = deps.ledger.apply(run_id, "stopped_before_training", changes=stop, note=f"stop requested{who}",
                                        event=training_failed_event(record, None, "Stopped", reason))
            if stopped is None:
                continue
            metrics.add_metric(name="RunsStopped", unit="Count", value=1)
            deliver_pending(stopped, deps)
            return StepOutcome(action="stopped-before-start", run_id=run_id)
        if record.status in TRANSITIONS["stop_requested"].sources:
            if deps.ledger.apply(run_id, "stop_requested", changes=stop, note=f"stop requested{who}") is None:
                continue
            sent = deps.bedrock.stop_job(record.training.job_name or "")
            return StepOutcome(action="stopping", run_id=run_id,
                               detail="stop sent" if sent else "no job yet: the start stops it when it exists")
        if record.status in TRANSITIONS["run_stopped"].sources:
            return _stop_after_training(record, requested_by, stop, deps)
        if record.status is RunState.IMPORTING:  # Bedrock has no StopModelImportJob: recorded, acted on by the step
            if record.stop is None and deps.ledger.apply(run_id, "import_stop_requested", changes=stop,
                                                         note=f"stop requested{who}") is None:
                continue
            return StepOutcome(action="stop-recorded", run_id=run_id,
                               detail="no import job is created after this; a job already running cannot be stopped "
                                      "(Bedrock has no StopModelImportJob): when it completes, the run is STOPPED")
        if record.status is RunState.STOPPING:
            deps.bedrock.stop_job(record.training.job_name or "")  # again: idempotent
            return StepOutcome(action="stopping", run_id=run_id, detail="already stopping")
        deliver_pending(record, deps)
        if record.serving.paid:  # a run that ended keeping its deployment (keep_after_evaluation): the stop ends it
            released = release_or_leave_to_sweeper(record, deps, f"stopped{who} after the run ended")
            return StepOutcome(action="released", run_id=run_id, detail=f"serving {released.serving.state}")
        return StepOutcome(action="nothing-to-stop", run_id=run_id, detail=f"run is {record.status}")
    return StepOutcome(action="retry", run_id=run_id, detail="the run kept moving; the next delivery tries again")


def _stop_after_training(record: RunRecord, requested_by: str | None, stop: dict, deps: TrainingDeps) -> StepOutcome:
    reason = f"stopped{' by ' + requested_by if requested_by else ''} while {record.status}"
    event = new_event(RunStopped, RunStoppedDetail(run_id=record.run_id, source=record.source,
                                                   requested_by=requested_by, reason=reason,
                                                   serving_state=record.serving.state.value))
    stopped = deps.ledger.apply(record.run_id, "run_stopped", event=event, changes=stop, note=reason)
    if stopped is None:
        return StepOutcome(action="retry", run_id=record.run_id, detail="the run moved meanwhile")
    metrics.add_metric(name="RunsStopped", unit="Count", value=1)
    stopped = release_or_leave_to_sweeper(stopped, deps, reason)
    deliver_pending(stopped, deps)
    return StepOutcome(action="stopped", run_id=record.run_id, detail=f"serving {stopped.serving.state}")


def look(record: RunRecord, deps: TrainingDeps) -> StepOutcome:
    """The sweeper's question for a stopping run: is the job stopped, and does it exist at all?"""
    name = record.training.job_name or ""
    job = deps.bedrock.get_job(name)
    if job is None:
        now = deps.clock.now()
        if record.lease is not None and not record.lease.open_to_retry(now):
            return StepOutcome(action="waiting", run_id=record.run_id, detail="the start may still create the job")
        stopped = deps.ledger.apply(
            record.run_id, "stopped_before_job_existed", expected_lease=record.lease,
            event=training_failed_event(record, None, "Stopped", "stopped before its job was created"),
            note="the start died before creating the job")
        if stopped is not None:
            metrics.add_metric(name="RunsStopped", unit="Count", value=1)
        deliver_pending(stopped, deps)
        return StepOutcome(action="stopped-before-start", run_id=record.run_id)
    if job.status in ("InProgress", "Stopping"):
        if job.status == "InProgress":
            logger.info("job still running after a stop request; asking again", extra={"job": name})
            deps.bedrock.stop_job(name)
        return StepOutcome(action="in-progress", run_id=record.run_id, detail=job.status)
    return apply_job_state(record, job, deps, "sweeper")
