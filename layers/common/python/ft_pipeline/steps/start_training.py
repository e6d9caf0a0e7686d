"""Step 2 of the flow: a validated run → a Bedrock customization job → CustomizationStarted.

The intent is recorded before the create call (`training_claimed`: the job's name, under a lease), so a
start that dies in between is found by name: a retry (Lambda's, or the one the sweeper asks for) takes over
and finds or creates the same job, since its name and client token derive from the run id. After the
create, `training_started` records the job; if the run moved on meanwhile (a stop request, the sweeper
giving up), the start stops the job it created: a run marked stopped never has a job left running.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from ft_pipeline.catalogue.options import DatasetOptions
from ft_pipeline.clock import iso
from ft_pipeline.contracts import CustomizationStarted, CustomizationStartedDetail
from ft_pipeline.lifecycle import RunState
from ft_pipeline.naming import PIPELINE_TAG, client_request_token, custom_model_name, job_name, pipeline_tag
from ft_pipeline.observability import logger, metrics
from ft_pipeline.ports import PermanentJobError, StepOutcome, TrainingDeps
from ft_pipeline.run_record import Lease, RunRecord
from ft_pipeline.settings import TrainingSettings
from ft_pipeline.steps.outbox import deliver_pending, new_event
from ft_pipeline.steps.training_events import training_failed_event

LEASE_MARGIN_SECONDS = 30
# another caller recorded the job (or its outcome): it is wanted. Otherwise it is stopped (a no-op once ended)
_JOB_WANTED = {RunState.TRAINING, RunState.TRAINED}


def build_job_request(record: RunRecord, options: DatasetOptions, settings: TrainingSettings) -> dict[str, Any]:
    """CreateModelCustomizationJob's request, all of it derived from the run id, its splits and its options."""
    prefix, run_id = settings.resource_prefix, record.run_id
    outputs, counts = record.validation.outputs, record.validation.counts
    if "train.jsonl" not in outputs:
        raise ValueError("the run has no training split")
    tags = [{"key": "dataset-id", "value": run_id},
            {"key": PIPELINE_TAG, "value": pipeline_tag(settings.stack_name, prefix)}]
    request: dict[str, Any] = {
        "jobName": job_name(prefix, run_id),
        "customModelName": custom_model_name(prefix, run_id),
        "roleArn": settings.customization_role_arn,
        "clientRequestToken": client_request_token(prefix, run_id),
        "baseModelIdentifier": options.base_model,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": outputs["train.jsonl"]},
        "outputDataConfig": {"s3Uri": f"s3://{settings.data_bucket}/{settings.output_prefix}{run_id}/"},
        "hyperParameters": options.api_hyperparameters(),
        "jobTags": tags,
        "customModelTags": tags,
    }
    if counts is not None and counts.validation and "validation.jsonl" in outputs:
        request["validationDataConfig"] = {"validators": [{"s3Uri": outputs["validation.jsonl"]}]}
    if settings.custom_model_kms_key_arn:
        request["customModelKmsKeyId"] = settings.custom_model_kms_key_arn
    vpc = settings.vpc_config()
    if vpc:
        request["vpcConfig"] = vpc
    return request


