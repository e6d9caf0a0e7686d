import copy
import re
from html.parser import HTMLParser

import pytest

from ft_pipeline.evaluation.report_html import render_report_html

LABELS = ["business", "entertainment", "health", "science"]
PREDICTIONS = "https://bucket.s3.amazonaws.com/runs/r1/predictions.jsonl"
REPORT_JSON = "https://bucket.s3.amazonaws.com/runs/r1/report.json"
TUNED_ROWS = [[41, 2, 1, 3, 0], [4, 43, 5, 6, 0], [7, 8, 44, 9, 0], [10, 11, 12, 45, 0]]
BASE_ROWS = [[21, 13, 14, 15, 16], [17, 22, 18, 19, 20], [23, 24, 25, 26, 27], [28, 29, 30, 31, 32]]


def model(model_id, rows, accuracy):
    per_class = {label: {"precision": 0.8, "recall": 0.7, "f1": 0.75, "support": sum(rows[i])}
                 for i, label in enumerate(LABELS)}
    return {"model_id": model_id, "answered": 200, "errors": 1, "invalid": sum(row[-1] for row in rows),
            "accuracy": accuracy, "macro_f1": accuracy - 0.01, "weighted_f1": accuracy - 0.02, "per_class": per_class,
            "confusion_matrix": {"labels": LABELS + ["invalid"], "rows": rows},
            "latency_ms": {"n": 200, "mean": 410.0, "p50": 380.0, "p95": 720.0},
            "tokens": {"input": 24000, "output": 600}, "cost_usd": 0.012}


def sample_report():
    curve = [[step, step / 100, 2.0 / (1 + step / 50)] for step in range(10, 510, 10)]
    return {
        "run_id": "run-1", "source_uri": "s3://in/data.jsonl", "base_model": "amazon.nova-micro-v1:0",
        "custom_model_arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/x",
        "generated_at": "2024-05-14T16:42:07Z",
        "stand_in": True, "task": "classification", "labels": LABELS,
        "sample": {"examples": 200, "test_records": 1000, "max_examples": 200, "stratified": True},
        "models": {"tuned": model("tuned-id", TUNED_ROWS, 0.88), "base": model("base-id", BASE_ROWS, 0.55)},
        "comparison": {"metric": "accuracy", "tuned": 0.88, "base": 0.55, "difference": 0.33, "low": 0.25,
                       "high": 0.41, "confidence": 0.95, "n": 200, "method": "paired bootstrap"},
        "gate": {"passed": True, "summary": "all rules hold",
                 "rules": [{"rule": "accuracy >= 0.8", "value": 0.88, "threshold": 0.8, "passed": True},
                           {"rule": "ci low > 0", "value": None, "threshold": 0.0, "passed": True}]},
        "training": {"training_loss": 0.3, "validation_loss": 0.4, "steps": 500, "epochs": 5,
                     "curves": {"training_loss": curve, "validation_loss": curve[4::5]}},
        "timeline": [{"at": "2024-05-14T14:02:11Z", "status": "TRAINING", "transition": "VALIDATING → TRAINING",
                      "note": "started"}],
        "cost": {"estimated_training_usd": 4.8, "serving_usd": None, "serving_hours": 0.4, "evaluation_usd": 0.04,
                 "total_usd": None, "unconfirmed": ["custom model storage per month"]},
        "links": {"predictions": PREDICTIONS, "report_json": REPORT_JSON},
        "examples_preview": [{"index": 3, "input": "Stocks rally", "expected": "business", "tuned": "science",
                              "base": None}],
    }


class CellTexts(HTMLParser):
    """Collects the count written in each confusion-matrix cell, per table."""

    def __init__(self):
        super().__init__()
        self.tables, self._in_cell = [], False

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "cm" in classes:
            self.tables.append([])
        self._in_cell = tag == "td" and "cell" in classes

    def handle_endtag(self, tag):
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell and data.strip():
            self.tables[-1].append(int(data.strip().replace(",", "")))
            self._in_cell = False


