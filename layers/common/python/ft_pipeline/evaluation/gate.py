"""The quality gate: what the tuned model must reach (options `evaluation.gate`), judged on the report's figures."""

from __future__ import annotations

from typing import Any

from ft_pipeline.catalogue.options import QualityGate


def judge(gate: QualityGate, tuned: dict[str, Any], comparison: dict[str, Any] | None,
          base: dict[str, Any] | None = None) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []

    def rule(name: str, value: float | None, threshold: float) -> None:
        rules.append({"rule": name, "value": value, "threshold": threshold,
                      "passed": value is not None and value >= threshold})

    calls = tuned.get("answered", 0) + tuned.get("errors", 0)
    rule("share of the tuned model's calls answered ≥", tuned.get("answered", 0) / calls if calls else None,
         round(1 - gate.max_error_rate, 6))  # always: a model that could not be asked has not passed
    if gate.min_accuracy is not None:
        rule("accuracy ≥", tuned.get("accuracy"), gate.min_accuracy)
    if gate.min_macro_f1 is not None:
        rule("macro F1 ≥", tuned.get("macro_f1"), gate.min_macro_f1)
    if gate.min_gain_over_base is not None and comparison is not None:
        base_calls = (base or {}).get("answered", 0) + (base or {}).get("errors", 0)
        base_answered = (base or {}).get("answered", 0) / base_calls if base_calls else 0.0
        # a base model that could not be asked is no yardstick: the gain over it proves nothing
        gain = comparison.get("difference") if base_answered >= 1 - gate.max_error_rate else None
        rule("accuracy gain over the base model ≥" + ("" if gain is not None else " (the base model could not be "
                                                       "asked)"), gain, gate.min_gain_over_base)
    failed = [r for r in rules if not r["passed"]]
    summary = "; ".join(f"{r['rule']} {r['threshold']:g}: {'—' if r['value'] is None else format(r['value'], '.3f')}"
                        f" {'passed' if r['passed'] else 'FAILED'}" for r in rules)
    return {"passed": not failed, "rules": rules, "summary": summary}
