"""Bring your own model: a folder under `models/` → the checks → CreateModelImportJob → polled → ModelImported.

- Every file of the folder announces itself (S3 Object Created), in any order. Each event looks at the folder;
  nothing happens until `import-manifest.json` is there and every file it lists is there too, so a half-uploaded
  folder is never imported. The run is the manifest's S3 version: a duplicate event is the same run.
- The run is claimed (`import_claimed`: the job's name, under a lease) before the checks and the create call, so
  a start that dies in between is found by name: a retry (Lambda's, or the one the sweeper asks for) takes over
  and finds or creates the same job, whose name and client token derive from the run id.
- The checks (`ft_pipeline.model_import.checks`) list every problem at once; a folder that fails is REJECTED with
  them (`ModelRejected`, a notification) and nothing is sent to Bedrock. The verdict is written beside the run's
  other files (`datasets/<run>/import-check.json`); the user's folder is never written to.
- No event exists for import jobs: the sweeper asks GetModelImportJob every period (`look`).
- Completed → `ModelImported`: the evaluation step asks the imported model on demand (no provisioned throughput)
  with the manifest's test set, against the manifest's base model.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from ft_pipeline.clock import iso
from ft_pipeline.contracts import (
    ImportedModelRef,
    ImportFailed,
    ImportFailedDetail,
    ImportStarted,
    ImportStartedDetail,
    ModelImported,
    ModelImportedDetail,
    ModelRejected,
    ModelRejectedDetail,
    ObjectRef,
    RunStopped,
    RunStoppedDetail,
    S3ObjectCreatedDetail,
    StepRetryRequestedDetail,
)
from ft_pipeline.lifecycle import RunState
from ft_pipeline.model_import.checks import MAX_SMALL_FILE_BYTES as MAX_CHECKED_FILE_BYTES
from ft_pipeline.model_import.checks import MAX_TEST_SET_BYTES, ImportVerdict, Problem, check_folder
from ft_pipeline.model_import.manifest import (
    CHECK_NAME,
    MANIFEST_NAME,
    MAX_FILES,
    MAX_MANIFEST_BYTES,
    ImportManifest,
    ManifestError,
    parse_manifest,
)
from ft_pipeline.naming import (
    PIPELINE_TAG,
    import_job_name,
    import_token,
    imported_model_name,
    model_run_id,
    pipeline_tag,
)
from ft_pipeline.observability import bind_run, logger, metrics
from ft_pipeline.ports import PermanentJobError, StepOutcome, TrainingDeps
from ft_pipeline.run_record import SWEEPER, Lease, Notification, RunRecord
from ft_pipeline.steps.outbox import deliver_pending, new_event

LEASE_MARGIN_SECONDS = 30
# what the checks read (config, tokenizer config, shard index, the test set): they refuse larger files unread
MAX_SMALL_FILE_BYTES = max(MAX_CHECKED_FILE_BYTES, MAX_TEST_SET_BYTES)
UPLOAD_WAIT = timedelta(hours=24)  # from the manifest's first event: files not there by then are reported
UPLOAD_OWNER = "upload"  # the lease owner of a waiting folder: the uploads still to come
NEXT_STEP_OWNER = "evaluate"
NEXT_STEP_WAIT = timedelta(minutes=15)


def folder_of(key: str, models_prefix: str) -> str | None:
    """`models/<name>/` for a key inside a model folder; None for anything else (a key right under the prefix)."""
    if not key.startswith(models_prefix):
        return None
    name, slash, _ = key[len(models_prefix):].partition("/")
    return f"{models_prefix}{name}/" if name and slash else None


def _files_under(deps: TrainingDeps, bucket: str, folder: str) -> tuple[dict[str, int], bool]:
    """The folder's files (relative name -> size), and whether the listing stopped at its cap: a folder with more
    files than any manifest may list is checked as it is (the checks name the files no manifest lists)."""
    listed = deps.store.list_objects(bucket, folder, MAX_FILES + 10)
    return {o.key[len(folder):]: o.size for o in listed if not o.key.endswith("/")}, len(listed) >= MAX_FILES + 10


def _still_to_arrive(manifest: ImportManifest, present: dict[str, int]) -> list[str]:
    """Listed files not there, or not at their listed size yet (an old file the new upload will replace)."""
    return [name for name, size in manifest.files.items() if present.get(name) != size]


def _read_manifest(deps: TrainingDeps, source: ObjectRef) -> bytes:
    """The manifest as uploaded (that S3 version); one byte over the limit is enough for the parser to refuse it."""
    return deps.store.open(source.bucket, source.key, source.version_id).read(MAX_MANIFEST_BYTES + 1)


def _new_run_fields(run_id: str, source: ObjectRef, deps: TrainingDeps) -> dict[str, Any]:
    prefix, folder = deps.settings.resource_prefix, source.key.rsplit("/", 1)[0] + "/"
    return {"kind": "import", "model_import.folder_uri": f"s3://{source.bucket}/{folder}",
            "model_import.job_name": import_job_name(prefix, run_id),
            "model_import.imported_model_name": imported_model_name(prefix, run_id)}


# --- entry points -------------------------------------------------------------------------------------------


def handle_object_created(detail: S3ObjectCreatedDetail, *, deps: TrainingDeps, owner: str,
                          remaining_ms: int) -> StepOutcome:
    """One file of a folder arrived: start the folder's import if it is complete now, else say what it waits for."""
    bucket, prefix = detail.bucket.name, deps.settings.models_prefix
    found = None
    for key in detail.object.key_candidates():  # decoded first; a key that exists only verbatim is tried too
        folder = folder_of(key, prefix)
        info = deps.store.head(bucket, folder + MANIFEST_NAME) if folder else None
        if info is not None:
            found = folder, info
            break
    if found is None:
        folder = folder_of(detail.object.key_candidates()[0], prefix)
        if folder is None:
            return StepOutcome(action="ignored", detail=f"not inside a model folder ({prefix}<name>/…)")
        return StepOutcome(action="waiting", detail=f"{folder}: no {MANIFEST_NAME} yet")
    folder, info = found
    version = info.version_id if info.version_id not in (None, "null") else None
    source = ObjectRef(bucket=bucket, key=folder + MANIFEST_NAME, version_id=version, etag=info.etag)
    body = _read_manifest(deps, source)
    # the run is the manifest's content: the same upload again (a client's retry, `aws s3 cp` run twice) is the same
    # run, never a second import job; a new import of the folder changes the manifest (its `version`, say)
    run_id = model_run_id(bucket, folder, hashlib.sha256(body).hexdigest())
    bind_run(run_id)
    manifest, _ = _manifest_or_problems(deps, source, body)
    if manifest is not None:
        present, capped = _files_under(deps, bucket, folder)
        waiting = _still_to_arrive(manifest, present)
        if waiting and not capped:
            return _wait(run_id, source, waiting, len(manifest.files), deps)
    return start_import(run_id, source, deps, owner, remaining_ms)


