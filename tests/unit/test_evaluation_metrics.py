import json
import math
import random
from collections import Counter
from statistics import NormalDist

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from ft_pipeline.evaluation.metrics import (
    classification_metrics,
    freeform_metrics,
    latency_summary,
    paired_accuracy_difference,
    stratified_sample,
)

LABELS = ["business", "science", "health", "sports"]


def random_case(seed, n, labels, expected_labels, predicted_labels, invalid_rate):
    rng = random.Random(seed)
    expected = [rng.choice(expected_labels) for _ in range(n)]
    predicted = []
    for truth in expected:
        roll = rng.random()
        if roll < invalid_rate:
            predicted.append(None)
        elif roll < 0.55 and truth in predicted_labels:
            predicted.append(truth)  # better than chance, so the scores are not all near zero
        else:
            predicted.append(rng.choice(predicted_labels))
    return expected, predicted


CASES = {
    # seed, n, labels, labels that occur as expected answers, labels the model predicts, invalid rate
    "mixed": (1, 200, LABELS, LABELS, LABELS, 0.1),
    "label never predicted": (2, 150, LABELS, LABELS, LABELS[:3], 0.05),
    "label never expected": (3, 150, LABELS, LABELS[:3], LABELS, 0.05),
    "never expected nor predicted": (4, 80, LABELS, LABELS[:3], LABELS[:3], 0.2),
    "many invalid": (5, 60, LABELS, LABELS, LABELS, 0.7),
    "two labels": (6, 33, ["yes", "no"], ["yes", "no"], ["yes", "no"], 0.15),
    "small": (7, 5, LABELS, LABELS, LABELS, 0.2),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_classification_metrics_equal_scikit_learn(case):
    seed, n, labels, expected_labels, predicted_labels, invalid_rate = case
    expected, predicted = random_case(seed, n, labels, expected_labels, predicted_labels, invalid_rate)
    got = classification_metrics(expected, predicted, labels)

    as_strings = ["invalid" if p is None else p for p in predicted]
    assert got["n"] == n
    assert got["invalid"] == predicted.count(None)
    assert got["accuracy"] == pytest.approx(accuracy_score(expected, as_strings), abs=1e-6)
    assert got["macro_f1"] == pytest.approx(
        f1_score(expected, as_strings, labels=labels, average="macro", zero_division=0), abs=1e-6)
    assert got["weighted_f1"] == pytest.approx(
        f1_score(expected, as_strings, labels=labels, average="weighted", zero_division=0), abs=1e-6)
    precision, recall, f1, support = precision_recall_fscore_support(
        expected, as_strings, labels=labels, zero_division=0)
    assert list(got["per_class"]) == labels
    for i, label in enumerate(labels):
        scores = got["per_class"][label]
        assert scores["precision"] == pytest.approx(precision[i], abs=1e-6)
        assert scores["recall"] == pytest.approx(recall[i], abs=1e-6)
        assert scores["f1"] == pytest.approx(f1[i], abs=1e-6)
        assert scores["support"] == support[i]
    matrix = confusion_matrix(expected, as_strings, labels=[*labels, "invalid"])
    assert got["confusion_matrix"]["labels"] == [*labels, "invalid"]
    assert got["confusion_matrix"]["rows"] == matrix[: len(labels)].tolist()
    json.dumps(got)  # plain types only


def test_the_cases_cover_what_they_claim():
    expected, predicted = random_case(*CASES["label never predicted"])
    assert "sports" in expected and "sports" not in predicted and None in predicted
    expected, predicted = random_case(*CASES["label never expected"])
    assert "sports" not in expected and "sports" in predicted


def test_classification_metrics_by_hand():
    expected = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", None, "a"]
    got = classification_metrics(expected, predicted, ["a", "b", "c"])
    assert got["accuracy"] == round(3 / 6, 6)
    assert got["invalid"] == 1
    assert got["per_class"]["a"] == {"precision": round(2 / 3, 6), "recall": round(2 / 3, 6),
                                     "f1": round(2 / 3, 6), "support": 3}
    assert got["per_class"]["b"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert got["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert got["macro_f1"] == round((2 / 3 + 0.5) / 3, 6)
    assert got["weighted_f1"] == round((3 * 2 / 3 + 2 * 0.5) / 6, 6)
    assert got["confusion_matrix"] == {"labels": ["a", "b", "c", "invalid"],
                                       "rows": [[2, 1, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0]]}


def test_a_prediction_outside_the_labels_is_invalid():
    got = classification_metrics(["a", "b"], ["a", "zebra"], ["a", "b"])
    assert got["invalid"] == 1
    assert got["confusion_matrix"]["rows"] == [[1, 0, 0], [0, 0, 1]]


def test_an_expected_answer_outside_the_labels_is_an_error():
    with pytest.raises(ValueError, match="'zebra'"):
        classification_metrics(["a", "zebra"], ["a", "a"], ["a", "b"])


def test_lists_of_different_length_are_an_error():
    with pytest.raises(ValueError):
        classification_metrics(["a"], ["a", "a"], ["a"])


def test_no_examples_give_no_scores():
    got = classification_metrics([], [], ["a", "b"])
    assert got["n"] == 0
    assert got["accuracy"] is None and got["macro_f1"] is None and got["weighted_f1"] is None
    assert got["invalid"] == 0
    assert got["confusion_matrix"] == {"labels": ["a", "b", "invalid"], "rows": [[0, 0, 0], [0, 0, 0]]}
    assert got["per_class"]["a"]["support"] == 0


def test_metrics_are_rounded_to_six_decimals():
    got = classification_metrics(["a", "a", "a"], ["a", "b", "b"], ["a", "b"])
    assert got["accuracy"] == 0.333333


def test_freeform_metrics_by_hand():
    expected = ["The cat sat on the mat", "Paris", "New York City", "hello world"]
    predicted = ["the cat  sat on the MAT", "paris, france", None, "world hello"]
    got = freeform_metrics(expected, predicted)
    assert got["n"] == 4
    assert got["invalid"] == 1
    # only the first matches after whitespace and case
    assert got["exact_match"] == 0.25
    # tokens: identical; {paris} vs {paris, france}: P 1/2 R 1 F 2/3; None 0; same bag: 1
    assert got["token_f1"] == round((1 + 2 / 3 + 0 + 1) / 4, 6)
    # LCS: 6 of 6; 1 of (1, 2) -> 2/3; 0; "world" or "hello", 1 of 2 -> 1/2
    assert got["rouge_l"] == round((1 + 2 / 3 + 0 + 0.5) / 4, 6)


def test_token_f1_counts_repeated_tokens_once_each_and_strips_punctuation():
    got = freeform_metrics(["a a b"], ["a, b! b?"])
    # common bag {a: 1, b: 1} = 2 tokens of 3 and 3 -> F1 2/3
    assert got["token_f1"] == round(2 / 3, 6)
    assert got["exact_match"] == 0.0


def test_rouge_l_uses_the_longest_common_subsequence_not_a_substring():
    # reference a b c d e, candidate a x c y e: LCS a c e = 3; P 3/5, R 3/5
    got = freeform_metrics(["a b c d e"], ["a x c y e"])
    assert got["rouge_l"] == 0.6
    # reference 4 tokens, candidate 2 tokens in order: P 1, R 1/2, F 2/3
    assert freeform_metrics(["one two three four"], ["two four"])["rouge_l"] == round(2 / 3, 6)


def test_freeform_empty_answers():
    assert freeform_metrics([""], [""]) == {"n": 1, "exact_match": 1.0, "token_f1": 1.0, "rouge_l": 1.0,
                                             "invalid": 0}
    assert freeform_metrics(["x"], ["..."])["token_f1"] == 0.0
    assert freeform_metrics([], []) == {"n": 0, "exact_match": None, "token_f1": None, "rouge_l": None,
                                        "invalid": 0}


@pytest.mark.parametrize("values", [
    [120.0],
    [5.0, 1.0],
    [10.0, 20.0, 30.0, 40.0],
    [float(v) for v in range(1, 101)],
    [random.Random(9).lognormvariate(6, 0.8) for _ in range(257)],
    [3, 3, 3, 1000],
])
def test_latency_summary_equals_numpy(values):
    got = latency_summary(values)
    assert got["n"] == len(values)
    assert got["mean"] == pytest.approx(float(np.mean(values)), abs=1e-6)
    assert got["p50"] == pytest.approx(float(np.percentile(values, 50)), abs=1e-6)
    assert got["p95"] == pytest.approx(float(np.percentile(values, 95)), abs=1e-6)


def test_latency_summary_by_hand_and_empty():
    assert latency_summary([40, 10, 30, 20]) == {"n": 4, "mean": 25.0, "p50": 25.0, "p95": 38.5}
    assert latency_summary([]) is None


def test_paired_accuracy_difference_by_hand():
    # 10 examples: both right 5, only tuned right 3, only base right 1, both wrong 1
    expected = ["a"] * 10
    tuned = ["a"] * 5 + ["a"] * 3 + ["b"] + [None]
    base = ["a"] * 5 + [None, "b", "b"] + ["a"] + ["b"]
    got = paired_accuracy_difference(expected, tuned, base)
    b, c, n = 3, 1, 10
    difference = (b - c) / n
    half = NormalDist().inv_cdf(0.975) * math.sqrt(((b + c) - (b - c) ** 2 / n) / n**2)
    assert half == pytest.approx(1.959964 * math.sqrt(3.6) / 10, abs=1e-6)
    assert got == {
        "metric": "accuracy", "tuned": 0.8, "base": 0.6, "difference": 0.2,
        "low": round(difference - half, 6), "high": round(difference + half, 6), "confidence": 0.95, "n": 10,
        "tuned_only_right": 3, "base_only_right": 1, "method": "paired Wald interval on the discordant pairs",
    }
    assert got["low"] == pytest.approx(-0.171877, abs=1e-6)
    assert got["high"] == pytest.approx(0.571877, abs=1e-6)


def test_a_higher_confidence_widens_the_interval():
    expected = ["a"] * 10
    tuned = ["a"] * 8 + ["b"] * 2
    base = ["a"] * 5 + ["b"] * 5
    narrow = paired_accuracy_difference(expected, tuned, base, confidence=0.8)
    wide = paired_accuracy_difference(expected, tuned, base, confidence=0.99)
    assert wide["low"] < narrow["low"] < narrow["difference"] < narrow["high"] < wide["high"]


def test_identical_predictions_differ_by_zero_with_no_width():
    expected = ["a", "b", "a", "b", "c"]
    predicted = ["a", "a", None, "b", "c"]
    got = paired_accuracy_difference(expected, predicted, list(predicted))
    assert got["difference"] == got["low"] == got["high"] == 0.0
    assert got["tuned"] == got["base"] == 0.6
    assert got["tuned_only_right"] == got["base_only_right"] == 0


def test_the_interval_narrows_as_examples_grow():
    # the same proportions of concordant and discordant pairs, repeated
    expected, tuned, base = ["a"] * 4, ["a", "a", "b", "a"], ["a", "b", "a", "b"]
    widths = []
    for repeat in (1, 4, 16, 64):
        got = paired_accuracy_difference(expected * repeat, tuned * repeat, base * repeat)
        assert got["difference"] == 0.25
        widths.append(got["high"] - got["low"])
    assert widths[0] > widths[1] > widths[2] > widths[3]
    # a quarter of the width for sixteen times the examples: sqrt(n); the n=4 interval is clipped at 1
    assert widths[3] == pytest.approx(widths[2] / 2, abs=1e-5)


def test_the_interval_is_clipped_to_plus_minus_one():
    got = paired_accuracy_difference(["a", "a"], ["a", "a"], ["b", "a"], confidence=0.999)
    assert got["high"] == 1.0
    assert got["low"] > -1.0


def test_paired_difference_rejects_bad_input():
    with pytest.raises(ValueError):
        paired_accuracy_difference(["a"], ["a"], ["a"], confidence=1.0)
    with pytest.raises(ValueError):
        paired_accuracy_difference(["a"], ["a"], ["a", "b"])
    assert paired_accuracy_difference([], [], [])["difference"] is None


def items_with(counts):
    items = [label for label, count in counts.items() for _ in range(count)]
    random.Random(0).shuffle(items)
    return items


def sample_counts(items, indices):
    return Counter(items[i] for i in indices)


def test_stratified_sample_is_deterministic_and_seeded():
    items = items_with({"a": 500, "b": 300, "c": 200})
    first = stratified_sample(items, lambda x: x, 100, "seed-1")
    assert first == stratified_sample(list(items), lambda x: x, 100, "seed-1")
    assert first != stratified_sample(items, lambda x: x, 100, "seed-2")
    assert first == sorted(first) and len(set(first)) == len(first) == 100


def test_stratified_sample_keeps_the_proportions():
    items = items_with({"a": 500, "b": 300, "c": 200})
    counts = sample_counts(items, stratified_sample(items, lambda x: x, 100, "s"))
    assert counts == {"a": 50, "b": 30, "c": 20}


def test_largest_remainders_get_the_seats_left_over():
    # exact shares of 10: a 3.4, b 3.3, c 3.3 -> floors 3, 3, 3 and the one seat left goes to a
    items = items_with({"a": 34, "b": 33, "c": 33})
    counts = sample_counts(items, stratified_sample(items, lambda x: x, 10, "s"))
    assert counts == {"a": 4, "b": 3, "c": 3}
    # shares of 7: a 4.2, b 2.1, c 0.7 -> floors 4, 2, 0 and the seat goes to c, the largest remainder
    items = items_with({"a": 60, "b": 30, "c": 10})
    assert sample_counts(items, stratified_sample(items, lambda x: x, 7, "s")) == {"a": 4, "b": 2, "c": 1}
    # shares of 10: a 5.5, b 2.8, c 1.7 -> floors 5, 2, 1 and the two seats go to b and c, not to the biggest
    items = items_with({"a": 55, "b": 28, "c": 17})
    assert sample_counts(items, stratified_sample(items, lambda x: x, 10, "s")) == {"a": 5, "b": 3, "c": 2}


def test_every_label_gets_one_when_the_limit_allows():
    items = items_with({"big": 990, "rare1": 5, "rare2": 5})
    counts = sample_counts(items, stratified_sample(items, lambda x: x, 10, "s"))
    assert counts == {"big": 8, "rare1": 1, "rare2": 1}
    counts = sample_counts(items, stratified_sample(items, lambda x: x, 3, "s"))
    assert counts == {"big": 1, "rare1": 1, "rare2": 1}


def test_the_sample_respects_the_limit():
    items = items_with({"a": 7, "b": 5, "c": 1})
    for limit in range(1, 13):
        indices = stratified_sample(items, lambda x: x, limit, "s")
        assert len(indices) == limit
        counts = sample_counts(items, indices)
        assert all(counts[label] <= total for label, total in {"a": 7, "b": 5, "c": 1}.items())
        if limit >= 3:
            assert set(counts) == {"a", "b", "c"}
    assert stratified_sample(items, lambda x: x, 13, "s") == list(range(13))
    assert stratified_sample(items, lambda x: x, 1000, "s") == list(range(13))
    assert stratified_sample(items, lambda x: x, 0, "s") == []
    assert stratified_sample([], lambda x: x, 5, "s") == []


def test_the_label_function_is_used():
    records = [{"id": i, "label": "x" if i % 4 else "y"} for i in range(40)]
    indices = stratified_sample(records, lambda r: r["label"], 8, "s")
    assert Counter(records[i]["label"] for i in indices) == {"x": 6, "y": 2}