def start_training(run_id: str, *, deps: TrainingDeps, owner: str, remaining_ms: int,
                   trigger_event_id: str | None = None) -> StepOutcome:
    """Claim the run (or take over a start that died), create its job, record it. `trigger_event_id`: the
    event this call was started by (DatasetValidated, or the sweeper's retry request)."""
    record = deps.ledger.get(run_id)
    if record is None:
        logger.warning("no ledger record for this run; not ours or not recorded yet")
        return StepOutcome(action="ignored", run_id=run_id, detail="no ledger record")
    now = deps.clock.now()
    lease = Lease(owner=owner, until=iso(now + timedelta(milliseconds=remaining_ms, seconds=LEASE_MARGIN_SECONDS)),
                  retries=record.lease.retries if record.lease else 0)
    name = job_name(deps.settings.resource_prefix, run_id)
    if record.status is RunState.VALIDATED:
        claimed = deps.ledger.apply(
            run_id, "training_claimed", lease=lease, note=f"job {name} by {owner}",
            changes={"training.job_name": name,
                     "training.custom_model_name": custom_model_name(deps.settings.resource_prefix, run_id)})
    elif record.status is RunState.TRAINING_STARTING and record.lease and record.lease.open_to_retry(now):
        claimed = deps.ledger.apply(run_id, "training_start_taken_over", lease=lease, expected_lease=record.lease,
                                    note=f"job {name} by {owner} (retry {lease.retries})")
    elif record.status is RunState.TRAINING_STARTING:
        return StepOutcome(action="in-progress", run_id=run_id, detail="another invocation is starting the job")
    else:
        deliver_pending(record, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail=f"run is {record.status}")
    if claimed is None:
        deliver_pending(deps.ledger.get(run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail="claimed by another caller")
    return _create_job(claimed, deps, trigger_event_id)


def _create_job(record: RunRecord, deps: TrainingDeps, trigger_event_id: str | None) -> StepOutcome:
    try:
        options = DatasetOptions.model_validate(record.options)
        request = build_job_request(record, options, deps.settings)
    except (ValidationError, ValueError) as exc:
        return _fail_start(record, deps, f"invalid job options: {exc}", trigger_event_id)
    try:
        job_arn = deps.bedrock.create_job(request)
    except PermanentJobError as exc:
        return _fail_start(record, deps, f"Bedrock refused the job: {exc}", trigger_event_id)
    except Exception as exc:
        # give the lease back at once so Lambda's retry can take over; a death skips this and the lease lapses
        owner = record.lease.owner if record.lease else "start"
        released = Lease(owner=owner, until=iso(deps.clock.now()), retries=record.lease.retries if record.lease else 0)
        deps.ledger.apply(record.run_id, "training_start_released", lease=released, expected_lease=record.lease,
                          note=f"attempt failed: {type(exc).__name__}: {str(exc)[:200]}")
        raise
    return record_started(record, job_arn, request, deps, seen_by="start", trigger_event_id=trigger_event_id)


def record_started(record: RunRecord, job_arn: str, request: dict[str, Any], deps: TrainingDeps,
                   seen_by: str, trigger_event_id: str | None = None) -> StepOutcome:
    """The job exists: record it (`training_started`), or, if the run moved on meanwhile, stop it."""
    run_id = record.run_id
    changes = {"training.job_arn": job_arn, "training.started_at": iso(deps.clock.now()),
               "training.output_uri": request["outputDataConfig"]["s3Uri"],
               "training.hyperparameters": request["hyperParameters"], "training.status_source": seen_by}
    event = new_event(CustomizationStarted, CustomizationStartedDetail(
        run_id=run_id, source=record.source, job_arn=job_arn, job_name=request["jobName"],
        custom_model_name=request["customModelName"], base_model=request["baseModelIdentifier"],
        hyperparameters=request["hyperParameters"], output_uri=request["outputDataConfig"]["s3Uri"],
    ), resources=[job_arn])
    started = deps.ledger.apply(run_id, "training_started", changes=changes, event=event,
                                note=f"job {request['jobName']} started (seen by {seen_by})")
    if started is None:
        current = deps.ledger.get(run_id)
        if current is not None and current.status not in _JOB_WANTED:
            # a stop (or the sweeper giving up) landed between the create and this write
            stopped = deps.bedrock.stop_job(request["jobName"])
            logger.warning("run moved on while its job was being created; stopped the job",
                           extra={"status": current.status, "stop_sent": stopped})
            deliver_pending(current, deps, trigger_event_id)
            return StepOutcome(action="stopped-after-start", run_id=run_id, detail=f"run is {current.status}")
        deliver_pending(current, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail="recorded by another caller")
    deliver_pending(started, deps, trigger_event_id)
    metrics.add_metric(name="CustomizationJobsStarted", unit="Count", value=1)
    return StepOutcome(action="started", run_id=run_id, detail=job_arn)


def adopt_existing_job(record: RunRecord, job_arn: str, deps: TrainingDeps) -> StepOutcome:
    """The sweeper found the job of a start that died after creating it: record it as the start would."""
    try:
        request = build_job_request(record, DatasetOptions.model_validate(record.options), deps.settings)
    except (ValidationError, ValueError) as exc:  # the job exists all the same; record what is known
        logger.warning("could not rebuild the job request", extra={"error": str(exc)[:200]})
        request = {"jobName": record.training.job_name, "customModelName": record.training.custom_model_name,
                   "baseModelIdentifier": record.model.base_model or "", "hyperParameters": {},
                   "outputDataConfig": {"s3Uri": ""}}
    return record_started(record, job_arn, request, deps, seen_by="sweeper")


def _fail_start(record: RunRecord, deps: TrainingDeps, reason: str, trigger_event_id: str | None) -> StepOutcome:
    event = training_failed_event(record, None, "StartFailed", reason)
    failed = deps.ledger.apply(record.run_id, "training_start_failed", event=event, expected_lease=record.lease,
                               changes={"training.failure_message": reason}, note=reason)
    if failed is None:  # the run moved on meanwhile (a stop): what stands is kept
        deliver_pending(deps.ledger.get(record.run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="TrainingStartFailures", unit="Count", value=1)
    deliver_pending(failed, deps, trigger_event_id)
    return StepOutcome(action="start-failed", run_id=record.run_id, detail=reason)
