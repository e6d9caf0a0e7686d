"""`import-manifest.json`: what a model folder under `models/<name>/` must hold, written by the user beside it.

    {"version": "1",
     "files": {"config.json": 654, "model.safetensors": 2471645608, "tokenizer.json": 9085657,
               "tokenizer_config.json": 50500, "test.jsonl": 48213},
     "test_set": "test.jsonl", "labels": ["positive", "negative"],
     "base_model_id": "meta.llama3-2-1b-instruct-v1:0",
     "evaluation": {"max_examples": 200, "max_tokens": 16}}

`files` names every file of the folder with its size in bytes, so that the pipeline can tell a finished upload
from one still under way or cut short. `make check-model ... WRITE_MANIFEST=1` writes it from a local folder.
Unknown fields are errors, so that a typo is never silently ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ft_pipeline.model_import.checks import Problem

MANIFEST_NAME = "import-manifest.json"
CHECK_NAME = "import-check.json"  # where the pipeline writes the verdict, beside the manifest

MAX_MANIFEST_BYTES = 2_000_000
MAX_FILES = 10_000
MAX_NAME_CHARS = 1_024  # S3 keys are at most 1,024 bytes
MAX_LABELS = 250
MAX_LABEL_CHARS = 100
MAX_PROBLEMS = 20
MAX_QUOTE = 40


def _relative_name(name: str) -> str:
    """A file name relative to the model folder: no way out of it, nothing S3 would read differently."""
    if not name:
        raise ValueError("a file name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a file name is at most {MAX_NAME_CHARS} characters")
    if name.startswith("/"):
        raise ValueError("file names are relative to the model folder: no leading '/'")
    if "\\" in name:
        raise ValueError("file names separate folders with '/', not '\\'")
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in name):
        raise ValueError("a file name holds control characters or a lone surrogate (no S3 key can)")
    if len(name.encode("utf-8")) > MAX_NAME_CHARS:
        raise ValueError(f"a file name is at most {MAX_NAME_CHARS} bytes in UTF-8 (S3's key limit)")
    parts = name.split("/")
    if ".." in parts:
        raise ValueError("file names may not hold '..': they are relative to the model folder")
    if any(part in ("", ".") for part in parts):
        raise ValueError("a file name has an empty or '.' part ('//', './' or a trailing '/')")
    if name in (MANIFEST_NAME, CHECK_NAME):
        raise ValueError(f"files lists the model's files, not {name} itself")
    return name


RelativeName = Annotated[str, AfterValidator(_relative_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportEvaluationOptions(_Strict):
    """How the imported model is evaluated on the test set (through Converse)."""

    max_examples: StrictInt = Field(200, ge=1, le=1_000, description="test records evaluated, at most")
    max_tokens: StrictInt = Field(16, ge=1, le=512, description="answer budget per call")


class ImportManifest(_Strict):
    version: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,16}$")] = "1"
    files: dict[RelativeName, Annotated[StrictInt, Field(ge=0)]] = Field(
        min_length=1, max_length=MAX_FILES, description="every file of the folder (relative name) and its size")
    test_set: RelativeName | None = Field(None, description="a JSONL file of the folder, listed in files")
    labels: list[StrictStr] | None = Field(None, min_length=1, max_length=MAX_LABELS,
                                           description="the answers the test set may expect")
    base_model_id: Annotated[StrictStr, StringConstraints(min_length=1, max_length=2_048,
                                                          pattern=r"^[A-Za-z0-9][A-Za-z0-9.:/_-]*$")] | None = Field(
        None, description="the Bedrock model (id, inference profile or ARN) the evaluation compares against")
    evaluation: ImportEvaluationOptions | None = None

    @field_validator("test_set")
    @classmethod
    def _listed(cls, value: str | None, info: ValidationInfo) -> str | None:
        files = info.data.get("files")
        if value is not None and files is not None and value not in files:
            raise ValueError(f"{value[:MAX_QUOTE]!r} is not in files: list the test set with its size, like every "
                             "file of the folder")
        return value

    @field_validator("labels")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [label.strip() for label in value]
        if not all(cleaned):
            raise ValueError("a label is empty")
        if len(set(cleaned)) != len(cleaned):
            repeated = next(label for label in cleaned if cleaned.count(label) > 1)
            raise ValueError(f"the label {repeated[:MAX_QUOTE]!r} is given twice")
        long = next((label for label in cleaned if len(label) > MAX_LABEL_CHARS), None)
        if long is not None:
            raise ValueError(f"a label is at most {MAX_LABEL_CHARS} characters; {long[:MAX_QUOTE]!r}… has {len(long)}")
        return cleaned

    @property
    def evaluation_options(self) -> ImportEvaluationOptions:
        """`evaluation`, or the defaults when the manifest gives none."""
        return self.evaluation or ImportEvaluationOptions()


class ManifestError(ValueError):
    """A manifest that cannot be used; `problems` says each thing wrong (code `bad_manifest`)."""

    def __init__(self, where: str, problems: list[Problem]) -> None:
        self.where = where
        self.problems = problems
        shown = "; ".join(p.message for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{shown}{more}")


def _problem(where: str, message: str, line: int | None = None, field: str | None = None) -> Problem:
    return Problem(code="bad_manifest", file=where, line=line, field=field, message=f"{where}: {message}")


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(f"the key {key[:MAX_QUOTE]!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_manifest(raw: bytes, where: str) -> ImportManifest:
    """The manifest in `raw`; `where` (its key or path) names it in every problem. Raises ManifestError."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(where, [_problem(where, f"{len(raw):,} bytes; a manifest is at most "
                                             f"{MAX_MANIFEST_BYTES:,}")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(where, [_problem(where, f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(where, [_problem(where, f"not valid JSON: {exc.msg} at line {exc.lineno}, column "
                                            f"{exc.colno}", line=exc.lineno)]) from None
    except (ValueError, RecursionError) as exc:
        raise ManifestError(where, [_problem(where, f"not valid JSON: {str(exc)[:120]}")]) from None
    if not isinstance(value, dict):
        raise ManifestError(where, [_problem(where, f"must hold a JSON object, not {type(value).__name__}")])
    return _validate(value, where)


def _validate(value: dict[str, Any], where: str) -> ImportManifest:
    try:
        return ImportManifest.model_validate(value)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_problem(where, f"{_path(err['loc']) or 'manifest'}: {_message(err)}", field=_path(err["loc"]))
                    for err in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            problems.append(_problem(where, f"… and {len(errors) - MAX_PROBLEMS} more problems, not listed"))
        raise ManifestError(where, problems) from None


def _message(err: Any) -> str:
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(ImportManifest.model_fields) if len(err["loc"]) == 1 else ", ".join(
            ImportEvaluationOptions.model_fields)
        return f"unknown field (allowed: {allowed})"
    return message[:300]


def _path(loc: tuple[Any, ...]) -> str | None:
    """A field path: files['a/b.json'], evaluation.max_tokens, labels[2]; user text is cut short."""
    path = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for a dict key: the key itself is the previous part
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier() and path in ("", "evaluation"):
            path += f".{part}" if path else part
        else:
            text = str(part)
            path += f"[{(text[:MAX_QUOTE] + '…') if len(text) > MAX_QUOTE else text!r}]"
    return path or None


def scan_folder(folder: Path) -> dict[str, int]:
    """Every file under `folder` (relative '/'-separated name → size), as S3 would list the uploaded folder."""
    return {path.relative_to(folder).as_posix(): path.stat().st_size
            for path in sorted(folder.rglob("*")) if path.is_file()}


def write_manifest(folder: Path, test_set: str | None = None, base_model_id: str | None = None,
                   labels: list[str] | None = None) -> ImportManifest:
    """Write `folder`/import-manifest.json listing the folder's files (sizes from disk; the manifest and
    import-check.json left out). Raises FileExistsError when one is there already, ManifestError when the result
    would be unusable (a test set not in the folder, say)."""
    target = folder / MANIFEST_NAME
    if target.exists():
        raise FileExistsError(f"{target} exists already")
    files = {name: size for name, size in scan_folder(folder).items() if name not in (MANIFEST_NAME, CHECK_NAME)}
    value: dict[str, Any] = {"version": "1", "files": files}
    for key, given in (("test_set", test_set), ("base_model_id", base_model_id), ("labels", labels)):
        if given is not None:
            value[key] = given
    if not files:
        raise ManifestError(str(target), [_problem(str(target), f"{folder} holds no files")])
    manifest = _validate(value, str(target))
    target.write_text(json.dumps(manifest.model_dump(mode="json", exclude_none=True), indent=2) + "\n",
                      encoding="utf-8")
    return manifest
