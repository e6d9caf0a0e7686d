"""The sweeper: every period, every run in a waiting state is looked at by its owner, whatever events did.

- Waits on our own steps (a lease): once the lease lapsed, ask for a retry (`StepRetryRequested`), at most
  `MAX_ATTEMPTS - 1` times; then end the run with the reason.
- Waits on the outside world (a Bedrock job): ask it, and apply what it says.
- Events recorded but not delivered (a failed PutEvents, a death before the mark) are delivered.

One broken run never stops the sweep: each run is handled on its own, and what fails is logged and
counted. The sweep reports how many runs wait in each state and for how long the oldest has waited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from ft_pipeline.clock import iso, parse_iso
from ft_pipeline.contracts import (
    DatasetRejected,
    DatasetRejectedDetail,
    StepRetryRequested,
    StepRetryRequestedDetail,
)
from ft_pipeline.lifecycle import MAX_ATTEMPTS, WAITS, RunState, ServingState, Step
from ft_pipeline.observability import logger, metrics, record_gauge, run_scope
from ft_pipeline.ports import StepOutcome, TrainingDeps, UnreadableRecord
from ft_pipeline.run_record import SWEEPER, Lease, RunRecord
from ft_pipeline.steps import (
    deploy_model,
    evaluate,
    import_model,
    start_training,
    stop_run,
    teardown,
    training_status,
)
from ft_pipeline.steps.outbox import deliver_pending, new_event
from ft_pipeline.steps.teardown import InventoryReport, ServingVerdict, accrued_usd, cost_so_far
from ft_pipeline.steps.training_events import training_failed_event

# a live step delivers its own events within a second; the sweeper leaves them that long before it steps in
OUTBOX_GRACE = timedelta(minutes=2)


class SweepError(BaseModel):
    run_id: str
    state: str
    error: str


class SweepReport(BaseModel):
    waiting: dict[str, int] = Field(default_factory=dict)
    oldest_wait_seconds: dict[str, float] = Field(default_factory=dict)
    stuck: dict[str, list[str]] = Field(default_factory=dict)  # run ids past their state's `stuck_after`
    actions: list[StepOutcome] = Field(default_factory=list)
    events_delivered: int = 0
    serving: InventoryReport = Field(default_factory=InventoryReport)  # every paid resource of this stack
    errors: list[SweepError] = Field(default_factory=list)
    accrued_usd: dict[str, float] = Field(default_factory=dict)  # live run → its cost so far (CostAccruedUsd)

    @property
    def alive(self) -> list[ServingVerdict]:
        """This stack's serving resources that still exist (and bill) after the sweep: kept, being deleted, or
        not judged (an error); not those deleted now, nor those that are not this pipeline's (ignored)."""
        return [r for r in self.serving.resources if r.action not in ("deleted", "ignored")]

    @property
    def changed(self) -> list[StepOutcome]:
        return [a for a in self.actions if a.action not in ("in-progress", "waiting", "duplicate")]


# --- the owners' answers, per waiting state -----------------------------------------------------------------


def _retry_or_give_up(record: RunRecord, deps: TrainingDeps, now: datetime, step: Step, retry: str,
                      give_up: Callable[[RunRecord, TrainingDeps, int], StepOutcome]) -> StepOutcome:
    lease = record.lease
    if lease is not None and not lease.lapsed(now):
        return StepOutcome(action="waiting", run_id=record.run_id, detail=f"lease of {lease.owner} until {lease.until}")
    retries = lease.retries if lease else 0
    if retries >= MAX_ATTEMPTS - 1:
        return give_up(record, deps, retries + 1)
    wait = WAITS[record.status].retry_after or timedelta(minutes=10)
    renewed = Lease(owner=SWEEPER, until=iso(now + wait), retries=retries + 1)
    reason = f"no outcome from {step.value} by {lease.until if lease else record.state_since} (its lease lapsed)"
    event = new_event(StepRetryRequested, StepRetryRequestedDetail(
        run_id=record.run_id, source=record.source, step=step.value, retry=renewed.retries, reason=reason))
    applied = deps.ledger.apply(record.run_id, retry, lease=renewed, expected_lease=lease, event=event,
                                note=f"retry {renewed.retries} of {MAX_ATTEMPTS - 1}: {reason}")
    if applied is None:
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved meanwhile")
    deliver_pending(applied, deps)
    return StepOutcome(action="retry-requested", run_id=record.run_id, detail=f"{step.value} retry {renewed.retries}")


