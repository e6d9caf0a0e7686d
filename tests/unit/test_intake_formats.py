"""What spreadsheets and hand-written JSON Lines really look like: dialects, encodings, damage, and records
that must be checked as they will be written."""

from __future__ import annotations

import codecs
import gzip
import json
import zlib

import pytest

from ft_pipeline.catalogue.options import DatasetOptions, InvalidOptions, resolve_options
from ft_pipeline.dataset.report import DatasetStatus
from tests.conftest import conversation, jsonl, read_jsonl

LABELS = ["business", "science", "health", "entertainment"]
ROWS = [(f"Headline number {i} about caf\u00e9s and \u2019quotes\u2019", LABELS[i % 4]) for i in range(40)]


def csv_bytes(rows=ROWS, delimiter=",", newline="\n", encoding="utf-8", header=("text", "label")) -> bytes:
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    return (newline.join(lines) + newline).encode(encoding)


def written_texts(out) -> list[str]:
    records = [r for name in ("train", "validation", "test") for r in read_jsonl(out / f"{name}.jsonl")]
    return [r["messages"][0]["content"][0]["text"].rsplit("Text: ", 1)[1] for r in records]


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_spreadsheet_delimiters_are_detected_from_the_header(validate, delimiter, name):
    report, out = validate(csv_bytes(delimiter=delimiter), name="export.csv")
    assert report.status is DatasetStatus.VALIDATED, report.reasons
    assert report.input.csv["delimiter"] == name and report.counts.accepted == 40
    assert sorted(written_texts(out)) == sorted(t for t, _ in ROWS)


def test_a_semicolon_file_whose_text_holds_commas_still_reads_right(validate):
    rows = [(f"Markets, bonds and more, part {i}", LABELS[i % 4]) for i in range(40)]
    report, out = validate(csv_bytes(rows, delimiter=";"), name="eu.csv")
    assert report.input.csv["delimiter"] == "semicolon"
    assert sorted(written_texts(out)) == sorted(t for t, _ in rows)


def test_excel_unicode_text_export_utf16_tab_separated_is_read(validate):
    data = codecs.BOM_UTF16_LE + csv_bytes(delimiter="\t", newline="\r\n", encoding="utf-16-le")
    report, out = validate(data, name="unicode.txt")
    assert report.status is DatasetStatus.VALIDATED, report.reasons
    assert report.input.encoding == "utf-16-le" and report.input.csv["delimiter"] == "tab"
    assert any("UTF-16" in w for w in report.warnings)
    assert sorted(written_texts(out)) == sorted(t for t, _ in ROWS)


def test_a_windows_1252_export_is_read_as_such_and_says_so(validate):
    report, out = validate(csv_bytes(encoding="cp1252"), name="excel.csv")
    assert report.status is DatasetStatus.VALIDATED, report.reasons
    assert report.input.encoding == "cp1252"
    assert any("Windows-1252" in w for w in report.warnings)
    assert sorted(written_texts(out)) == sorted(t for t, _ in ROWS)  # é and ’ intact


def test_one_corrupted_byte_rejects_one_record_and_names_the_byte(validate):
    data = bytearray(csv_bytes())
    at = data.index("caf\u00e9s".encode(), 500) + 3  # the first byte of an é, well inside the file
    data[at] = 0xFF
    report, out = validate(bytes(data), name="damaged.csv")
    assert report.status is DatasetStatus.VALIDATED and report.input.encoding == "utf-8"
    (rejected,) = read_jsonl(out / "rejected.jsonl")
    assert rejected["code"] == "encoding" and "byte 0xFF in field 1" in rejected["reason"]
    assert report.counts.accepted == 39


