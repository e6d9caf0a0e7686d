"""The runs API's logic: plain Python over the ledger, the bucket and the bus (ports below), testable without AWS.

- list: newest first, a page at a time (an opaque cursor), filtered by state, time range and upload key;
- show: the record as a person needs it, with the evaluation's figures and short-lived links to its files;
- stop: a StopRequested on the pipeline bus, which the stop step acts on (training, deploying, evaluating, or
  a serving resource kept after the run); idempotent, and a no-op for a run with nothing left to stop;
- submit: presigned upload URLs for a new dataset (and its options, checked now), so that a user needs no S3
  permission of their own; the upload itself starts the run, as any upload does.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ft_pipeline.catalogue.options import OPTIONS_SUFFIX, InvalidOptions, resolve_options
from ft_pipeline.clock import Clock, clock, iso, parse_iso
from ft_pipeline.evaluation.summary import headline_metric, headline_scores
from ft_pipeline.lifecycle import TRANSITIONS, RunState
from ft_pipeline.observability import logger
from ft_pipeline.ports import Page, UnreadableRecord
from ft_pipeline.run_record import RunRecord
from ft_pipeline.runs import views
from ft_pipeline.runs.api_models import (
    DEFAULT_PAGE,
    MAX_PAGE,
    Link,
    RunDetail,
    RunList,
    StopAnswer,
    SubmitAnswer,
    SubmitRequest,
    Upload,
)
from ft_pipeline.settings import RunsApiSettings

RUN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
REPORT_BYTES = 4 << 20  # report.json is read for its headline figures; a larger one is not
# a stop is worth sending while the run trains, deploys or evaluates, and while it still holds a paid resource
_STOPPABLE = (TRANSITIONS["stopped_before_training"].sources | TRANSITIONS["stop_requested"].sources
              | TRANSITIONS["run_stopped"].sources | {RunState.STOPPING})


class RunNotFound(LookupError):
    pass


class RunUnreadable(RuntimeError):
    """502: the ledger holds an item for this id that is not a run record this version can read."""


class InvalidRequest(ValueError):
    """422: the message names the parameter and what is wrong with it."""


class RunsLedger(Protocol):
    def get(self, run_id: str) -> RunRecord | None: ...
    def list_runs(self, *, limit: int, cursor: str | None, state: RunState | None, since: str | None,
                  until: str | None, key: str | None) -> Page: ...


class RunFiles(Protocol):
    def head(self, bucket: str, key: str) -> Any: ...
    def read_small(self, bucket: str, key: str, max_bytes: int = ...) -> bytes | None: ...
    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> str: ...
    def presign_get(self, bucket: str, key: str, seconds: int) -> str: ...
    def presign_put(self, bucket: str, key: str, seconds: int, if_none_match: bool = ...) -> str: ...


class StopSender(Protocol):
    def send_stop(self, run_id: str, requested_by: str | None) -> None: ...


@dataclass
class RunsDeps:
    settings: RunsApiSettings
    ledger: RunsLedger
    files: RunFiles
    stops: StopSender
    clock: Clock | None = None

    def now(self) -> datetime:
        return (self.clock or clock()).now()


def _time(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        moment = parse_iso(value)
        if moment.utcoffset() is None:
            raise InvalidRequest(f"{name}: give the time zone (Z for UTC)")
        return iso(moment)
    except (TypeError, ValueError, OverflowError) as exc:  # year 9999 at -23:59 overflows into UTC
        if isinstance(exc, InvalidRequest):
            raise
        raise InvalidRequest(f"{name}: an ISO 8601 time, e.g. 2026-12-01T00:00:00Z") from None


def list_runs(deps: RunsDeps, *, state: RunState | None = None, since: str | None = None, until: str | None = None,
              key: str | None = None, limit: int = DEFAULT_PAGE, cursor: str | None = None) -> RunList:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit: between 1 and {MAX_PAGE}")
    since, until = _time("since", since), _time("until", until)
    if since and until and since > until:
        raise InvalidRequest("since: must not be after until")
    page = deps.ledger.list_runs(limit=limit, cursor=cursor, state=state, since=since, until=until, key=key)
    runs = []
    for record in page.records:
        if isinstance(record, UnreadableRecord):  # listed by id alone would mislead: logged, left out
            logger.warning("a run record could not be read", extra={"run_id": record.run_id, "error": record.error})
            continue
        runs.append(views.summary(record))
    return RunList(runs=runs, next_cursor=page.cursor)


def _record(deps: RunsDeps, run_id: str) -> RunRecord:
    try:
        record = deps.ledger.get(run_id) if RUN_ID.fullmatch(run_id) else None
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError: a damaged item
        logger.error("a run record could not be read", extra={"run_id": run_id, "error": type(exc).__name__})
        raise RunUnreadable("the run's record could not be read; the operators are alarmed") from None
    if record is None:
        raise RunNotFound("no such run")
    return record


def _bucket_key(uri: str | None, bucket: str) -> str | None:
    prefix = f"s3://{bucket}/"
    return uri[len(prefix):] if uri and uri.startswith(prefix) else None


def get_run(deps: RunsDeps, run_id: str) -> RunDetail:
    record = _record(deps, run_id)
    bucket = deps.settings.data_bucket
    scores, metric = _scores(deps, _bucket_key(record.evaluation.report_uri, bucket))
    found = views.detail(record, scores, metric)
    until = deps.now() + timedelta(seconds=deps.settings.link_seconds)
    files = {"report.html": record.evaluation.report_html_uri, "report.json": record.evaluation.report_uri,
             "rejected.jsonl": record.validation.outputs.get("rejected.jsonl")
             if record.validation.counts is None or record.validation.counts.rejected else None,
             "import-check.json": record.model_import.check_uri}
    for name, uri in files.items():
        key = _bucket_key(uri, bucket)
        # rejected records expire (RejectedDataRetentionDays): no link to what is gone
        if key and (name != "rejected.jsonl" or deps.files.head(bucket, key) is not None):
            found.links[name] = Link(url=deps.files.presign_get(bucket, key, deps.settings.link_seconds),
                                     expires_at=iso(until))
    return found


def _scores(deps: RunsDeps, key: str | None) -> tuple[dict[str, float] | None, str | None]:
    if key is None:
        return None, None
    try:
        body = deps.files.read_small(deps.settings.data_bucket, key, REPORT_BYTES)
        report: dict[str, Any] = json.loads(body) if body else {}
        return (headline_scores(report), headline_metric(report)) if report else (None, None)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a damaged report: the run is still shown
        logger.warning("the evaluation report could not be read", extra={"error": type(exc).__name__})
        return None, None


def stop(deps: RunsDeps, run_id: str, requested_by: str | None) -> StopAnswer:
    record = _record(deps, run_id)
    if record.status is RunState.IMPORTING:
        deps.stops.send_stop(run_id, requested_by)
        return StopAnswer(run_id=run_id, status=record.status, stop_requested=True,
                          message="stop requested: no import job is created after it; a job already running cannot be "
                                  "stopped (Bedrock has no StopModelImportJob), so the run ends STOPPED when it "
                                  f"completes, its model kept; follow it with GET /runs/{run_id}")
    if record.status not in _STOPPABLE and not record.serving.paid:
        return StopAnswer(run_id=run_id, status=record.status, stop_requested=False,
                          message=f"the run is {record.status.value}: nothing is left to stop")
    deps.stops.send_stop(run_id, requested_by)
    return StopAnswer(run_id=run_id, status=record.status, stop_requested=True,
                      message="stop requested: what the run created is torn down; follow it with GET /runs/"
                              f"{run_id}")


def submit(deps: RunsDeps, request: SubmitRequest) -> SubmitAnswer:
    settings, now = deps.settings, deps.now()
    # a folder of its own per submission: nothing already uploaded is ever overwritten
    key = f"{settings.incoming_prefix}{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}/{request.filename}"
    manifest = key + OPTIONS_SUFFIX
    written = False
    if request.options is not None:
        body = json.dumps(request.options).encode()
        try:
            resolve_options({}, body, "options")  # the validator checks again, with the stack's defaults
        except InvalidOptions as exc:
            raise InvalidRequest(str(exc)) from None
        deps.files.put_bytes(settings.data_bucket, manifest, body, "application/json")
        written = True
    seconds = settings.upload_seconds
    # If-None-Match: * is signed into each URL: it creates its object once and can never overwrite it (a leaked
    # URL replayed cannot start run after run, nor replace the checked options)
    once_only = {"If-None-Match": "*"}
    return SubmitAnswer(
        data=Upload(url=deps.files.presign_put(settings.data_bucket, key, seconds, if_none_match=True), key=key,
                    headers=once_only),
        options=Upload(url=deps.files.presign_put(settings.data_bucket, manifest, seconds, if_none_match=True),
                       key=manifest, headers=once_only),
        options_written=written, expires_at=iso(now + timedelta(seconds=seconds)),
        follow=f"GET /runs?key={key} lists the run once the upload has been validated")
