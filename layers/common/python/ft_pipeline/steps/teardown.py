"""Teardown: nothing paid is left running, whatever path a run took.

Two mechanisms, so that no single fault leaves a resource alive:
- the steps release the serving resource as soon as they are done with it (a failed or stopped deployment, a
  completed run), recording deleting → deleted and the cost;
- every period, the sweeper lists this stack's provisioned throughputs and deployments (by name prefix) and
  deletes each one no run needs any more: its run ended, was stopped, passed its maximum lifetime or its cost
  ceiling, or no ledger record owns it at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, ValidationError

from ft_pipeline.catalogue.prices import hours_between, summarise
from ft_pipeline.clock import iso, parse_iso
from ft_pipeline.contracts import RunCompleted, RunCompletedDetail
from ft_pipeline.lifecycle import RunState, ServingState
from ft_pipeline.naming import PIPELINE_TAG, pipeline_tag, run_id_from_serving_name
from ft_pipeline.observability import logger, metrics, run_scope
from ft_pipeline.ports import ServingSnapshot, StepOutcome, TrainingDeps
from ft_pipeline.run_record import RunRecord
from ft_pipeline.steps.outbox import deliver_pending, new_event

# the run states that still use their serving resource (the evaluation step adds its own next)
_IN_USE = {RunState.DEPLOYING, RunState.DEPLOYED, RunState.EVALUATING, RunState.EVALUATED}
# no run may keep a resource longer (DeploymentOptions.max_hours' upper bound): deleted then, whatever the ledger says
ABSOLUTE_MAX_LIFETIME = timedelta(hours=72)


def cost_so_far(record: RunRecord, deps: TrainingDeps, until: datetime) -> dict:
    """The run's cost now: the training estimate, serving hours × price (billing from creation to deletion)."""
    serving = record.serving
    start = serving.created_at or serving.active_at
    end = parse_iso(serving.deleted_at) if serving.deleted_at else until
    hours = hours_between(parse_iso(start), end) if start else 0.0
    summary = summarise(record.cost.estimated_training_usd, serving.mode, serving.model_units, hours,
                        record.model.custom_model_arn is not None and record.model.deleted_at is None,
                        deps.settings.prices())
    return {"estimated_training_usd": record.cost.estimated_training_usd, "serving_usd": summary.serving_usd,
            "serving_hours": summary.serving_hours, "storage_usd_per_month": summary.storage_usd_per_month,
            "total_usd": summary.total_usd, "unconfirmed": summary.unconfirmed, "as_of": iso(until)}


def accrued_usd(record: RunRecord, cost: dict) -> float:
    """What the run has cost so far, for the sweeper's CostAccruedUsd: the training estimate once its job was
    created (before, nothing is spent), plus serving so far; a price nobody knows counts 0 (`cost["unconfirmed"]`)."""
    started = record.training.job_arn is not None or record.training.started_at is not None
    parts = (cost["estimated_training_usd"] if started else None, cost["serving_usd"])
    return round(sum(v for v in parts if v is not None), 4)


def release_serving(record: RunRecord, deps: TrainingDeps, reason: str) -> RunRecord:
    """Delete the run's serving resource, if it has one, and record deleting → deleted with the final cost.
    Idempotent; a delete AWS has not finished is confirmed by the next call (the sweeper's)."""
    serving = record.serving
    if serving.state in (ServingState.NONE, ServingState.DELETED) or not serving.name or serving.mode is None:
        return record
    assert deps.serving is not None
    now = deps.clock.now()
    if serving.state is not ServingState.DELETING:
        moved = deps.ledger.apply_serving(record.run_id, ServingState.DELETING, note=reason,
                                          changes={"serving.deleting_at": iso(now), "serving.reason": reason})
        record = moved or deps.ledger.get(record.run_id) or record
        if record.serving.state is not ServingState.DELETING:
            return record  # another caller got there first
    if not deps.serving.delete(serving.mode, serving.name):
        logger.info("delete asked; not gone yet", extra={"resource": serving.name})
        return record
    deleted_at = iso(now)
    cost = cost_so_far(record.model_copy(update={"serving": record.serving.model_copy(
        update={"deleted_at": deleted_at})}), deps, now)
    done = deps.ledger.apply_serving(record.run_id, ServingState.DELETED, note=f"deleted: {reason}",
                                     changes={"serving.deleted_at": deleted_at, "cost": cost})
    if done is not None:
        metrics.add_metric(name="ServingResourcesDeleted", unit="Count", value=1)
    return done or deps.ledger.get(record.run_id) or record


