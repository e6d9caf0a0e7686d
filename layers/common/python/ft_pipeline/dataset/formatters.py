"""Canonical `Example` → the JSONL record shape the chosen base model's customization job reads."""

from __future__ import annotations

from typing import Any

from ft_pipeline.catalogue.base_models import OutputFormat
from ft_pipeline.dataset.records import Example, RecordError

CLASSIFICATION_PROMPT = (
    "Classify the text into exactly one of these categories: {labels}.\n"
    "Answer with the category name only.\n\n"
    "Text: {text}"
)


def classification_prompt(text: str, labels: list[str]) -> str:
    """The instruction a labelled record becomes; evaluation asks the model the same question."""
    return CLASSIFICATION_PROMPT.format(labels=", ".join(labels), text=text)


def labelled_to_example(text: str, label: str, labels: list[str]) -> Example:
    return Example(turns=(("user", classification_prompt(text, labels)), ("assistant", label)), text=text, label=label)


def to_conversation_2024(example: Example, system: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024"}
    system = example.system or system
    if system:
        record["system"] = [{"text": system}]
    record["messages"] = [{"role": role, "content": [{"text": text}]} for role, text in example.turns]
    return record


def to_claude_messages(example: Example, system: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {}
    system = example.system or system
    if system:
        record["system"] = system
    record["messages"] = [{"role": role, "content": text} for role, text in example.turns]
    return record


def to_prompt_completion(example: Example, system: str | None) -> dict[str, Any]:
    if len(example.turns) != 2:
        raise RecordError(
            f"a {len(example.turns)}-message conversation cannot become one prompt/completion pair; "
            "this base model takes single-turn records only",
            field="messages", code="multi-turn",
        )
    system = example.system or system
    prompt = example.turns[0][1]
    return {"prompt": f"{system}\n\n{prompt}" if system else prompt, "completion": example.turns[1][1]}


RENDERERS = {
    OutputFormat.CONVERSATION_2024: to_conversation_2024,
    OutputFormat.CLAUDE_MESSAGES: to_claude_messages,
    OutputFormat.PROMPT_COMPLETION: to_prompt_completion,
}
