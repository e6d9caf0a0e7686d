"""The validator on whole files: formats per model family, splits, accounting, duplicates, encodings."""

import codecs
import csv
import gzip
import json
from collections import Counter

import pytest

from ft_pipeline.dataset.report import DatasetStatus
from tests.conftest import HEADLINES, conversation, jsonl, read_jsonl

LABELS = ["business", "entertainment", "health", "science"]


def headlines_bytes(n: int | None = None) -> bytes:
    text = (HEADLINES / "validation.csv").read_text(encoding="utf-8")
    if n is None:
        return text.encode()
    return "".join(text.splitlines(keepends=True)[: n + 1]).encode()


def test_headlines_become_stratified_nova_conversations(validate):
    report, out = validate(headlines_bytes(), name="validation.csv")
    assert report.status is DatasetStatus.VALIDATED, report.reasons
    assert report.labels == LABELS
    counts = report.counts
    assert (counts.records_read, counts.accepted, counts.rejected, counts.blank) == (2000, 2000, 0, 0)
    train = read_jsonl(out / "train.jsonl")
    first = train[0]
    assert first["schemaVersion"] == "bedrock-conversation-2024"
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert "business, entertainment, health, science" in first["messages"][0]["content"][0]["text"]
    assert first["messages"][1]["content"][0]["text"] in LABELS
    # every label is split 80/10/10 to within a record
    for label, total in report.label_counts.items():
        for split, share in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
            assert abs(report.splits[split].labels[label] - share * total) <= 1
    assert sum(s.records for s in report.splits.values()) == 2000


def test_the_same_file_always_splits_the_same_way(validate):
    _, a = validate(headlines_bytes(300), name="a.csv")
    _, b = validate(headlines_bytes(300), name="a.csv")
    for split in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        assert (a / split).read_bytes() == (b / split).read_bytes()


def test_test_split_never_overlaps_training(validate):
    _, out = validate(headlines_bytes(), name="validation.csv")
    def texts(split):
        return {r["messages"][0]["content"][0]["text"] for r in read_jsonl(out / split)}
    assert not texts("train.jsonl") & texts("test.jsonl")
    assert not texts("validation.jsonl") & texts("test.jsonl")


@pytest.mark.parametrize(
    ("model", "check"),
    [
        ("meta.llama3-1-8b-instruct-v1:0:128k", lambda r: set(r) == {"prompt", "completion"}),
        ("meta.llama3-1-70b-instruct-v1:0:128k", lambda r: set(r) == {"prompt", "completion"}),
        ("meta.llama3-3-70b-instruct-v1:0:128k", lambda r: r["schemaVersion"] == "bedrock-conversation-2024"),
        ("amazon.nova-pro-v1:0:300k", lambda r: r["schemaVersion"] == "bedrock-conversation-2024"),
        ("amazon.nova-2-lite-v1:0:256k", lambda r: r["schemaVersion"] == "bedrock-conversation-2024"),
    ],
)
def test_output_format_follows_the_base_model(validate, model, check):
    report, out = validate(headlines_bytes(400), name="h.csv", base_model=model)
    assert report.status is DatasetStatus.VALIDATED, report.reasons
    assert all(check(r) for r in read_jsonl(out / "train.jsonl"))


def test_prompt_completion_input_becomes_conversations_and_back(validate):
    records = [{"prompt": f"Question {i}?", "completion": f"Answer {i}."} for i in range(50)]
    report, out = validate(jsonl(records), system_prompt="You answer briefly.")
    assert report.status is DatasetStatus.VALIDATED
    assert report.input.input_format == "prompt-completion"
    rec = read_jsonl(out / "train.jsonl")[0]
    assert rec["system"] == [{"text": "You answer briefly."}]
    report, out = validate(jsonl([conversation(f"q{i}", f"a{i}") for i in range(150)]),
                           base_model="meta.llama3-1-8b-instruct-v1")
    assert read_jsonl(out / "train.jsonl")[0].keys() == {"prompt", "completion"}


