"""Step 4 of the flow: ModelTrained → a serving resource for the custom model → ModelDeployed | DeploymentFailed.

Per the run's `deployment.mode` (resolved when the dataset was validated: `auto` is on-demand where AWS offers
it, otherwise none): an on-demand custom model deployment (no hourly charge), a no-commitment provisioned
throughput (billed per hour, an explicit opt-in with a known price), or none (the run completes at the model).

The intent (name, mode, deadline) is recorded before the create call, and the name and client token derive
from the run id, so a crash in between is found by name and duplicates create one resource. No event says
when a resource is ready: the sweeper polls it (`look`) until InService / Active, or Failed / past its
deadline, which fails the run and deletes what was created.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ft_pipeline.catalogue.base_models import UnknownBaseModel, resolve_base_model
from ft_pipeline.catalogue.options import DeploymentMode, QuotaPolicy
from ft_pipeline.clock import iso, parse_iso
from ft_pipeline.contracts import (
    DeploymentFailed,
    DeploymentFailedDetail,
    DeploymentQueued,
    DeploymentQueuedDetail,
    DeploymentStarted,
    DeploymentStartedDetail,
    ModelDeployed,
    ModelDeployedDetail,
    RunCompleted,
    RunCompletedDetail,
    ServingRef,
    StepRetryRequested,
    StepRetryRequestedDetail,
)
from ft_pipeline.lifecycle import WAITS, RunState, ServingState
from ft_pipeline.naming import PIPELINE_TAG, pipeline_tag, serving_name, serving_token
from ft_pipeline.observability import logger, metrics
from ft_pipeline.ports import PermanentJobError, ServingQuotaExceeded, StepOutcome, TrainingDeps
from ft_pipeline.run_record import SWEEPER, Lease, Notification, RunRecord
from ft_pipeline.steps.outbox import deliver_pending, new_event
from ft_pipeline.steps.teardown import release_or_leave_to_sweeper

LEASE_MARGIN_SECONDS = 30
PT_LIMIT = 2  # no-commitment provisioned throughputs per account (AWS: "prov-thru-purchase")
NEXT_STEP_OWNER = "complete"  # who owes a deployed run its next move
STORAGE_NOTE = ("custom models bill storage monthly until deleted; the pipeline keeps the model (delete it with "
                "`aws bedrock delete-custom-model --model-identifier <arn>`)")


def _mode(record: RunRecord, region: str) -> DeploymentMode:
    mode = DeploymentMode((record.options.get("deployment") or {}).get("mode", DeploymentMode.NONE))
    if mode is DeploymentMode.AUTO:  # resolved at validation; a record from before that knows no region
        try:
            model = resolve_base_model(record.model.base_model or "")
        except UnknownBaseModel:
            return DeploymentMode.NONE
        return DeploymentMode.ON_DEMAND if model.on_demand_in(region) else DeploymentMode.NONE
    return mode


def _ref(record: RunRecord) -> ServingRef:
    s = record.serving
    return ServingRef(mode=s.mode, name=s.name or "", arn=s.arn, deadline=s.deadline or "")  # type: ignore[arg-type]


def deploy(run_id: str, *, deps: TrainingDeps, owner: str, remaining_ms: int,
           trigger_event_id: str | None = None) -> StepOutcome:
    """Claim the trained run (or take over a deploy that died), record the intent, create the resource."""
    record = deps.ledger.get(run_id)
    if record is None:
        return StepOutcome(action="ignored", run_id=run_id, detail="no ledger record")
    now = deps.clock.now()
    lease = Lease(owner=owner, until=iso(now + timedelta(milliseconds=remaining_ms, seconds=LEASE_MARGIN_SECONDS)),
                  retries=record.lease.retries if record.lease else 0)
    if record.status is RunState.TRAINED:
        mode = _mode(record, deps.settings.region)
        if mode is DeploymentMode.NONE:
            return _complete_without_deployment(record, deps, trigger_event_id)
        claimed = _request(record, mode, lease, deps, now)
    elif record.status is RunState.DEPLOYING and record.serving.arn is None and (
            record.lease is None or record.lease.open_to_retry(now)):
        claimed = deps.ledger.apply(run_id, "deployment_start_taken_over", lease=lease, expected_lease=record.lease,
                                    note=f"{record.serving.name} by {owner} (retry {lease.retries})")
    elif record.status is RunState.DEPLOYING:
        return StepOutcome(action="in-progress", run_id=run_id, detail="another invocation is deploying")
    else:
        deliver_pending(record, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail=f"run is {record.status}")
    if claimed is None:
        deliver_pending(deps.ledger.get(run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail="claimed by another caller")
    return _create(claimed, deps, trigger_event_id)


def _request(record: RunRecord, mode: DeploymentMode, lease: Lease, deps: TrainingDeps,
             now: datetime) -> RunRecord | None:
    options = record.options.get("deployment") or {}
    name = serving_name(deps.settings.resource_prefix, mode.value, record.run_id)
    deadline = iso(now + timedelta(hours=float(options.get("max_hours", 4.0))))
    units = int(options.get("model_units", 1))
    ref = ServingRef(mode=mode.value, name=name, deadline=deadline)  # type: ignore[arg-type]
    event = new_event(DeploymentStarted, DeploymentStartedDetail(
        run_id=record.run_id, source=record.source, serving=ref, custom_model_arn=record.model.custom_model_arn or ""))
    return deps.ledger.apply(
        record.run_id, "deployment_requested", lease=lease, event=event, note=f"{mode.value} {name} until {deadline}",
        changes={"serving.state": ServingState.CREATING.value, "serving.mode": mode.value, "serving.name": name,
                 "serving.model_units": units, "serving.deadline": deadline, "serving.requested_at": iso(now),
                 "model.storage_note": STORAGE_NOTE})


def _create(record: RunRecord, deps: TrainingDeps, trigger_event_id: str | None) -> StepOutcome:
    assert deps.serving is not None
    serving, prefix = record.serving, deps.settings.resource_prefix
    mode, name = serving.mode or "", serving.name or ""
    if serving.deadline and parse_iso(serving.deadline) <= deps.clock.now() and deps.serving.get(mode, name) is None:
        return fail(record, deps, f"its deadline {serving.deadline} passed before {name} was created; nothing was "
                                  "bought", trigger_event_id)
    try:
        if mode == DeploymentMode.PROVISIONED.value and deps.serving.get(mode, name) is None \
                and deps.serving.no_commitment_pts_in_use() >= PT_LIMIT:
            raise ServingQuotaExceeded(f"the account already has {PT_LIMIT} no-commitment provisioned throughputs")
        arn = deps.serving.create(mode, name, record.model.custom_model_arn or "", serving.model_units,
                                  serving_token(prefix, mode, record.run_id),
                                  {"run-id": record.run_id,
                                   PIPELINE_TAG: pipeline_tag(deps.settings.stack_name, prefix)})
    except ServingQuotaExceeded as exc:
        return _at_quota(record, deps, str(exc), trigger_event_id)
    except PermanentJobError as exc:
        return fail(record, deps, f"Bedrock refused the {mode} deployment: {exc}", trigger_event_id)
    except Exception as exc:
        owner = record.lease.owner if record.lease else "deploy"
        released = Lease(owner=owner, until=iso(deps.clock.now()), retries=record.lease.retries if record.lease else 0)
        deps.ledger.apply(record.run_id, "deployment_start_released", lease=released, expected_lease=record.lease,
                          note=f"attempt failed: {type(exc).__name__}: {str(exc)[:200]}")
        raise
    return record_created(record, arn, iso(deps.clock.now()), deps, "deploy", trigger_event_id)


def record_created(record: RunRecord, arn: str, created_at: str, deps: TrainingDeps, seen_by: str,
                   trigger_event_id: str | None = None) -> StepOutcome:
    """The resource exists: record it (with Bedrock's creation time when the sweeper found it: billing starts
    then), or, if the run moved on meanwhile (a stop, a failure), delete it."""
    created = deps.ledger.apply(record.run_id, "deployment_created", note=f"{record.serving.name} exists ({seen_by})",
                                changes={"serving.arn": arn, "serving.created_at": created_at})
    if created is None:
        current = deps.ledger.get(record.run_id) or record
        if current.status is not RunState.DEPLOYING:
            # a stop or a failure landed while it was created: its teardown may have found nothing to delete yet
            why = f"its run moved on to {current.status} while it was created"
            logger.warning("deleting a resource created for a run that moved on", extra={"run_id": record.run_id})
            try:
                deps.serving.delete(record.serving.mode or "", record.serving.name or "")  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - the sweeper's inventory deletes it: its run is over
                logger.warning("delete failed; the sweeper will delete it", extra={"run_id": record.run_id})
            release_or_leave_to_sweeper(current, deps, why)
        deliver_pending(current, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=record.run_id, detail=f"run is {current.status}")
    deliver_pending(created, deps, trigger_event_id)
    metrics.add_metric(name="DeploymentsCreated", unit="Count", value=1)
    return StepOutcome(action="created", run_id=record.run_id, detail=arn)


def _at_quota(record: RunRecord, deps: TrainingDeps, reason: str, trigger_event_id: str | None) -> StepOutcome:
    if record.serving.mode != DeploymentMode.PROVISIONED.value:  # only the PT limit frees up on its own
        return fail(record, deps, f"Bedrock's quota for custom model deployments is reached: {reason}",
                    trigger_event_id)
    policy = QuotaPolicy((record.options.get("deployment") or {}).get("on_pt_quota", QuotaPolicy.WAIT))
    if policy is QuotaPolicy.FAIL:
        return fail(record, deps, f"{reason} (deployment.on_pt_quota is 'fail')", trigger_event_id)
    hours = float((record.options.get("deployment") or {}).get("max_queue_hours", 6.0))
    since = record.serving.queued_since or iso(deps.clock.now())  # a re-queue keeps the first time
    why = f"queued: {reason}; it starts when one is deleted, or fails {hours:g} h after {since}"
    event = new_event(DeploymentQueued, DeploymentQueuedDetail(run_id=record.run_id, source=record.source,
                                                               serving=_ref(record), reason=why))
    queued = deps.ledger.apply(record.run_id, "deployment_queued", event=event, note=why,
                               changes={"serving.state": ServingState.NONE.value, "serving.reason": why,
                                        "serving.queued_since": since})
    deliver_pending(queued, deps, trigger_event_id)
    return StepOutcome(action="queued" if queued else "duplicate", run_id=record.run_id, detail=why)


def fail(record: RunRecord, deps: TrainingDeps, reason: str, trigger_event_id: str | None = None) -> StepOutcome:
    """DeploymentFailed, with a notification, and whatever was created deleted."""
    ref = _ref(record) if record.serving.name and record.serving.mode else None
    note = Notification(subject=f"Fine-tuning run {record.run_id}: deployment failed",
                        message=f"Run {record.run_id} ({record.source.uri})\nDeployment: "
                                f"{ref.name if ref else '-'}\nReason: {reason}\nWhat was created is deleted.")
    event = new_event(DeploymentFailed, DeploymentFailedDetail(run_id=record.run_id, source=record.source,
                                                               serving=ref, reason=reason),
                      resources=[ref.arn] if ref and ref.arn else [], notification=note)
    failed = deps.ledger.apply(record.run_id, "deployment_failed", event=event, note=reason,
                               changes={"serving.reason": reason})
    if failed is None:
        current = deps.ledger.get(record.run_id)
        deliver_pending(current, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="DeploymentFailures", unit="Count", value=1)
    failed = release_or_leave_to_sweeper(failed, deps, f"deployment failed: {reason}")
    deliver_pending(failed, deps, trigger_event_id)
    return StepOutcome(action="deployment_failed", run_id=record.run_id, detail=reason)


def _complete_without_deployment(record: RunRecord, deps: TrainingDeps, trigger_event_id: str | None) -> StepOutcome:
    event = new_event(RunCompleted, RunCompletedDetail(
        run_id=record.run_id, source=record.source, outcome="trained; deployment.mode none",
        custom_model_arn=record.model.custom_model_arn, serving_state="none",
        cost_usd=record.cost.estimated_training_usd), resources=[record.model.custom_model_arn or ""])
    done = deps.ledger.apply(record.run_id, "completed_without_deployment", event=event,
                             note="deployment.mode none", changes={"model.storage_note": STORAGE_NOTE})
    deliver_pending(done or deps.ledger.get(record.run_id), deps, trigger_event_id)
    return StepOutcome(action="completed" if done else "duplicate", run_id=record.run_id)


# --- the sweeper's questions ---------------------------------------------------------------------------------


def look(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome | None:
    """A deploying run: is its resource there, and ready? None: it does not exist and its creator's lease is
    open, so the sweeper asks for a retry (or gives up)."""
    assert deps.serving is not None
    serving = record.serving
    snapshot = deps.serving.get(serving.mode or "", serving.name or "")
    if serving.state in (ServingState.DELETING, ServingState.DELETED):  # the sweeper's inventory released it
        return fail(record, deps, serving.reason or f"{serving.name} was deleted")
    if snapshot is None:
        if serving.arn:
            return fail(record, deps, f"{serving.name} no longer exists (deleted outside the pipeline?)")
        if record.lease is not None and not record.lease.lapsed(now):
            return StepOutcome(action="waiting", run_id=record.run_id, detail="the deploy may still create it")
        return None
    if serving.arn is None:  # the deploy created it and died before recording it
        outcome = record_created(record, snapshot.arn, iso(parse_iso(snapshot.created_at)) if snapshot.created_at
                                 else iso(now), deps, "sweeper")
        record = deps.ledger.get(record.run_id) or record
        if record.status is not RunState.DEPLOYING:
            return outcome
    if snapshot.ready:
        return _ready(record, deps, now)
    if snapshot.status == "Failed":
        return fail(record, deps, f"{serving.name} failed: {snapshot.failure_message or 'no reason given'}")
    if serving.deadline and parse_iso(serving.deadline) <= now:
        return fail(record, deps, f"{serving.name} was not ready by its deadline {serving.deadline}")
    return StepOutcome(action="in-progress", run_id=record.run_id, detail=snapshot.status)


def _ready(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    retry_after = WAITS[RunState.DEPLOYED].retry_after or timedelta(minutes=15)
    event = new_event(ModelDeployed, ModelDeployedDetail(
        run_id=record.run_id, source=record.source, serving=_ref(record),
        custom_model_arn=record.model.custom_model_arn or "", base_model=record.model.base_model or "",
        test_data_uri=record.validation.outputs.get("test.jsonl"), labels=record.validation.labels,
        options=record.options), resources=[record.serving.arn or ""])
    ready = deps.ledger.apply(record.run_id, "deployment_ready", event=event, note=f"{record.serving.name} ready",
                              lease=Lease(owner=NEXT_STEP_OWNER, until=iso(now + retry_after)),
                              changes={"serving.state": ServingState.ACTIVE.value, "serving.active_at": iso(now)})
    if ready is None:
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="ModelsDeployed", unit="Count", value=1)
    deliver_pending(ready, deps)
    return StepOutcome(action="deployed", run_id=record.run_id, detail=record.serving.arn or "")


def look_queued(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    """A queued run: give up past its queue time, start when a no-commitment PT is free."""
    assert deps.serving is not None
    options = record.options.get("deployment") or {}
    hours = float(options.get("max_queue_hours", 6.0))
    if now - parse_iso(record.serving.queued_since or record.state_since) > timedelta(hours=hours):
        return fail(record, deps, f"no free no-commitment provisioned throughput within {hours:g} h "
                                  f"(the account allows {PT_LIMIT})")
    in_use = deps.serving.no_commitment_pts_in_use()
    if in_use >= PT_LIMIT:
        return StepOutcome(action="waiting", run_id=record.run_id, detail=f"{in_use} of {PT_LIMIT} PTs in use")
    retry = WAITS[RunState.DEPLOYING].retry_after or timedelta(minutes=5)
    event = new_event(StepRetryRequested, StepRetryRequestedDetail(
        run_id=record.run_id, source=record.source, step="deploy", retry=1, reason="a provisioned throughput is free"))
    deadline = iso(now + timedelta(hours=float(options.get("max_hours", 4.0))))  # its lifetime starts now
    moved = deps.ledger.apply(record.run_id, "deployment_dequeued", event=event, note=f"a PT is free; until {deadline}",
                              lease=Lease(owner=SWEEPER, until=iso(now + retry)),
                              changes={"serving.state": ServingState.CREATING.value, "serving.deadline": deadline})
    deliver_pending(moved, deps)
    logger.info("queued deployment can start", extra={"run_id": record.run_id})
    return StepOutcome(action="retry-requested" if moved else "duplicate", run_id=record.run_id)