def _wait(run_id: str, source: ObjectRef, waiting: list[str], listed: int, deps: TrainingDeps) -> StepOutcome:
    """Not every listed file is there: the run waits (recorded at the first such event, with the upload's deadline,
    so that a file that never comes is reported rather than waited for in silence)."""
    detail = f"{len(waiting)} of {listed} files still to arrive"
    record = deps.ledger.get(run_id)
    if record is None:
        deadline = deps.clock.now() + UPLOAD_WAIT
        record = deps.ledger.apply(
            run_id, "import_waiting", source=source, lease=Lease(owner=UPLOAD_OWNER, until=iso(deadline)),
            note=f"{detail}, until {iso(deadline)}",
            changes=_new_run_fields(run_id, source, deps) | {"model_import.waiting_for": waiting[:20]})
    if record is not None and record.status is not RunState.IMPORT_WAITING:
        deliver_pending(record, deps)
        return StepOutcome(action="duplicate", run_id=run_id, detail=f"run is {record.status}")
    return StepOutcome(action="waiting", run_id=run_id, detail=f"{source.key.rsplit('/', 1)[0]}/: {detail}")


def handle_retry(request: StepRetryRequestedDetail, *, deps: TrainingDeps, owner: str,
                 remaining_ms: int) -> StepOutcome:
    """The sweeper asks again: a start that died (its lease lapsed, no job by its name), or a folder whose upload's
    deadline passed (imported if it is complete now, else rejected with what is missing)."""
    record = deps.ledger.get(request.run_id)
    if record is None:
        return StepOutcome(action="ignored", run_id=request.run_id, detail="no such run")
    bind_run(record.run_id)
    return start_import(record.run_id, record.source, deps, owner, remaining_ms, request.event_id)


