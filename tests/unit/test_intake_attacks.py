"""Attacks a hostile review found to work against the first hardened validator; each must now fail."""

from __future__ import annotations

import io
import json
import time

import pytest

from ft_pipeline.catalogue.options import DatasetOptions, InvalidOptions, resolve_options
from ft_pipeline.dataset.reader import GzipDamaged
from ft_pipeline.dataset.report import DatasetStatus
from ft_pipeline.dataset.validate import validate_dataset
from ft_pipeline.steps.validate_upload import _infrastructure_failure, content_key
from tests.conftest import jsonl, read_jsonl

LABELS = ["sports", "politics"]


def labelled(n: int, offset: int = 0) -> list[dict]:
    return [{"text": f"headline number {i}", "label": LABELS[i % 2]} for i in range(offset, offset + n)]


def written(out) -> list[dict]:
    return [r for n in ("train", "validation", "test") for r in read_jsonl(out / f"{n}.jsonl")]


@pytest.mark.parametrize("label", ["\u0000text\u0000", "\u0000label\u0000", "tab\there"])
def test_a_label_holding_the_templates_sentinels_or_control_characters_is_one_rejected_record(validate, label):
    report, out = validate(jsonl(labelled(40) + [{"text": "one hostile record", "label": label}]))
    assert report.status is DatasetStatus.VALIDATED and report.counts.rejected == 1
    for record in written(out):
        prompt = record["messages"][0]["content"][0]["text"]
        assert "categories: politics, sports." in prompt and "\u0000" not in prompt


def test_a_system_prompt_cannot_hold_control_characters():
    with pytest.raises(InvalidOptions, match="control characters"):
        resolve_options({}, json.dumps({"system_prompt": "a\u0000text\u0000b"}).encode(), "m.json")


def test_labelled_rendering_never_takes_more_disk_than_the_budget(tmp_path):
    # control characters escape to six bytes each: the rendered records are far larger than the parked text
    records = [{"text": f"{i} " + "\u0001" * 10_000, "label": LABELS[i % 2]} for i in range(350)]
    out = tmp_path / "out"
    report = validate_dataset(io.BytesIO(jsonl(records)), name="x.jsonl", dataset_id="d", out_dir=out,
                              options=DatasetOptions(), output_budget=4 << 20)
    assert report.status is DatasetStatus.REJECTED
    assert any("would take more than" in r for r in report.reasons)
    assert not (out / "train.jsonl").exists()


@pytest.mark.parametrize("manifest", [{"max_rejected_fraction": 1e-200}, {"deployment": {"max_hours": 5e-324}},
                                      {"hyperparameters": {"epochCount": "2" + " " * 220_000}},
                                      {"labels": ["\U0001F600" * 99 + str(i) for i in range(78)],
                                       "system_prompt": "\U0001F600" * 10_000}])
def test_options_a_ledger_or_an_event_could_not_carry_are_refused_at_the_door(manifest):
    with pytest.raises(InvalidOptions):
        resolve_options({}, json.dumps(manifest).encode(), "m.json")


def test_a_stray_quote_in_the_header_of_a_large_file_is_a_clear_rejection(validate):
    data = b'"text,label\n' + b"".join(f"headline {i},sports\n".encode() for i in range(80_000))
    report, _ = validate(data, name="q.csv")
    assert report.status is DatasetStatus.REJECTED
    assert "the header opens a quote that is not closed" in report.reasons[0]


def test_a_label_whose_only_record_is_too_long_as_written_leaves_a_clean_report(validate):
    records = labelled(60) + [{"text": "w" * (32_000 * 4 - 15), "label": "gamma"}]
    report, _ = validate(jsonl(records))
    assert report.status is DatasetStatus.VALIDATED and report.counts.rejected_by_reason == {"too-long": 1}
    assert "gamma" not in (report.label_counts or {})
    assert any("no record" in w and "'gamma'" in w for w in report.warnings)


