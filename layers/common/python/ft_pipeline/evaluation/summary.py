"""From prediction lines to the report: each model's figures, the paired comparison, the gate's verdict."""

from __future__ import annotations

from typing import Any

from ft_pipeline.catalogue.options import QualityGate
from ft_pipeline.evaluation.gate import judge
from ft_pipeline.evaluation.metrics import (
    classification_metrics,
    freeform_metrics,
    latency_summary,
    paired_accuracy_difference,
)

PREVIEW = 12  # misclassified examples shown in the report


def model_figures(lines: list[dict[str, Any]], role: str, labels: list[str] | None) -> dict[str, Any]:
    answers = [line["models"][role] for line in lines]
    expected = [line["expected"] for line in lines]
    predicted = [a["parsed"] for a in answers]
    figures = classification_metrics(expected, predicted, labels) if labels else freeform_metrics(expected, predicted)
    figures |= {
        "answered": sum(1 for a in answers if a["error"] is None),
        "errors": sum(1 for a in answers if a["error"] is not None),
        "invalid": sum(1 for a in answers if a["error"] is None and a["parsed"] is None),
        "latency_ms": latency_summary([a["latency_ms"] for a in answers if a["latency_ms"] is not None]),
        "tokens": {"input": sum(a["input_tokens"] for a in answers),
                   "output": sum(a["output_tokens"] for a in answers)},
        "cost_usd": None,  # per-token prices of custom model inference are not in the price table (unconfirmed)
    }
    return figures


def build_report(lines: list[dict[str, Any]], *, labels: list[str] | None, model_ids: dict[str, str],
                 gate: QualityGate, context: dict[str, Any]) -> dict[str, Any]:
    """`context`: what the report says about the run (ids, source, training, timeline, cost, links)."""
    models = {role: model_figures(lines, role, labels) | {"model_id": model_id} for role, model_id in model_ids.items()}
    comparison = None
    if labels and "base" in models:
        expected = [line["expected"] for line in lines]
        comparison = paired_accuracy_difference(expected, [line["models"]["tuned"]["parsed"] for line in lines],
                                                [line["models"]["base"]["parsed"] for line in lines])
    verdict = judge(gate, models["tuned"], comparison, models.get("base"))
    wrong = [line for line in lines if line["models"]["tuned"]["parsed"] != line["expected"]][:PREVIEW]
    return context | {
        "task": "classification" if labels else "freeform",
        "labels": labels or [],
        "models": models,
        "comparison": comparison,
        "gate": verdict,
        "examples_preview": [{"index": line["index"], "input": line["input"][-400:], "expected": line["expected"],
                              "tuned": line["models"]["tuned"]["parsed"],
                              "base": (line["models"].get("base") or {}).get("parsed")} for line in wrong],
    }


def headline_metric(report: dict[str, Any]) -> str:
    """The figure a report leads with: accuracy for a classification, exact match for free-form answers."""
    return "accuracy" if report["task"] == "classification" else "exact_match"


def headline_scores(report: dict[str, Any]) -> dict[str, float]:
    """Role (tuned, base) → its headline figure, for the models that have one."""
    key = headline_metric(report)
    return {role: float(m[key]) for role, m in report["models"].items() if m.get(key) is not None}


def headline(report: dict[str, Any]) -> str:
    """The figures a notification leads with."""
    models = report["models"]
    key = headline_metric(report)
    parts = [f"{role} {key} {m.get(key):.3f}" for role, m in models.items() if m.get(key) is not None]
    comparison = report.get("comparison")
    if comparison:
        parts.append(f"difference {comparison['difference']:+.3f} ({comparison['confidence']:.0%} CI "
                     f"{comparison['low']:+.3f} to {comparison['high']:+.3f})")
    parts.append(f"gate {'passed' if report['gate']['passed'] else 'FAILED'}")
    return "; ".join(parts)
