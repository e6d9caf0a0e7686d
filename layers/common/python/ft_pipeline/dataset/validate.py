"""Validate one uploaded dataset and write Bedrock-ready splits, in one streaming pass.

Outputs in `out_dir`: train.jsonl, validation.jsonl, test.jsonl (only when the dataset is accepted),
rejected.jsonl (every rejected record with its line, reason and original text) and report.json.
Memory: read buffers, the per-label split counters, and per accepted record one fingerprint for duplicate
detection and one length for the report (about 100 bytes in CPython), never the records themselves;
once a dataset is over its record quota nothing more is kept, so memory is bounded by the quota.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import re
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, BinaryIO

import jsonlines
import msgspec
from pydantic_core import from_json

from ft_pipeline.catalogue.base_models import LONGEST_RECORD_CHARS, PRICE_SOURCE, BaseModel, Family, OutputFormat
from ft_pipeline.catalogue.options import MAX_LABEL_LIST_CHARS, MAX_LABELS, DatasetOptions
from ft_pipeline.catalogue.prices import PriceTable
from ft_pipeline.dataset.csv_source import (
    DELIMITER_NAMES,
    DELIMITERS,
    CsvLines,
    RecordTooLong,
    fields_of,
    guess_delimiter,
)
from ft_pipeline.dataset.formatters import RENDERERS, labelled_to_example
from ft_pipeline.dataset.reader import Container, DatasetUnreadable, GzipDamaged, OpenedDataset, open_dataset
from ft_pipeline.dataset.records import (
    FAST_PARSERS,
    JSON_PARSERS,
    Example,
    InputFormat,
    RecordError,
    classify_json_record,
    csv_layout,
    excerpt,
    fast_csv_row,
    parse_csv_row,
)
from ft_pipeline.dataset.report import CostEstimate, DatasetStatus, SplitSummary, ValidationReport
from ft_pipeline.dataset.splitter import SPLIT_NAMES, TRAIN, VALIDATION, StratifiedSplitter
from ft_pipeline.dataset.stats import LengthStats

MAX_DUPLICATE_EXAMPLES = 20
# A record is read up to this size and no further (bytes of a JSON line, characters of a CSV record): the longest
# record any model accepts, with room for JSON escapes (\u00e9 is 6 bytes for 1 character). Memory follows this
# cap, never the length of a line or the compression ratio of the upload.
RECORD_CAP = max(1 << 20, 6 * LONGEST_RECORD_CHARS)
ORIGINAL_EXCERPT_CHARS = 4_096  # rejected.jsonl keeps a record's first characters; its line finds the rest
REJECTED_FILE_BUDGET = 64 << 20  # rejected.jsonl stops taking entries here; the counts stay exact
DEFAULT_OUTPUT_BUDGET = 3_584 << 20  # what the validator may write to its working folder (Lambda's /tmp)
_LABEL_BITS = 20  # up to a million distinct labels
_LABEL_MASK = (1 << _LABEL_BITS) - 1
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # built once, not per record
_quote = json.encoder.encode_basestring  # C: a str as a JSON string literal, non-ASCII kept as is
_encode = msgspec.json.Encoder().encode  # a record to JSON bytes in one C call (UTF-8, non-ASCII kept as is)

csv.field_size_limit(RECORD_CAP)  # with the capped line source, no CSV record grows past the cap in memory


@dataclass(slots=True)
class _Item:
    """One input record: blank, rejected (error set) or parsed (example set)."""

    line: int
    original: str | bytes | list[str] | None
    example: Example | None = None
    error: RecordError | None = None


def _is_utf8(field: str) -> bool:
    """False when the field holds bytes that were not UTF-8 (kept as surrogates by surrogateescape)."""
    try:
        field.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _original_text(original: str | bytes | list[str] | None) -> str:
    """The record as it was in the file (a CSV row is written back as one CSV line), up to the excerpt size."""
    if isinstance(original, list):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(original)
        original = buffer.getvalue().encode("utf-8", "surrogateescape")
    if isinstance(original, bytes):
        return original.decode("utf-8", errors="backslashreplace")
    return original or ""


def _too_long(cap_unit: str) -> RecordError:
    return RecordError(f"record over {RECORD_CAP:,} {cap_unit}, longer than any base model accepts; it was not read "
                       "further", code="too-long")


def _iter_jsonl(opened: OpenedDataset, seen_format: list[InputFormat]) -> Iterator[_Item]:
    file_format: InputFormat | None = None
    format_line = 0
    # pydantic-core's parser (Rust) is several times faster than json.loads and rejects NaN/Infinity,
    # which are not JSON and which Bedrock would not read
    loads = partial(from_json, allow_inf_nan=False)
    readline, cap = opened.stream.readline, RECORD_CAP
    fast = None  # the typed parser of the file's format, once the first record has fixed it
    line_no = 0
    while raw := readline(cap):
        line_no += 1
        if len(raw) == cap and raw[-1] != 10:  # no line break within the cap: skip to the end of the line
            while (rest := readline(cap)) and rest[-1] != 10:
                pass
            yield _Item(line_no, raw, error=_too_long("bytes"))
            continue
        if fast is not None:
            example = fast(raw)
            if example is not None:
                yield _Item(line_no, raw, example=example)
                continue
        # the first record, a blank line, or one the fast path declined: parsed again, to say what is wrong
        stripped = raw.strip()
        if not stripped:
            yield _Item(line_no, None)
            continue
        try:
            obj = loads(stripped)
        except ValueError as exc:
            message = str(exc)
            if message.startswith("invalid unicode code point"):
                error = RecordError(f"invalid UTF-8 ({message.replace('line 1 ', '')})", code="encoding")
            else:
                error = RecordError(f"invalid JSON: {message.replace('at line 1 column', 'at column')}",
                                    code="invalid-json")
            yield _Item(line_no, stripped, error=error)
            continue
        try:
            fmt = classify_json_record(obj)
            if file_format is None:
                file_format, format_line = fmt, line_no
                seen_format.append(fmt)
                fast = FAST_PARSERS[fmt]
            elif fmt is not file_format:
                raise RecordError(
                    f"record is {fmt.value} but the file is {file_format.value} (set by line {format_line}); "
                    "one file must use one format", code="mixed-formats")
            yield _Item(line_no, stripped, example=JSON_PARSERS[fmt](obj))
        except RecordError as err:
            yield _Item(line_no, stripped, error=err)
        except RecursionError:  # nesting deeper than any record Bedrock reads
            yield _Item(line_no, stripped, error=RecordError("record nested too deeply", code="wrong-schema"))


class _CsvHeaderError(ValueError):
    pass


def _choose_delimiter(header: str, options: DatasetOptions, line: int) -> str:
    """The delimiter under which the header names usable columns (comma first); spreadsheets in many locales
    write semicolons, and "Unicode text" exports are tab-separated."""
    cols = options.csv_columns
    if cols.delimiter:
        return cols.delimiter
    for delimiter in DELIMITERS:
        fields = fields_of(header, delimiter)
        if len(fields) >= 2:
            try:
                csv_layout(fields, cols.text, cols.label, cols.prompt, cols.completion, line)
            except ValueError:
                continue
            return delimiter
    return guess_delimiter(header)


def _iter_csv(opened: OpenedDataset, options: DatasetOptions, seen_format: list[InputFormat],
              dialect: dict[str, Any]) -> Iterator[_Item]:
    # surrogateescape keeps undecodable bytes visible so that the one record holding them is rejected
    text = io.TextIOWrapper(opened.stream, encoding=opened.encoding, errors="surrogateescape", newline="")
    lines = CsvLines(text, RECORD_CAP)
    try:
        first = lines.first_nonblank()
    except RecordTooLong as exc:
        raise _CsvHeaderError(f"line {exc.line}: the first line is over {RECORD_CAP:,} characters; not a CSV "
                              "header") from None
    if first is None:
        return
    header_line = lines.last
    delimiter = _choose_delimiter(first, options, header_line)
    dialect.update(delimiter=DELIMITER_NAMES[delimiter], header_line=header_line)
    # strict: a quote that does not close a field where it should is an error, not silently text, which is
    # how an unbalanced quote is caught where it starts instead of swallowing the lines after it
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise _CsvHeaderError(f"line {header_line}: unreadable CSV header ({exc})") from None
    except RecordTooLong:
        raise _CsvHeaderError(f"line {header_line}: the header opens a quote that is not closed within "
                              f"{RECORD_CAP:,} characters (an unbalanced quote in the header?)") from None
    cols = options.csv_columns
    try:
        layout = csv_layout(header, cols.text, cols.label, cols.prompt, cols.completion, header_line)
    except ValueError as exc:
        read_as = f" (read as {DELIMITER_NAMES[delimiter]}-separated)" if delimiter != "," else ""
        raise _CsvHeaderError(f"{exc}{read_as}") from None
    seen_format.append(layout.input_format)
    legacy = opened.encoding == "cp1252"
    while True:
        lines.new_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except RecordTooLong as exc:
            first_line = lines.record[0] if lines.record else None
            if len(lines.record) > 1:
                spanned = len(lines.record)
                lines.read_again_after_first()
                yield _Item(exc.line, first_line, error=RecordError(
                    f"a quoted field opened on line {exc.line} is still open {spanned} lines later, past "
                    f"{RECORD_CAP:,} characters: an unbalanced quote on line {exc.line}? The lines after it were "
                    "read again as records", code="unbalanced-quote"))
                if exc.skipped is not None:  # an over-long line ended it: a record of its own, not read again
                    yield _Item(exc.skipped, None, error=_too_long("characters"))
            else:
                lines.new_record()
                yield _Item(exc.line, first_line, error=_too_long("characters"))
            continue
        except csv.Error as exc:
            start, end = lines.record_start, lines.last
            first_line = lines.record[0] if lines.record else None
            if end > start:
                lines.read_again_after_first()
                error = RecordError(
                    f"a quoted field opened on line {start} does not close where a field ends ({exc}, on line "
                    f"{end}): an unbalanced quote on line {start}? Lines {start + 1}-{end} were read again as "
                    "records", code="unbalanced-quote")
            else:
                error = RecordError(f"malformed CSV: {exc}", code="csv-syntax")
            yield _Item(start, first_line, error=error)
            continue
        start = lines.record_start
        if all(map(str.isascii, row)):  # nothing to decode or to doubt: the fast path, when nothing is wrong
            example = fast_csv_row(row, layout)
            if example is not None:
                yield _Item(start, row, example=example)
                continue
        if not row or all(not field.strip() for field in row):
            yield _Item(start, None)
            continue
        if not all(field.isascii() for field in row):
            if not all(_is_utf8(field) for field in row):
                yield _Item(start, row, error=RecordError(_encoding_error(row, opened.encoding), code="encoding"))
                continue
            if legacy and any(_MOJIBAKE.search(field) for field in row):
                yield _Item(start, row, error=RecordError(
                    "this record is UTF-8 in a file read as Windows-1252 (mixed encodings): save the whole file as "
                    "UTF-8", code="encoding"))
                continue
        try:
            yield _Item(start, row, example=parse_csv_row(row, layout))
        except RecordError as err:
            yield _Item(start, row, error=err)


# UTF-8 read as Windows-1252: a lead byte (Ã, Â, â) then a continuation byte's character
_MOJIBAKE = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u00bf\u0152-\u0178\u02c6-\u2122]")


def _encoding_error(row: list[str], encoding: str) -> str:
    for i, field in enumerate(row):
        for j, ch in enumerate(field):
            if 0xDC80 <= ord(ch) <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
                name = "UTF-8" if encoding == "utf-8" else encoding
                return f"invalid {name}: byte 0x{ord(ch) - 0xDC00:02X} in field {i + 1}, character {j + 1}"
    return f"invalid {encoding} in this record"


class _Limits:
    """Per-record rules for the chosen model, with the hyperparameters that change them."""

    def __init__(self, model: BaseModel, options: DatasetOptions) -> None:
        self.model = model
        self.cpt = model.chars_per_token
        self.max_tokens = model.max_record_tokens
        if model.family is Family.TITAN_TEXT:
            batch = int(options.api_hyperparameters().get("batchSize", "1"))
            small_batch = 1 if "express" in model.model_id else 2
            if batch > small_batch:
                self.max_tokens = 2_048
        # the stack's system prompt goes into every record that has none of its own: it counts against the limit
        self.default_system = len(options.system_prompt or "")
        self.reserved = model.reserved_strings
        # most reserved strings end in ':'; checking the few colons of a text beats a scan per string
        self._colon_words = tuple(r[:-1] for r in self.reserved if r.endswith(":"))
        self._others = tuple(r for r in self.reserved if not r.endswith(":"))

    def _reserved_in(self, text: str) -> str | None:
        for token in self._others:
            if token[0] in text and token in text:
                return token
        find, ends = text.find, text.endswith
        i = find(":")
        while i >= 0:
            if ends(self._colon_words, 0, i):
                return next(w + ":" for w in self._colon_words if text.endswith(w, 0, i))
            i = find(":", i + 1)
        return None

    def check(self, example: Example) -> int:
        """Raise RecordError if the record breaks a rule of the model; return its character count."""
        system, turns = example.system, example.turns
        texts = [t for _, t in turns] if turns else [example.text or "", example.label or ""]
        if system:
            texts.append(system)
        if self.reserved:
            for value in texts:
                token = self._reserved_in(value)
                if token is not None:
                    where = self._where(example, value)
                    raise RecordError(f"reserved string {token!r} in {where}; {self.model.family.value} "
                                      "customization jobs fail on it", field=where, code="reserved-string")
        chars = 0 if system else self.default_system
        for value in texts:
            chars += len(value)
        tokens = int(chars / self.cpt) + 1
        if tokens > self.max_tokens:
            raise RecordError(f"record too long: about {tokens} tokens ({chars} characters), limit "
                              f"{self.max_tokens} for {self.model.model_id}", code="too-long")
        m = self.model
        if turns and (m.max_input_tokens or m.max_output_tokens):
            system_chars = len(system) if system else self.default_system
            inp = int((sum(len(t) for r, t in turns if r == "user") + system_chars) / self.cpt) + 1
            out = int(sum(len(t) for r, t in turns if r == "assistant") / self.cpt) + 1
            if m.max_input_tokens and inp > m.max_input_tokens:
                raise RecordError(f"prompt too long: about {inp} tokens, limit {m.max_input_tokens}",
                                  code="too-long")
            if m.max_output_tokens and out > m.max_output_tokens:
                raise RecordError(f"completion too long: about {out} tokens, limit {m.max_output_tokens}",
                                  code="too-long")
        return chars

    def check_rendered(self, chars: int, prompt_chars: int, completion_chars: int) -> None:
        """The same limits on a labelled record as written: with the instruction, label list and system prompt."""
        tokens = int(chars / self.cpt) + 1
        if tokens > self.max_tokens:
            raise RecordError(f"record too long as written: about {tokens} tokens ({chars} characters, with the "
                              f"classification instruction and label list), limit {self.max_tokens} for "
                              f"{self.model.model_id}", code="too-long")
        m = self.model
        if m.max_input_tokens and int(prompt_chars / self.cpt) + 1 > m.max_input_tokens:
            raise RecordError(f"prompt too long as written: about {int(prompt_chars / self.cpt) + 1} tokens with the "
                              f"classification instruction and label list, limit {m.max_input_tokens}", code="too-long")
        if m.max_output_tokens and int(completion_chars / self.cpt) + 1 > m.max_output_tokens:
            raise RecordError(f"label too long: limit {m.max_output_tokens} tokens", code="too-long")

    @staticmethod
    def _where(example: Example, value: str) -> str:
        if value is example.system:
            return "system"
        for i, (_, text) in enumerate(example.turns):
            if text is value:
                return f"messages[{i}]"
        return "text" if value is example.text else "label"


def _fingerprint(example: Example) -> int:
    """A 64-bit fingerprint of the content: records differing only in JSON layout are duplicates, and for
    labelled text so are case and spacing variants. Only compared within one run, so hash() suffices."""
    if example.turns:
        return hash((example.system, example.turns))
    text = (example.text or "").strip().lower()
    if "  " in text or "\t" in text or "\n" in text or "\r" in text:
        text = " ".join(text.split())
    return hash(text)


class _Tally:
    __slots__ = ("records_read", "accepted", "rejected", "blank", "duplicates", "rejected_by_reason")

    def __init__(self) -> None:
        self.records_read = self.accepted = self.rejected = self.blank = self.duplicates = 0
        self.rejected_by_reason: dict[str, int] = {}

    def copy_to(self, counts: Any) -> None:
        for name in self.__slots__:
            setattr(counts, name, getattr(self, name))


_PARKED = struct.Struct("<III")  # text length, label id, line


class _LabelledTemplate:
    """Renders labelled records by filling a pre-rendered JSON template: the instruction, label list and
    system prompt are the same in every record, so only the text and label need escaping."""

    _TEXT, _LABEL = "\x00text\x00", "\x00label\x00"

    def __init__(self, render: Any, system: str | None, labels: list[str]) -> None:
        sample = render(labelled_to_example(self._TEXT, self._LABEL, labels), system)
        encoded = _dumps(sample)
        # the slots are the last occurrences: a label or system prompt holding a sentinel comes earlier
        label_at = encoded.rindex(_dumps(self._LABEL)[1:-1])
        text_at = encoded.rindex(_dumps(self._TEXT)[1:-1], 0, label_at)
        if text_at > label_at:
            raise AssertionError("the label must follow the text in a rendered record")
        esc_text, esc_label = len(_dumps(self._TEXT)) - 2, len(_dumps(self._LABEL)) - 2
        self._head = encoded[:text_at]
        self._mid = encoded[text_at + esc_text:label_at]
        self._tail = encoded[label_at + esc_label:] + "\n"
        prompt = labelled_to_example("", "", labels).turns[0][1]
        self.prompt_chars = len(prompt) + len(system or "")  # the instruction, label list and system prompt
        self.overhead_bytes = len((self._head + self._mid + self._tail).encode("utf-8"))
        self._head_bytes = self._head.encode("utf-8", "surrogatepass")
        self._after: dict[str, bytes] = {}
        probe_text, probe_label = "probe \u00e9 \"text\"", labels[0]
        written = self.render(probe_text, probe_label)[0]
        expected = (_dumps(render(labelled_to_example(probe_text, probe_label, labels), system)) + "\n").encode()
        if written != expected:  # the fast path must write exactly what the renderer would
            raise AssertionError("the labelled template does not render as the renderer does")

    def render(self, text: str, label: str) -> tuple[bytes, int]:
        after = self._after.get(label)
        if after is None:  # what follows the text is the same for every record of a label: escaped once
            after = self._after[label] = (self._mid + _quote(label)[1:-1] + self._tail).encode("utf-8",
                                                                                              "surrogatepass")
        line = self._head_bytes + (_quote(text)[1:-1]).encode("utf-8", "surrogatepass") + after
        return line, self.prompt_chars + len(text) + len(label)


class _SplitWriter:
    """Writes records to one split file and counts them."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._fp: IO[bytes] = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self._sha256 = hashlib.sha256()  # names what trains: the same records written are the same content
        self.records = 0
        self.tokens = 0
        self.label_counts: dict[str, int] = {}

    def write(self, line: bytes, tokens: int, label: str | None) -> None:
        self._fp.write(line)
        self._sha256.update(line)
        self.records += 1
        self.tokens += tokens
        if label is not None:
            self.label_counts[label] = self.label_counts.get(label, 0) + 1

    def close(self) -> SplitSummary:
        self._fp.close()
        return SplitSummary(file=self.name, records=self.records, bytes=self.path.stat().st_size,
                            estimated_tokens=self.tokens, sha256=self._sha256.hexdigest(),
                            labels=dict(sorted(self.label_counts.items())) if self.label_counts else None)


