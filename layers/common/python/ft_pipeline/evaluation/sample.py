"""The evaluation's sample: the held-out test split read back into questions, a deterministic stratified subset.

`test.jsonl` is in the base model's training format (conversation, Claude messages or prompt/completion); each
record becomes the question the model was trained to answer (the last user turn, with its system prompt) and the
answer it should give.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from ft_pipeline.evaluation.metrics import stratified_sample


class Question(BaseModel):
    index: int  # position in the sample
    test_line: int  # 1-based line of test.jsonl
    input: str
    expected: str
    system: str | None = None


def _text(content: Any) -> str:
    return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content)


def _system(record: dict[str, Any]) -> str | None:
    system = record.get("system")
    if not system:
        return None
    return system if isinstance(system, str) else "\n".join(b.get("text", "") for b in system)


def questions_from_test_split(data: bytes) -> list[Question]:
    questions = []
    for line_no, line in enumerate(data.split(b"\n"), start=1):  # JSON Lines: only "\n" ends a line
        if not line.strip():
            continue
        record = json.loads(line)
        if "prompt" in record:
            # an imported model's test set may give prompt records a system prompt
            prompt, expected, system = record["prompt"], record["completion"], _system(record)
        else:
            messages = record["messages"]
            prompt, expected, system = _text(messages[-2]["content"]), _text(messages[-1]["content"]), _system(record)
        questions.append(Question(index=len(questions), test_line=line_no, input=prompt, expected=expected,
                                  system=system))
    return questions


def choose_sample(questions: list[Question], labels: list[str] | None, limit: int, seed: str) -> list[Question]:
    """At most `limit` questions, stratified by expected label (for labelled data), the same every time."""
    chosen = stratified_sample(questions, (lambda q: q.expected) if labels else (lambda q: ""), limit, seed)
    return [questions[i].model_copy(update={"index": n}) for n, i in enumerate(chosen)]