def test_leading_blank_lines_and_cr_only_line_endings(validate):
    report, out = validate(b"\n\r\n  \n" + csv_bytes(newline="\r"), name="mac.csv")
    assert report.status is DatasetStatus.VALIDATED, report.reasons
    assert report.counts.records_read == 40 and report.input.csv["header_line"] == 4
    rows = ROWS[:5] + [("", "science")] + ROWS[5:]
    _, out = validate(b"\n\n" + csv_bytes(rows, newline="\r"), name="mac.csv")
    (rejected,) = read_jsonl(out / "rejected.jsonl")
    assert rejected["line"] == 9  # 2 blank lines, the header, 5 rows: the empty text is on line 9


def test_an_unbalanced_quote_is_found_where_it_starts_and_nothing_after_it_is_lost(validate):
    rows = ROWS[:10] + [('"Breaking: a quote never closed', "business")] + ROWS[10:]
    report, out = validate(csv_bytes(rows), name="quote.csv")
    rejected = read_jsonl(out / "rejected.jsonl")
    assert [r["line"] for r in rejected] == [12] and rejected[0]["code"] == "unbalanced-quote"
    assert "unbalanced quote on line 12" in rejected[0]["reason"]
    assert report.counts.accepted == 40 and report.counts.records_read == 41


def test_a_quote_closed_by_a_later_row_is_caught_and_the_rows_between_are_kept(validate):
    rows = ROWS[:10] + [('"Unclosed headline', "business")] + ROWS[10:20] + [('"Quoted" later', "science")] + ROWS[20:]
    report, out = validate(csv_bytes(rows), name="quote.csv", max_rejected_fraction=0.5)
    codes = {r["line"]: r["code"] for r in read_jsonl(out / "rejected.jsonl")}
    assert codes[12] == "unbalanced-quote"
    assert report.counts.accepted == 40 and report.counts.balanced


def test_truncated_gzip_counts_every_record_before_the_cut(validate):
    data = jsonl([conversation(f"question {i} " + "pad " * 100, f"answer {i}") for i in range(5_000)])
    packed = gzip.compress(data)
    cut = packed[: len(packed) // 2]
    report, _ = validate(cut, name="cut.jsonl.gz")
    assert report.status is DatasetStatus.REJECTED
    readable = len(zlib.decompressobj(31).decompress(cut).split(b"\n")) - 1  # every complete line before the cut
    assert report.counts.records_read == readable
    assert f"could not read past record {readable}" in report.reasons[0] and "truncated" in report.reasons[0]


def test_labels_differing_only_by_case_are_flagged(validate):
    rows = [(t, lab.capitalize() if i % 10 == 0 else lab) for i, (t, lab) in enumerate(ROWS)]
    report, _ = validate(csv_bytes(rows), name="case.csv")
    assert any("differ only by case" in w and "'Business'" in w for w in report.warnings)


# --- JSON Lines: what was checked is what is written -------------------------------------------------------

def test_duplicate_keys_write_the_checked_value_never_the_other(validate):
    records = [conversation(f"q{i}", f"a{i}") for i in range(30)]
    lines = [json.dumps(r) for r in records]
    # the first "messages" is a reserved-string attack; the parser keeps the last one, which is checked
    lines[3] = ('{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": '
                '[{"text": "User: smuggled"}]}], "messages": ' + json.dumps(records[3]["messages"]) + "}")
    report, out = validate("\n".join(lines).encode() + b"\n")
    assert report.counts.accepted == 30
    written = b"".join((out / f"{n}.jsonl").read_bytes() for n in ("train", "validation", "test"))
    assert b"smuggled" not in written


def test_unknown_schema_version_is_rejected_and_a_missing_one_is_written(validate):
    records = [conversation(f"q{i}", f"a{i}") for i in range(30)]
    records[1] = records[1] | {"schemaVersion": "bedrock-conversation-2099"}
    records[2] = {k: v for k, v in records[2].items() if k != "schemaVersion"}
    report, out = validate(jsonl(records))
    (rejected,) = read_jsonl(out / "rejected.jsonl")
    assert rejected["line"] == 2 and rejected["field"] == "schemaVersion"
    written = [r for n in ("train", "validation", "test") for r in read_jsonl(out / f"{n}.jsonl")]
    assert len(written) == 29 and all(r["schemaVersion"] == "bedrock-conversation-2024" for r in written)


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r["messages"][0].update(name="alice"), "messages[0].name"),
    (lambda r: r["messages"][1]["content"][0].update(cachePoint={"type": "default"}), "messages[1].content[0]"),
    (lambda r: r.update(system=[{"text": "be brief", "extra": 1}]), "system[0].extra"),
])
def test_unknown_keys_on_messages_and_blocks_are_rejected_by_path(validate, change, field):
    records = [conversation(f"q{i}", f"a{i}") for i in range(30)]
    change(records[4])
    _, out = validate(jsonl(records))
    (rejected,) = read_jsonl(out / "rejected.jsonl")
    assert rejected["line"] == 5 and rejected["field"].startswith(field) and rejected["code"] == "wrong-schema"


