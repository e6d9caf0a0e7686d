"""Step 1 of the flow: an object created under `incoming/` → validated splits → DatasetValidated | DatasetRejected.

Idempotent per (bucket, key, version or etag): the run id is derived from them, and the `validation_claimed`
transition lets exactly one delivery do the work while duplicates are skipped. An attempt that fails gives
its lease back (`validation_released`) so that Lambda's retry proceeds at once; one that dies (timeout, out of
memory) leaves the lease to lapse, and the sweeper asks for a retry (`StepRetryRequested`), at most
`MAX_ATTEMPTS` times in all, then rejects the dataset with the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from ft_pipeline.catalogue.options import OPTIONS_SUFFIX, DatasetOptions, InvalidOptions, resolve_options
from ft_pipeline.clock import iso
from ft_pipeline.contracts import (
    DatasetRejected,
    DatasetRejectedDetail,
    DatasetValidated,
    DatasetValidatedDetail,
    ObjectRef,
    S3ObjectCreatedDetail,
    SplitCounts,
    StepRetryRequestedDetail,
)
from ft_pipeline.dataset.report import DatasetStatus, ValidationReport
from ft_pipeline.dataset.validate import validate_dataset, write_outcome
from ft_pipeline.lifecycle import WAITS, RunState
from ft_pipeline.observability import bind_run, logger, metrics
from ft_pipeline.ports import ValidatorDeps
from ft_pipeline.run_record import Lease, RunRecord
from ft_pipeline.steps.outbox import deliver_pending, new_event

LEASE_MARGIN_SECONDS = 30
CONTENT_TYPES = {".jsonl": "application/x-ndjson", ".json": "application/json"}
UPLOAD_RESERVE_SECONDS = 120  # of the function's time, kept for uploading the outputs and recording the outcome
START_OWNER = "start_training"  # the lease owner of a validated run: the job start owes it a claim


class Outcome(StrEnum):
    VALIDATED = "VALIDATED"
    REJECTED = "REJECTED"
    DUPLICATE = "SKIPPED_DUPLICATE"  # an earlier delivery already finished this upload
    IN_PROGRESS = "SKIPPED_IN_PROGRESS"  # another invocation is working on it now
    SUPERSEDED = "SKIPPED_SUPERSEDED"  # the run moved on while this attempt worked (taken over, or stopped)
    NOT_A_DATASET = "SKIPPED_NOT_A_DATASET"  # an options manifest, a folder marker, or gone


class ValidationOutcome(BaseModel):
    outcome: Outcome
    run_id: str | None = None
    key: str
    reasons: list[str] = []
    report_uri: str | None = None


def make_dataset_id(bucket: str, key: str, version: str | None) -> str:
    """Readable and deterministic: `<file stem slug>-<10 hex of bucket/key#version>`, at most 35 characters,
    so later job and model names built on it stay within Bedrock's 63."""
    stem = Path(key).name.split(".")[0].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:24].strip("-") or "dataset"
    digest = hashlib.sha256(f"{bucket}/{key}#{version or ''}".encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


def handle_object_created(detail: S3ObjectCreatedDetail, *, deps: ValidatorDeps, invocation_id: str,
                          remaining_ms: int) -> ValidationOutcome:
    settings = deps.settings
    bucket = detail.bucket.name
    info, key = None, detail.object.key_candidates()[0]
    for candidate in detail.object.key_candidates():
        info = deps.store.head(bucket, candidate)
        if info is not None:
            key = candidate
            break
    if key.endswith(OPTIONS_SUFFIX) or key.endswith("/") or not key.startswith(settings.incoming_prefix):
        return ValidationOutcome(outcome=Outcome.NOT_A_DATASET, key=key)
    if info is None:
        logger.warning("object no longer exists; nothing to validate", extra={"bucket": bucket, "key": key})
        return ValidationOutcome(outcome=Outcome.NOT_A_DATASET, key=key, reasons=["object no longer exists"])

    version_id = detail.object.version_id if detail.object.version_id not in (None, "null") else info.version_id
    etag = detail.object.etag or info.etag
    run_id = make_dataset_id(bucket, key, version_id or etag)
    source = ObjectRef(bucket=bucket, key=key, version_id=version_id, etag=etag)
    return validate_run(run_id, source, deps, invocation_id, remaining_ms)


def handle_retry(request: StepRetryRequestedDetail, *, deps: ValidatorDeps, invocation_id: str,
                 remaining_ms: int) -> ValidationOutcome:
    """The sweeper found this run's validator dead: validate the recorded upload again."""
    record = deps.ledger.get(request.run_id)
    if record is None:
        return ValidationOutcome(outcome=Outcome.NOT_A_DATASET, run_id=request.run_id, key=request.source.key,
                                 reasons=["no such run"])
    return validate_run(record.run_id, record.source, deps, invocation_id, remaining_ms, record, request.event_id)


def validate_run(run_id: str, source: ObjectRef, deps: ValidatorDeps, owner: str, remaining_ms: int,
                 known: RunRecord | None = None, trigger_event_id: str | None = None) -> ValidationOutcome:
    """Claim the run (or take over a dead or released attempt), validate, record the outcome, deliver it."""
    bind_run(run_id)  # the correlation id of every line that follows
    now = deps.clock.now()
    until = iso(now + timedelta(milliseconds=remaining_ms, seconds=LEASE_MARGIN_SECONDS))
    record = None if known else deps.ledger.apply(run_id, "validation_claimed", source=source,
                                                 lease=Lease(owner=owner, until=until), note=f"by {owner}")
    if record is None:
        current = known or deps.ledger.get(run_id)
        if current is None:
            raise RuntimeError(f"run {run_id} could not be claimed, yet it does not exist")
        if current.status is not RunState.VALIDATING:
            logger.info("duplicate delivery: dataset already processed", extra={"status": current.status})
            if deliver_pending(current, deps, trigger_event_id):  # an earlier attempt died before publishing
                logger.info("published the outcome an earlier attempt recorded but did not announce")
            return ValidationOutcome(outcome=Outcome.DUPLICATE, run_id=run_id, key=source.key)
        held = current.lease
        if held is not None and not held.open_to_retry(now):
            logger.info("duplicate delivery: another invocation is validating this dataset")
            return ValidationOutcome(outcome=Outcome.IN_PROGRESS, run_id=run_id, key=source.key)
        lease = Lease(owner=owner, until=until, retries=held.retries if held else 0)
        record = deps.ledger.apply(run_id, "validation_taken_over", lease=lease, expected_lease=held,
                                   note=f"by {owner} (retry {lease.retries})" if lease.retries else f"by {owner}")
        if record is None:
            return ValidationOutcome(outcome=Outcome.IN_PROGRESS, run_id=run_id, key=source.key)

    try:
        return _validate_claimed(deps, record, trigger_event_id, remaining_ms)
    except Exception as exc:
        # give the lease back at once (it stays open to a retry); a death skips this and the lease lapses
        released = Lease(owner=owner, until=iso(deps.clock.now()), retries=record.lease.retries if record.lease else 0)
        deps.ledger.apply(run_id, "validation_released", lease=released, expected_lease=record.lease,
                          note=f"attempt failed: {type(exc).__name__}")  # the message may quote the data
        raise


def _validate_claimed(deps: ValidatorDeps, record: RunRecord, trigger_event_id: str | None,
                      remaining_ms: int) -> ValidationOutcome:
    settings, source, run_id = deps.settings, record.source, record.run_id
    prefix = f"{settings.datasets_prefix}{run_id}/"
    manifest_key = source.key + OPTIONS_SUFFIX
    manifest_uri = f"s3://{source.bucket}/{manifest_key}"
    work = Path(tempfile.mkdtemp(prefix=f"{run_id}-", dir=settings.work_dir))
    try:
        try:
            manifest = deps.store.read_small(source.bucket, manifest_key)
            options = resolve_options(settings.option_defaults(), manifest, manifest_uri, settings.deployment_context())
        except (InvalidOptions, ValueError) as exc:
            report = _rejected_before_reading(run_id, source, f"invalid options: {exc}", work)
        except Exception as exc:
            if _infrastructure_failure(exc):
                raise
            logger.exception("the options could not be resolved")
            report = _rejected_before_reading(run_id, source, _crash_reason(exc, "options"), work)
        else:
            body = None
            try:
                body = deps.store.open(source.bucket, source.key, source.version_id)
                # the outputs still have to be uploaded and the outcome recorded after the last record is read
                deadline = time.monotonic() + max(30.0, remaining_ms / 1000 - UPLOAD_RESERVE_SECONDS)
                report = validate_dataset(body, name=source.uri, dataset_id=run_id, options=options, out_dir=work,
                                          prices=settings.prices(), output_budget=settings.work_dir_budget_mb << 20,
                                          deadline=deadline)
            except Exception as exc:
                if _infrastructure_failure(exc):
                    raise
                # a fault on this data would fail the same way on every retry: end the run with a reason now
                logger.exception("the validator failed on this dataset")
                for path in work.iterdir():  # whatever it wrote before failing is not an outcome
                    path.unlink()
                report = _rejected_before_reading(run_id, source, _crash_reason(exc, "dataset"), work, options)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            if report.status is DatasetStatus.VALIDATED:
                _reject_if_repeated(deps, record, report, options, work)
        uris = {path.name: deps.store.upload(path, settings.data_bucket,
                                             prefix + path.name, CONTENT_TYPES[path.suffix])
                for path in sorted(work.iterdir()) if path.is_file()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _record_outcome(deps, report, record, uris, trigger_event_id)


def _infrastructure_failure(exc: BaseException) -> bool:
    """A failure of what the validator stands on (S3, the network, the disk, memory): a retry may succeed.
    Anything else is a fault in handling this data, and every retry would meet it again."""
    module = type(exc).__module__
    return isinstance(exc, OSError | MemoryError) or module.startswith(("botocore", "boto3", "urllib3"))


def _crash_reason(exc: BaseException, what: str) -> str:
    # the exception's message may quote the data: only its type goes into the reason
    return (f"the validator failed on this {what} ({type(exc).__name__}); this is a fault in the pipeline, "
            "please report it with the run id. Nothing was trained")


def _rejected_before_reading(run_id: str, source: ObjectRef, reason: str, work: Path,
                             options: DatasetOptions | None = None) -> ValidationReport:
    model = options.model if options else None
    report = ValidationReport(dataset_id=run_id, source=source.uri,
                              base_model=model.model_id if model else "(invalid options)",
                              family=model.family.value if model else "unknown",
                              output_format=model.output_format.value if model else "unknown",
                              options=options.model_dump(mode="json") if options else {})
    report.reject(reason)
    write_outcome(report, work)
    return report


REPEATABLE = frozenset({RunState.REJECTED, RunState.TRAINING_FAILED, RunState.STOPPED})


def content_key(report: ValidationReport, options: DatasetOptions) -> str:
    """What the training job would be given: the records as written (normalised, so compression, line ends and
    JSON layout do not matter), the base model and the hyperparameters as the API takes them. Options that do
    not change the job (deployment, evaluation) are not in it."""
    splits = report.splits
    parts = [splits["train"].sha256, splits["validation"].sha256, report.base_model,
             json.dumps(options.api_hyperparameters(), sort_keys=True)]
    return hashlib.sha256("\n".join(str(p) for p in parts).encode()).hexdigest()


def _reject_if_repeated(deps: ValidatorDeps, record: RunRecord, report: ValidationReport, options: DatasetOptions,
                        work: Path) -> None:
    """Claim this content for the run; if an earlier run has it and is alive or done, reject this one: a second
    paid job on the same data and options is a mistake far more often than an intent. With allow_repeat the run
    takes the claim over, so that a later upload without it is still recognised."""
    key = content_key(report, options)
    holder = deps.ledger.claim_content(key, record.run_id)
    if holder == record.run_id:
        return
    earlier = deps.ledger.get(holder)
    if options.allow_repeat or earlier is None or earlier.status in REPEATABLE:
        holder = deps.ledger.claim_content(key, record.run_id, replacing=holder)
        if holder == record.run_id:
            return
        earlier = deps.ledger.get(holder)
    state = earlier.status.value if earlier else "unknown"
    report.reject(f"the same data and options were already submitted as run {holder} (now {state}); nothing was "
                  "started. To train on them again, set allow_repeat: true in the options manifest")
    write_outcome(report, work)


def _record_outcome(deps: ValidatorDeps, report: ValidationReport, record: RunRecord, uris: dict[str, str],
                    trigger_event_id: str | None) -> ValidationOutcome:
    source, run_id = record.source, record.run_id
    counts = None
    if report.splits:
        c = report.counts
        counts = SplitCounts(train=report.splits["train"].records, validation=report.splits["validation"].records,
                             test=report.splits["test"].records, rejected=c.rejected, duplicates=c.duplicates,
                             blank=c.blank, records_read=c.records_read)
    changes = {
        "options": report.options,
        "validation.outputs": uris, "validation.counts": counts.model_dump() if counts else None,
        "validation.reasons": report.reasons, "validation.labels": report.labels,
        "validation.output_format": report.output_format,
        "model.base_model": report.base_model,
        "cost.estimated_training_usd": report.estimated_cost.usd if report.estimated_cost else None,
    }
    note = "; ".join(report.reasons) if report.reasons else f"{report.counts.accepted} records accepted"
    lease = None
    if report.status is DatasetStatus.VALIDATED:
        assert counts is not None
        detail: BaseModel = DatasetValidatedDetail(
            run_id=run_id, source=source, base_model=report.base_model, output_format=report.output_format,
            training_data_uri=uris["train.jsonl"],
            validation_data_uri=uris["validation.jsonl"] if counts.validation else None,
            test_data_uri=uris["test.jsonl"] if counts.test else None,
            report_uri=uris["report.json"], rejected_uri=uris["rejected.jsonl"], counts=counts,
            labels=report.labels, estimated_cost_usd=report.estimated_cost.usd if report.estimated_cost else None,
            options=report.options,
        )
        event = new_event(DatasetValidated, detail, resources=[source.uri])
        name, outcome = "validation_passed", Outcome.VALIDATED
        # the job start owes this run a claim; the sweeper asks again if it never comes
        retry_after = WAITS[RunState.VALIDATED].retry_after or timedelta(minutes=15)
        lease = Lease(owner=START_OWNER, until=iso(deps.clock.now() + retry_after))
    else:
        detail = DatasetRejectedDetail(run_id=run_id, source=source, reasons=report.reasons,
                                       report_uri=uris.get("report.json"), rejected_uri=uris.get("rejected.jsonl"),
                                       counts=counts)
        event = new_event(DatasetRejected, detail, resources=[source.uri])
        name, outcome = "validation_rejected", Outcome.REJECTED

    recorded = deps.ledger.apply(run_id, name, changes=changes, event=event, note=note, lease=lease,
                                 expected_lease=record.lease)
    if recorded is None:
        logger.warning("this attempt no longer holds the run (taken over, or stopped); what stands is kept")
        return ValidationOutcome(outcome=Outcome.SUPERSEDED, run_id=run_id, key=source.key)
    if outcome is Outcome.VALIDATED:  # each name spelled out: the dashboard is checked against them
        metrics.add_metric(name="DatasetsValidated", unit="Count", value=1)
    else:
        metrics.add_metric(name="DatasetsRejected", unit="Count", value=1)
    metrics.add_metric(name="RecordsRejected", unit="Count", value=report.counts.rejected)
    deliver_pending(recorded, deps, trigger_event_id)
    logger.info("dataset processed", extra={"outcome": outcome.value, "reasons": report.reasons})
    return ValidationOutcome(outcome=outcome, run_id=run_id, key=source.key, reasons=report.reasons,
                             report_uri=uris.get("report.json"))
