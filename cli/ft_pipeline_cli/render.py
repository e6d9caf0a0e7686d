"""What a person reads: tables, a run in human form, and watch's progress lines. Plain functions of the API's
JSON (dicts shaped like ft_pipeline.runs.api_models), returning text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def short_time(value: str | None) -> str:
    """2026-12-01T10:02:03.123456Z → 2026-12-01 10:02:03Z (unparsable values as they are)."""
    moment = parse_time(value)
    if moment is None:
        return value or "-"
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    return text + ("Z" if offset is not None and not offset else moment.strftime("%z") if offset else "")


def money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def elapsed(seconds: float) -> str:
    """+MM:SS under an hour, +H:MM:SS from an hour on."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"+{hours}:{minutes:02d}:{secs:02d}" if hours else f"+{minutes:02d}:{secs:02d}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


def runs_table(runs: Sequence[dict[str, Any]]) -> str:
    if not runs:
        return "no runs"
    return table(("RUN ID", "STATUS", "CREATED", "SINCE", "COST", "KEY"),
                 [(r["run_id"], r["status"], short_time(r.get("created_at")), short_time(r.get("state_since")),
                   money(r.get("cost_usd")), r.get("key")) for r in runs])


def cost_table(runs: Sequence[dict[str, Any]]) -> str:
    return table(("RUN ID", "STATUS", "SERVING", "COST", "KEY"),
                 [(r["run_id"], r["status"], r.get("serving_state") or "none", money(r.get("cost_usd")), r.get("key"))
                  for r in runs])


def _pairs(pairs: Iterable[tuple[str, Any]], indent: str = "  ") -> list[str]:
    shown = [(k, v) for k, v in pairs if v not in (None, "", [], {})]
    width = max((len(k) for k, _ in shown), default=0)
    return [f"{indent}{k.ljust(width)}  {v}" for k, v in shown]


def timeline_line(entry: dict[str, Any], origin: datetime | None) -> str:
    """`[+MM:SS] STATUS  transition  note`: the time since `origin` (the run's creation)."""
    at = parse_time(entry.get("at"))
    stamp = elapsed((at - origin).total_seconds()) if at and origin else "+--:--"
    parts = [f"[{stamp}] {entry.get('status', '?')}", entry.get("transition") or "", entry.get("note") or ""]
    return "  ".join(p for p in parts if p)


def run_detail(run: dict[str, Any]) -> str:
    training, model, serving = run.get("training") or {}, run.get("model") or {}, run.get("serving") or {}
    cost, evaluation = run.get("cost") or {}, run.get("evaluation") or {}
    source = run.get("source") or {}
    lines = [f"run {run['run_id']}: {run['status']} since {short_time(run.get('state_since'))}"]
    lines += _pairs([("created", short_time(run.get("created_at"))), ("updated", short_time(run.get("updated_at"))),
                     ("data", f"s3://{source.get('bucket')}/{source.get('key')}" if source.get("key") else None),
                     ("stop requested", " by ".join(x for x in (short_time(run.get("stop_requested_at")),
                                                               run.get("stop_requested_by")) if x)
                      if run.get("stop_requested_at") else None),
                     ("records", ", ".join(f"{k} {v}" for k, v in (run.get("counts") or {}).items()))])
    if run.get("reasons"):
        lines.append("rejected because:")
        lines += [f"  - {reason}" for reason in run["reasons"]]

    origin = parse_time(run.get("created_at"))
    lines.append("timeline:")
    lines += [f"  {short_time(t.get('at'))}  {timeline_line(t, origin)}" for t in run.get("timeline") or []] or [
        "  (empty)"]

    losses = ", ".join(f"{name} {training[key]:.4g}" for name, key in (("training", "training_loss"),
                                                                       ("validation", "validation_loss"))
                       if training.get(key) is not None)
    block = _pairs([("job", training.get("job_name")), ("job arn", training.get("job_arn")),
                    ("started", short_time(training["started_at"]) if training.get("started_at") else None),
                    ("ended", short_time(training["ended_at"]) if training.get("ended_at") else None),
                    ("loss", losses), ("failure", training.get("failure_message"))])
    if block:
        lines += ["training:", *block]
    imported = run.get("model_import") or {}
    size = imported.get("weights_bytes")
    block = _pairs([("folder", imported.get("folder_uri")),
                    ("waiting for", ", ".join(imported.get("waiting_for") or [])
                     if run.get("status") == "IMPORT_WAITING" else None),
                    ("checked", " ".join(x for x in (imported.get("architecture"), f"({imported['family']})"
                                                     if imported.get("family") else None,
                                                     f"{size / 1e6:,.1f} MB" if size else None) if x)),
                    ("warnings", "; ".join(imported.get("warnings") or [])), ("job", imported.get("job_name")),
                    ("imported model", imported.get("imported_model_arn")),
                    ("failure", imported.get("failure_message"))])
    if block:
        lines += ["import:", *block]
    block = _pairs([("base model", model.get("base_model")), ("custom model", model.get("custom_model_arn")),
                    ("deleted", short_time(model["deleted_at"]) if model.get("deleted_at") else None)])
    if block:
        lines += ["model:", *block]
    state = serving.get("state") or "none"
    block = _pairs([("state", state + (" (kept)" if serving.get("keep") else "")), ("mode", serving.get("mode")),
                    ("name", serving.get("name")), ("arn", serving.get("arn")),
                    ("active", short_time(serving["active_at"]) if serving.get("active_at") else None),
                    ("deadline", f"{short_time(serving['deadline'])} (deleted by then, whatever happens)"
                     if serving.get("deadline") and state not in ("none", "deleted") else
                     short_time(serving["deadline"]) if serving.get("deadline") else None),
                    ("deleted", short_time(serving["deleted_at"]) if serving.get("deleted_at") else None),
                    ("reason", serving.get("reason"))])
    if state != "none" or len(block) > 1:
        lines += ["serving:", *block]
    unconfirmed = cost.get("unconfirmed") or []
    block = _pairs([("so far", money(cost["total_usd"]) if cost.get("total_usd") is not None else None),
                    ("training (estimate)", money(cost.get("estimated_training_usd"))
                     if cost.get("estimated_training_usd") is not None else None),
                    ("serving", f"{money(cost['serving_usd'])} over {cost.get('serving_hours', 0):g} h"
                     if cost.get("serving_usd") is not None else None),
                    ("storage", f"{money(cost['storage_usd_per_month'])}/month"
                     if cost.get("storage_usd_per_month") is not None else None),
                    ("unconfirmed prices", ", ".join(unconfirmed)),
                    ("as of", short_time(cost["as_of"]) if cost.get("as_of") else None)])
    if block:
        lines += ["cost:", *block]
    verdict = {True: "passed", False: "FAILED"}.get(evaluation.get("passed"))
    scores = evaluation.get("scores") or {}
    metric = evaluation.get("metric") or "score"
    block = _pairs([("gate", f"{verdict}" + (f": {evaluation['reason']}" if evaluation.get("reason") else "")
                     if verdict else evaluation.get("reason")),
                    (metric, ", ".join(f"{name} {value:.3f}" for name, value in scores.items())),
                    ("examples", evaluation.get("examples") or None), ("summary", evaluation.get("summary"))])
    if block:
        lines += ["evaluation:", *block]
    links = run.get("links") or {}
    if links:
        lines.append("links:")
        lines += [f"  {name}  {link['url']}  (until {short_time(link.get('expires_at'))})"
                  for name, link in links.items()]
    return "\n".join(lines)
