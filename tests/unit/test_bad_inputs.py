"""The bad-input corpus (tests/fixtures/bad_inputs, made by make_bad_inputs.py): each file, one clear outcome."""

import pytest

from ft_pipeline.dataset.report import DatasetStatus
from tests.conftest import BAD_INPUTS, read_jsonl

# file -> (dataset status, text in the reasons or None, {rejected code: count})
CORPUS = {
    "empty.jsonl": (DatasetStatus.REJECTED, "the file is empty", {}),
    "header_only.csv": (DatasetStatus.REJECTED, "no records (the file has a header only", {}),
    "binary.csv": (DatasetStatus.REJECTED, "binary content (NUL byte at offset 8)", {}),
    "utf16.csv": (DatasetStatus.VALIDATED, None, {}),  # Excel's "Unicode text": decoded, with a warning
    "json_array.jsonl": (DatasetStatus.REJECTED, "starts a JSON array", {}),
    "invalid_json_lines.jsonl": (DatasetStatus.VALIDATED, None, {"invalid-json": 2}),
    "wrong_schema.jsonl": (DatasetStatus.REJECTED, "none of the 20 records is valid", {"wrong-schema": 20}),
    "roles_out_of_order.jsonl": (DatasetStatus.VALIDATED, None, {"roles": 1}),
    "missing_labels.csv": (DatasetStatus.VALIDATED, None, {"missing-label": 1}),
    "one_label.csv": (DatasetStatus.REJECTED, "only one label ('business')", {}),
    "reserved_strings.jsonl": (DatasetStatus.VALIDATED, None, {"reserved-string": 1}),
    "oversized_record.jsonl": (DatasetStatus.VALIDATED, None, {"too-long": 1}),
    "too_few_records.jsonl": (DatasetStatus.REJECTED, "needs at least 8", {}),
    "duplicate_records.jsonl": (DatasetStatus.VALIDATED, None, {"duplicate": 5}),
    "mixed_formats.jsonl": (DatasetStatus.VALIDATED, None, {"mixed-formats": 1}),
    # spreadsheet exports, damage, and records that must be checked as they are written
    "unbalanced_quote.csv": (DatasetStatus.VALIDATED, None, {"unbalanced-quote": 1}),
    "semicolon_delimited.csv": (DatasetStatus.VALIDATED, None, {}),
    "windows_1252.csv": (DatasetStatus.VALIDATED, None, {}),
    "corrupt_byte.csv": (DatasetStatus.VALIDATED, None, {"encoding": 1}),
    "leading_blank_lines.csv": (DatasetStatus.VALIDATED, None, {}),
    "cr_line_endings.csv": (DatasetStatus.VALIDATED, None, {}),
    "headerless.csv": (DatasetStatus.REJECTED, "the first row looks like data, not a header", {}),
    "case_variant_labels.csv": (DatasetStatus.VALIDATED, None, {}),
    "label_in_text_column.csv": (DatasetStatus.VALIDATED, None, {"label-too-long": 1}),
    "duplicate_keys.jsonl": (DatasetStatus.VALIDATED, None, {"reserved-string": 1}),  # the value read is checked
    "unknown_schema_version.jsonl": (DatasetStatus.VALIDATED, None, {"wrong-schema": 1}),
    "unknown_message_keys.jsonl": (DatasetStatus.VALIDATED, None, {"wrong-schema": 2}),
    "deeply_nested.jsonl": (DatasetStatus.VALIDATED, None, {"invalid-json": 1}),
    "truncated.jsonl.gz": (DatasetStatus.REJECTED, "the gzip data ends before its end marker", {}),
    "long_line.jsonl.gz": (DatasetStatus.VALIDATED, None, {"too-long": 1}),
}

# what each file must also say (a warning, or where the problem is)
SAYS = {
    "windows_1252.csv": "read as Windows-1252",
    "utf16.csv": "UTF-16 (little-endian)",
    "case_variant_labels.csv": "differ only by case",
}


def test_the_corpus_is_complete():
    assert sorted(p.name for p in BAD_INPUTS.iterdir()) == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_input_gets_a_clear_outcome(validate, name):
    status, reason, rejected_codes = CORPUS[name]
    report, out = validate((BAD_INPUTS / name).read_bytes(), name=name)
    assert report.status is status, report.reasons
    if reason:
        assert any(reason in r for r in report.reasons), report.reasons
        assert all(name in r or "label" in r or "needs" in r for r in report.reasons)
    rejected = read_jsonl(out / "rejected.jsonl")
    codes: dict[str, int] = {}
    for r in rejected:
        codes[r["code"]] = codes.get(r["code"], 0) + 1
        assert r["line"] >= 1 and r["reason"]
    assert codes == rejected_codes
    assert report.counts.balanced
    if name in SAYS:
        assert any(SAYS[name] in w for w in report.warnings), report.warnings
    assert all(len(r) <= 600 for r in report.reasons)  # reasons quote short excerpts, never whole rows



def test_roles_error_points_at_the_line_and_field(validate):
    _, out = validate((BAD_INPUTS / "roles_out_of_order.jsonl").read_bytes())
    (record,) = read_jsonl(out / "rejected.jsonl")
    assert record["line"] == 31
    assert record["field"] == "messages[0].role"
    assert "I speak first" in record["original"]


def test_reserved_string_error_names_the_string_and_place(validate):
    _, out = validate((BAD_INPUTS / "reserved_strings.jsonl").read_bytes())
    (record,) = read_jsonl(out / "rejected.jsonl")
    assert record["line"] == 36
    assert "'User:'" in record["reason"] and record["field"] == "messages[0]"
