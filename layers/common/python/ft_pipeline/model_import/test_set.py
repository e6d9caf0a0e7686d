"""The test set beside an imported model: JSON Lines the evaluation sends to the model through Converse.

Each line is one object, either

- `{"prompt": str, "completion": str, "system"?: str}`, or
- `{"schemaVersion"?: "bedrock-conversation-2024", "system"?: str | [{"text": str}], "messages": [...]}`, where
  messages alternate user / assistant, starting with user and ending with the assistant's expected answer;
  a message's content is a string or a list of `{"text": str}` blocks.

Blank lines are skipped. Problems name the line and field; after `MAX_LINE_PROBLEMS`, one more counts the rest.
"""

from __future__ import annotations

import json
from typing import Any

from ft_pipeline.model_import.checks import MAX_TEST_SET_BYTES, Problem, short

MAX_LINE_PROBLEMS = 20
SCHEMA_VERSION = "bedrock-conversation-2024"
MAX_LABEL_QUOTE = 40

_PROMPT_KEYS = frozenset({"prompt", "completion", "system"})
_MESSAGES_KEYS = frozenset({"schemaVersion", "system", "messages"})
_MESSAGE_KEYS = frozenset({"role", "content"})


class _LineError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_test_set(data: bytes, name: str, labels: list[str] | None) -> tuple[list[Problem], int]:
    """(problems, number of usable records). With `labels`, every expected answer must be one of them."""
    if len(data) > MAX_TEST_SET_BYTES:
        return [Problem(code="bad_test_set", file=name, message=f"{name}: the test set is {len(data):,} bytes; at most "
                        f"{MAX_TEST_SET_BYTES:,} (the evaluation uses at most 1,000 records): keep a sample")], 0
    allowed = {label.strip() for label in labels} if labels else None
    problems: list[Problem] = []
    more = usable = records = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        raw = raw.removesuffix(b"\r")
        if not raw.strip():
            continue
        records += 1
        try:
            answer = _check_line(raw)
            if allowed is not None and answer.strip() not in allowed:
                raise _LineError(f"the expected answer {short(answer.strip(), MAX_LABEL_QUOTE)} is not one of the "
                                 f"manifest's labels", field=_answer_field(raw))
        except _LineError as exc:
            if len(problems) < MAX_LINE_PROBLEMS:
                problems.append(Problem(code="bad_test_set", file=name, line=number, field=exc.field,
                                        message=f"{name} line {number}: {exc.message}"))
            else:
                more += 1
            continue
        usable += 1
    if more:
        problems.append(Problem(code="bad_test_set", file=name,
                                message=f"{name}: … and {more} more lines with problems, not listed"))
    if records == 0:
        problems.append(Problem(code="bad_test_set", file=name, message=f"{name}: the test set is empty: give one JSON "
                                "object per line ({\"prompt\": ..., \"completion\": ...} or {\"messages\": [...]})"))
    return problems, usable


def _answer_field(raw: bytes) -> str:
    obj = json.loads(raw)
    if "messages" in obj:
        return f"messages[{len(obj['messages']) - 1}].content"
    return "completion"


def _check_line(raw: bytes) -> str:
    """The record's expected answer, or _LineError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _LineError(f"not UTF-8 text (byte {exc.start + 1} of the line)") from None
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise _LineError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise _LineError(f"not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(obj, dict):
        raise _LineError(f"expected a JSON object, got {_kind(obj)}")
    if "messages" in obj:
        if "prompt" in obj or "completion" in obj:
            raise _LineError("a record has either messages or prompt/completion, not both", field="messages")
        return _check_messages(obj)
    if "prompt" in obj or "completion" in obj:
        return _check_prompt_completion(obj)
    keys = ", ".join(short(k, 20) for k in sorted(obj)[:5]) or "none"
    raise _LineError(f"expected {{\"prompt\", \"completion\"}} or {{\"messages\"}}; the keys are {keys}")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _extra(obj: dict[str, Any], allowed: frozenset[str], where: str = "") -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        path = f"{where}.{extra[0][:30]}" if where else extra[0][:30]
        raise _LineError(f"unexpected field {short(extra[0], 30)}{' in ' + where if where else ''}; allowed: "
                         f"{', '.join(sorted(allowed))}", field=path)


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _LineError(f"{path} must be a string, got {_kind(value)}", field=path)
    if not value.strip():
        raise _LineError(f"{path} is empty", field=path)
    try:  # JSON may escape a lone surrogate (\ud800): valid JSON, yet no text a model can be asked or stored as
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _LineError(f"{path} holds a lone surrogate (\\u{ord(value[exc.start]):04x}, character "
                         f"{exc.start + 1}), which is not text", field=path) from None
    return value


def _check_prompt_completion(obj: dict[str, Any]) -> str:
    _extra(obj, _PROMPT_KEYS)
    for key in ("prompt", "completion"):
        if key not in obj:
            raise _LineError(f"missing field {key!r}", field=key)
        _text(obj[key], key)
    if "system" in obj:
        _text(obj["system"], "system")
    return obj["completion"]


def _blocks(value: Any, path: str) -> str:
    """A string, or a non-empty list of {"text": str} blocks: its text."""
    if isinstance(value, str):
        return _text(value, path)
    if not isinstance(value, list) or not value:
        raise _LineError(f"{path} must be a string or a non-empty list of {{\"text\": ...}} blocks, got "
                         f"{_kind(value) if value != [] else 'an empty list'}", field=path)
    parts = []
    for j, block in enumerate(value):
        where = f"{path}[{j}]"
        if not isinstance(block, dict):
            raise _LineError(f"{where} must be a {{\"text\": ...}} object, got {_kind(block)}", field=where)
        if "text" not in block:
            kind = next(iter(block), "nothing")
            raise _LineError(f"{where} holds {short(kind, 20)}; only text content can be evaluated", field=where)
        _extra(block, frozenset({"text"}), where)
        parts.append(_text(block["text"], f"{where}.text"))
    return "\n".join(parts)


def _check_messages(obj: dict[str, Any]) -> str:
    _extra(obj, _MESSAGES_KEYS)
    version = obj.get("schemaVersion", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise _LineError(f"schemaVersion is {short(version, 40)}; the only one is {SCHEMA_VERSION!r}",
                         field="schemaVersion")
    if "system" in obj:
        _blocks(obj["system"], "system")
    messages = obj["messages"]
    if not isinstance(messages, list):
        raise _LineError(f"messages must be a list, got {_kind(messages)}", field="messages")
    if len(messages) < 2:
        raise _LineError("messages needs at least a user message and the assistant's expected answer",
                         field="messages")
    answer = ""
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _LineError(f"{where} must be an object, got {_kind(message)}", field=where)
        _extra(message, _MESSAGE_KEYS, where)
        expected = "user" if i % 2 == 0 else "assistant"
        role = message.get("role")
        if role != expected:
            raise _LineError(f"{where}.role is {short(role, 20)}, expected {expected!r}: roles alternate, starting "
                             "with user", field=f"{where}.role")
        if "content" not in message:
            raise _LineError(f"missing field '{where}.content'", field=f"{where}.content")
        answer = _blocks(message["content"], f"{where}.content")
    if len(messages) % 2:
        last = len(messages) - 1
        raise _LineError(f"the last message must be the assistant's expected answer; messages[{last}] is the "
                         "user's", field=f"messages[{last}].role")
    return answer
