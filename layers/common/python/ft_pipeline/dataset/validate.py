"""Validate one uploaded dataset and write Bedrock-ready splits, in one streaming pass.

Outputs in `out_dir`: train.jsonl, validation.jsonl, test.jsonl (only when the dataset is accepted),
rejected.jsonl (every rejected record with its line, reason and original text) and report.json.
Memory: read buffers, the per-label split counters, and per accepted record one fingerprint for duplicate
detection and one length for the report (about 100 bytes in CPython), never the records themselves;
once a dataset is over its record quota nothing more is kept, so memory is bounded by the quota.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, BinaryIO

import jsonlines
from pydantic_core import from_json

from ft_pipeline.catalogue.base_models import PRICE_SOURCE, BaseModel, Family, OutputFormat
from ft_pipeline.catalogue.options import DatasetOptions
from ft_pipeline.catalogue.prices import PriceTable
from ft_pipeline.dataset.formatters import RENDERERS, labelled_to_example
from ft_pipeline.dataset.reader import Container, DatasetUnreadable, OpenedDataset, open_dataset
from ft_pipeline.dataset.records import (
    JSON_PARSERS,
    Example,
    InputFormat,
    RecordError,
    classify_json_record,
    csv_layout,
    parse_csv_row,
)
from ft_pipeline.dataset.report import CostEstimate, DatasetStatus, SplitSummary, ValidationReport
from ft_pipeline.dataset.splitter import SPLIT_NAMES, TRAIN, VALIDATION, StratifiedSplitter
from ft_pipeline.dataset.stats import LengthStats

MAX_DUPLICATE_EXAMPLES = 20
_LABEL_BITS = 20  # up to a million distinct labels
_LABEL_MASK = (1 << _LABEL_BITS) - 1
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # built once, not per record
_quote = json.encoder.encode_basestring  # C: a str as a JSON string literal, non-ASCII kept as is

csv.field_size_limit(1 << 30)  # a record may be long; the token limit, not the CSV module, rejects it


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
    """The record as it was in the file (a CSV row is written back as one CSV line)."""
    if isinstance(original, list):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(original)
        original = buffer.getvalue().encode("utf-8", "surrogateescape")
    if isinstance(original, bytes):
        return original.decode("utf-8", errors="backslashreplace")
    return original or ""


def _iter_jsonl(opened: OpenedDataset, seen_format: list[InputFormat]) -> Iterator[_Item]:
    file_format: InputFormat | None = None
    format_line = 0
    # pydantic-core's parser (Rust) is several times faster than json.loads and rejects NaN/Infinity,
    # which are not JSON and which Bedrock would not read
    loads = partial(from_json, allow_inf_nan=False)
    for line_no, raw in enumerate(opened.stream, start=1):
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
            elif fmt is not file_format:
                raise RecordError(
                    f"record is {fmt.value} but the file is {file_format.value} (set by line {format_line}); "
                    "one file must use one format", code="mixed-formats")
            yield _Item(line_no, stripped, example=JSON_PARSERS[fmt](obj))
        except RecordError as err:
            yield _Item(line_no, stripped, error=err)


class _CsvHeaderError(ValueError):
    pass


def _iter_csv(opened: OpenedDataset, options: DatasetOptions, seen_format: list[InputFormat]) -> Iterator[_Item]:
    # surrogateescape keeps undecodable bytes visible so that the one record holding them is rejected
    text = io.TextIOWrapper(opened.stream, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise _CsvHeaderError(f"line 1: unreadable CSV header ({exc})") from None
    cols = options.csv_columns
    try:
        layout = csv_layout(header, cols.text, cols.label, cols.prompt, cols.completion)
    except ValueError as exc:
        raise _CsvHeaderError(str(exc)) from None
    seen_format.append(layout.input_format)
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last_line = reader.line_num
            yield _Item(start, None, error=RecordError(f"malformed CSV: {exc}", code="csv-syntax"))
            continue
        last_line = reader.line_num
        if not row or all(not field.strip() for field in row):
            yield _Item(start, None)
            continue
        if not all(field.isascii() for field in row) and not all(_is_utf8(field) for field in row):
            yield _Item(start, row, error=RecordError("invalid UTF-8 in this record", code="encoding"))
            continue
        try:
            yield _Item(start, row, example=parse_csv_row(row, layout))
        except RecordError as err:
            yield _Item(start, row, error=err)


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
        chars = 0
        for value in texts:
            chars += len(value)
        tokens = int(chars / self.cpt) + 1
        if tokens > self.max_tokens:
            raise RecordError(f"record too long: about {tokens} tokens ({chars} characters), limit "
                              f"{self.max_tokens} for {self.model.model_id}", code="too-long")
        m = self.model
        if turns and (m.max_input_tokens or m.max_output_tokens):
            inp = int(sum(len(t) for r, t in turns if r == "user") / self.cpt) + 1
            out = int(sum(len(t) for r, t in turns if r == "assistant") / self.cpt) + 1
            if m.max_input_tokens and inp > m.max_input_tokens:
                raise RecordError(f"prompt too long: about {inp} tokens, limit {m.max_input_tokens}",
                                  code="too-long")
            if m.max_output_tokens and out > m.max_output_tokens:
                raise RecordError(f"completion too long: about {out} tokens, limit {m.max_output_tokens}",
                                  code="too-long")
        return chars

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


_PARKED = struct.Struct("<II")  # text length, label id


class _LabelledTemplate:
    """Renders labelled records by filling a pre-rendered JSON template: the instruction, label list and
    system prompt are the same in every record, so only the text and label need escaping."""

    _TEXT, _LABEL = "\x00text\x00", "\x00label\x00"

    def __init__(self, render: Any, system: str | None, labels: list[str]) -> None:
        sample = render(labelled_to_example(self._TEXT, self._LABEL, labels), system)
        encoded = _dumps(sample)
        text_at, label_at = encoded.index(_dumps(self._TEXT)[1:-1]), encoded.index(_dumps(self._LABEL)[1:-1])
        if text_at > label_at:
            raise AssertionError("the label must follow the text in a rendered record")
        esc_text, esc_label = len(_dumps(self._TEXT)) - 2, len(_dumps(self._LABEL)) - 2
        self._head = encoded[:text_at]
        self._mid = encoded[text_at + esc_text:label_at]
        self._tail = encoded[label_at + esc_label:] + "\n"
        prompt = labelled_to_example("", "", labels).turns[0][1]
        self._fixed_chars = len(prompt) + len(system or "")

    def render(self, text: str, label: str) -> tuple[bytes, int]:
        line = self._head + _quote(text)[1:-1] + self._mid + _quote(label)[1:-1] + self._tail
        return line.encode("utf-8", "surrogatepass"), self._fixed_chars + len(text) + len(label)


class _SplitWriter:
    """Writes records to one split file and counts them."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._fp: IO[bytes] = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 - closed in close()
        self.records = 0
        self.tokens = 0
        self.label_counts: dict[str, int] = {}

    def write(self, line: bytes, tokens: int, label: str | None) -> None:
        self._fp.write(line)
        self.records += 1
        self.tokens += tokens
        if label is not None:
            self.label_counts[label] = self.label_counts.get(label, 0) + 1

    def close(self) -> SplitSummary:
        self._fp.close()
        return SplitSummary(file=self.name, records=self.records, bytes=self.path.stat().st_size,
                            estimated_tokens=self.tokens,
                            labels=dict(sorted(self.label_counts.items())) if self.label_counts else None)