def _last_failure(record: RunRecord) -> str:
    failures = [t.note for t in record.timeline if t.note.startswith("attempt failed")]
    return f"; last: {failures[-1].removeprefix('attempt failed: ')[:200]}" if failures else ""


def _reject_abandoned_validation(record: RunRecord, deps: TrainingDeps, attempts: int) -> StepOutcome:
    reason = (f"validation did not finish in {attempts} attempts (the validator ran out of time or memory, or "
              f"failed each time{_last_failure(record)}); nothing was trained")
    event = new_event(DatasetRejected, DatasetRejectedDetail(run_id=record.run_id, source=record.source,
                                                             reasons=[reason], report_uri=None, rejected_uri=None),
                      resources=[record.source.uri])
    applied = deps.ledger.apply(record.run_id, "validation_abandoned", event=event, expected_lease=record.lease,
                                changes={"validation.reasons": [reason]}, note=reason)
    if applied is not None:
        metrics.add_metric(name="ValidationsAbandoned", unit="Count", value=1)
    deliver_pending(applied, deps)
    return StepOutcome(action="rejected" if applied else "duplicate", run_id=record.run_id, detail=reason)


def _fail_abandoned_start(record: RunRecord, deps: TrainingDeps, attempts: int) -> StepOutcome:
    reason = f"the training job could not be started in {attempts} attempts{_last_failure(record)}"
    applied = deps.ledger.apply(record.run_id, "training_start_abandoned", expected_lease=record.lease,
                                event=training_failed_event(record, None, "StartFailed", reason),
                                changes={"training.failure_message": reason}, note=reason)
    if applied is not None:
        metrics.add_metric(name="TrainingStartFailures", unit="Count", value=1)
    deliver_pending(applied, deps)
    return StepOutcome(action="training_failed" if applied else "duplicate", run_id=record.run_id, detail=reason)


