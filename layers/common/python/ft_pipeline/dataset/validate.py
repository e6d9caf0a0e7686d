"""Validate one uploaded dataset and write Bedrock-ready splits, in one streaming pass.

Outputs in `out_dir`: train.jsonl, validation.jsonl, test.jsonl (only when the dataset is accepted),
rejected.jsonl (every rejected record with its line, reason and original text) and report.json.
Memory: one read buffer, the per-label split counters, and one 8-byte fingerprint per accepted
record for duplicate detection (about 100 bytes each in CPython), never the records themselves.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, BinaryIO

import jsonlines

from ft_pipeline.dataset.base_models import PRICE_SOURCE, BaseModel, Family
from ft_pipeline.dataset.formatters import RENDERERS, labelled_to_example
from ft_pipeline.dataset.options import DatasetOptions
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

OUTPUT_FILES = ("train.jsonl", "validation.jsonl", "test.jsonl", "rejected.jsonl", "report.json")
MAX_DUPLICATE_EXAMPLES = 20
_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))

csv.field_size_limit(1 << 30)  # a record may be long; the token limit, not the CSV module, rejects it


@dataclass(slots=True)
class _Item:
    """One input record: blank, rejected (error set) or parsed (example set)."""

    line: int
    original: str | bytes | None
    example: Example | None = None
    error: RecordError | None = None


def _original_text(original: str | bytes | None) -> str:
    if isinstance(original, bytes):
        return original.decode("utf-8", errors="backslashreplace")
    return original or ""


def _iter_jsonl(opened: OpenedDataset, seen_format: list[InputFormat]) -> Iterator[_Item]:
    file_format: InputFormat | None = None
    format_line = 0
    loads = json.loads
    for line_no, raw in enumerate(opened.stream, start=1):
        stripped = raw.strip()
        if not stripped:
            yield _Item(line_no, None)
            continue
        try:
            obj = loads(stripped)
        except UnicodeDecodeError as exc:
            yield _Item(line_no, stripped, error=RecordError(f"invalid UTF-8 at byte {exc.start}", code="encoding"))
            continue
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            col = getattr(exc, "colno", None)
            where = f" at column {col}" if col else ""
            yield _Item(line_no, stripped, error=RecordError(f"invalid JSON: {msg}{where}", code="invalid-json"))
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
        original = ",".join(row)
        if not row or all(not field.strip() for field in row):
            yield _Item(start, None)
            continue
        if any("\udc80" <= ch <= "\udcff" for ch in original):
            yield _Item(start, original.encode("utf-8", "surrogateescape"),
                        error=RecordError("invalid UTF-8 in this record", code="encoding"))
            continue
        try:
            yield _Item(start, original, example=parse_csv_row(row, layout))
        except RecordError as err:
            yield _Item(start, original, error=err)


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

    def check(self, example: Example) -> None:
        texts: list[tuple[str, str]] = []
        if example.system:
            texts.append(("system", example.system))
        if example.turns:
            texts += [(f"messages[{i}]", t) for i, (_, t) in enumerate(example.turns)]
        else:
            texts += [("text", example.text or ""), ("label", example.label or "")]
        if self.reserved:
            for where, value in texts:
                for token in self.reserved:
                    if token in value:
                        raise RecordError(f"reserved string {token!r} in {where}; {self.model.family.value} "
                                          "customization jobs fail on it", field=where, code="reserved-string")
        chars = sum(len(v) for _, v in texts)
        tokens = int(chars / self.cpt) + 1
        if tokens > self.max_tokens:
            raise RecordError(f"record too long: about {tokens} tokens ({chars} characters), limit "
                              f"{self.max_tokens} for {self.model.model_id}", code="too-long")
        m = self.model
        if example.turns and (m.max_input_tokens or m.max_output_tokens):
            inp = int(sum(len(t) for r, t in example.turns if r == "user") / self.cpt) + 1
            out = int(sum(len(t) for r, t in example.turns if r == "assistant") / self.cpt) + 1
            if m.max_input_tokens and inp > m.max_input_tokens:
                raise RecordError(f"prompt too long: about {inp} tokens, limit {m.max_input_tokens}",
                                  code="too-long")
            if m.max_output_tokens and out > m.max_output_tokens:
                raise RecordError(f"completion too long: about {out} tokens, limit {m.max_output_tokens}",
                                  code="too-long")


def _fingerprint(example: Example) -> int:
    if example.turns:
        key = (example.system or "") + "\x1e" + "\x1f".join(f"{r}\x1d{t}" for r, t in example.turns)
    else:
        key = " ".join((example.text or "").casefold().split())
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


class _SplitWriter:
    """Writes rendered records to one split file and keeps its statistics."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self._fp: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._writer = jsonlines.Writer(self._fp, dumps=_dumps, flush=False)
        self.summary = SplitSummary(file=name)
        self.label_counts: dict[str, int] = {}

    def write(self, record: dict[str, Any], tokens: int, label: str | None) -> None:
        self._writer.write(record)
        self.summary.records += 1
        self.summary.estimated_tokens += tokens
        if label is not None:
            self.label_counts[label] = self.label_counts.get(label, 0) + 1

    def close(self) -> None:
        self._writer.close()
        self._fp.close()
        self.summary.bytes = self.path.stat().st_size
        if self.label_counts:
            self.summary.labels = dict(sorted(self.label_counts.items()))


