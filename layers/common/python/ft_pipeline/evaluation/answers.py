"""Reading a model's raw reply as an answer: one label of a classification task, or free text.

Models rarely answer with the bare label. They change its case, add a full stop, wrap it in JSON or a
Markdown code fence, or say it in a sentence. `parse_answer` accepts those forms and nothing looser:
an answer that names two labels, or rambles, is unreadable (None), and the caller counts it as INVALID.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable
from typing import Any

INVALID = "invalid"

# A reply longer than this is an explanation, not an answer; we only read it through JSON or a code fence.
MAX_SENTENCE_WORDS = 30

# JSON keys a model uses for "the answer" (compared case-insensitively)
ANSWER_KEYS = ("label", "category", "class", "answer", "topic")

# what may surround a label: ASCII punctuation, typographic quotes and dashes, Markdown emphasis
_SURROUNDING = string.whitespace + string.punctuation + "\u2018\u2019\u201c\u201d\u00ab\u00bb\u2013\u2014\u2026"

# a fenced block, closed or cut off at the end of the reply (a model that ran out of tokens)
_FENCE = re.compile(r"```(.*?)(?:```|\Z)", re.DOTALL)
# a language tag on the fence's opening line: ```json
_FENCE_LANGUAGE = re.compile(r"[A-Za-z0-9_+.-]*")
_ONE_LINE_JSON = re.compile(r"json\s+(?=[{\[])", re.IGNORECASE)


def _normalised(text: str) -> str:
    return " ".join(text.strip(_SURROUNDING).split()).casefold()


def _fence_bodies(text: str) -> list[str]:
    bodies = []
    for match in _FENCE.finditer(text):
        inner = match.group(1)
        first_line, newline, rest = inner.partition("\n")
        if newline and _FENCE_LANGUAGE.fullmatch(first_line.strip()) and rest.strip():
            inner = rest
        else:
            inner = _ONE_LINE_JSON.sub("", inner.strip(), count=1)
        bodies.append(inner.strip())
    return bodies


def _label_pattern(label: str) -> re.Pattern[str]:
    words = label.split()
    # whole words only; a hyphen joins words ("non-fiction" does not contain the label "fiction")
    return re.compile(r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in words) + r"(?![\w-])", re.IGNORECASE)


def _label_in_sentence(text: str, labels: list[str]) -> str | None:
    if len(text.split()) > MAX_SENTENCE_WORDS:
        return None
    spans: list[tuple[int, int, str]] = []
    for label in labels:
        if not label.strip():
            continue
        spans.extend((m.start(), m.end(), label) for m in _label_pattern(label).finditer(text))
    # a label inside a longer one's match is not a mention of its own ("science" in "computer science");
    # labels that only partly overlap are both mentioned, so the reply stays ambiguous
    found = {
        label for start, end, label in spans
        if not any(o_start <= start and end <= o_end and o_end - o_start > end - start
                   for o_start, o_end, _ in spans)
    }
    return found.pop() if len(found) == 1 else None


def _same_label(text: str, labels: list[str]) -> str | None:
    """The label the text is, up to case, spacing and surrounding punctuation ("  Business. ")."""
    if text in labels:
        return text
    wanted = _normalised(text)
    if not wanted:
        return None
    return next((label for label in labels if _normalised(label) == wanted), None)


def _plain_label(text: str, labels: list[str]) -> str | None:
    """A label written as is, in other case or punctuation, or inside a short sentence."""
    label = _same_label(text, labels)
    return label if label is not None else _label_in_sentence(text, labels)


def _only_label(candidates: Iterable[str | None]) -> str | None:
    """The one label the readable parts agree on; None when none is readable or they disagree."""
    found = {label for label in candidates if label is not None}
    return found.pop() if len(found) == 1 else None


def _label_from_json(value: Any, labels: list[str]) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return _plain_label(value, labels)
    if isinstance(value, int | float):
        # numeric labels ("1".."5") come back as JSON numbers
        return _plain_label(str(value), labels)
    if isinstance(value, list):
        return _label_from_json(value[0], labels) if len(value) == 1 else None
    if isinstance(value, dict):
        answers = [v for k, v in value.items() if isinstance(k, str) and k.strip().casefold() in ANSWER_KEYS]
        if not answers and len(value) == 1:
            answers = list(value.values())
        return _only_label(_label_from_json(v, labels) for v in answers)
    return None


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in the text, the whole text or embedded in prose ("Sure: {...}")."""
    decoder = json.JSONDecoder()
    objects = []
    position = text.find("{")
    while position != -1:
        try:
            value, end = decoder.raw_decode(text, position)
        except ValueError:
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            objects.append(value)
        position = text.find("{", end)
    return objects


def _structured(text: str, labels: list[str]) -> tuple[bool, str | None]:
    """(whether the reply is structured, the label it holds). A structured reply is read only as such."""
    bodies = _fence_bodies(text) if "```" in text else []
    if bodies:
        return True, _only_label(_parse_body(body, labels) for body in bodies)
    objects = _json_objects(text)
    if objects:
        return True, _only_label(_label_from_json(o, labels) for o in objects)
    return False, None


def _parse_body(body: str, labels: list[str]) -> str | None:
    """A fence's content: a label, a sentence naming one, or JSON."""
    objects = _json_objects(body)
    if objects:
        return _only_label(_label_from_json(o, labels) for o in objects)
    return _plain_label(body, labels)


def parse_answer(raw: str | None, labels: list[str]) -> str | None:
    """The label (spelled as in `labels`) the reply gives, or None when it does not give exactly one."""
    if raw is None or not raw.strip() or not labels:
        return None
    label = _same_label(raw, labels)
    if label is not None:
        return label
    text = raw.strip()
    is_structured, label = _structured(text, labels)
    if is_structured:
        return label
    return _label_in_sentence(text, labels)


def parse_free_text(raw: str | None) -> str | None:
    """The reply without surrounding whitespace or a code fence around all of it; None when nothing is left."""
    if raw is None:
        return None
    text = raw.strip()
    if text.startswith("```"):
        # closed, or cut off at the end of the reply
        inner = text[3:-3] if len(text) >= 6 and text.endswith("```") else text[3:]
        if "```" not in inner:
            first_line, newline, rest = inner.partition("\n")
            if newline and _FENCE_LANGUAGE.fullmatch(first_line.strip()) and rest.strip():
                inner = rest
            text = inner.strip()
    return text or None