def validate_dataset(source: BinaryIO, *, name: str, dataset_id: str, options: DatasetOptions,
                     out_dir: Path, prices: PriceTable | None = None) -> ValidationReport:
    """Stream `source`, write the outputs to `out_dir` and return the report (also written as report.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = options.model
    report = ValidationReport(dataset_id=dataset_id, source=name, base_model=model.model_id,
                              family=model.family.value, output_format=model.output_format.value,
                              options=options.model_dump(mode="json"))
    with jsonlines.open(out_dir / "rejected.jsonl", mode="w", dumps=_dumps, flush=False) as rejected:
        try:
            _validate_into(source, name, options, model, out_dir, report, rejected, prices or PriceTable())
        except DatasetUnreadable as exc:
            report.reject(str(exc))
    report.accounting_balanced = report.counts.balanced
    if not report.accounting_balanced:  # a bug, never the user's fault: fail loudly rather than lose records
        report.reject("internal error: accepted + rejected + blank does not equal records read")
    if report.status is DatasetStatus.REJECTED:
        for split in ("train.jsonl", "validation.jsonl", "test.jsonl"):
            (out_dir / split).unlink(missing_ok=True)
    (out_dir / "report.json").write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return report


def _validate_into(source: BinaryIO, name: str, options: DatasetOptions, model: BaseModel, out_dir: Path,
                   report: ValidationReport, rejected: jsonlines.Writer, prices: PriceTable) -> None:
    opened = open_dataset(source, name)
    report.input.container, report.input.gzip, report.input.bom = opened.container.value, opened.gzip, opened.bom
    counts = _Tally()  # plain counters in the hot loop; copied into the report at the end
    limits = _Limits(model, options)
    fixed_labels = set(options.labels) if options.labels else None
    caps = (None, model.max_validation_records, None)  # validation overflow goes to train
    splitter = StratifiedSplitter(options.split.as_tuple(), caps, options.seed)
    seen: dict[int, int] = {}  # fingerprint -> first line << _LABEL_BITS | label id
    label_ids: dict[str, int] = {}
    label_names: list[str] = []
    quota = options.max_records or model.max_records
    over_quota_from = 0
    label_totals: dict[str, int] = {}
    input_format: list[InputFormat] = []
    render = RENDERERS[model.output_format]
    system = options.system_prompt
    writers = [_SplitWriter(out_dir / f"{n}.jsonl", f"{n}.jsonl") for n in SPLIT_NAMES]
    lengths = LengthStats()
    # records already in the model's format are written byte for byte: nothing to convert, nothing to lose
    passthrough_format = {OutputFormat.CONVERSATION_2024: InputFormat.CONVERSATION_2024,
                          OutputFormat.CLAUDE_MESSAGES: InputFormat.CLAUDE_MESSAGES,
                          OutputFormat.PROMPT_COMPLETION: InputFormat.PROMPT_COMPLETION}[model.output_format]
    labelled_tmp = [tempfile.TemporaryFile(dir=out_dir) for _ in SPLIT_NAMES]  # noqa: SIM115 - closed below

    def reject(item: _Item, err: RecordError) -> None:
        counts.rejected += 1
        counts.rejected_by_reason[err.code] = counts.rejected_by_reason.get(err.code, 0) + 1
        rejected.write({"line": item.line, "reason": err.reason, "code": err.code, "field": err.field,
                        "original": _original_text(item.original)})

    def emit(split: int, example: Example, label: str | None, chars: int, raw: bytes | None = None) -> None:
        if raw is None:
            raw = _dumps(render(example, system)).encode()
            if system and not example.system:
                chars += len(system)
        lengths.add(chars)
        writers[split].write(raw + b"\n", int(chars / limits.cpt) + 1, label)

    single_turn_only = model.output_format is OutputFormat.PROMPT_COMPLETION
    totals = splitter.totals
    passthrough: bool | None = None  # known once the first record has fixed the file's format
    try:
        items = (_iter_jsonl(opened, input_format) if opened.container is Container.JSONL
                 else _iter_csv(opened, options, input_format))
        for item in items:
            counts.records_read += 1
            if item.example is None and item.error is None:
                counts.blank += 1
                continue
            if item.error is not None:
                reject(item, item.error)
                continue
            example = item.example
            assert example is not None
            try:
                chars = limits.check(example)
                if example.label is not None and fixed_labels is not None and example.label not in fixed_labels:
                    raise RecordError(f"label {example.label!r} is not one of the configured labels", field="label",
                                      code="unknown-label")
                if single_turn_only and example.turns and len(example.turns) != 2:
                    render(example, system)  # raises the multi-turn error
            except RecordError as err:
                reject(item, err)
                continue
            if over_quota_from:
                # the dataset is over its record quota and will be rejected: keep counting and checking
                # records for the report, but stop indexing and writing them, so memory stays bounded
                counts.accepted += 1
                if example.label is not None:
                    label_totals[example.label] = label_totals.get(example.label, 0) + 1
                continue
            fp = _fingerprint(example)
            first = seen.get(fp)
            if first is not None:
                first_line, first_label = first >> _LABEL_BITS, first & _LABEL_MASK
                if example.label is not None and label_ids.get(example.label) != first_label:
                    err = RecordError(f"same text as line {first_line} with a different label "
                                      f"({label_names[first_label]!r} there, {example.label!r} here)",
                                      code="label-conflict")
                else:
                    err = RecordError(f"duplicate of line {first_line}", code="duplicate")
                    counts.duplicates += 1
                    if len(report.duplicate_examples) < MAX_DUPLICATE_EXAMPLES:
                        report.duplicate_examples.append({"line": item.line, "duplicate_of": first_line})
                reject(item, err)
                continue
            label_id = 0
            if example.label is not None:
                label_id = label_ids.get(example.label, -1)
                if label_id < 0:
                    label_id = label_ids[example.label] = len(label_names)
                    label_names.append(example.label)
            seen[fp] = (item.line << _LABEL_BITS) | label_id  # one int per record: line and label together
            if example.label is not None:
                label_totals[example.label] = label_totals.get(example.label, 0) + 1
            split = splitter.assign(example.label)
            counts.accepted += 1
            if totals[TRAIN] + totals[VALIDATION] > quota:
                over_quota_from = item.line
            if example.label is not None:
                # the prompt names the whole label set, known only at the end: park the record until then
                text = (example.text or "").encode("utf-8", "surrogatepass")
                labelled_tmp[split].write(_PARKED.pack(len(text), label_id) + text)
            else:
                if passthrough is None:
                    passthrough = opened.container is Container.JSONL and input_format[0] is passthrough_format
                emit(split, example, None, chars,
                     item.original if passthrough and (system is None or example.system is not None) else None)
    except _CsvHeaderError as exc:
        raise DatasetUnreadable(f"{name}: {exc}") from None
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip mid-file
        raise DatasetUnreadable(f"{name}: could not read past record {counts.records_read} ({exc})") from None
    finally:
        counts.copy_to(report.counts)
        report.input.bytes_read = opened.counter.bytes_read
        if input_format:
            report.input.input_format = input_format[0].value

    if label_totals:
        labels = list(options.labels) if options.labels else sorted(label_totals)
        report.labels = labels
        report.label_counts = dict(sorted(label_totals.items(), key=lambda kv: (-kv[1], kv[0])))
        template = _LabelledTemplate(render, system, labels)
        for split, tmp in enumerate(labelled_tmp):
            tmp.seek(0)
            reader = io.BufferedReader(tmp, 1 << 20)  # type: ignore[arg-type]
            while header := reader.read(_PARKED.size):
                size, label_id = _PARKED.unpack(header)
                text = reader.read(size).decode("utf-8", "surrogatepass")
                label = label_names[label_id]
                line, chars = template.render(text, label)
                lengths.add(chars)
                writers[split].write(line, int(chars / limits.cpt) + 1, label)
    for tmp in labelled_tmp:
        tmp.close()
    report.splits = {n: w.close() for n, w in zip(SPLIT_NAMES, writers, strict=True)}
    if over_quota_from:
        report.reject(f"more than {quota} training + validation records (the quota for {model.model_id}); "
                      f"{report.counts.accepted} valid records in all. Raise the quota with AWS and set max_records, "
                      "or upload fewer records")
        report.warnings.append(f"records after line {over_quota_from} were checked but not deduplicated or split, "
                               "because the dataset was already over its record quota")
    chars = lengths.summary()
    report.lengths = {"characters": chars, "estimated_tokens": {
        k: (None if v is None else round(v / limits.cpt) + 1) for k, v in chars.items()}}
    _judge(report, options, model, label_totals, prices)


def _judge(report: ValidationReport, options: DatasetOptions, model: BaseModel, label_totals: dict[str, int],
           prices: PriceTable) -> None:
    """Whole-dataset rules, after every record has been seen."""
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
        report.reject(f"only one label ({only!r}) in the data; a classifier needs at least two")
    invalid = counts.rejected - counts.duplicates
    considered = counts.accepted + invalid
    if considered and invalid / considered > options.max_rejected_fraction:
        report.reject(f"{invalid} of {considered} records ({invalid / considered:.0%}) were rejected, more than "
                      f"max_rejected_fraction {options.max_rejected_fraction:.0%}; see rejected.jsonl")
    sent = train.records + validation.records
    if sent < model.min_records:
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