def release_or_leave_to_sweeper(record: RunRecord, deps: TrainingDeps, reason: str) -> RunRecord:
    """release_serving for a step whose own transition is already recorded: a failed delete (throttled, still
    creating) must not fail the step; the sweeper's inventory deletes the resource, its run no longer needs it."""
    try:
        return release_serving(record, deps, reason)
    except Exception as exc:  # noqa: BLE001
        logger.warning("teardown failed; the sweeper will delete it",
                       extra={"run_id": record.run_id, "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
        return deps.ledger.get(record.run_id) or record


def complete_run(record: RunRecord, deps: TrainingDeps, trigger_event_id: str | None = None) -> StepOutcome:
    """EVALUATED (or DEPLOYED, without an evaluation) → COMPLETED. The deployment is kept only when the options
    ask for it and the quality gate passed (until its maximum lifetime still); otherwise it is deleted. A run whose
    gate failed loses its custom model too when `delete_custom_model_on_gate_failure` asks for it."""
    deployment = record.options.get("deployment") or {}
    evaluated = record.status is RunState.EVALUATED
    passed = evaluated and record.evaluation.passed is True
    keep = passed and bool(deployment.get("keep_after_evaluation")) and record.serving.state is ServingState.ACTIVE
    changes: dict[str, object] = {}
    if record.serving.state is ServingState.DELETED:  # released already: its lifetime, its ceiling, a retry
        reason = f"run completed; its deployment was released: {record.serving.reason or 'deleted'}"
    elif record.kind == "import":  # nothing serves by the hour: the imported model stays, as the user's model
        reason = (f"run completed: the gate {'passed' if passed else 'FAILED'}; " if evaluated else
                  "run completed: ") + "the imported model is kept (it bills storage monthly until deleted)"
    elif keep:
        reason = f"run completed: the gate passed and keep_after_evaluation asks to keep it until " \
                 f"{record.serving.deadline}"
        changes["serving.keep"] = True
    elif evaluated:
        why = "keep_after_evaluation is off" if passed else "only a model that passes is kept"
        reason = f"run completed: the gate {'passed' if passed else 'FAILED'}; the deployment is deleted ({why})"
    else:
        reason = "run completed without an evaluation: the deployment is deleted"
    if not keep:
        record = release_or_leave_to_sweeper(record, deps, reason)
    if evaluated and not passed and deployment.get("delete_custom_model_on_gate_failure"):
        changes |= _delete_custom_model(record, deps)
    serving_state = "kept" if keep else record.serving.state.value
    cost = cost_so_far(record, deps, deps.clock.now())
    event = new_event(RunCompleted, RunCompletedDetail(
        run_id=record.run_id, source=record.source,
        outcome=_outcome(record, evaluated, serving_state),
        custom_model_arn=record.model.custom_model_arn or record.model_import.imported_model_arn,
        serving_state=serving_state, cost_usd=cost["total_usd"], cost_unconfirmed=cost["unconfirmed"]),
        resources=[record.model.custom_model_arn or record.model_import.imported_model_arn or ""])
    completion = "evaluated_run_completed" if evaluated else \
        "imported_run_completed" if record.status is RunState.IMPORTED else "run_completed"
    done = deps.ledger.apply(record.run_id, completion, event=event,
                             changes={"cost": cost} | changes, note=reason)
    if done is None:
        deliver_pending(deps.ledger.get(record.run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="RunsCompleted", unit="Count", value=1)
    deliver_pending(done, deps, trigger_event_id)
    return StepOutcome(action="completed", run_id=record.run_id, detail=f"serving {serving_state}")


def _outcome(record: RunRecord, evaluated: bool, serving_state: str) -> str:
    if record.kind == "import":
        model = record.model_import.imported_model_arn
        if evaluated:
            return f"evaluated: {record.evaluation.summary}; imported model {model}"
        why = "its evaluation never started" if record.validation.outputs.get("test.jsonl") else "no test set"
        return f"imported as {model}; not evaluated ({why})"
    return (f"evaluated: {record.evaluation.summary}" if evaluated else "deployed; not evaluated") \
        + f"; deployment {serving_state}"


def _delete_custom_model(record: RunRecord, deps: TrainingDeps) -> dict[str, object]:
    """The gate failed and the options ask for it: the custom model goes too (it bills storage monthly)."""
    arn = record.model.custom_model_arn
    if not arn or record.model.deleted_at or deps.serving is None:
        return {}
    try:
        deps.serving.delete_custom_model(arn)
    except Exception as exc:  # noqa: BLE001 - the model is kept; the record says so
        logger.warning("could not delete the custom model", extra={"run_id": record.run_id, "error": str(exc)[:200]})
        return {"model.storage_note": f"the gate failed, but deleting the custom model failed: {str(exc)[:200]}"}
    return {"model.deleted_at": iso(deps.clock.now()),
            "model.storage_note": "deleted: the gate failed and delete_custom_model_on_gate_failure asked for it"}


def handle_evaluation_completed(run_id: str, deps: TrainingDeps, trigger_event_id: str | None) -> StepOutcome:
    record = deps.ledger.get(run_id)
    if record is None:
        return StepOutcome(action="ignored", run_id=run_id, detail="no ledger record")
    if record.status is not RunState.EVALUATED:
        deliver_pending(record, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail=f"run is {record.status}")
    return complete_run(record, deps, trigger_event_id)


# --- the sweeper's inventory ------------------------------------------------------------------------------


class ServingVerdict(BaseModel):
    name: str
    run_id: str | None
    status: str
    action: str  # kept | deleted | deleting | ignored (not this stack's) | error
    reason: str
    overdue: bool = False  # alive past its run's deadline (or an orphan): the alarm's metric counts these
    created_at: str | None = None  # AWS's creation time (List), else its run's record: DeploymentHours
    cost_usd: float | None = None  # kept: its run's cost so far (`accrued_usd`), for CostAccruedUsd


class InventoryReport(BaseModel):
    resources: list[ServingVerdict] = Field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(1 for r in self.resources if r.overdue and r.action != "deleted")


def _needed(record: RunRecord | None, snapshot: ServingSnapshot, now: datetime, deps: TrainingDeps
            ) -> tuple[bool, str]:
    if record is None:
        return False, "no ledger record owns it"
    serving = record.serving
    if serving.name != snapshot.name:
        return False, "its run records another serving resource"
    if record.stop is not None:
        return False, "its run was stopped"
    if serving.deadline and parse_iso(serving.deadline) <= now:
        return False, f"past its maximum lifetime ({serving.deadline})"
    ceiling = _ceiling(record)
    cost = cost_so_far(record, deps, now)
    known = sum(v for v in (cost["estimated_training_usd"], cost["serving_usd"]) if v is not None)  # unknown: 0
    if ceiling is not None and known >= ceiling:
        return False, f"its run's cost ${known:,.2f} reached the ceiling ${ceiling:,.2f}"
    if record.status in _IN_USE or (record.status is RunState.COMPLETED and serving.keep):
        return True, f"in use ({record.status})"
    return False, f"its run is {record.status}"


def _ceiling(record: RunRecord) -> float | None:
    value = record.options.get("cost_ceiling_usd")
    return float(value) if value is not None else None


def sweep_serving(deps: TrainingDeps) -> InventoryReport:
    """Every serving resource of this stack: kept while a run needs it, deleted otherwise. One resource's trouble
    (a throttled delete, an unreadable record) is reported and never stops the others."""
    assert deps.serving is not None
    now, report = deps.clock.now(), InventoryReport()
    for snapshot in deps.serving.list_ours(f"{deps.settings.resource_prefix}-"):
        parsed = run_id_from_serving_name(deps.settings.resource_prefix, snapshot.name)
        if parsed is None:
            continue
        with run_scope(parsed[1]):
            try:
                report.resources.append(_judge_one(snapshot, parsed[1], deps, now))
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
                logger.error("could not judge a serving resource", extra={"resource": snapshot.name, "error": error})
                report.resources.append(ServingVerdict(name=snapshot.name, run_id=parsed[1], status=snapshot.status,
                                                       action="error", reason=error, overdue=_past_any_lifetime(
                                                           snapshot, now), created_at=snapshot.created_at))
    return report


def _past_any_lifetime(snapshot: ServingSnapshot, now: datetime) -> bool:
    return snapshot.created_at is not None and now - parse_iso(snapshot.created_at) > ABSOLUTE_MAX_LIFETIME


def _judge_one(snapshot: ServingSnapshot, run_id: str, deps: TrainingDeps, now: datetime) -> ServingVerdict:
    def verdict(action: str, reason: str, overdue: bool = False) -> ServingVerdict:
        return ServingVerdict(name=snapshot.name, run_id=run_id, status=snapshot.status, action=action,
                              reason=reason, overdue=overdue, created_at=snapshot.created_at)

    if snapshot.committed:  # bought with a term by someone: never ours (we buy no commitment), not deletable
        return verdict("ignored", "a provisioned throughput with a commitment term is not this pipeline's")
    try:
        record = deps.ledger.get(run_id)
    except ValidationError:  # a corrupt record cannot show that it needs the resource: the backstop decides
        if not _past_any_lifetime(snapshot, now):
            return verdict("kept", f"its run's record is unreadable; kept until {ABSOLUTE_MAX_LIFETIME} after "
                                   "its creation")
        return _delete(snapshot, None, deps, "its run's record is unreadable, and it is older than any run "
                                               "may keep one", verdict, overdue=True)
    if record is None:
        owner = deps.serving.tags(snapshot.arn).get(PIPELINE_TAG)  # type: ignore[union-attr]
        ours = pipeline_tag(deps.settings.stack_name, deps.settings.resource_prefix)
        if owner != ours:  # another stack with the same prefix, or made by hand: not ours to delete
            return verdict("ignored", f"named like this stack's, but its {PIPELINE_TAG} tag is {owner!r}")
        return _delete(snapshot, None, deps, "no ledger record owns it", verdict, overdue=True)
    keep, reason = _needed(record, snapshot, now, deps)
    if keep and _past_any_lifetime(snapshot, now):
        keep, reason = False, f"older than any run may keep one ({ABSOLUTE_MAX_LIFETIME})"
    if keep:
        cost = cost_so_far(record, deps, now)
        deps.ledger.record_cost(run_id, cost)
        return verdict("kept", reason).model_copy(update={
            "created_at": snapshot.created_at or record.serving.created_at or record.serving.active_at,
            "cost_usd": accrued_usd(record, cost)})
    deadline = record.serving.deadline
    return _delete(snapshot, record, deps, reason, verdict,
                   overdue=deadline is not None and parse_iso(deadline) <= now)


def _delete(snapshot: ServingSnapshot, record: RunRecord | None, deps: TrainingDeps, reason: str,
            verdict: Callable[..., ServingVerdict], overdue: bool) -> ServingVerdict:
    """Delete a resource no run needs. Through its run's record when it owns it (deleting → deleted, the cost),
    reopening a record that says deleted: the resource was created after its run's teardown."""
    logger.warning("deleting a serving resource no run needs", extra={"resource": snapshot.name, "reason": reason})
    assert deps.serving is not None
    if record is None or record.serving.name != snapshot.name:
        gone = deps.serving.delete(snapshot.mode, snapshot.name)
        return verdict("deleted" if gone else "deleting", reason, overdue)
    if record.serving.state in (ServingState.DELETED, ServingState.NONE):
        found = f"found alive after its run's teardown ({reason})"
        changes: dict[str, object] = {"serving.arn": snapshot.arn, "serving.deleted_at": None,
                                      "serving.deleting_at": iso(deps.clock.now())}
        if record.serving.created_at is None and snapshot.created_at:
            changes["serving.created_at"] = iso(parse_iso(snapshot.created_at))
        record = deps.ledger.apply_serving(record.run_id, ServingState.DELETING, note=found,
                                           changes=changes) or deps.ledger.get(record.run_id) or record
        if record.serving.state is not ServingState.DELETING:  # not a state we may reopen from: delete it as is
            gone = deps.serving.delete(snapshot.mode, snapshot.name)
            return verdict("deleted" if gone else "deleting", found, overdue)
    gone = release_serving(record, deps, reason).serving.state is ServingState.DELETED
    return verdict("deleted" if gone else "deleting", reason, overdue)