def test_one_stray_byte_does_not_turn_a_utf8_file_into_windows_1252(validate):
    rows = [f"plain headline {i},{LABELS[i % 2]}" for i in range(40_000)]
    rows[1] = "a stray \x92 byte,sports"
    tail = [f"\u00c9l\u00e8ve caf\u00e9 {i},politics" for i in range(100)]
    data = ("text,label\n" + "\n".join(rows) + "\n").encode("latin-1") + ("\n".join(tail) + "\n").encode()
    report, out = validate(data, name="m.csv", max_records=100_000)
    assert report.input.encoding == "utf-8" and report.counts.rejected_by_reason == {"encoding": 1}
    texts = {r["messages"][0]["content"][0]["text"].rsplit("Text: ", 1)[1] for r in written(out)}
    assert "\u00c9l\u00e8ve caf\u00e9 5" in texts


def test_one_corrupted_byte_in_ascii_json_lines_rejects_one_record(validate):
    data = jsonl(labelled(40))
    data = data[:300] + b"\xe9" + data[300:]
    report, _ = validate(data)
    assert report.status is DatasetStatus.VALIDATED and report.counts.rejected == 1  # encoding or JSON syntax


def test_the_same_training_content_has_one_key_whatever_its_packaging(validate):
    plain = jsonl(labelled(60))
    variants = {"plain": (plain, {}), "crlf": (plain.replace(b"\n", b"\r\n"), {}),
                "gzip": (__import__("gzip").compress(plain), {}),
                "string hyperparameter": (plain, {"hyperparameters": {"epochCount": "2"}}),
                "evaluation only": (plain, {"evaluation": {"max_examples": 199}})}
    keys = set()
    for data, options in variants.values():
        report, _ = validate(data, **options)
        keys.add(content_key(report, DatasetOptions(**options)))
    assert len(keys) == 1
    report, _ = validate(plain, hyperparameters={"epochCount": 3})
    assert content_key(report, DatasetOptions(hyperparameters={"epochCount": 3})) not in keys


def test_a_read_timeout_is_the_infrastructures_and_gzip_damage_is_the_datas():
    from botocore.exceptions import ReadTimeoutError

    assert _infrastructure_failure(ReadTimeoutError(endpoint_url="https://s3"))
    assert not _infrastructure_failure(GzipDamaged("truncated"))


def test_a_time_bomb_of_blank_lines_is_rejected_at_the_deadline(tmp_path):
    data = jsonl(labelled(40)) + b"\n" * 5_000_000
    report = validate_dataset(io.BytesIO(data), name="blank.jsonl", dataset_id="d", out_dir=tmp_path / "o",
                              options=DatasetOptions(), deadline=time.monotonic())
    assert report.status is DatasetStatus.REJECTED
    assert "not read within the validator's time" in report.reasons[0] and report.counts.balanced


def test_a_long_line_inside_an_open_quoted_record_is_counted(validate):
    rows = [f"headline {i},{LABELS[i % 2]}" for i in range(30)]
    data = ("text,label\n" + "\n".join(rows) + '\n"open quote,sports\nrow that is fine,politics\n').encode()
    data += b"y" * (2 << 20) + b"\n" + "".join(f"more {i},sports\n" for i in range(30)).encode()
    report, _ = validate(data, name="l.csv")
    assert report.counts.records_read == 63 and report.counts.balanced


def test_short_lines_after_an_open_quote_cannot_pile_up_in_memory(validate):
    rows = b"".join(f"headline {i},sports\n".encode() for i in range(40))
    data = b"text,label\n" + rows + b'"open\n' + b"\n" * 200_000
    report, _ = validate(data, name="s.csv")
    assert report.counts.balanced and report.counts.rejected_by_reason.get("too-long", 0) + \
        report.counts.rejected_by_reason.get("unbalanced-quote", 0) >= 1


def test_a_non_finite_number_is_not_a_label(validate):
    report, out = validate(jsonl(labelled(40)).replace(b'"label": "sports"}\n', b'"label": "sports"}\n', 1)
                           + b'{"text": "x", "label": 1e400}\n')
    (rejected,) = read_jsonl(out / "rejected.jsonl")
    assert rejected["field"] == "label"
