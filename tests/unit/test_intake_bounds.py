"""Intake that cannot be broken by its input: memory follows the record cap, outputs follow their budgets."""

from __future__ import annotations

import io
import tracemalloc
import zlib
from pathlib import Path

import pytest

from ft_pipeline.catalogue.options import DatasetOptions
from ft_pipeline.dataset.report import DatasetStatus
from ft_pipeline.dataset.validate import ORIGINAL_EXCERPT_CHARS, RECORD_CAP, validate_dataset
from tests.conftest import conversation, jsonl, read_jsonl

LABELS = ["business", "science", "health", "entertainment"]


def gzip_stream(*parts: tuple[bytes, int]) -> bytes:
    """gzip of each `bytes` repeated `n` times, compressed piece by piece (the input never exists whole)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [deflate.compress(chunk) for chunk, times in parts for _ in range(times)]
    return b"".join(out) + deflate.flush()


def peak_allocated(data: bytes, tmp_path: Path, **options) -> tuple[int, object]:
    tracemalloc.start()
    try:
        report = validate_dataset(io.BytesIO(data), name="upload", dataset_id="bounds", out_dir=tmp_path / "out",
                                  options=DatasetOptions(**options))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, report


def test_one_endless_json_line_costs_the_record_cap_not_its_length(tmp_path):
    good = jsonl([conversation(f"question {i}", f"answer {i}") for i in range(20)])
    more = jsonl([conversation(f"question {i}", f"answer {i}") for i in range(20, 40)])
    endless = b'{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "'
    data = gzip_stream((good, 1), (endless, 1), (b"a" * (1 << 20), 200), (b'"}]}]}\n', 1), (more, 1))
    assert len(data) < 1 << 20  # a 200 MB line in a small upload: a compression bomb
    peak, report = peak_allocated(data, tmp_path)
    assert peak < 24 << 20, f"peak {peak >> 20} MiB for a 200 MiB line"
    assert report.counts.records_read == 41 and report.counts.balanced
    (rejected,) = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert rejected["line"] == 21 and rejected["code"] == "too-long"
    assert f"over {RECORD_CAP:,} bytes" in rejected["reason"]
    assert len(rejected["original"]) <= ORIGINAL_EXCERPT_CHARS and rejected["original_truncated"]


def test_one_endless_csv_field_costs_the_record_cap_not_its_length(tmp_path):
    rows = "".join(f"headline {i},{LABELS[i % 4]}\n" for i in range(40)).encode()
    more = "".join(f"headline {i},{LABELS[i % 4]}\n" for i in range(40, 80)).encode()
    data = gzip_stream((b"text,label\n" + rows, 1), (b"x" * (1 << 20), 100), (b",science\n", 1), (more, 1))
    peak, report = peak_allocated(data, tmp_path)
    assert peak < 24 << 20, f"peak {peak >> 20} MiB for a 100 MiB field"
    assert report.counts.records_read == 81 and report.counts.rejected_by_reason == {"too-long": 1}


def test_an_unclosed_quote_costs_the_record_cap_and_the_lines_after_it_are_read(tmp_path):
    rows = "".join(f"headline {i},{LABELS[i % 4]}\n" for i in range(40)).encode()
    more = "".join(f"headline {i},{LABELS[i % 4]}\n" for i in range(40, 80)).encode()
    long_lines = b"".join(f"more text on line {i}, still inside\n".encode() for i in range(100))
    data = gzip_stream((b"text,label\n" + rows + b'"an unclosed quote,business\n', 1), (long_lines, 400), (more, 1))
    peak, report = peak_allocated(data, tmp_path, max_rejected_fraction=1.0)
    assert peak < 24 << 20
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert rejected[0]["line"] == 42 and rejected[0]["code"] == "unbalanced-quote"
    assert "unbalanced quote on line 42" in rejected[0]["reason"]
    assert report.counts.records_read == 40 + 1 + 40_000 + 40 and report.counts.balanced


def test_rejected_records_are_listed_up_to_a_budget_and_counted_exactly(tmp_path):
    bad = b'{"question": "' + b"q" * 10_000 + b'"}\n'
    data = gzip_stream((jsonl([conversation(f"q{i}", f"a{i}") for i in range(30)]), 1), (bad, 5_000))
    report = validate_dataset(io.BytesIO(data), name="bomb.jsonl.gz", dataset_id="b", out_dir=tmp_path / "out",
                              options=DatasetOptions(), rejected_budget=1 << 20)
    assert report.counts.rejected == 5_000 and report.counts.balanced
    listed = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert 0 < len(listed) == report.rejected_listed < 5_000
    assert (tmp_path / "out" / "rejected.jsonl").stat().st_size < 2 << 20
    assert all(len(r["original"]) <= ORIGINAL_EXCERPT_CHARS for r in listed)
    assert any("counted in the report but not listed" in w for w in report.warnings)


def test_a_dataset_that_would_overflow_the_work_space_is_rejected_before_it_does(tmp_path):
    data = jsonl([conversation(f"question {i} " + "word " * 200, f"answer {i}") for i in range(2_000)])
    out = tmp_path / "out"
    report = validate_dataset(io.BytesIO(data), name="big.jsonl", dataset_id="b", out_dir=out,
                              options=DatasetOptions(), output_budget=500_000)
    assert report.status is DatasetStatus.REJECTED
    assert any("would take more than" in r and "working space" in r for r in report.reasons)
    assert report.counts.accepted == 2_000 and report.counts.balanced
    assert sum(p.stat().st_size for p in out.iterdir()) < 2 * 500_000


def test_labelled_output_is_checked_against_the_budget_before_it_is_written(tmp_path):
    # the instruction and label list go into every record: the output is many times the input
    labels = [f"category number {i:03d} of a long taxonomy" for i in range(200)]
    rows = "text,label\n" + "".join(f"t{i},{labels[i % 200]}\n" for i in range(4_000))
    out = tmp_path / "out"
    report = validate_dataset(io.BytesIO(rows.encode()), name="l.csv", dataset_id="b", out_dir=out,
                              options=DatasetOptions(), output_budget=2_000_000)
    assert report.status is DatasetStatus.REJECTED
    assert any("would take more than" in r for r in report.reasons), report.reasons
    assert not (out / "train.jsonl").exists()


def test_too_many_labels_stop_the_dataset_and_memory_stays_bounded(validate):
    rows = "text,label\n" + "".join(f"text number {i},label {i}\n" for i in range(3_000))
    report, out = validate(rows.encode(), name="wide.csv")
    assert report.status is DatasetStatus.REJECTED
    assert any("more than 250 distinct labels" in r for r in report.reasons)
    assert len(report.label_counts or {}) <= 251 and report.counts.balanced
    assert not any("needs at least" in r for r in report.reasons)  # no misleading second reason


def test_a_labelled_record_is_checked_as_written_with_its_instruction(validate):
    # Nova: 32,000 tokens at 4 characters a token; the text alone fits, with the instruction it does not
    limit_chars = 32_000 * 4
    near = "w" * (limit_chars - 40)
    rows = "text,label\n" + "".join(f"short {i},{LABELS[i % 4]}\n" for i in range(40)) + f"{near},science\n"
    report, out = validate(rows.encode(), name="t.csv")
    (rejected,) = read_jsonl(out / "rejected.jsonl")
    assert rejected["line"] == 42 and rejected["code"] == "too-long"
    assert "as written" in rejected["reason"] and "instruction" in rejected["reason"]
    assert report.counts.accepted == 40 and report.counts.rejected == 1 and report.counts.balanced
    assert sum(report.label_counts.values()) == 40


def test_the_stack_system_prompt_counts_against_each_record_limit(validate):
    records = [conversation(f"q{i}", f"a{i}") for i in range(30)] + [conversation("x" * (32_000 * 4 - 3_000), "y")]
    report, _ = validate(jsonl(records))
    assert report.counts.rejected == 0
    report, out = validate(jsonl(records), system_prompt="Be brief. " * 500)
    assert report.counts.rejected_by_reason == {"too-long": 1}


@pytest.mark.parametrize("first", [
    '"Jane Doe lives at 12 Main Street, mail jane@example.com",business',
    "jane.doe@example.com,Jane Doe,123-45-6789,+1 555 0100,4111111111111111,positive",
    "x" * 600_000 + ",business",
])
def test_a_headerless_or_wide_csv_is_not_copied_into_the_reason(validate, first):
    report, _ = validate((first + "\nanother row,science\n").encode(), name="h.csv")
    assert report.status is DatasetStatus.REJECTED
    (reason,) = report.reasons
    for private in ("jane", "Jane", "6789", "4111", "0100", "xxxxx"):
        assert private not in reason
    assert len(reason) < 600 and "looks like data, not a header" in reason