def _validating(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    return _retry_or_give_up(record, deps, now, Step.VALIDATE, "validation_redriven", _reject_abandoned_validation)


def _validated(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    return _retry_or_give_up(record, deps, now, Step.START_TRAINING, "training_start_redriven", _fail_abandoned_start)


def _training_starting(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    job = deps.bedrock.get_job(record.training.job_name or "")
    if job is not None:  # the start created it and died before recording it
        return start_training.adopt_existing_job(record, job.job_arn, deps)
    return _retry_or_give_up(record, deps, now, Step.START_TRAINING, "training_start_retried", _fail_abandoned_start)


def _give_up_deployment(record: RunRecord, deps: TrainingDeps, attempts: int) -> StepOutcome:
    return deploy_model.fail(record, deps, f"the deployment could not be started in {attempts} attempts"
                                           f"{_last_failure(record)}")


def _trained(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    return _retry_or_give_up(record, deps, now, Step.DEPLOY, "deployment_redriven", _give_up_deployment)


def _deploying(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    answer = deploy_model.look(record, deps, now)
    if answer is not None:
        return answer
    return _retry_or_give_up(record, deps, now, Step.DEPLOY, "deployment_start_retried", _give_up_deployment)


def _deployed(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    released = record.serving.state in (ServingState.DELETING, ServingState.DELETED)  # its lifetime or ceiling
    if released:
        return teardown.complete_run(record, deps)
    return _retry_or_give_up(record, deps, now, Step.EVALUATE, "evaluation_start_redriven", _give_up_evaluation)


def _give_up_evaluation(record: RunRecord, deps: TrainingDeps, attempts: int) -> StepOutcome:
    logger.warning("the evaluation never started; completing the run", extra={"run_id": record.run_id})
    return teardown.complete_run(record, deps)  # without an evaluation: the deployment is deleted


def _evaluated(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    released = record.serving.state in (ServingState.DELETING, ServingState.DELETED)
    if not released and record.lease is not None and not record.lease.lapsed(now):
        return StepOutcome(action="waiting", run_id=record.run_id, detail=f"until {record.lease.until}")
    return teardown.complete_run(record, deps)  # EvaluationCompleted's handler never came: the sweeper completes


def _give_up_import(record: RunRecord, deps: TrainingDeps, attempts: int) -> StepOutcome:
    return import_model.fail(record, deps, f"the import job could not be started in {attempts} attempts"
                                           f"{_last_failure(record)}", "import_start_abandoned")


def _importing(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    answer = import_model.look(record, deps, now)
    if answer is not None:
        return answer
    if record.stop is not None and (record.lease is None or record.lease.lapsed(now)):  # no job, and none will come
        return import_model.stopped_before_job(record, deps)
    return _retry_or_give_up(record, deps, now, Step.IMPORT, "import_start_retried", _give_up_import)


def _import_waiting(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    return _retry_or_give_up(record, deps, now, Step.IMPORT, "import_wait_expired", _give_up_waiting)


def _give_up_waiting(record: RunRecord, deps: TrainingDeps, attempts: int) -> StepOutcome:
    return import_model.abandon_waiting(record, deps, f"the folder could not be looked at in {attempts} attempts"
                                                      f"{_last_failure(record)}")


def _imported(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    return _retry_or_give_up(record, deps, now, Step.EVALUATE, "imported_evaluation_redriven", _give_up_evaluation)


SWEEPERS: dict[RunState, Callable[[RunRecord, TrainingDeps, datetime], StepOutcome]] = {
    RunState.VALIDATING: _validating,
    RunState.VALIDATED: _validated,
    RunState.TRAINING_STARTING: _training_starting,
    RunState.TRAINING: lambda record, deps, now: training_status.look(record, deps),
    RunState.STOPPING: lambda record, deps, now: stop_run.look(record, deps),
    RunState.TRAINED: _trained,
    RunState.DEPLOYING: _deploying,
    RunState.DEPLOYMENT_QUEUED: deploy_model.look_queued,
    RunState.DEPLOYED: _deployed,
    RunState.EVALUATING: evaluate.look,
    RunState.EVALUATED: _evaluated,
    RunState.IMPORT_WAITING: _import_waiting,
    RunState.IMPORTING: _importing,
    RunState.IMPORTED: _imported,
}


# --- the sweep ------------------------------------------------------------------------------------------------


def sweep(deps: TrainingDeps) -> SweepReport:
    now = deps.clock.now()
    report = SweepReport()
    for state, wait in WAITS.items():
        if wait.swept:
            _sweep_state(state, deps, now, report)
    try:
        for run_id in deps.ledger.runs_with_pending_events(updated_before=iso(now - OUTBOX_GRACE)):
            with run_scope(run_id):
                try:
                    report.events_delivered += deliver_pending(deps.ledger.get(run_id), deps)  # a consistent read
                except Exception as exc:  # noqa: BLE001
                    _failed(report, run_id, "outbox", f"{type(exc).__name__}: {str(exc)[:300]}")
    except Exception as exc:  # noqa: BLE001 - the index query itself: the rest of the sweep is done already
        _failed(report, "*", "outbox", f"{type(exc).__name__}: {str(exc)[:300]}")
    if deps.serving is not None:  # last: whatever the passes above released is gone by now
        try:
            report.serving = teardown.sweep_serving(deps)
        except Exception as exc:  # noqa: BLE001 - listing failed (throttled): the next period tries again
            _failed(report, "*", "serving", f"{type(exc).__name__}: {str(exc)[:300]}")

    for state, count in report.waiting.items():
        record_gauge("RunsWaiting", count, "Count", state=state)
        record_gauge("OldestWaitSeconds", report.oldest_wait_seconds[state], "Seconds", state=state)
        record_gauge("RunsStuck", len(report.stuck.get(state, [])), "Count", state=state)
    record_gauge("RunsStuck", sum(len(ids) for ids in report.stuck.values()), "Count")  # the alarm's metric
    record_gauge("SweepErrors", len(report.errors), "Count")
    record_gauge("PaidResources", sum(1 for r in report.serving.resources if r.action != "deleted"), "Count")
    record_gauge("PaidResourcesOverdue", report.serving.overdue, "Count")  # the alarm's metric
    record_gauge("EventsRedelivered", report.events_delivered, "Count")
    alive = report.alive
    report.accrued_usd |= {r.run_id: r.cost_usd for r in alive if r.run_id and r.cost_usd is not None}  # fresher
    record_gauge("DeploymentsAlive", len(alive), "Count")
    record_gauge("DeploymentHours", round(sum(_hours_alive(r, now) for r in alive), 3), "None")
    record_gauge("CostAccruedUsd", round(sum(report.accrued_usd.values()), 2), "None")
    if report.stuck:
        logger.warning("runs waiting longer than their state allows", extra={"stuck": report.stuck})
    return report


def _sweep_state(state: RunState, deps: TrainingDeps, now: datetime, report: SweepReport) -> None:
    owner, stuck_after = SWEEPERS[state], WAITS[state].stuck_after
    count, oldest = 0, 0.0
    try:
        for item in deps.ledger.runs_in_state(state):
            if isinstance(item, UnreadableRecord):
                _failed(report, item.run_id, state, item.error)
                continue
            with run_scope(item.run_id):  # every line logged for this run carries its id
                try:
                    count += 1
                    waited = now - parse_iso(item.state_since)
                    oldest = max(oldest, waited.total_seconds())
                    if waited > stuck_after:
                        report.stuck.setdefault(state.value, []).append(item.run_id)
                    report.actions.append(owner(item, deps, now))
                except Exception as exc:  # noqa: BLE001 - one run's trouble is logged and counted, never fatal
                    _failed(report, item.run_id, state, f"{type(exc).__name__}: {str(exc)[:300]}")
                _note_cost(item, deps, now, report)
    except Exception as exc:  # noqa: BLE001 - the state's query failed (throttled): the other states go on
        _failed(report, "*", state, f"{type(exc).__name__}: {str(exc)[:300]}")
    report.waiting[state.value] = count
    report.oldest_wait_seconds[state.value] = round(oldest, 1)


def _note_cost(record: RunRecord, deps: TrainingDeps, now: datetime, report: SweepReport) -> None:
    """A live run's cost so far, from its record as the sweep read it (the CostAccruedUsd gauge); a figure that
    cannot be made is left out, and never counts as the run's failure."""
    try:
        report.accrued_usd[record.run_id] = accrued_usd(record, cost_so_far(record, deps, now))
    except Exception as exc:  # noqa: BLE001
        logger.warning("no cost figure for this run", extra={"error": f"{type(exc).__name__}: {str(exc)[:200]}"})


def _hours_alive(resource: ServingVerdict, now: datetime) -> float:
    """Since its creation (0 when neither AWS nor its run's record says when that was)."""
    try:
        return max(0.0, (now - parse_iso(resource.created_at)).total_seconds() / 3600) if resource.created_at else 0.0
    except (TypeError, ValueError):  # a time in another form: the gauge leaves it out rather than fail the sweep
        return 0.0


def _failed(report: SweepReport, run_id: str, state: str, error: str) -> None:
    with run_scope(None if run_id == "*" else run_id):
        logger.error("sweep could not handle a run", extra={"run_id": run_id, "state": state, "error": error})
    report.errors.append(SweepError(run_id=run_id, state=str(state), error=error))
