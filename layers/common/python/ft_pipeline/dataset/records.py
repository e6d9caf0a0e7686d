"""Input records → one canonical `Example`, whatever shape they arrived in.

Accepted JSON Lines shapes:
- `bedrock-conversation-2024`: {"schemaVersion", "system": [{"text"}], "messages": [{"role", "content": [{"text"}]}]}
- Claude messages: {"system": str, "messages": [{"role", "content": str}]}
- prompt/completion: {"prompt", "completion"}
- labelled text: {"text", "label"}
CSV: a header row, then a text and a label column, or a prompt and a completion column.

The parsers are hand-written rather than pydantic models because they run once per record on files of
up to gigabytes, and because each error must name the exact field (`messages[2].content[0].text`).

Once the first record has fixed a file's format, each line goes first through a typed fast path
(`FAST_PARSERS`: msgspec decodes straight into structs, no dict per object, unknown keys refused). It accepts
only records that the hand-written parser would turn into the same `Example`, and returns None for anything
else (broken JSON, a missing or unknown key, a wrong type, an empty text, roles out of order), so that
record is parsed again by the hand-written parser, which alone decides what is wrong and says where.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, Literal

import msgspec

from ft_pipeline.catalogue.options import MAX_LABEL_CHARS  # a label is a class name: every prompt lists them all


class InputFormat(StrEnum):
    CONVERSATION_2024 = "bedrock-conversation-2024"
    CLAUDE_MESSAGES = "claude-messages"
    PROMPT_COMPLETION = "prompt-completion"
    TEXT_LABEL = "text-label"


SCHEMA_VERSION = "bedrock-conversation-2024"


def excerpt(value: object, limit: int = 40) -> str:
    """A short quotation of user data for a message: at most `limit` characters, marked when cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return repr(text)


class RecordError(ValueError):
    """One record is unusable. `field` names where, when a field is to blame."""

    def __init__(self, reason: str, field: str | None = None, code: str = "invalid-record") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.code = code


@dataclass(slots=True)
class Example:
    """A training example: an optional system prompt and alternating turns, or a text with its label."""

    turns: tuple[tuple[str, str], ...]  # (role, text); empty for labelled text until rendered
    system: str | None = None
    text: str | None = None
    label: str | None = None


def classify_json_record(obj: Any) -> InputFormat:
    if not isinstance(obj, dict):
        raise RecordError(f"expected a JSON object, got {type(obj).__name__}", code="wrong-schema")
    if "messages" in obj:
        messages = obj["messages"]
        first = messages[0] if isinstance(messages, list) and messages else None
        if isinstance(first, dict) and isinstance(first.get("content"), str):
            return InputFormat.CLAUDE_MESSAGES
        return InputFormat.CONVERSATION_2024
    if "prompt" in obj or "completion" in obj:
        return InputFormat.PROMPT_COMPLETION
    if "text" in obj or "label" in obj:
        return InputFormat.TEXT_LABEL
    keys = ", ".join(excerpt(k, 30) for k in sorted(obj)[:6]) or "none"
    more = f" and {len(obj) - 6} more" if len(obj) > 6 else ""
    raise RecordError(
        f"unrecognised record (keys: {keys}{more}); expected messages, prompt/completion or text/label",
        code="wrong-schema",
    )


def _required_text(obj: dict[str, Any], key: str, path: str | None = None) -> str:
    path = path or key
    if key not in obj:
        raise RecordError(f"missing field {path!r}", field=path, code="missing-field")
    value = obj[key]
    if not isinstance(value, str):
        raise RecordError(f"{path} must be a string, got {type(value).__name__}", field=path, code="wrong-type")
    if not value.strip():
        raise RecordError(f"{path} is empty", field=path, code="empty-field")
    return value


def _check_roles(roles: list[str]) -> None:
    if len(roles) < 2:
        raise RecordError("a conversation needs at least a user and an assistant message", field="messages",
                          code="roles")
    for i, role in enumerate(roles):
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise RecordError(
                f"messages[{i}].role is {excerpt(role, 20)}, expected {expected!r}: roles must alternate, "
                "starting with user",
                field=f"messages[{i}].role", code="roles",
            )
    if roles[-1] != "assistant":
        raise RecordError("the last message must be from the assistant", field=f"messages[{len(roles) - 1}].role",
                          code="roles")