def validate_dataset(source: BinaryIO, *, name: str, dataset_id: str, options: DatasetOptions,
                     out_dir: Path) -> ValidationReport:
    """Stream `source`, write the outputs to `out_dir` and return the report (also written as report.json)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = options.model
    report = ValidationReport(dataset_id=dataset_id, source=name, base_model=model.model_id,
                              family=model.family.value, output_format=model.output_format.value,
                              options=options.model_dump(mode="json"))
    with jsonlines.open(out_dir / "rejected.jsonl", mode="w", dumps=_dumps, flush=False) as rejected:
        try:
            _validate_into(source, name, options, model, out_dir, report, rejected)
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
                   report: ValidationReport, rejected: jsonlines.Writer) -> None:
    opened = open_dataset(source, name)
    report.input.container, report.input.gzip, report.input.bom = opened.container.value, opened.gzip, opened.bom
    counts = report.counts
    limits = _Limits(model, options)
    fixed_labels = set(options.labels) if options.labels else None
    caps = (None, model.max_validation_records, None)  # validation overflow goes to train
    splitter = StratifiedSplitter(options.split.as_tuple(), caps, options.seed)
    seen: dict[int, int] = {}  # fingerprint -> first line (or -line for labelled text, with its label below)
    seen_label: dict[int, str] = {}
    label_totals: dict[str, int] = {}
    input_format: list[InputFormat] = []
    render = RENDERERS[model.output_format]
    system = options.system_prompt
    writers = [_SplitWriter(out_dir / f"{n}.jsonl", f"{n}.jsonl") for n in SPLIT_NAMES]
    chars_stats, token_stats = LengthStats(), LengthStats()
    labelled_tmp = [tempfile.TemporaryFile(dir=out_dir) for _ in SPLIT_NAMES]  # noqa: SIM115 - closed below

    def reject(item: _Item, err: RecordError) -> None:
        counts.rejected += 1
        counts.rejected_by_reason[err.code] = counts.rejected_by_reason.get(err.code, 0) + 1
        rejected.write({"line": item.line, "reason": err.reason, "code": err.code, "field": err.field,
                        "original": _original_text(item.original)})

    def emit(split: int, example: Example, label: str | None) -> None:
        record = render(example, system)
        chars = (len(example.system or system or "") + sum(len(t) for _, t in example.turns))
        tokens = int(chars / limits.cpt) + 1
        chars_stats.add(chars)
        token_stats.add(tokens)
        writers[split].write(record, tokens, label)

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
                limits.check(example)
                if example.label is not None and fixed_labels is not None and example.label not in fixed_labels:
                    raise RecordError(f"label {example.label!r} is not one of the configured labels", field="label",
                                      code="unknown-label")
                if example.turns and model.output_format.value == "prompt-completion" and len(example.turns) != 2:
                    render(example, system)  # raises the multi-turn error
            except RecordError as err:
                reject(item, err)
                continue
            fp = _fingerprint(example)
            first = seen.get(fp)
            if first is not None:
                if example.label is not None and seen_label.get(fp) != example.label:
                    err = RecordError(f"same text as line {first} with a different label "
                                      f"({seen_label.get(fp)!r} there, {example.label!r} here)", code="label-conflict")
                else:
                    err = RecordError(f"duplicate of line {first}", code="duplicate")
                    counts.duplicates += 1
                    if len(report.duplicate_examples) < MAX_DUPLICATE_EXAMPLES:
                        report.duplicate_examples.append({"line": item.line, "duplicate_of": first})
                reject(item, err)
                continue
            seen[fp] = item.line
            if example.label is not None:
                seen_label[fp] = example.label
                label_totals[example.label] = label_totals.get(example.label, 0) + 1
            split = splitter.assign(example.label)
            counts.accepted += 1
            if example.label is not None:
                # the prompt names the whole label set, known only at the end: park the record until then
                labelled_tmp[split].write((_dumps([example.text, example.label]) + "\n").encode())
            else:
                emit(split, example, None)
    except _CsvHeaderError as exc:
        raise DatasetUnreadable(f"{name}: {exc}") from None
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip mid-file
        raise DatasetUnreadable(f"{name}: could not read past record {counts.records_read} ({exc})") from None
    finally:
        report.input.bytes_read = opened.counter.bytes_read
        if input_format:
            report.input.input_format = input_format[0].value

    if label_totals:
        labels = list(options.labels) if options.labels else sorted(label_totals)
        report.labels = labels
        report.label_counts = dict(sorted(label_totals.items(), key=lambda kv: (-kv[1], kv[0])))
        for split, tmp in enumerate(labelled_tmp):
            tmp.seek(0)
            for line in tmp:
                text, label = json.loads(line)
                emit(split, labelled_to_example(text, label, labels), label)
    for tmp in labelled_tmp:
        tmp.close()
    for writer in writers:
        writer.close()
    report.splits = {n: w.summary for n, w in zip(SPLIT_NAMES, writers, strict=True)}
    report.lengths = {"characters": chars_stats.summary(), "estimated_tokens": token_stats.summary()}
    _judge(report, options, model, label_totals, writers)


def _judge(report: ValidationReport, options: DatasetOptions, model: BaseModel, label_totals: dict[str, int],
           writers: list[_SplitWriter]) -> None:
    """Whole-dataset rules, after every record has been seen."""
    counts = report.counts
    train, validation = writers[TRAIN].summary, writers[VALIDATION].summary
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
    max_records = options.max_records or model.max_records
    if sent < model.min_records:
        report.reject(f"{sent} training + validation records; {model.model_id} needs at least {model.min_records}")
    if sent > max_records:
        report.reject(f"{sent} training + validation records; the quota for {model.model_id} is {max_records} "
                      "(raise it with AWS and set max_records in the options)")
    if options.max_records is None and model.max_training_records and train.records > model.max_training_records:
        report.reject(f"{train.records} training records; {model.model_id} accepts at most "
                      f"{model.max_training_records}")
    if train.bytes > model.max_training_bytes:
        report.reject(f"train.jsonl is {train.bytes} bytes; limit {model.max_training_bytes} for {model.model_id}")
    if validation.bytes > model.max_validation_bytes:
        report.reject(f"validation.jsonl is {validation.bytes} bytes; limit {model.max_validation_bytes}")
    _warn(report, label_totals, writers)
    epochs = options.epochs
    price = model.price_per_1k_training_tokens_usd
    total = train.estimated_tokens * epochs
    report.estimated_cost = CostEstimate(
        training_tokens_per_epoch=train.estimated_tokens, epochs=epochs, training_tokens_total=total,
        price_per_1k_tokens_usd=price, usd=round(total / 1000 * price, 4) if price is not None else None,
        price_source=PRICE_SOURCE if price is not None else "no published price in the table for this model",
    )


def _warn(report: ValidationReport, label_totals: dict[str, int], writers: list[_SplitWriter]) -> None:
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
        train_labels = writers[TRAIN].label_counts
        thin = sorted(label for label in label_totals if train_labels.get(label, 0) < 10)
        if thin:
            report.warnings.append(f"labels with fewer than 10 training records: {', '.join(thin)}")
    if writers[VALIDATION].summary.records == 0:
        report.warnings.append("no validation records: the job will report no validation loss")
    test = writers[2].summary.records
    if test < 30:
        report.warnings.append(f"only {test} test records: the evaluation will be noisy")


def output_paths(out_dir: Path) -> dict[str, Path]:
    return {name: out_dir / name for name in OUTPUT_FILES if (out_dir / name).exists()}