def test_multi_turn_conversations_cannot_become_prompt_completion(validate):
    three = {"schemaVersion": "bedrock-conversation-2024", "messages": [
        {"role": r, "content": [{"text": t}]} for r, t in
        (("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))]}
    report, out = validate(jsonl([conversation(f"q{i}", f"a{i}") for i in range(140)] + [three]),
                           base_model="meta.llama3-1-8b-instruct-v1")
    rejected = read_jsonl(out / "rejected.jsonl")
    assert [r["code"] for r in rejected] == ["multi-turn"]
    assert rejected[0]["line"] == 141


def test_crlf_bom_and_gzip_give_the_same_records(validate):
    plain = headlines_bytes(120)
    crlf_bom = codecs.BOM_UTF8 + plain.replace(b"\n", b"\r\n")
    _, a = validate(plain, name="a.csv")
    _, b = validate(crlf_bom, name="b.csv")
    _, c = validate(gzip.compress(crlf_bom), name="c.csv.gz")
    assert (a / "train.jsonl").read_bytes() == (b / "train.jsonl").read_bytes() == (c / "train.jsonl").read_bytes()


def test_csv_quoted_newlines_count_as_one_record(validate):
    rows = [[f"headline {i}\nwith a second line" if i % 7 == 0 else f"headline {i}", LABELS[i % 4]]
            for i in range(60)]
    import io
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["text", "label"], *rows])
    report, _ = validate(buf.getvalue().encode(), name="q.csv")
    assert report.counts.records_read == 60
    assert report.counts.accepted == 60


def test_accounting_adds_up_and_every_rejected_record_is_kept(validate):
    lines = [conversation(f"question {i}", f"answer {i}") for i in range(60)]
    lines[5] = "{broken json"
    lines[9] = ""
    lines[20] = conversation("question 1", "answer 1")  # duplicate of line 2
    lines[30] = {"schemaVersion": "bedrock-conversation-2024",
                 "messages": [{"role": "user", "content": [{"text": "alone"}]}]}
    report, out = validate(jsonl(lines))
    c = report.counts
    assert c.accepted + c.rejected + c.blank == c.records_read == 60
    assert (c.rejected, c.blank, c.duplicates) == (3, 1, 1)
    rejected = {r["line"]: r for r in read_jsonl(out / "rejected.jsonl")}
    assert rejected[6]["code"] == "invalid-json" and rejected[6]["original"] == "{broken json"
    assert rejected[21]["reason"] == "duplicate of line 2"
    assert rejected[31]["field"] == "messages"
    written = sum(len(read_jsonl(out / f)) for f in ("train.jsonl", "validation.jsonl", "test.jsonl"))
    assert written == c.accepted


def test_same_text_with_another_label_is_a_conflict_not_a_duplicate(validate):
    rows = "text,label\n" + "".join(f"headline {i},{LABELS[i % 2]}\n" for i in range(40)) + "HEADLINE  3,business\n"
    report, out = validate(rows.encode(), name="c.csv")
    rejected = read_jsonl(out / "rejected.jsonl")
    assert rejected[0]["code"] == "label-conflict"
    assert "line 5" in rejected[0]["reason"]
    assert report.counts.duplicates == 0


def test_invalid_utf8_inside_one_csv_record_rejects_only_that_record(validate):
    data = headlines_bytes(50).replace(b"AOL Stock", b"AOL \xff\xfe Stock")
    report, out = validate(data, name="u.csv")
    assert report.status is DatasetStatus.VALIDATED
    rejected = read_jsonl(out / "rejected.jsonl")
    assert [r["code"] for r in rejected] == ["encoding"]
    assert "\\xff" in rejected[0]["original"]


@pytest.mark.parametrize(("into", "train", "test"), [("train", 900, 100), ("test", 800, 200)])
def test_a_model_without_validation_sets_gets_its_share_moved_and_says_so(validate, into, train, test):
    data = "text,label\n" + "".join(f"headline number {i},{LABELS[i % 4]}\n" for i in range(1_000))
    report, out = validate(data.encode(), name="nova2.csv", base_model="amazon.nova-2-lite-v1:0:256k",
                           split={"train": 0.8, "validation": 0.1, "test": 0.1, "validation_into": into})
    assert report.status is DatasetStatus.VALIDATED, report.reasons
    assert (report.splits["train"].records, report.splits["validation"].records,
            report.splits["test"].records) == (train, 0, test)
    assert any("takes no validation set" in w and f"went to {into}" in w for w in report.warnings)
    assert not read_jsonl(out / "validation.jsonl")


def test_nova_2_lite_needs_200_records(validate):
    data = "text,label\n" + "".join(f"headline number {i},{LABELS[i % 4]}\n" for i in range(150))
    report, _ = validate(data.encode(), name="nova2.csv", base_model="amazon.nova-2-lite-v1")
    assert any("needs at least 200" in r for r in report.reasons)


def test_report_has_cost_lengths_and_imbalance_warning(validate):
    rows = "text,label\n" + "".join(f"headline {i},{'common' if i % 12 else 'rare'}\n" for i in range(240))
    report, out = validate(rows.encode(), name="imb.csv")
    assert any("class imbalance" in w for w in report.warnings)
    cost = report.estimated_cost
    assert cost.epochs == 2 and cost.training_tokens_total == 2 * report.splits["train"].estimated_tokens
    assert cost.usd == pytest.approx(cost.training_tokens_total / 1000 * 0.001, abs=1e-4)
    lengths = report.lengths["characters"]
    assert lengths["min"] <= lengths["p50"] <= lengths["p95"] <= lengths["max"]
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["counts"]["accepted"] == 240 and on_disk["accounting_balanced"] is True


def test_rejected_dataset_leaves_no_training_files(validate):
    report, out = validate(jsonl([conversation("a", "b")] * 3))
    assert report.status is DatasetStatus.REJECTED
    assert sorted(p.name for p in out.iterdir()) == ["rejected.jsonl", "report.json"]


def test_labels_option_fixes_the_set_and_rejects_others(validate):
    rows = "text,label\n" + "".join(f"headline {i},{LABELS[i % 4]}\n" for i in range(80))
    report, out = validate(rows.encode(), name="l.csv", labels=["science", "business", "health", "entertainment"],
                           max_rejected_fraction=0.5)
    assert report.labels == ["science", "business", "health", "entertainment"]  # the configured order
    assert Counter(r["code"] for r in read_jsonl(out / "rejected.jsonl")) == {}
    report, out = validate(rows.encode(), name="l.csv", labels=["science", "business", "health"],
                           max_rejected_fraction=0.5)
    assert Counter(r["code"] for r in read_jsonl(out / "rejected.jsonl")) == {"unknown-label": 20}


def test_over_quota_dataset_is_rejected_but_every_record_is_still_accounted_for(validate):
    data = "text,label\n" + "".join(f"headline number {i},{LABELS[i % 4]}\n" for i in range(25_000))
    report, out = validate(data.encode(), name="huge.csv")  # Nova: at most 20,000 training + validation records
    assert report.status is DatasetStatus.REJECTED
    assert any("more than 20000 training + validation records" in r for r in report.reasons)
    assert report.counts.accepted == 25_000 and report.counts.balanced
    assert any("not deduplicated, split or written" in w for w in report.warnings)
    assert not (out / "train.jsonl").exists()
    report, _ = validate(data.encode(), name="huge.csv", max_records=30_000)  # a raised quota
    assert report.status is DatasetStatus.VALIDATED


@pytest.mark.parametrize("token", ["User:", "Bot:", "Assistant:", "System:", "[EOS]", "<image>", "<video>",
                                   "USER:", "BOT:", "ASSISTANT:", "SYSTEM:", "Thought:"])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_every_nova_reserved_string_is_caught_wherever_it_is(validate, token, where):
    text = {"start": f"{token} says hi", "middle": f"so the {token} said", "end": f"and then {token}"}[where]
    records = [conversation(f"question {i}: why?", f"answer {i}") for i in range(40)] + [conversation(text, "ok")]
    _, out = validate(jsonl(records))
    rejected = read_jsonl(out / "rejected.jsonl")
    assert [(r["line"], r["code"]) for r in rejected] == [(41, "reserved-string")]
    assert repr(token) in rejected[0]["reason"]


def test_colons_alone_are_not_reserved(validate):
    records = [conversation(f"Time: 10:{i:02d}. Note: fine", f"Re: answer {i}") for i in range(40)]
    report, _ = validate(jsonl(records))
    assert report.counts.rejected == 0


def test_a_ceiling_is_enforced_on_the_known_costs_when_the_training_price_is_unknown(tmp_path):
    """Found by a hostile review: Llama's training price is unpublished, which used to skip the ceiling."""
    import io

    from ft_pipeline.catalogue.options import DatasetOptions
    from ft_pipeline.catalogue.prices import PriceTable
    from ft_pipeline.dataset.validate import validate_dataset

    options = DatasetOptions(base_model="meta.llama3-3-70b-instruct-v1:0:128k", cost_ceiling_usd=50,
                             deployment={"mode": "provisioned", "max_hours": 4})
    report = validate_dataset(io.BytesIO((HEADLINES / "validation.csv").read_bytes()), name="h.csv",
                              dataset_id="d", options=options, out_dir=tmp_path / "out",
                              prices=PriceTable(pt_hourly_usd_per_unit=20.0))
    assert report.status is DatasetStatus.REJECTED
    assert any("$80.00 (training unknown (no published price) + serving up to $80.00" in r for r in report.reasons)
