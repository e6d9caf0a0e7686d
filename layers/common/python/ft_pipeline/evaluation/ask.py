"""Ask each question of each model, with bounded concurrency: one prediction line per question.

A call that fails after the client's retries is kept, with its error, and counts against the model; nothing is
dropped. Answers are parsed against the labels (classification) or kept as text (free-form).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ft_pipeline.evaluation.answers import parse_answer, parse_free_text
from ft_pipeline.evaluation.sample import Question
from ft_pipeline.ports import ModelRuntime


def _ask(runtime: ModelRuntime, model_id: str, question: Question, labels: list[str] | None,
         max_tokens: int) -> dict[str, Any]:
    try:
        answer = runtime.converse(model_id, question.input, question.system, max_tokens)
    except Exception as exc:  # noqa: BLE001 - kept with the prediction, counted as an error
        return {"raw": None, "parsed": None, "latency_ms": None, "input_tokens": 0, "output_tokens": 0,
                "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    parsed = parse_answer(answer.text, labels) if labels else parse_free_text(answer.text)
    return {"raw": answer.text[:2000], "parsed": parsed, "latency_ms": round(answer.latency_ms, 1),
            "input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens, "error": None}


def ask_all(questions: list[Question], models: dict[str, str], runtime: ModelRuntime, *, labels: list[str] | None,
            max_tokens: int, concurrency: int) -> list[dict[str, Any]]:
    """`models`: role (tuned, base) → model id. The prediction lines, in question order."""
    jobs = [(q, role, model_id) for q in questions for role, model_id in models.items()]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        answers = list(pool.map(lambda job: _ask(runtime, job[2], job[0], labels, max_tokens), jobs))
    lines: dict[int, dict[str, Any]] = {}
    for (question, role, _), answer in zip(jobs, answers, strict=True):
        line = lines.setdefault(question.index, {"index": question.index, "test_line": question.test_line,
                                                 "input": question.input, "expected": question.expected,
                                                 "models": {}})
        line["models"][role] = answer
    return [lines[q.index] for q in questions]
