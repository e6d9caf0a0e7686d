"""Scoring a model's answers: classification and free-text metrics, latency, the tuned-vs-base comparison.

Standard library only (this runs in Lambda). Inputs are plain lists, results plain JSON-serialisable dicts
with floats rounded to 6 decimals. Classification metrics follow scikit-learn's definitions with
`labels=labels, zero_division=0`, an unreadable answer (None) counting as a wrong prediction of no label.
"""

from __future__ import annotations

import hashlib
import math
import string
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from statistics import NormalDist
from typing import Any, TypeVar

from ft_pipeline.evaluation.answers import INVALID

T = TypeVar("T")

DECIMALS = 6


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


def _ratio(numerator: float, denominator: float) -> float:
    # scikit-learn's zero_division=0
    return numerator / denominator if denominator else 0.0


def _harmonic(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _same_length(expected: Sequence[Any], predicted: Sequence[Any], what: str = "predicted") -> None:
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected answers but {len(predicted)} {what}")


def classification_metrics(expected: list[str], predicted: list[str | None], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro and weighted F1, per-class scores and the confusion matrix over `labels`.

    A prediction of None, or of anything outside `labels`, is invalid: wrong, and in the matrix's last column.
    """
    _same_length(expected, predicted)
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels repeat: {labels}")
    column = {label: i for i, label in enumerate(labels)}
    for value in expected:
        if value not in column:
            raise ValueError(f"expected answer {value!r} is not one of the labels {labels}")
    invalid_column = len(labels)
    rows = [[0] * (len(labels) + 1) for _ in labels]
    for truth, guess in zip(expected, predicted, strict=True):
        rows[column[truth]][column.get(guess, invalid_column) if guess is not None else invalid_column] += 1

    n = len(expected)
    matrix = {"labels": [*labels, INVALID], "rows": rows}
    invalid = sum(row[invalid_column] for row in rows)
    if n == 0:
        per_class_empty = {label: {"precision": None, "recall": None, "f1": None, "support": 0} for label in labels}
        return {"n": 0, "accuracy": None, "macro_f1": None, "weighted_f1": None, "invalid": 0,
                "per_class": per_class_empty, "confusion_matrix": matrix}

    per_class: dict[str, dict[str, Any]] = {}
    f1s: list[float] = []
    supports: list[int] = []
    for i, label in enumerate(labels):
        true_positives = rows[i][i]
        times_predicted = sum(row[i] for row in rows)
        support = sum(rows[i])
        precision = _ratio(true_positives, times_predicted)
        recall = _ratio(true_positives, support)
        f1 = _harmonic(precision, recall)
        f1s.append(f1)
        supports.append(support)
        per_class[label] = {"precision": _rounded(precision), "recall": _rounded(recall), "f1": _rounded(f1),
                            "support": support}
    correct = sum(rows[i][i] for i in range(len(labels)))
    return {
        "n": n,
        "accuracy": _rounded(correct / n),
        # the mean over every label asked for, including those never expected (their F1 is 0)
        "macro_f1": _rounded(math.fsum(f1s) / len(labels)),
        "weighted_f1": _rounded(_ratio(math.fsum(f * s for f, s in zip(f1s, supports, strict=True)), n)),
        "invalid": invalid,
        "per_class": per_class,
        "confusion_matrix": matrix,
    }


# SQuAD's normalisation without dropping English articles: the data need not be English
_PUNCTUATION = frozenset(string.punctuation)


def _tokens(text: str) -> list[str]:
    kept = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION and not unicodedata.category(ch).startswith("P"))
    return kept.split()


def _token_f1(reference: list[str], candidate: list[str]) -> float:
    if not reference or not candidate:
        # SQuAD: two empty answers agree, one empty answer scores nothing
        return float(reference == candidate)
    common = sum((Counter(reference) & Counter(candidate)).values())
    return _harmonic(common / len(candidate), common / len(reference))


def _longest_common_subsequence(a: list[str], b: list[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _rouge_l(reference: list[str], candidate: list[str]) -> float:
    if not reference or not candidate:
        return float(reference == candidate)
    lcs = _longest_common_subsequence(reference, candidate)
    return _harmonic(lcs / len(candidate), lcs / len(reference))


def freeform_metrics(expected: list[str], predicted: list[str | None]) -> dict[str, Any]:
    """Exact match, SQuAD-style token F1 and ROUGE-L F-measure, each the mean over examples (None scores 0)."""
    _same_length(expected, predicted)
    n = len(expected)
    invalid = sum(p is None for p in predicted)
    if n == 0:
        return {"n": 0, "exact_match": None, "token_f1": None, "rouge_l": None, "invalid": 0}
    exact = f1 = rouge = 0.0
    for truth, guess in zip(expected, predicted, strict=True):
        if guess is None:
            continue
        exact += " ".join(truth.split()).lower() == " ".join(guess.split()).lower()
        reference, candidate = _tokens(truth), _tokens(guess)
        f1 += _token_f1(reference, candidate)
        rouge += _rouge_l(reference, candidate)
    return {"n": n, "exact_match": _rounded(exact / n), "token_f1": _rounded(f1 / n),
            "rouge_l": _rounded(rouge / n), "invalid": invalid}


def _percentile(ordered: list[float], q: float) -> float:
    """numpy.percentile's default ("linear"): interpolate between the two nearest ranks."""
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(values_ms: list[float]) -> dict[str, Any] | None:
    """n, mean, median and 95th percentile of the latencies; None when there are none."""
    if not values_ms:
        return None
    ordered = sorted(float(v) for v in values_ms)
    return {"n": len(ordered), "mean": _rounded(math.fsum(ordered) / len(ordered)),
            "p50": _rounded(_percentile(ordered, 50)), "p95": _rounded(_percentile(ordered, 95))}


def paired_accuracy_difference(expected: list[str], tuned: list[str | None], base: list[str | None],
                               confidence: float = 0.95) -> dict[str, Any]:
    """Tuned minus base accuracy on the same examples, with a confidence interval that uses the pairing.

    Only the examples where the two models disagree on correctness move the difference, so the Wald interval
    for paired proportions is built from those discordant counts: b (only tuned right) and c (only base right).
    """
    _same_length(expected, tuned, "tuned answers")
    _same_length(expected, base, "base answers")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    n = len(expected)
    result: dict[str, Any] = {"metric": "accuracy", "tuned": None, "base": None, "difference": None, "low": None,
                              "high": None, "confidence": confidence, "n": n, "tuned_only_right": 0,
                              "base_only_right": 0, "method": "paired Wald interval on the discordant pairs"}
    if n == 0:
        return result
    tuned_right = [t is not None and t == e for e, t in zip(expected, tuned, strict=True)]
    base_right = [b is not None and b == e for e, b in zip(expected, base, strict=True)]
    only_tuned = sum(t and not b for t, b in zip(tuned_right, base_right, strict=True))
    only_base = sum(b and not t for t, b in zip(tuned_right, base_right, strict=True))
    difference = (only_tuned - only_base) / n
    variance = ((only_tuned + only_base) - (only_tuned - only_base) ** 2 / n) / n**2
    half_width = NormalDist().inv_cdf(0.5 + confidence / 2) * math.sqrt(max(variance, 0.0))
    result.update(
        tuned=_rounded(sum(tuned_right) / n),
        base=_rounded(sum(base_right) / n),
        difference=_rounded(difference),
        low=_rounded(max(-1.0, difference - half_width)),
        high=_rounded(min(1.0, difference + half_width)),
        tuned_only_right=only_tuned,
        base_only_right=only_base,
    )
    return result


def _quotas(counts: dict[Hashable, int], limit: int) -> dict[Hashable, int]:
    """Shares of `limit` proportional to the counts: largest remainder, and one each when there is room."""
    total = sum(counts.values())
    quotas = {label: limit * count // total for label, count in counts.items()}
    remainders = {label: limit * count % total for label, count in counts.items()}
    order = list(counts)  # first appearance breaks ties, so the result does not depend on label types
    short = limit - sum(quotas.values())
    for label in sorted(order, key=lambda lab: (-remainders[lab], -counts[lab], order.index(lab)))[:short]:
        quotas[label] += 1
    if limit >= len(counts):
        for label in order:
            if quotas[label] == 0:
                # take the seat from the label furthest over its exact share (limit * count / total)
                donor = max((lab for lab in order if quotas[lab] > 1),
                            key=lambda lab: (quotas[lab] * total - limit * counts[lab], -order.index(lab)))
                quotas[donor] -= 1
                quotas[label] = 1
    return quotas


def stratified_sample(items: list[T], label_of: Callable[[T], str], limit: int, seed: str) -> list[int]:
    """Indices (ascending) of at most `limit` items, each label represented in proportion to its count.

    Within a label the items with the smallest sha256(seed, index) are taken, so the same items, limit and
    seed always give the same sample, and another seed gives another.
    """
    if limit >= len(items):
        return list(range(len(items)))
    if limit <= 0:
        return []
    by_label: dict[Hashable, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_label[label_of(item)].append(index)
    quotas = _quotas({label: len(indices) for label, indices in by_label.items()}, limit)

    def rank(index: int) -> bytes:
        return hashlib.sha256(f"{seed}\x1f{index}".encode()).digest()

    chosen: list[int] = []
    for label, indices in by_label.items():
        chosen.extend(sorted(indices, key=rank)[: quotas[label]])
    return sorted(chosen)
