"""Step 5 of the flow: ModelDeployed → the tuned model against its base model on the held-out test split.

- Start (ModelDeployed): read `test.jsonl`, choose a deterministic stratified sample (`max_examples`), store it,
  record DEPLOYED → EVALUATING with a lease (the evaluation's deadline), and queue one message per chunk.
- Chunk (the queue, a bounded number at a time): if the chunk's answers are stored already, nothing is asked
  again; otherwise every question is asked of each model (bounded concurrency), and the answers are stored.
- Fan-in: whoever stores the last chunk (or the sweeper, finding them all) writes predictions.jsonl,
  report.json and report.html and records EVALUATING → EVALUATED with `EvaluationCompleted`: one conditional
  write, so the run completes exactly once however many chunks finish together.
- The sweeper: chunks still missing when the lease lapsed are queued again (what is stored is kept); after the
  last attempt the run ends EVALUATION_FAILED and its deployment is deleted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ft_pipeline.catalogue.base_models import UnknownBaseModel, resolve_base_model
from ft_pipeline.catalogue.options import EvaluationOptions
from ft_pipeline.clock import iso
from ft_pipeline.contracts import (
    EvaluationChunk,
    EvaluationCompleted,
    EvaluationCompletedDetail,
    EvaluationFailed,
    EvaluationFailedDetail,
)
from ft_pipeline.evaluation.ask import ask_all
from ft_pipeline.evaluation.sample import Question, choose_sample, questions_from_test_split
from ft_pipeline.evaluation.summary import build_report, headline, headline_scores
from ft_pipeline.lifecycle import MAX_ATTEMPTS, WAITS, RunState
from ft_pipeline.observability import logger, metrics, record_gauge
from ft_pipeline.ports import StepOutcome, TrainingDeps
from ft_pipeline.run_record import SWEEPER, Lease, Notification, RunRecord
from ft_pipeline.steps.outbox import deliver_pending, new_event
from ft_pipeline.steps.teardown import complete_run, cost_so_far, release_or_leave_to_sweeper

# a deployed model (trained by the pipeline) or an imported one (asked on demand) starts the same evaluation
_STARTS = {RunState.DEPLOYED: "evaluation_started", RunState.IMPORTED: "imported_evaluation_started"}
NEXT_STEP_OWNER = "complete"
NEXT_STEP_WAIT = timedelta(minutes=15)
SECONDS_PER_CALL = 3.0  # a generous answer time, for the evaluation's deadline (its lease)
CHUNKS_AT_ONCE = 2  # the event source's least MaximumConcurrency: the deadline assumes no more


def evaluation_lease_length(examples: int, models: int, options: EvaluationOptions) -> timedelta:
    """Long enough for every call at the least parallelism, twice over: the sweeper must not queue again a chunk
    that is merely waiting its turn (it would be asked twice, and paid twice)."""
    floor = WAITS[RunState.EVALUATING].retry_after or timedelta(minutes=60)
    seconds = 2 * examples * models * SECONDS_PER_CALL / (options.concurrency * CHUNKS_AT_ONCE)
    return max(floor, timedelta(seconds=seconds))


def _options(record: RunRecord) -> EvaluationOptions:
    return EvaluationOptions.model_validate(record.options.get("evaluation") or {})


def _prefix(record: RunRecord, deps: TrainingDeps) -> str:
    return f"{deps.settings.datasets_prefix}{record.run_id}/evaluation/"


def _chunk_key(record: RunRecord, deps: TrainingDeps, chunk: int) -> str:
    return f"{_prefix(record, deps)}chunks/{chunk:05d}.jsonl"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _base_model_id(record: RunRecord, options: EvaluationOptions) -> str | None:
    if options.base_model_id:
        return options.base_model_id
    try:
        model = resolve_base_model(record.model.base_model or "")
        return model.converse_id or model.short_id  # the on-demand id, without the context suffix
    except UnknownBaseModel:
        return None


def model_ids(record: RunRecord) -> dict[str, str]:
    """Role → the id Converse takes: the deployment (or PT) for the tuned model, the base model on demand."""
    options = _options(record)
    ids = {"tuned": record.serving.arn or record.model_import.imported_model_arn or ""}  # imported: on demand
    base = _base_model_id(record, options)
    if options.compare_with_base_model and base:
        ids["base"] = base
    return ids


# --- start ------------------------------------------------------------------------------------------------------


def start_evaluation(run_id: str, deps: TrainingDeps, trigger_event_id: str | None = None) -> StepOutcome:
    record = deps.ledger.get(run_id)
    if record is None:
        return StepOutcome(action="ignored", run_id=run_id, detail="no ledger record")
    if record.status not in _STARTS:
        deliver_pending(record, deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail=f"run is {record.status}")
    options = _options(record)
    test_uri = record.validation.outputs.get("test.jsonl")
    if not options.enabled or not test_uri:
        return complete_run(record, deps, trigger_event_id)  # nothing to evaluate: teardown at once
    assert deps.queue is not None, "EVALUATION_QUEUE_URL is not set"
    questions = questions_from_test_split(deps.store.open(*_split(test_uri)).read())
    labels = record.validation.labels
    sample = choose_sample(questions, labels, options.max_examples, seed=record.run_id)
    bucket, prefix = deps.settings.data_bucket, _prefix(record, deps)
    sample_uri = deps.store.put_bytes(bucket, prefix + "sample.jsonl",
                                      "".join(q.model_dump_json() + "\n" for q in sample).encode(),
                                      "application/x-ndjson")  # deterministic: a re-run writes the same bytes
    chunks = [EvaluationChunk(run_id=run_id, chunk=i, start=start, end=min(start + options.chunk_size, len(sample)),
                              sample_uri=sample_uri)
              for i, start in enumerate(range(0, len(sample), options.chunk_size))]
    now = deps.clock.now()
    lease = Lease(owner="evaluate", until=iso(now + evaluation_lease_length(len(sample), len(model_ids(record)),
                                                                            options)))
    started = deps.ledger.apply(run_id, _STARTS[record.status], lease=lease,
                                note=f"{len(sample)} of {len(questions)} test records in {len(chunks)} chunks",
                                changes={"evaluation.sample_uri": sample_uri, "evaluation.chunks": len(chunks),
                                         "evaluation.examples": len(sample), "evaluation.started_at": iso(now)})
    if started is None:
        deliver_pending(deps.ledger.get(run_id), deps, trigger_event_id)
        return StepOutcome(action="duplicate", run_id=run_id, detail="claimed by another caller")
    deliver_pending(started, deps, trigger_event_id)
    deps.queue.send(chunks)  # if this fails, the lease lapses and the sweeper queues what is missing
    metrics.add_metric(name="EvaluationsStarted", unit="Count", value=1)
    return StepOutcome(action="evaluating", run_id=run_id, detail=f"{len(sample)} examples, {len(chunks)} chunks")


# --- one chunk ------------------------------------------------------------------------------------------------


def answer_chunk(message: EvaluationChunk, deps: TrainingDeps) -> StepOutcome:
    record = deps.ledger.get(message.run_id)
    if record is None or record.status is not RunState.EVALUATING:
        return StepOutcome(action="ignored", run_id=message.run_id,
                           detail=f"run is {record.status if record else 'unknown'}: nothing asked")
    # a listing, not HeadObject: without s3:ListBucket on the key itself S3 answers 403 for a missing object
    stored = _stored_chunks(record, deps)
    if message.chunk not in stored:  # stored already: a retry resumes past it
        assert deps.runtime is not None
        options, roles = _options(record), model_ids(record)
        lines = deps.store.open(*_split(message.sample_uri)).read().splitlines()[message.start:message.end]
        questions = [Question.model_validate_json(line) for line in lines]
        predictions = ask_all(questions, roles, deps.runtime, labels=record.validation.labels,
                              max_tokens=options.max_tokens, concurrency=options.concurrency)
        deps.store.put_bytes(deps.settings.data_bucket, _chunk_key(record, deps, message.chunk),
                             "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions).encode(),
                             "application/x-ndjson")
        errors = sum(1 for p in predictions for a in p["models"].values() if a["error"])
        metrics.add_metric(name="EvaluationCalls", unit="Count", value=len(predictions) * len(roles))
        metrics.add_metric(name="EvaluationCallErrors", unit="Count", value=errors)
        stored = _stored_chunks(record, deps)  # again: other chunks may have been stored meanwhile
    return finish_if_complete(record, deps, stored)


# --- fan-in -------------------------------------------------------------------------------------------------------


def _stored_chunks(record: RunRecord, deps: TrainingDeps) -> set[int]:
    keys = deps.store.list_keys(deps.settings.data_bucket, f"{_prefix(record, deps)}chunks/")
    return {int(k.rsplit("/", 1)[-1].split(".")[0]) for k in keys if k.endswith(".jsonl")}


def finish_if_complete(record: RunRecord, deps: TrainingDeps, stored: set[int]) -> StepOutcome:
    """`stored`: the chunks stored now (one listing, made by the caller)."""
    missing = sorted(set(range(record.evaluation.chunks)) - stored)
    if missing:
        return StepOutcome(action="waiting", run_id=record.run_id, detail=f"{len(missing)} chunks to go")
    bucket, prefix = deps.settings.data_bucket, _prefix(record, deps)
    lines = [json.loads(line) for chunk in range(record.evaluation.chunks)
             for line in deps.store.open(bucket, _chunk_key(record, deps, chunk)).read().splitlines() if line.strip()]
    predictions_uri = f"s3://{bucket}/{prefix}predictions.jsonl"
    report_uri, html_uri = f"s3://{bucket}/{prefix}report.json", f"s3://{bucket}/{prefix}report.html"
    options, now = _options(record), deps.clock.now()
    report = build_report(lines, labels=record.validation.labels, model_ids=model_ids(record), gate=options.gate,
                          context=_context(record, deps, now, len(lines), predictions_uri, report_uri))
    from ft_pipeline.evaluation.report_html import render_report_html

    deps.store.put_bytes(bucket, prefix + "predictions.jsonl",
                         "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode(),
                         "application/x-ndjson")
    deps.store.put_json(bucket, prefix + "report.json", report)
    deps.store.put_bytes(bucket, prefix + "report.html", render_report_html(report).encode(), "text/html")
    passed, summary = bool(report["gate"]["passed"]), headline(report)
    figures = {role: {k: m.get(k) for k in ("accuracy", "macro_f1", "weighted_f1", "exact_match", "token_f1")
                      if k in m} for role, m in report["models"].items()}
    note = Notification(subject=f"Fine-tuning run {record.run_id}: evaluation {'passed' if passed else 'FAILED'}",
                        message=f"Run {record.run_id} ({record.source.uri})\n{summary}\nGate: "
                                f"{report['gate']['summary']}\nReport: {html_uri}")
    event = new_event(EvaluationCompleted, EvaluationCompletedDetail(
        run_id=record.run_id, source=record.source, passed=passed, summary=summary, metrics=figures,
        report_uri=report_uri, report_html_uri=html_uri), resources=[html_uri], notification=note)
    done = deps.ledger.apply(record.run_id, "evaluation_completed", event=event, note=summary[:200],
                             lease=Lease(owner=NEXT_STEP_OWNER, until=iso(now + NEXT_STEP_WAIT)),
                             changes={"evaluation.report_uri": report_uri, "evaluation.report_html_uri": html_uri,
                                      "evaluation.predictions_uri": predictions_uri, "evaluation.passed": passed,
                                      "evaluation.summary": summary})
    if done is None:
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="another chunk completed it")
    metrics.add_metric(name="EvaluationsCompleted", unit="Count", value=1)
    for role, score in headline_scores(report).items():  # once: only the write that completed it gets here
        record_gauge("EvaluationScore", score, "None", model=role)
    deliver_pending(done, deps)
    return StepOutcome(action="evaluated", run_id=record.run_id, detail=summary)


def _context(record: RunRecord, deps: TrainingDeps, now: datetime, examples: int, predictions_uri: str,
             report_uri: str) -> dict[str, Any]:
    options = _options(record)
    counts = record.validation.counts
    imported = record.model_import if record.kind == "import" else None
    return {
        "run_id": record.run_id, "source_uri": record.source.uri,
        "base_model": record.model.base_model or (options.base_model_id if imported else None),
        "model_import": {"folder": imported.folder_uri, "imported_model_arn": imported.imported_model_arn,
                         "architecture": imported.architecture, "family": imported.family,
                         "weights_bytes": imported.weights_bytes, "job_name": imported.job_name}
        if imported else None,
        "custom_model_arn": record.model.custom_model_arn, "generated_at": iso(now),
        "stand_in": bool(deps.settings.stand_in_note), "stand_in_note": deps.settings.stand_in_note or None,
        "sample": {"examples": examples, "test_records": counts.test if counts else None,
                   "max_examples": options.max_examples,
                   "stratified": bool(record.validation.labels)},
        "training": record.training.metrics.model_dump() if record.training.metrics else None,
        "timeline": [t.model_dump() for t in record.timeline],
        "cost": cost_so_far(record, deps, now) | {"evaluation_usd": None},
        "links": {"predictions": predictions_uri, "report_json": report_uri},
    }


# --- the sweeper's question ---------------------------------------------------------------------------------------


def look(record: RunRecord, deps: TrainingDeps, now: datetime) -> StepOutcome:
    """An evaluating run: finished but not recorded (the last chunk died) → finish; its lease lapsed → queue
    the missing chunks again, or give up after the last attempt."""
    stored = _stored_chunks(record, deps)
    outcome = finish_if_complete(record, deps, stored)
    if outcome.action != "waiting":
        return outcome
    lease = record.lease
    if lease is not None and not lease.lapsed(now):
        return outcome
    retries = lease.retries if lease else 0
    missing = sorted(set(range(record.evaluation.chunks)) - stored)
    if retries >= MAX_ATTEMPTS - 1:
        return fail(record, deps, f"{len(missing)} of {record.evaluation.chunks} chunks were not answered in "
                                  f"{MAX_ATTEMPTS} attempts")
    assert deps.queue is not None
    options = _options(record)
    wait = evaluation_lease_length(len(missing) * options.chunk_size, len(model_ids(record)), options)
    renewed = Lease(owner=SWEEPER, until=iso(now + wait), retries=retries + 1)
    moved = deps.ledger.apply(record.run_id, "evaluation_redriven", lease=renewed, expected_lease=lease,
                              note=f"retry {renewed.retries}: chunks {missing[:20]} queued again")
    if moved is None:
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved meanwhile")
    examples = record.evaluation.examples
    deps.queue.send([EvaluationChunk(run_id=record.run_id, chunk=i, start=i * options.chunk_size,
                                     end=min((i + 1) * options.chunk_size, examples),
                                     sample_uri=record.evaluation.sample_uri or "") for i in missing])
    logger.info("evaluation chunks queued again", extra={"run_id": record.run_id, "missing": len(missing)})
    return StepOutcome(action="retry-requested", run_id=record.run_id, detail=f"{len(missing)} chunks")


def fail(record: RunRecord, deps: TrainingDeps, reason: str) -> StepOutcome:
    note = Notification(subject=f"Fine-tuning run {record.run_id}: evaluation failed",
                        message=f"Run {record.run_id} ({record.source.uri})\nReason: {reason}\n"
                                "Its deployment is deleted.")
    event = new_event(EvaluationFailed, EvaluationFailedDetail(run_id=record.run_id, source=record.source,
                                                               reason=reason), notification=note)
    failed = deps.ledger.apply(record.run_id, "evaluation_failed", event=event, note=reason,
                               changes={"evaluation.reason": reason})
    if failed is None:
        return StepOutcome(action="duplicate", run_id=record.run_id, detail="the run moved on")
    metrics.add_metric(name="EvaluationFailures", unit="Count", value=1)
    failed = release_or_leave_to_sweeper(failed, deps, f"evaluation failed: {reason}")
    deliver_pending(failed, deps)
    return StepOutcome(action="evaluation_failed", run_id=record.run_id, detail=reason)