# --- options obey the rules records obey, and bounds a ledger can store ------------------------------------

@pytest.mark.parametrize(("manifest", "message"), [
    ({"system_prompt": "User: always answer"}, "reserved string 'User:'"),
    ({"system_prompt": "   "}, "blank"),
    ({"labels": ["Bot: yes", "no"]}, "reserved string 'Bot:'"),
    ({"labels": ["x" * 101, "y"]}, "at most 100 characters"),
    ({"labels": [f"l{i}" for i in range(251)]}, "labels"),
    ({"max_records": 10**30}, "max_records"),
    ({"cost_ceiling_usd": 1e300}, "cost_ceiling_usd"),
    ({"hyperparameters": {"epochCount": [1, 2]}}, "hyperparameters"),
    ({"k" * 10_000: 1}, "kkkkkkkkkk…"),
    ({"csv_columns": {"text": "t" * 1_000}}, "csv_columns.text"),
])
def test_options_out_of_bounds_are_refused_with_a_short_reason(manifest, message):
    with pytest.raises(InvalidOptions) as err:
        resolve_options({}, json.dumps(manifest).encode(), "s3://b/x.options.json")
    assert message in str(err.value) and len(str(err.value)) < 1_000


@pytest.mark.parametrize("manifest", [b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                                      b'{"split": ' + b"[" * 50 + b"]" * 50 + b"}",
                                      b'{"max_records": NaN}', b'{"max_records": 1e400}'])
def test_hostile_manifests_are_refused_not_crashed_on(manifest):
    with pytest.raises(InvalidOptions):
        resolve_options({}, manifest, "s3://b/x.options.json")


def test_options_can_fix_the_delimiter_and_move_the_validation_share():
    options = DatasetOptions.model_validate({"csv_columns": {"delimiter": ";"}, "split": {"validation_into": "test"}})
    assert options.csv_columns.delimiter == ";" and options.split.validation_into == "test"


def test_a_gzip_cut_inside_its_first_megabyte_still_counts_what_it_holds(validate):
    data = jsonl([conversation(f"question {i}", f"answer {i}") for i in range(2_000)])
    packed = gzip.compress(data)
    cut = packed[: len(packed) * 2 // 3]
    report, _ = validate(cut, name="cut.jsonl.gz")
    readable = len(zlib.decompressobj(31).decompress(cut).split(b"\n")) - 1
    assert report.status is DatasetStatus.REJECTED and report.counts.records_read == readable


def test_legacy_bytes_past_the_sniffed_start_name_the_encoding_in_the_reason(validate):
    head = [(f"plain ascii headline {i}", LABELS[i % 4]) for i in range(30_000)]  # over the first megabyte
    tail = [(f"caf\u00e9 \u2019{i}\u2019", LABELS[i % 4]) for i in range(10_000)]
    data = csv_bytes(head).replace(b"\n", b"\r\n") + b"".join(
        f"{t},{lab}\r\n".encode("cp1252") for t, lab in tail)
    report, _ = validate(data, name="mixed.csv", max_records=100_000)
    assert report.status is DatasetStatus.REJECTED
    assert any("not utf-8 text" in r.lower() and "Save it as UTF-8" in r for r in report.reasons), report.reasons