def validate_dataset(source: BinaryIO, *, name: str, dataset_id: str, options: DatasetOptions,
                     out_dir: Path, prices: PriceTable | None = None,
                     output_budget: int = DEFAULT_OUTPUT_BUDGET,
                     rejected_budget: int = REJECTED_FILE_BUDGET,
                     deadline: float | None = None) -> ValidationReport:
    """Stream `source`, write the outputs to `out_dir` and return the report (also written as report.json).

    `output_budget`: the bytes the outputs may take in `out_dir` (Lambda's /tmp is sized for it); a dataset whose
    formatted records would need more is rejected, saying so, before the disk fills. `rejected_budget`: the size
    at which rejected.jsonl stops listing rejected records (they are still counted). `deadline` (time.monotonic()):
    past it the dataset is rejected as too slow to read, rather than the function being killed mid-way."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = options.model
    report = ValidationReport(dataset_id=dataset_id, source=name, base_model=model.model_id,
                              family=model.family.value, output_format=model.output_format.value,
                              options=options.model_dump(mode="json"))
    dumps = _CountingDumps()
    with jsonlines.open(out_dir / "rejected.jsonl", mode="w", dumps=dumps, flush=False) as rejected:
        try:
            _validate_into(source, name, options, model, out_dir, report, (rejected, dumps), prices or PriceTable(),
                           output_budget, rejected_budget, deadline)
        except DatasetUnreadable as exc:
            report.reject(str(exc))
    report.accounting_balanced = report.counts.balanced
    if not report.accounting_balanced:  # a bug, never the user's fault: fail loudly rather than lose records
        report.reject("internal error: accepted + rejected + blank does not equal records read")
    write_outcome(report, out_dir)
    return report


def write_outcome(report: ValidationReport, out_dir: Path) -> None:
    """report.json, and no splits beside a rejected dataset's report (nothing may train on them)."""
    if report.status is DatasetStatus.REJECTED:
        for split in SPLIT_NAMES:
            (out_dir / f"{split}.jsonl").unlink(missing_ok=True)
    (out_dir / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _validate_into(source: BinaryIO, name: str, options: DatasetOptions, model: BaseModel, out_dir: Path,
                   report: ValidationReport, rejected_file: tuple[jsonlines.Writer, _CountingDumps], prices: PriceTable,
                   output_budget: int, rejected_budget: int, deadline: float | None) -> None:
    rejected, dumps = rejected_file
    opened = open_dataset(source, name)
    report.input.container, report.input.gzip, report.input.bom = opened.container.value, opened.gzip, opened.bom
    report.input.encoding = opened.encoding
    report.warnings.extend(opened.notes)
    counts = _Tally()  # plain counters in the hot loop; copied into the report at the end
    limits = _Limits(model, options)
    fixed_labels = set(options.labels) if options.labels else None
    ratios = options.split.as_tuple()
    if not model.accepts_validation_data and ratios[VALIDATION] > 0:
        ratios = _without_validation(ratios, options, model, report)
    caps = (None, model.max_validation_records, None)  # validation overflow goes to train
    splitter = StratifiedSplitter(ratios, caps, options.seed)
    seen: dict[int, int] = {}  # fingerprint -> first line << _LABEL_BITS | label id
    label_ids: dict[str, int] = {}
    label_names: list[str] = []
    quota = options.max_records or model.max_records
    # once the dataset is sure to be rejected (over its quota, its output budget or its label limit), records
    # are still checked and counted for the report, but no longer indexed or written: memory and disk stay bounded
    stopped_at, stop_reason, stop_kind = 0, "", ""
    label_totals: dict[str, int] = {}
    input_format: list[InputFormat] = []
    render = RENDERERS[model.output_format]
    system = options.system_prompt
    writers = [_SplitWriter(out_dir / f"{n}.jsonl", f"{n}.jsonl") for n in SPLIT_NAMES]
    lengths = LengthStats()
    labelled_tmp = [tempfile.TemporaryFile(dir=out_dir) for _ in SPLIT_NAMES]  # noqa: SIM115 - closed below
    spent = 0  # bytes written to out_dir (splits and parked records)
    listed = [0, 0]  # rejected.jsonl: characters written, entries left out once it is full

    def reject(line: int, original: str | bytes | list[str] | None, err: RecordError) -> None:
        counts.rejected += 1
        counts.rejected_by_reason[err.code] = counts.rejected_by_reason.get(err.code, 0) + 1
        if listed[0] >= rejected_budget:
            listed[1] += 1
            return
        text = _original_text(original)
        entry = {"line": line, "reason": err.reason, "code": err.code, "field": err.field, "original": text}
        if len(text) > ORIGINAL_EXCERPT_CHARS:
            entry["original"] = text[:ORIGINAL_EXCERPT_CHARS]
            entry["original_truncated"] = True
        rejected.write(entry)
        listed[0] += dumps.last_bytes  # as written, escapes included

    def emit(split: int, example: Example, label: str | None, chars: int) -> int:
        # always the normalised record, never the input's bytes: what was checked is what is written
        record = render(example, system)
        try:
            raw = _encode(record) + b"\n"
        except UnicodeEncodeError:  # a lone surrogate: kept as the input had it
            raw = _dumps(record).encode("utf-8", "surrogatepass") + b"\n"
        lengths.add(chars)
        writers[split].write(raw, int(chars / limits.cpt) + 1, label)
        return len(raw)

    single_turn_only = model.output_format is OutputFormat.PROMPT_COMPLETION
    totals = splitter.totals
    dialect: dict[str, Any] = {}
    try:
        items = (_iter_jsonl(opened, input_format) if opened.container is Container.JSONL
                 else _iter_csv(opened, options, input_format, dialect))
        for item in items:
            if deadline is not None and not counts.records_read & 0x3FFF and time.monotonic() > deadline:
                raise _OutOfTime(counts.records_read)  # before counting this one: the counts stay balanced
            counts.records_read += 1
            if item.example is None and item.error is None:
                counts.blank += 1
                continue
            if item.error is not None:
                reject(item.line, item.original, item.error)
                continue
            example = item.example
            assert example is not None
            try:
                chars = limits.check(example)
                if example.label is not None and fixed_labels is not None and example.label not in fixed_labels:
                    raise RecordError(f"label {excerpt(example.label)} is not one of the configured labels",
                                      field="label", code="unknown-label")
                if single_turn_only and example.turns and len(example.turns) != 2:
                    render(example, system)  # raises the multi-turn error
            except RecordError as err:
                reject(item.line, item.original, err)
                continue
            if stopped_at:
                counts.accepted += 1
                label = example.label
                if label is not None and (label in label_totals or len(label_totals) <= MAX_LABELS):
                    label_totals[label] = label_totals.get(label, 0) + 1
                continue
            fp = _fingerprint(example)
            first = seen.get(fp)
            if first is not None:
                first_line, first_label = first >> _LABEL_BITS, first & _LABEL_MASK
                if example.label is not None and label_ids.get(example.label) != first_label:
                    err = RecordError(f"same text as line {first_line} with a different label "
                                      f"({excerpt(label_names[first_label])} there, {excerpt(example.label)} "
                                      "here)", code="label-conflict")
                else:
                    err = RecordError(f"duplicate of line {first_line}", code="duplicate")
                    counts.duplicates += 1
                    if len(report.duplicate_examples) < MAX_DUPLICATE_EXAMPLES:
                        report.duplicate_examples.append({"line": item.line, "duplicate_of": first_line})
                reject(item.line, item.original, err)
                continue
            label_id = 0
            if example.label is not None:
                label_id = label_ids.get(example.label, -1)
                if label_id < 0:
                    if len(label_names) >= MAX_LABELS:
                        stopped_at, stop_kind, stop_reason = item.line, "labels", (
                            f"more than {MAX_LABELS} distinct labels (the {MAX_LABELS + 1}th on line {item.line}); "
                            "every classification prompt lists them all. Is the label column the right one?")
                        counts.accepted += 1
                        continue
                    label_id = label_ids[example.label] = len(label_names)
                    label_names.append(example.label)
            seen[fp] = (item.line << _LABEL_BITS) | label_id  # one int per record: line and label together
            if example.label is not None:
                label_totals[example.label] = label_totals.get(example.label, 0) + 1
            split = splitter.assign(example.label)
            counts.accepted += 1
            if example.label is not None:
                # the prompt names the whole label set, known only at the end: park the record until then
                text = (example.text or "").encode("utf-8", "surrogatepass")
                labelled_tmp[split].write(_PARKED.pack(len(text), label_id, item.line) + text)
                spent += len(text) + _PARKED.size
            else:
                spent += emit(split, example, None, chars)
            if totals[TRAIN] + totals[VALIDATION] > quota:
                stopped_at, stop_kind = item.line, "quota"  # its reason counts every record: written at the end
            elif spent > output_budget:
                stopped_at, stop_kind, stop_reason = item.line, "budget", _over_budget(output_budget, item.line)
    except _CsvHeaderError as exc:
        raise DatasetUnreadable(f"{name}: {exc}") from None
    except GzipDamaged as exc:  # truncated or corrupt gzip mid-file
        raise DatasetUnreadable(f"{name}: could not read past record {counts.records_read}: {exc}; the "
                                f"{counts.records_read} records before it were read and counted") from None
    except _OutOfTime as exc:
        raise DatasetUnreadable(f"{name}: not read within the validator's time ({exc.records:,} records read, "
                                "most of them blank or rejected?); upload a smaller or cleaner file") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:  # the budget is checked as records are written; this is the safety net
            raise DatasetUnreadable(f"{name}: {_over_budget(output_budget, None)}") from None
        raise
    finally:
        counts.copy_to(report.counts)
        report.input.bytes_read = opened.counter.bytes_read
        report.input.csv = dialect or None
        if input_format:
            report.input.input_format = input_format[0].value

    if label_totals:
        labels = list(options.labels) if options.labels else sorted(label_totals)
        report.labels = labels
        _warn_case_variants(report, label_totals)
        listing = len(", ".join(labels))
        if not stopped_at and listing > MAX_LABEL_LIST_CHARS:
            stopped_at, stop_kind, stop_reason = 1, "labels", (
                f"the labels take {listing} characters when listed ({len(labels)} labels); every classification "
                f"prompt lists them, at most {MAX_LABEL_LIST_CHARS}")
        template = _LabelledTemplate(render, system, labels)
        if not stopped_at and spent + sum(totals) * template.overhead_bytes > output_budget:
            stopped_at, stop_kind, stop_reason = 1, "budget", _over_budget(output_budget, None)
        if stop_kind in ("", "quota"):  # over the quota, the splits so far still show in the report
            # what is on disk while rendering: the other splits' files, the parked records not yet rendered, and
            # what has been rendered; all of it stays within the budget, escapes included
            on_disk = spent - sum(tmp.tell() for tmp in labelled_tmp)
            parked_left = sum(tmp.tell() for tmp in labelled_tmp)
            for split, tmp in enumerate(labelled_tmp):
                if stop_kind == "budget":
                    break
                size_of_split = tmp.tell()
                tmp.seek(0)
                reader = io.BufferedReader(tmp, 1 << 20)  # type: ignore[arg-type]
                while header := reader.read(_PARKED.size):
                    size, label_id, line_no = _PARKED.unpack(header)
                    text = reader.read(size).decode("utf-8", "surrogatepass")
                    label = label_names[label_id]
                    line, chars = template.render(text, label)
                    try:
                        limits.check_rendered(chars, template.prompt_chars + len(text), len(label))
                    except RecordError as err:  # the instruction and label list made it too long
                        counts.accepted -= 1
                        label_totals[label] -= 1
                        reject(line_no, [text, label], err)
                        continue
                    lengths.add(chars)
                    writers[split].write(line, int(chars / limits.cpt) + 1, label)
                    on_disk += len(line)
                    if on_disk + parked_left > output_budget:
                        stopped_at, stop_kind, stop_reason = 1, "budget", _over_budget(output_budget, None)
                        break
                tmp.truncate(0)  # this split's parked records are written: their disk is free again
                parked_left -= size_of_split
        counts.copy_to(report.counts)
        emptied = sorted(k for k, v in label_totals.items() if not v)
        for label in emptied:
            del label_totals[label]
        if emptied:
            report.warnings.append(f"labels left with no record once every record was checked as written: "
                                   f"{', '.join(excerpt(k, 30) for k in emptied[:5])}; they stay in the prompts' "
                                   "label list")
        report.label_counts = dict(sorted(label_totals.items(), key=lambda kv: (-kv[1], kv[0])))
    for tmp in labelled_tmp:
        tmp.close()
    report.splits = {n: w.close() for n, w in zip(SPLIT_NAMES, writers, strict=True)}
    if listed[1]:
        report.warnings.append(f"rejected.jsonl lists the first {counts.rejected - listed[1]} rejected records; "
                               f"{listed[1]} more are counted in the report but not listed (it is capped at "
                               f"{rejected_budget:,} bytes)")
    report.rejected_listed = counts.rejected - listed[1]
    if stop_kind == "quota":
        stop_reason = (f"more than {quota} training + validation records (the quota for {model.model_id}); "
                       f"{report.counts.accepted} valid records in all. Raise the quota with AWS and set "
                       "max_records, or upload fewer records")
    if stopped_at:
        report.reject(stop_reason)
        report.warnings.append(f"records after line {stopped_at} were checked but not deduplicated, split or "
                               "written, because the dataset was already sure to be rejected")
    chars = lengths.summary()
    report.lengths = {"characters": chars, "estimated_tokens": {
        k: (None if v is None else round(v / limits.cpt) + 1) for k, v in chars.items()}}
    _judge(report, options, model, label_totals, prices, complete=stop_kind in ("", "quota"))


class _CountingDumps:
    """The JSON encoder of rejected.jsonl, remembering how many bytes its last line took: the file's budget is
    counted in what is written, without serialising an entry twice."""

    last_bytes = 0

    def __call__(self, entry: Any) -> str:
        line = _dumps(entry)
        self.last_bytes = len(line.encode("utf-8", "surrogatepass")) + 1
        return line


class _OutOfTime(Exception):  # noqa: N818 - a signal inside the validator
    def __init__(self, records: int) -> None:
        super().__init__(records)
        self.records = records


def _over_budget(budget: int, line: int | None) -> str:
    where = f" by line {line}" if line else ""
    return (f"the formatted dataset would take more than {budget >> 20:,} MiB{where}, what the validator may write "
            "in its working space; upload fewer or shorter records (or, for a stack you run, raise the validator's "
            "EphemeralStorage and WORK_DIR_BUDGET_MB)")


def _without_validation(ratios: tuple[float, float, float], options: DatasetOptions, model: BaseModel,
                        report: ValidationReport) -> tuple[float, float, float]:
    """The model's fine-tuning takes no validation set: its share goes to train or test, as the options say."""
    train, validation, test = ratios
    into = options.split.validation_into
    report.warnings.append(f"{model.model_id} takes no validation set: the validation share ({validation:.0%}) "
                           f"went to {into} (split.validation_into)")
    return (train + validation, 0.0, test) if into == "train" else (train, 0.0, test + validation)


def _warn_case_variants(report: ValidationReport, label_totals: dict[str, int]) -> None:
    groups: dict[str, list[str]] = {}
    for label in label_totals:
        groups.setdefault(label.casefold(), []).append(label)
    variants = [sorted(g) for g in groups.values() if len(g) > 1]
    if variants:
        shown = "; ".join(" / ".join(f"{excerpt(v, 30)} ({label_totals[v]})" for v in g) for g in variants[:5])
        report.warnings.append(f"labels that differ only by case are separate classes: {shown}; make them "
                               "consistent, or fix the label set with `labels` in the options")


def _judge(report: ValidationReport, options: DatasetOptions, model: BaseModel, label_totals: dict[str, int],
           prices: PriceTable, complete: bool = True) -> None:
    """Whole-dataset rules, after every record has been seen. `complete`: the splits were written (not when the
    dataset was stopped early), so the rules on their sizes apply."""
    counts = report.counts
    train, validation = report.splits["train"], report.splits["validation"]
    if counts.records_read == 0:
        report.reject(f"{report.source}: no records (the file has a header only, or nothing but blank lines)")
        return
    if counts.accepted == 0:
        report.reject(f"{report.source}: none of the {counts.records_read} records is valid; see rejected.jsonl")
        return
    if label_totals and len(label_totals) < 2:
        only = next(iter(label_totals))
        report.reject(f"only one label ({excerpt(only)}) in the data; a classifier needs at least two")
    invalid = counts.rejected - counts.duplicates
    considered = counts.accepted + invalid
    if considered and invalid / considered > options.max_rejected_fraction:
        encoding = counts.rejected_by_reason.get("encoding", 0)
        hint = (f"; {encoding} of them are not {report.input.encoding or 'UTF-8'} text: was the file saved in another "
                "encoding (Windows-1252, say)? Save it as UTF-8" if encoding * 2 > invalid else "")
        report.reject(f"{invalid} of {considered} records ({invalid / considered:.0%}) were rejected, more than "
                      f"max_rejected_fraction {options.max_rejected_fraction:.0%}{hint}; see rejected.jsonl")
    sent = train.records + validation.records
    if complete and sent < model.min_records:
        report.reject(f"{sent} training + validation records; {model.model_id} needs at least {model.min_records}")
    if options.max_records is None and model.max_training_records and train.records > model.max_training_records:
        report.reject(f"{train.records} training records; {model.model_id} accepts at most "
                      f"{model.max_training_records}")
    if train.bytes > model.max_training_bytes:
        report.reject(f"train.jsonl is {train.bytes} bytes; limit {model.max_training_bytes} for {model.model_id}")
    if validation.bytes > model.max_validation_bytes:
        report.reject(f"validation.jsonl is {validation.bytes} bytes; limit {model.max_validation_bytes}")
    _warn(report, label_totals)
    epochs = options.epochs
    price = model.price_per_1k_training_tokens_usd
    total = train.estimated_tokens * epochs
    training_usd = round(total / 1000 * price, 4) if price is not None else None
    deployment = options.deployment
    serving_max = prices.serving_usd(deployment.mode.value, deployment.model_units, deployment.max_hours)
    total_max = None if training_usd is None or serving_max is None else round(training_usd + serving_max, 4)
    report.estimated_cost = CostEstimate(
        training_tokens_per_epoch=train.estimated_tokens, epochs=epochs, training_tokens_total=total,
        price_per_1k_tokens_usd=price, usd=training_usd,
        price_source=PRICE_SOURCE if price is not None else "no published price in the table for this model",
        deployment_mode=deployment.mode.value, deployment_usd_max=serving_max, total_usd_max=total_max,
        ceiling_usd=options.cost_ceiling_usd,
    )
    ceiling = options.cost_ceiling_usd
    known = sum(v for v in (training_usd, serving_max) if v is not None)  # a part with no known price counts 0
    if ceiling is not None and known > ceiling:
        training = f"${training_usd:,.2f}" if training_usd is not None else "unknown (no published price)"
        report.reject(f"the estimated cost ${known:,.2f} (training {training} + serving up to "
                      f"${serving_max or 0:,.2f} for {deployment.max_hours:g} h) is over the cost ceiling "
                      f"${ceiling:,.2f} (cost_ceiling_usd / CostCeilingUsd); nothing was started")


def _warn(report: ValidationReport, label_totals: dict[str, int]) -> None:
    counts = report.counts
    if counts.duplicates:
        report.warnings.append(f"{counts.duplicates} duplicate records were dropped (see rejected.jsonl)")
    if counts.rejected - counts.duplicates:
        report.warnings.append(f"{counts.rejected - counts.duplicates} records were rejected (see rejected.jsonl)")
    if label_totals and len(label_totals) >= 2:
        most, least = max(label_totals.values()), min(label_totals.values())
        if most >= 5 * least:
            rare = min(label_totals, key=label_totals.__getitem__)
            report.warnings.append(f"class imbalance: the largest label has {most / least:.1f}x the records of "
                                   f"{rare!r} ({least}); consider more {rare!r} examples or macro-averaged metrics")
        train_labels = report.splits["train"].labels or {}
        thin = sorted(label for label in label_totals if train_labels.get(label, 0) < 10)
        if thin:
            report.warnings.append(f"labels with fewer than 10 training records: {', '.join(thin)}")
    if report.splits["validation"].records == 0:
        report.warnings.append("no validation records: the job will report no validation loss")
    test = report.splits["test"].records
    if test < 30:
        report.warnings.append(f"only {test} test records: the evaluation will be noisy")