def _extra_keys(obj: dict[str, Any], allowed: frozenset[str], where: str = "") -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        names = ", ".join(excerpt(k, 30) for k in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        field = f"{where}.{extra[0][:30]}" if where else extra[0][:30]
        allowed_names = ", ".join(sorted(allowed))
        raise RecordError(f"unexpected field(s) {names}{' in ' + where if where else ''}; allowed: {allowed_names}",
                          field=field, code="wrong-schema")


_CONV_KEYS = frozenset({"schemaVersion", "system", "messages"})
_MESSAGE_KEYS = frozenset({"role", "content"})
_TEXT_BLOCK_KEYS = frozenset({"text"})
_CLAUDE_KEYS = frozenset({"system", "messages"})
_PC_KEYS = frozenset({"prompt", "completion"})
_TL_KEYS = frozenset({"text", "label"})


def _role_error(i: int, role: Any, expected: str) -> RecordError:
    return RecordError(f"messages[{i}].role is {excerpt(role, 20)}, expected {expected!r}: roles must alternate, "
                       "starting with user", field=f"messages[{i}].role", code="roles")


def _block_text(block: Any, i: int, j: int) -> str:
    text = block.get("text") if type(block) is dict else None
    if type(text) is str and len(block) == 1 and text and not text.isspace():
        return text
    path = f"messages[{i}].content[{j}]"
    if not isinstance(block, dict) or "text" not in block:
        kind = next(iter(block), "?") if isinstance(block, dict) else type(block).__name__
        raise RecordError(f"{path} is {excerpt(kind, 30)}; only text content is supported", field=path,
                          code="unsupported-content")
    _extra_keys(block, _TEXT_BLOCK_KEYS, path)
    return _required_text(block, "text", f"{path}.text")  # raises with the precise problem


def parse_conversation_2024(obj: dict[str, Any]) -> Example:
    # hot path: field paths for messages are built only when something is wrong
    for key in obj:
        if key not in _CONV_KEYS:
            _extra_keys(obj, _CONV_KEYS)
    version = obj.get("schemaVersion", SCHEMA_VERSION)  # absent is allowed: the record is written with it
    if version != SCHEMA_VERSION:
        raise RecordError(f"schemaVersion is {excerpt(version, 40)}; the only version Bedrock reads is "
                          f"{SCHEMA_VERSION!r}", field="schemaVersion", code="wrong-schema")
    system = None
    if "system" in obj:
        blocks = obj["system"]
        if not isinstance(blocks, list):
            raise RecordError("system must be a list of {\"text\": ...} blocks", field="system", code="wrong-type")
        parts = []
        for j, block in enumerate(blocks):
            if not isinstance(block, dict):
                raise RecordError(f"system[{j}] must be an object", field=f"system[{j}]", code="wrong-type")
            _extra_keys(block, _TEXT_BLOCK_KEYS, f"system[{j}]")
            parts.append(_required_text(block, "text", f"system[{j}].text"))
        system = "\n".join(parts) if parts else None
    messages = obj.get("messages")
    if type(messages) is not list:
        raise RecordError("messages must be a list", field="messages", code="wrong-type")
    turns = []
    expected = "user"
    for i, message in enumerate(messages):
        if type(message) is not dict:
            raise RecordError(f"messages[{i}] must be an object", field=f"messages[{i}]", code="wrong-type")
        if not message.keys() <= _MESSAGE_KEYS:
            _extra_keys(message, _MESSAGE_KEYS, f"messages[{i}]")
        content = message.get("content")
        if type(content) is not list or not content:
            raise RecordError(f"messages[{i}].content must be a non-empty list of blocks",
                              field=f"messages[{i}].content", code="wrong-type")
        if len(content) == 1:
            text = _block_text(content[0], i, 0)
        else:
            text = "\n".join(_block_text(block, i, j) for j, block in enumerate(content))
        role = message.get("role")
        if role != expected:
            raise _role_error(i, role, expected)
        expected = "assistant" if expected == "user" else "user"
        turns.append((role, text))
    _check_turns(turns)
    return Example(turns=tuple(turns), system=system)


def _check_turns(turns: list[tuple[str, str]]) -> None:
    if len(turns) < 2:
        raise RecordError("a conversation needs at least a user and an assistant message", field="messages",
                          code="roles")
    if turns[-1][0] != "assistant":
        raise RecordError("the last message must be from the assistant", field=f"messages[{len(turns) - 1}].role",
                          code="roles")


def parse_claude_messages(obj: dict[str, Any]) -> Example:
    _extra_keys(obj, _CLAUDE_KEYS)
    system = obj.get("system")
    if system is not None and not isinstance(system, str):
        raise RecordError("system must be a string", field="system", code="wrong-type")
    messages = obj.get("messages")
    if not isinstance(messages, list):
        raise RecordError("messages must be a list", field="messages", code="wrong-type")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RecordError(f"messages[{i}] must be an object", field=f"messages[{i}]", code="wrong-type")
        _extra_keys(message, _MESSAGE_KEYS, f"messages[{i}]")
        turns.append((message.get("role"), _required_text(message, "content", f"messages[{i}].content")))
    _check_roles([role for role, _ in turns])
    return Example(turns=tuple(turns), system=system or None)


def parse_prompt_completion(obj: dict[str, Any]) -> Example:
    prompt, completion = obj.get("prompt"), obj.get("completion")
    if (len(obj) == 2 and type(prompt) is str and type(completion) is str and prompt and completion
            and not prompt.isspace() and not completion.isspace()):
        return Example(turns=(("user", prompt), ("assistant", completion)))
    _extra_keys(obj, _PC_KEYS)  # the slow path says exactly what is wrong
    prompt = _required_text(obj, "prompt")
    completion = _required_text(obj, "completion")
    return Example(turns=(("user", prompt), ("assistant", completion)))


def parse_text_label(obj: dict[str, Any]) -> Example:
    _extra_keys(obj, _TL_KEYS)
    text = _required_text(obj, "text")
    label = obj.get("label")
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        if label != label or label in (float("inf"), float("-inf")):
            raise RecordError("label is not a finite number", field="label", code="wrong-type")
        label = str(label)
    if label is None or (isinstance(label, str) and not label.strip()):
        raise RecordError("label is missing or empty", field="label", code="missing-label")
    if not isinstance(label, str):
        raise RecordError(f"label must be a string, got {type(label).__name__}", field="label", code="wrong-type")
    return Example(turns=(), text=text, label=checked_label(label, "label"))


def checked_label(label: str, field: str) -> str:
    label = label.strip()
    if not label.isprintable():  # a class name never holds control characters (nor our template's sentinels)
        raise RecordError(f"{field} holds control characters", field=field, code="wrong-type")
    if len(label) > MAX_LABEL_CHARS:
        raise RecordError(f"{field} is {len(label)} characters; a label is a class name of at most {MAX_LABEL_CHARS} "
                          "(is the text in the label column?)", field=field, code="label-too-long")
    return label


JSON_PARSERS = {
    InputFormat.CONVERSATION_2024: parse_conversation_2024,
    InputFormat.CLAUDE_MESSAGES: parse_claude_messages,
    InputFormat.PROMPT_COMPLETION: parse_prompt_completion,
    InputFormat.TEXT_LABEL: parse_text_label,
}

# The typed fast path. Every struct refuses unknown keys, so a record with one is left to the parsers above.
class _Block(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    text: str


class _Message(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: str
    content: list[_Block]


class _Conversation(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    schemaVersion: Literal["bedrock-conversation-2024"]  # noqa: N815 - the JSON key
    messages: list[_Message]
    system: list[_Block] = []


class _ClaudeMessage(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: str
    content: str


class _Claude(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[_ClaudeMessage]
    system: str | None = None


class _PromptCompletion(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    prompt: str
    completion: str


class _TextLabel(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    text: str
    label: str


def _blank(text: str) -> bool:
    return not text or text.isspace()  # the same test as `not text.strip()`, without the copy


def _alternating(turns: list[tuple[str, str]]) -> bool:
    """user, assistant, user, ... ending with assistant: the roles the hand-written parsers accept."""
    n = len(turns)
    return n >= 2 and n % 2 == 0 and [role for role, _ in turns] == ["user", "assistant"] * (n // 2)


def _fast_conversation(decode: Callable[[bytes], _Conversation], raw: bytes) -> Example | None:
    try:
        record = decode(raw)
    except msgspec.DecodeError:  # ValidationError included
        return None
    system = None
    if record.system:
        parts = [block.text for block in record.system]
        if any(_blank(part) for part in parts):
            return None
        system = "\n".join(parts)
    turns = []
    for message in record.messages:
        content = message.content
        if len(content) == 1:
            text = content[0].text
            if _blank(text):
                return None
        elif content:
            parts = [block.text for block in content]
            if any(_blank(part) for part in parts):
                return None
            text = "\n".join(parts)
        else:
            return None
        turns.append((message.role, text))
    return Example(turns=tuple(turns), system=system) if _alternating(turns) else None


def _fast_claude(decode: Callable[[bytes], _Claude], raw: bytes) -> Example | None:
    try:
        record = decode(raw)
    except msgspec.DecodeError:
        return None
    turns = [(message.role, message.content) for message in record.messages]
    if not _alternating(turns) or any(_blank(text) for _, text in turns):
        return None
    return Example(turns=tuple(turns), system=record.system or None)


def _fast_prompt_completion(decode: Callable[[bytes], _PromptCompletion], raw: bytes) -> Example | None:
    try:
        record = decode(raw)
    except msgspec.DecodeError:
        return None
    prompt, completion = record.prompt, record.completion
    if not prompt or prompt.isspace() or not completion or completion.isspace():  # _blank, inlined
        return None
    return Example(turns=(("user", prompt), ("assistant", completion)))


def _fast_text_label(decode: Callable[[bytes], _TextLabel], raw: bytes) -> Example | None:
    try:
        record = decode(raw)
    except msgspec.DecodeError:
        return None
    label = record.label.strip()
    if _blank(record.text) or not label or len(label) > MAX_LABEL_CHARS or not label.isprintable():
        return None
    return Example(turns=(), text=record.text, label=label)


def _fast(parse: Callable[[Any, bytes], Example | None], struct: type) -> Callable[[bytes], Example | None]:
    return partial(parse, msgspec.json.Decoder(struct).decode)


# one JSON line (bytes) -> the Example the hand-written parser would give, or None: ask that parser
FAST_PARSERS: dict[InputFormat, Callable[[bytes], Example | None]] = {
    InputFormat.CONVERSATION_2024: _fast(_fast_conversation, _Conversation),
    InputFormat.CLAUDE_MESSAGES: _fast(_fast_claude, _Claude),
    InputFormat.PROMPT_COMPLETION: _fast(_fast_prompt_completion, _PromptCompletion),
    InputFormat.TEXT_LABEL: _fast(_fast_text_label, _TextLabel),
}

# Common header names, lower-cased; `csv_columns` in the options names others.
TEXT_COLUMNS = ("text", "headline", "title", "sentence", "content", "body", "document", "review", "input", "question")
LABEL_COLUMNS = ("label", "category", "class", "target", "labels", "topic", "intent", "sentiment")
PROMPT_COLUMNS = ("prompt", "instruction", "query")
COMPLETION_COLUMNS = ("completion", "response", "answer", "output")


@dataclass(frozen=True)
class CsvLayout:
    input_format: InputFormat
    first: int  # index of the text / prompt column
    second: int  # index of the label / completion column
    width: int
    names: tuple[str, str]


def _looks_like_a_name(field: str) -> bool:
    """A column name: short, no address, no long number. Anything else may be a data row's personal data."""
    return len(field) <= 30 and "@" not in field and sum(c.isdigit() for c in field) <= 2


def looks_like_a_header(cleaned: list[str]) -> bool:
    return all(_looks_like_a_name(h) for h in cleaned)


def describe_header(cleaned: list[str]) -> str:
    """The header as a message may show it: a few names, each cut short, and only if they look like names (a
    data row in its place may be personal data: then only its shape)."""
    if not cleaned:
        return "empty"
    if not looks_like_a_header(cleaned):
        return f"{len(cleaned)} fields, not quoted: they look like data"
    shown = ", ".join(excerpt(h, 24) for h in cleaned[:6])
    return f"{shown}{f' and {len(cleaned) - 6} more' if len(cleaned) > 6 else ''}"


def csv_layout(header: list[str], text: str | None = None, label: str | None = None,
               prompt: str | None = None, completion: str | None = None, line: int = 1) -> CsvLayout:
    """Find the columns to use; raises ValueError naming the header when none fit."""
    cleaned = [h.strip().lstrip("\ufeff") for h in header]
    lowered = [h.lower() for h in cleaned]

    def find(explicit: str | None, candidates: tuple[str, ...], role: str) -> int | None:
        if explicit:
            if explicit not in cleaned:
                raise ValueError(f"line {line}: the {role} column {excerpt(explicit)} is not in the header "
                                 f"({describe_header(cleaned)})")
            return cleaned.index(explicit)
        for name in candidates:
            if name in lowered:
                return lowered.index(name)
        return None

    p, c = find(prompt, PROMPT_COLUMNS, "prompt"), find(completion, COMPLETION_COLUMNS, "completion")
    if p is not None and c is not None and not (text or label):
        return CsvLayout(InputFormat.PROMPT_COMPLETION, p, c, len(cleaned), (cleaned[p], cleaned[c]))
    t, lab = find(text, TEXT_COLUMNS, "text"), find(label, LABEL_COLUMNS, "label")
    if t is not None and lab is not None and t != lab:
        return CsvLayout(InputFormat.TEXT_LABEL, t, lab, len(cleaned), (cleaned[t], cleaned[lab]))
    looks_like_data = not looks_like_a_header(cleaned)
    raise ValueError(
        f"line {line}: header ({describe_header(cleaned)}) has no text+label or prompt+completion columns"
        f"{'; the first row looks like data, not a header: add a header row' if looks_like_data else ''}; "
        f"recognised names: text {'/'.join(TEXT_COLUMNS[:4])}…, label {'/'.join(LABEL_COLUMNS[:4])}…; "
        "or set csv_columns in the options manifest"
    )


def fast_csv_row(row: list[str], layout: CsvLayout) -> Example | None:
    """`parse_csv_row` for a row with nothing wrong, or None: the row is for `parse_csv_row` to judge."""
    if len(row) != layout.width:
        return None
    first, second = row[layout.first], row[layout.second]
    if not first or first.isspace() or not second or second.isspace():
        return None
    if layout.input_format is InputFormat.PROMPT_COMPLETION:
        return Example(turns=(("user", first), ("assistant", second)))
    label = second.strip()
    if len(label) > MAX_LABEL_CHARS or not label.isprintable():
        return None
    return Example(turns=(), text=first, label=label)


def parse_csv_row(row: list[str], layout: CsvLayout) -> Example:
    if len(row) != layout.width:
        raise RecordError(f"expected {layout.width} fields as in the header, got {len(row)}", code="csv-fields")
    first, second = row[layout.first], row[layout.second]
    for value, name in ((first, layout.names[0]), (second, layout.names[1])):
        if not value.strip():
            code = "missing-label" if layout.input_format is InputFormat.TEXT_LABEL and name == layout.names[1] \
                else "empty-field"
            raise RecordError(f"column {name!r} is empty", field=name, code=code)
    if layout.input_format is InputFormat.PROMPT_COMPLETION:
        return Example(turns=(("user", first), ("assistant", second)))
    return Example(turns=(), text=first, label=checked_label(second, layout.names[1]))
