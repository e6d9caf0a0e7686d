"""Step 1 of the flow: an object created under `incoming/` → validated splits → DatasetValidated | DatasetRejected.

Idempotent per (bucket, key, version or etag): the dataset id is derived from them, and the ledger's
conditional claim lets exactly one delivery do the work while duplicates are skipped. A crashed
attempt gives its lease back (or lets it lapse at the invocation's deadline), so the retry proceeds.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from ft_pipeline.contracts import (
    DatasetRejected,
    DatasetRejectedDetail,
    DatasetValidated,
    DatasetValidatedDetail,
    ObjectRef,
    S3ObjectCreatedDetail,
    SplitCounts,
)
from ft_pipeline.dataset.options import OPTIONS_SUFFIX, InvalidOptions, resolve_options
from ft_pipeline.dataset.report import DatasetStatus, ValidationReport
from ft_pipeline.dataset.validate import validate_dataset
from ft_pipeline.ledger import RunStatus
from ft_pipeline.observability import logger, metrics
from ft_pipeline.settings import ValidatorSettings
from ft_pipeline.steps.announce import announce, outcome_event

LEASE_MARGIN_SECONDS = 30
CONTENT_TYPES = {".jsonl": "application/x-ndjson", ".json": "application/json"}


class ObjectStore(Protocol):
    def head(self, bucket: str, key: str) -> Any: ...
    def open(self, bucket: str, key: str, version_id: str | None = None) -> Any: ...
    def read_small(self, bucket: str, key: str, max_bytes: int = ...) -> bytes | None: ...
    def upload(self, path: Path, bucket: str, key: str, content_type: str) -> str: ...


class Ledger(Protocol):
    def claim_validation(self, dataset_id: str, source: dict[str, Any], owner: str, now: float,
                         lease_until: float) -> Any: ...
    def release(self, dataset_id: str, owner: str, note: str) -> None: ...
    def finish_validation(self, dataset_id: str, owner: str, status: RunStatus, fields: dict[str, Any],
                          note: str) -> bool: ...
    def mark_announced(self, dataset_id: str) -> None: ...


class Publisher(Protocol):
    def publish(self, detail: BaseModel, event_type: type, resources: list[str] | None = None) -> str: ...


@dataclass
class ValidatorDeps:
    settings: ValidatorSettings
    store: ObjectStore
    ledger: Ledger
    publisher: Publisher


class Outcome(StrEnum):
    VALIDATED = "VALIDATED"
    REJECTED = "REJECTED"
    DUPLICATE = "SKIPPED_DUPLICATE"  # an earlier delivery already finished this upload
    IN_PROGRESS = "SKIPPED_IN_PROGRESS"  # another invocation is working on it now
    NOT_A_DATASET = "SKIPPED_NOT_A_DATASET"  # an options manifest, a folder marker, or gone


class ValidationOutcome(BaseModel):
    outcome: Outcome
    dataset_id: str | None = None
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
                          remaining_ms: int, now: float | None = None) -> ValidationOutcome:
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
    dataset_id = make_dataset_id(bucket, key, version_id or etag)
    source = ObjectRef(bucket=bucket, key=key, version_id=version_id, etag=etag)
    logger.append_keys(dataset_id=dataset_id)

    now = time.time() if now is None else now
    lease_until = now + remaining_ms / 1000 + LEASE_MARGIN_SECONDS
    claim = deps.ledger.claim_validation(dataset_id, source.model_dump(), invocation_id, now, lease_until)
    if claim.outcome.value == "DONE":
        logger.info("duplicate delivery: dataset already processed", extra={"status": claim.record.status})
        if announce(claim.record, deps.publisher, deps.ledger):  # an earlier attempt died before publishing
            logger.info("published the outcome an earlier attempt recorded but did not announce")
        return ValidationOutcome(outcome=Outcome.DUPLICATE, dataset_id=dataset_id, key=key)
    if claim.outcome.value == "BUSY":
        logger.info("duplicate delivery: another invocation is validating this dataset")
        return ValidationOutcome(outcome=Outcome.IN_PROGRESS, dataset_id=dataset_id, key=key)

    try:
        return _validate_claimed(deps, source, dataset_id, invocation_id)
    except Exception as exc:
        deps.ledger.release(dataset_id, invocation_id, f"{type(exc).__name__}: {exc}")
        raise


def _validate_claimed(deps: ValidatorDeps, source: ObjectRef, dataset_id: str, owner: str) -> ValidationOutcome:
    settings = deps.settings
    prefix = f"{settings.datasets_prefix}{dataset_id}/"
    manifest_key = source.key + OPTIONS_SUFFIX
    manifest_uri = f"s3://{source.bucket}/{manifest_key}"
    work = Path(tempfile.mkdtemp(prefix=f"{dataset_id}-", dir=settings.work_dir))
    try:
        try:
            manifest = deps.store.read_small(source.bucket, manifest_key)
            options = resolve_options(settings.option_defaults(), manifest, manifest_uri)
        except (InvalidOptions, ValueError) as exc:
            report = ValidationReport(dataset_id=dataset_id, source=source.uri, base_model="(invalid options)",
                                      family="unknown", output_format="unknown")
            report.reject(f"invalid options: {exc}")
            (work / "report.json").write_text(report.model_dump_json(indent=2))
        else:
            body = deps.store.open(source.bucket, source.key, source.version_id)
            try:
                report = validate_dataset(body, name=source.uri, dataset_id=dataset_id, options=options, out_dir=work)
            finally:
                close = getattr(body, "close", None)
                if close:
                    close()
        uris = {path.name: deps.store.upload(path, settings.data_bucket,
                                             prefix + path.name, CONTENT_TYPES[path.suffix])
                for path in sorted(work.iterdir()) if path.is_file()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _record_outcome(deps, report, source, dataset_id, owner, uris)


def _record_outcome(deps: ValidatorDeps, report: ValidationReport, source: ObjectRef, dataset_id: str, owner: str,
                    uris: dict[str, str]) -> ValidationOutcome:
    counts = None
    if report.splits:
        c = report.counts
        counts = SplitCounts(train=report.splits["train"].records, validation=report.splits["validation"].records,
                             test=report.splits["test"].records, rejected=c.rejected, duplicates=c.duplicates,
                             blank=c.blank, records_read=c.records_read)
    if report.status is DatasetStatus.VALIDATED:
        assert counts is not None
        detail: BaseModel = DatasetValidatedDetail(
            dataset_id=dataset_id, source=source, base_model=report.base_model, output_format=report.output_format,
            training_data_uri=uris["train.jsonl"],
            validation_data_uri=uris["validation.jsonl"] if counts.validation else None,
            test_data_uri=uris["test.jsonl"] if counts.test else None,
            report_uri=uris["report.json"], rejected_uri=uris["rejected.jsonl"], counts=counts,
            labels=report.labels, estimated_cost_usd=report.estimated_cost.usd if report.estimated_cost else None,
            options=report.options,
        )
        event_type: type = DatasetValidated
        status, outcome = RunStatus.VALIDATED, Outcome.VALIDATED
        metrics.add_metric(name="DatasetsValidated", unit="Count", value=1)
    else:
        detail = DatasetRejectedDetail(dataset_id=dataset_id, source=source, reasons=report.reasons,
                                       report_uri=uris.get("report.json"), rejected_uri=uris.get("rejected.jsonl"),
                                       counts=counts)
        event_type, status, outcome = DatasetRejected, RunStatus.REJECTED, Outcome.REJECTED
        metrics.add_metric(name="DatasetsRejected", unit="Count", value=1)
    metrics.add_metric(name="RecordsRejected", unit="Count", value=report.counts.rejected)

    fields = {"outputs": uris, "reasons": report.reasons, "options": report.options,
              "counts": counts.model_dump() if counts else None, "base_model": report.base_model,
              "labels": report.labels,
              "estimated_cost_usd": report.estimated_cost.usd if report.estimated_cost else None}
    fields["outcome_event"] = outcome_event(event_type.DETAIL_TYPE, detail)
    note = "; ".join(report.reasons) if report.reasons else f"{report.counts.accepted} records accepted"
    # record first, then publish, then mark it published (an outbox: see steps/announce.py for the repair)
    if deps.ledger.finish_validation(dataset_id, owner, status, fields, note):
        deps.publisher.publish(detail, event_type, resources=[source.uri])
        deps.ledger.mark_announced(dataset_id)
    else:
        logger.warning("ledger already finished by another invocation; its outcome stands")
    logger.info("dataset processed", extra={"outcome": outcome.value, "reasons": report.reasons})
    return ValidationOutcome(outcome=outcome, dataset_id=dataset_id, key=source.key, reasons=report.reasons,
                             report_uri=uris.get("report.json"))