def test_the_page_is_self_contained():
    page = render_report_html(sample_report())
    assert page.startswith("<!DOCTYPE html>")
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {PREDICTIONS, REPORT_JSON}
    for forbidden in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url(", "@font-face"):
        assert forbidden not in page.lower()


def test_user_strings_are_escaped():
    report = sample_report()
    report["examples_preview"][0]["input"] = "Shares <script>alert('x')</script> & \"quotes\""
    report["run_id"] = "<b>run</b>"
    report["labels"] = LABELS[:3] + ["<i>sci</i>"]
    page = render_report_html(report)
    assert "<script>" not in page and "<b>run</b>" not in page and "<i>sci</i>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    assert "&lt;b&gt;run&lt;/b&gt;" in page


def test_an_unsafe_link_is_not_made_clickable():
    report = sample_report()
    report["links"]["predictions"] = "javascript:alert(1)"
    page = render_report_html(report)
    assert 'href="javascript:' not in page
    assert f'href="{REPORT_JSON}"' in page


@pytest.mark.parametrize(("passed", "badge"), [(True, "PASSED"), (False, "FAILED")])
def test_the_gate_verdict_is_shown_in_words(passed, badge):
    report = sample_report()
    report["gate"]["passed"] = passed
    page = render_report_html(report)
    assert re.search(rf'class="badge {"pass" if passed else "fail"}"[^>]*>[^<]*{badge}<', page)
    assert "all rules hold" in page


def test_the_stand_in_notice_appears_only_for_stand_in_runs():
    report = sample_report()
    page = render_report_html(report)
    assert "stand-in" in page and "not Bedrock" in page and "TF-IDF" in page and "few-shot" in page
    assert page.index("not Bedrock") < page.index('id="comparison"')
    report["stand_in"] = False
    assert "TF-IDF" not in render_report_html(report)


def test_every_confusion_matrix_count_is_in_its_heatmap():
    parser = CellTexts()
    parser.feed(render_report_html(sample_report()))
    assert parser.tables == [sum(TUNED_ROWS, []), sum(BASE_ROWS, [])]


def test_the_comparison_shows_the_accuracy_difference_and_its_interval():
    page = render_report_html(sample_report())
    assert "88.0%" in page and "55.0%" in page and "+33.0" in page
    assert "+25.0 to +41.0" in page and "95% CI" in page


def test_it_renders_without_base_training_cost_comparison_or_gate():
    report = sample_report()
    del report["models"]["base"]
    for key in ("training", "cost", "comparison", "gate"):
        report[key] = None
    page = render_report_html(report)
    assert "NOT GATED" in page and "88.0%" in page and "base model was not evaluated" in page
    parser = CellTexts()
    parser.feed(page)
    assert parser.tables == [sum(TUNED_ROWS, [])]


def test_it_renders_with_keys_missing_altogether():
    report = {key: value for key, value in sample_report().items()
              if key not in ("training", "cost", "comparison", "gate", "timeline", "examples_preview", "links",
                             "sample", "labels")}
    assert "run-1" in render_report_html(report)
    assert "<html" in render_report_html({})


def test_a_freeform_report_shows_text_metrics_not_classification_visuals():
    report = copy.deepcopy(sample_report())
    report["task"] = "freeform"
    report.pop("labels")
    report["comparison"] = None
    for name, values in (("tuned", (0.41, 0.68, 0.63)), ("base", (0.12, 0.44, 0.39))):
        entry = report["models"][name]
        for key in ("accuracy", "macro_f1", "weighted_f1", "per_class", "confusion_matrix"):
            entry.pop(key)
        entry.update(exact_match=values[0], token_f1=values[1], rouge_l=values[2])
    page = render_report_html(report)
    assert "Exact match" in page and "Token F1" in page and "ROUGE-L" in page
    assert "41.0%" in page and "68.0%" in page and "39.0%" in page
    assert 'class="cm"' not in page and "Per-class" not in page