def start_import(run_id: str, source: ObjectRef, deps: TrainingDeps, owner: str, remaining_ms: int,
                 trigger_event_id: str | None = None) -> StepOutcome:
    """Claim the folder's run (or take over a start that died), check the folder, create its job, record it."""
    now = deps.clock.now()
    record = deps.ledger.get(run_id)
    lease = Lease(owner=owner, until=iso(now + timedelta(milliseconds=remaining_ms, seconds=LEASE_MARGIN_SECONDS)),
                  retries=record.lease.retries if record is not None and record.lease else 0)
    name = import_job_name(deps.settings.resource_prefix, run_id)
    if record is None:
        claimed = deps.ledger.apply(run_id, "import_claimed", source=source, lease=lease, note=f"job {name} by {owner}",
                                    changes=_new_run_fields(run_id, source, deps))
    elif record.status is RunState.IMPORT_WAITING and record.lease and record.lease.owner == SWEEPER:
        return _recheck_waiting(record, deps, trigger_event_id)  # its deadline passed
    elif record.status is RunState.IMPORT_WAITING:
        claimed = deps.ledger.apply(run_id, "import_waiting_claimed", lease=lease, note=f"job {name} by {owner}")
    elif record.status is RunState.IMPORTING and record.model_import.job_arn is None and record.lease \
            and record.lease.open_to_retry(now):
        claimed = deps.ledger.apply(run_id, "import_taken_over", lease=lease, expected_lease=record.lease,
                                    note=f"job {name} by {owner} (retry {lease.retries})")
    elif record.status is RunState.IMPORTING and record.model_import.job_arn is None:
        return StepOutcome(action="in-progress", run_id=run_id, detail="another invocation is starting the import")
    else:
        deliver_pending(record, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail=f"run is {record.status}")
    if claimed is None:
        deliver_pending(deps.ledger.get(run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail="claimed by another caller")
    try:
        return _check_and_create(claimed, deps, trigger_event_id)
    except Exception as exc:
        # give the lease back at once so Lambda's retry can take over; a death skips this and the lease lapses
        released = Lease(owner=owner, until=iso(deps.clock.now()), retries=lease.retries)
        deps.ledger.apply(run_id, "import_start_released", lease=released, expected_lease=claimed.lease,
                          note=f"attempt failed: {type(exc).__name__}: {str(exc)[:200]}")
        raise


def _recheck_waiting(record: RunRecord, deps: TrainingDeps, trigger_event_id: str | None) -> StepOutcome:
    """Past the upload's deadline: a folder complete now is imported; otherwise rejected, every problem listed."""
    manifest, _ = _manifest_or_problems(deps, record.source)
    folder = record.source.key.rsplit("/", 1)[0] + "/"
    if manifest is not None and not _still_to_arrive(manifest, _files_under(deps, record.source.bucket, folder)[0]):
        claimed = deps.ledger.apply(record.run_id, "import_waiting_claimed", lease=record.lease,  # type: ignore[arg-type]
                                    note="complete at its deadline")
        if claimed is None:
            return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved meanwhile")
        return _check_and_create(claimed, deps, trigger_event_id)
    _, _, problems = _check(record, deps)
    return _reject(record, deps, problems, _write_verdict(record, deps, problems, None), trigger_event_id,
                   transition="import_wait_rejected",
                   lead=f"not every file the manifest lists arrived by {record.lease.until if record.lease else '?'}")


# --- the checks and the create call --------------------------------------------------------------------------


def _manifest_or_problems(deps: TrainingDeps, source: ObjectRef, body: bytes | None = None
                          ) -> tuple[ImportManifest | None, list[Problem]]:
    try:
        return parse_manifest(_read_manifest(deps, source) if body is None else body, source.key), []
    except ManifestError as exc:
        return None, list(exc.problems)


def _check(record: RunRecord, deps: TrainingDeps) -> tuple[ImportManifest | None, ImportVerdict | None,
                                                           list[Problem]]:
    manifest, problems = _manifest_or_problems(deps, record.source)
    if manifest is None:
        return None, None, problems
    bucket, folder = record.source.bucket, record.source.key.rsplit("/", 1)[0] + "/"

    def read(name: str) -> bytes:
        body = deps.store.read_small(bucket, folder + name, MAX_SMALL_FILE_BYTES)
        if body is None:
            raise FileNotFoundError(f"{folder}{name} is gone")
        return body

    verdict = check_folder(manifest, _files_under(deps, bucket, folder)[0], read, deps.settings.region)
    return manifest, verdict, list(verdict.problems)


def _run_prefix(record: RunRecord, deps: TrainingDeps) -> str:
    """Where an import run's own files go (the verdict, the test set's copy): a folder no dataset run writes to."""
    return f"{deps.settings.datasets_prefix}{record.run_id}/import/"


def _write_verdict(record: RunRecord, deps: TrainingDeps, problems: list[Problem], verdict: ImportVerdict | None
                   ) -> str:
    return deps.store.put_json(deps.settings.data_bucket, _run_prefix(record, deps) + CHECK_NAME, {
        "run_id": record.run_id, "folder": record.model_import.folder_uri, "manifest": record.source.model_dump(),
        "accepted": not problems, "problems": [p.model_dump() for p in problems],
        "verdict": verdict.model_dump() if verdict is not None else None})


def _check_and_create(record: RunRecord, deps: TrainingDeps, trigger_event_id: str | None) -> StepOutcome:
    assert deps.imports is not None
    existing = deps.imports.get_import_job(record.model_import.job_name or "")
    if existing is not None:  # an earlier attempt's create landed (its answer was lost): never checked twice
        return record_started(record, existing.job_arn, deps, seen_by="start", trigger_event_id=trigger_event_id)
    if record.stop is not None:  # a stop came first: no job is made
        return _stopped(record, deps, "stopped before its import job was created", trigger_event_id)
    manifest, verdict, problems = _check(record, deps)
    check_uri = _write_verdict(record, deps, problems, verdict)
    if problems or manifest is None or verdict is None:
        return _reject(record, deps, problems, check_uri, trigger_event_id)
    # recorded before the create call: whoever adopts the job later (the sweeper) needs no access to the folder
    checked = deps.ledger.apply(record.run_id, "import_checked", expected_lease=record.lease,
                                changes=_accepted(record, deps, manifest, verdict, check_uri),
                                note=f"{verdict.summary()[:200]}")
    if checked is None:  # taken over meanwhile (this attempt outlived its lease): the other one goes on
        return StepOutcome(action="superseded", run_id=record.run_id, detail="another attempt holds the run")
    record = checked
    request = build_import_request(record, deps)
    try:
        job_arn = deps.imports.create_import_job(request)
    except PermanentJobError as exc:
        return fail(record, deps, f"Bedrock refused the import job: {exc}", "import_start_failed", trigger_event_id)
    return record_started(record, job_arn, deps, seen_by="start", trigger_event_id=trigger_event_id)


def _accepted(record: RunRecord, deps: TrainingDeps, manifest: ImportManifest, verdict: ImportVerdict,
              check_uri: str | None) -> dict[str, Any]:
    """What an accepted folder's run records with its job: the verdict, the options, the test set (copied beside the
    run's files: the evaluation reads its run's files only)."""
    changes: dict[str, Any] = {
        "model_import.check_uri": check_uri, "model_import.manifest": manifest.model_dump(),
        "model_import.architecture": verdict.architecture, "model_import.family": verdict.family,
        "model_import.converse_supported": verdict.converse_supported,
        "model_import.weights_bytes": verdict.weights_bytes,
        "model_import.warnings": [w.message for w in verdict.warnings],
        "options": _run_options(manifest),
    }
    if manifest.test_set:
        folder = record.source.key.rsplit("/", 1)[0] + "/"
        body = deps.store.read_small(record.source.bucket, folder + manifest.test_set, MAX_SMALL_FILE_BYTES) or b""
        changes["validation.outputs"] = {"test.jsonl": deps.store.put_bytes(
            deps.settings.data_bucket, _run_prefix(record, deps) + "test.jsonl", body, "application/x-ndjson")}
        changes["validation.labels"] = manifest.labels
    return changes


def _run_options(manifest: ImportManifest) -> dict[str, Any]:
    """The run's options, in the dataset runs' shape, so the same evaluation step reads them."""
    evaluation: dict[str, Any] = {"enabled": bool(manifest.test_set),
                                  "compare_with_base_model": bool(manifest.base_model_id)}
    if manifest.base_model_id:
        evaluation["base_model_id"] = manifest.base_model_id
    chosen = manifest.evaluation_options
    evaluation |= {"max_examples": chosen.max_examples, "max_tokens": chosen.max_tokens}
    return {"evaluation": evaluation, "deployment": {"mode": "none"}}


def build_import_request(record: RunRecord, deps: TrainingDeps) -> dict[str, Any]:
    """CreateModelImportJob's request, all of it derived from the run id and its folder."""
    settings, run_id = deps.settings, record.run_id
    prefix = settings.resource_prefix
    tags = [{"key": "run-id", "value": run_id}, {"key": PIPELINE_TAG, "value": pipeline_tag(settings.stack_name,
                                                                                          prefix)}]
    request: dict[str, Any] = {
        "jobName": import_job_name(prefix, run_id),
        "importedModelName": imported_model_name(prefix, run_id),
        "roleArn": settings.import_role_arn,
        "modelDataSource": {"s3DataSource": {"s3Uri": record.model_import.folder_uri
                                             or f"s3://{record.source.bucket}/{record.source.key.rsplit('/', 1)[0]}/"}},
        "clientRequestToken": import_token(prefix, run_id),  # the SDK does not fill it in for this operation
        "jobTags": tags,
        "importedModelTags": tags,
    }
    if settings.custom_model_kms_key_arn:
        request["importedModelKmsKeyId"] = settings.custom_model_kms_key_arn
    vpc = settings.vpc_config()
    if vpc:
        request["vpcConfig"] = vpc
    return request


def _ref(record: RunRecord, job_arn: str | None = None, model_arn: str | None = None) -> ImportedModelRef:
    section = record.model_import
    return ImportedModelRef(folder_uri=section.folder_uri or "", job_name=section.job_name or "",
                            job_arn=job_arn or section.job_arn, imported_model_name=section.imported_model_name or "",
                            imported_model_arn=model_arn or section.imported_model_arn)


def record_started(record: RunRecord, job_arn: str, deps: TrainingDeps, seen_by: str,
                   trigger_event_id: str | None = None) -> StepOutcome:
    """The job exists: record it (`import_started`); the sweeper polls it from now on."""
    run_id = record.run_id
    event = new_event(ImportStarted, ImportStartedDetail(run_id=run_id, source=record.source,
                                                         model_import=_ref(record, job_arn)), resources=[job_arn])
    started = deps.ledger.apply(run_id, "import_started", event=event,
                                changes={"model_import.job_arn": job_arn, "model_import.status_source": seen_by,
                                         "model_import.started_at": iso(deps.clock.now())},
                                note=f"import job {record.model_import.job_name} started (seen by {seen_by})")
    if started is None:
        current = deps.ledger.get(run_id)
        if current is not None and current.status is not RunState.IMPORTING:
            # Bedrock has no StopModelImportJob: the job runs on; its model is reported, never left unknown
            logger.warning("the run moved on while its import job was being created; the job runs to its end",
                           extra={"status": current.status, "job": record.model_import.job_name})
        deliver_pending(current, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail="recorded by another caller")
    deliver_pending(started, deps, trigger_event_id)
    metrics.add_metric(name="ImportJobsStarted", unit="Count", value=1)
    return StepOutcome(action="started", run_id=run_id, detail=job_arn)


def _reject(record: RunRecord, deps: TrainingDeps, problems: list[Problem], check_uri: str,
            trigger_event_id: str | None, transition: str = "import_rejected", lead: str | None = None) -> StepOutcome:
    reasons = ([lead] if lead else []) + ([p.message for p in problems] or ["the folder could not be checked"])
    folder = record.model_import.folder_uri or ""
    listed = "\n".join(f"- {r}" for r in reasons[:50]) + (f"\n… and {len(reasons) - 50} more" if len(reasons) > 50
                                                            else "")
    note = Notification(subject=f"Model import {record.run_id}: rejected ({len(reasons)} problems)",
                        message=f"Folder {folder} was not imported; nothing was sent to Bedrock.\n{listed}\n"
                                f"Full verdict: {check_uri}\nFix the folder and upload its {MANIFEST_NAME} again, "
                                f"with a new version (the same manifest is the same run).")
    event = new_event(ModelRejected, ModelRejectedDetail(run_id=record.run_id, source=record.source,
                                                         folder_uri=folder, reasons=reasons, check_uri=check_uri),
                      resources=[folder], notification=note)
    rejected = deps.ledger.apply(record.run_id, transition, event=event, expected_lease=record.lease,
                                 changes={"validation.reasons": reasons, "model_import.check_uri": check_uri},
                                 note=f"{len(reasons)} problems: {reasons[0][:200]}")
    if rejected is None:
        deliver_pending(deps.ledger.get(record.run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="ModelsRejected", unit="Count", value=1)
    deliver_pending(rejected, deps, trigger_event_id)
    return StepOutcome(action="rejected", run_id=record.run_id, detail=f"{len(reasons)} problems")


def fail(record: RunRecord, deps: TrainingDeps, reason: str, transition: str = "import_failed",
         trigger_event_id: str | None = None, changes: dict[str, Any] | None = None) -> StepOutcome:
    note = Notification(subject=f"Model import {record.run_id}: failed",
                        message=f"Folder {record.model_import.folder_uri}\nReason: {reason}")
    event = new_event(ImportFailed, ImportFailedDetail(run_id=record.run_id, source=record.source,
                                                       model_import=_ref(record), reason=reason), notification=note)
    guarded = transition != "import_failed"
    failed = deps.ledger.apply(record.run_id, transition, event=event, note=reason[:300],
                               expected_lease=record.lease if guarded else None,
                               changes=(changes or {}) | {"model_import.failure_message": reason,
                                                          "model_import.ended_at": iso(deps.clock.now())})
    if failed is None:
        deliver_pending(deps.ledger.get(record.run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="ImportFailures", unit="Count", value=1)
    deliver_pending(failed, deps, trigger_event_id)
    return StepOutcome(action="import_failed", run_id=record.run_id, detail=reason)


# --- the sweeper's question (no event exists for import jobs) -----------------------------------------------------


def look(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome | None:
    """An importing run whose job exists: apply what GetModelImportJob says. None when no job has its name (the
    caller decides: wait for the start's lease, retry it, or give up)."""
    assert deps.imports is not None
    job = deps.imports.get_import_job(record.model_import.job_name or "")
    if job is None:
        return None
    if record.model_import.job_arn is None:  # the start created it and died before recording it (its checks'
        return record_started(record, job.job_arn, deps, seen_by="sweeper")  # verdict was recorded before the create)
    if job.status == "Completed":
        return _completed(record, job.imported_model_arn or "", job.end_time, deps)
    if job.status == "Failed":
        return fail(record, deps, f"the import job failed: {job.failure_message or 'no message from Bedrock'}")
    return StepOutcome(action="in-progress", run_id=record.run_id, detail=job.status)


def _stopped(record: RunRecord, deps: TrainingDeps, reason: str, trigger_event_id: str | None = None
             ) -> StepOutcome:
    by = record.stop.requested_by if record.stop else None
    event = new_event(RunStopped, RunStoppedDetail(run_id=record.run_id, source=record.source, requested_by=by,
                                                   reason=reason, serving_state="none"))
    stopped = deps.ledger.apply(record.run_id, "import_stopped", event=event, note=reason)
    if stopped is None:
        deliver_pending(deps.ledger.get(record.run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="RunsStopped", unit="Count", value=1)
    deliver_pending(stopped, deps, trigger_event_id)
    return StepOutcome(action="stopped", run_id=record.run_id, detail=reason)


def stopped_before_job(record: RunRecord, deps: TrainingDeps) -> StepOutcome:
    """The sweeper: a stop was recorded, the start's lease lapsed and no job has the run's name: none ever will."""
    return _stopped(record, deps, "stopped before its import job was created")


def abandon_waiting(record: RunRecord, deps: TrainingDeps, reason: str) -> StepOutcome:
    """The sweeper gives up on a waiting folder it could not have looked at: rejected with the reason."""
    folder = record.model_import.folder_uri or ""
    missing = ", ".join(record.model_import.waiting_for[:5])
    reasons = [reason, f"still missing at the first look: {missing}" if missing else "nothing was missing"]
    note = Notification(subject=f"Model import {record.run_id}: rejected",
                        message=f"Folder {folder} was not imported; nothing was sent to Bedrock.\n"
                                + "\n".join(f"- {r}" for r in reasons))
    event = new_event(ModelRejected, ModelRejectedDetail(run_id=record.run_id, source=record.source, folder_uri=folder,
                                                         reasons=reasons, check_uri=None),
                      resources=[folder], notification=note)
    rejected = deps.ledger.apply(record.run_id, "import_wait_abandoned", event=event, expected_lease=record.lease,
                                 changes={"validation.reasons": reasons}, note=reason[:300])
    if rejected is not None:
        metrics.add_metric(name="ModelsRejected", unit="Count", value=1)
    deliver_pending(rejected, deps)
    return StepOutcome(action="rejected" if rejected else "duplicate", run_id=record.run_id, detail=reason)


def _completed(record: RunRecord, model_arn: str, ended_at: str | None, deps: TrainingDeps) -> StepOutcome:
    if not model_arn:  # Completed without the model's ARN: nothing could ever call it
        return fail(record, deps, "the import job completed, yet Bedrock named no imported model")
    now = deps.clock.now()
    options = record.options.get("evaluation") or {}
    event = new_event(ModelImported, ModelImportedDetail(
        run_id=record.run_id, source=record.source, model_import=_ref(record, model_arn=model_arn),
        test_data_uri=record.validation.outputs.get("test.jsonl"), labels=record.validation.labels,
        base_model_id=options.get("base_model_id"), options=record.options), resources=[model_arn])
    done = deps.ledger.apply(record.run_id, "import_completed", event=event,
                             lease=Lease(owner=NEXT_STEP_OWNER, until=iso(now + NEXT_STEP_WAIT)),
                             changes={"model_import.imported_model_arn": model_arn,
                                      "model_import.ended_at": ended_at or iso(now)},
                             note=f"imported as {model_arn}")
    if done is None:
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="ModelsImported", unit="Count", value=1)
    deliver_pending(done, deps)
    if done.stop is not None:  # stopped while Bedrock imported it: the model is kept, nothing else runs
        return _stopped(done, deps, f"stopped while importing; the imported model {model_arn} is kept")
    return StepOutcome(action="imported", run_id=record.run_id, detail=model_arn)
