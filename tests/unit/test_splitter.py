from collections import Counter

from ft_pipeline.dataset.splitter import TEST, TRAIN, VALIDATION, StratifiedSplitter


def assign_all(labels, ratios=(0.8, 0.1, 0.1), caps=(None, None, None), seed=""):
    splitter = StratifiedSplitter(ratios, caps, seed)
    return [splitter.assign(label) for label in labels]


def test_every_label_is_split_in_the_requested_ratios():
    labels = ["a"] * 1000 + ["b"] * 300 + ["c"] * 50
    splits = assign_all(labels)
    for label, total in (("a", 1000), ("b", 300), ("c", 50)):
        per = Counter(s for s, lab in zip(splits, labels, strict=True) if lab == label)
        assert abs(per[TRAIN] - 0.8 * total) <= 1
        assert abs(per[VALIDATION] - 0.1 * total) <= 1
        assert abs(per[TEST] - 0.1 * total) <= 1


def test_assignment_is_deterministic_and_the_seed_changes_it():
    labels = [f"l{i % 3}" for i in range(500)]
    assert assign_all(labels) == assign_all(labels)
    assert assign_all(labels, seed="s1") == assign_all(labels, seed="s1")
    assert assign_all(labels, seed="s1") != assign_all(labels)


def test_splits_are_spread_over_the_file_not_blocked_at_its_end():
    splits = assign_all([None] * 1000)
    first_half = Counter(splits[:500])
    assert first_half[TEST] == 50 and first_half[VALIDATION] == 50


def test_a_capped_split_overflows_into_train():
    splits = assign_all([None] * 1000, caps=(None, 20, None))
    counts = Counter(splits)
    assert counts[VALIDATION] == 20
    assert counts[TEST] == 100
    assert counts[TRAIN] == 880


def test_zero_ratio_split_gets_nothing():
    assert Counter(assign_all([None] * 100, ratios=(0.9, 0.0, 0.1)))[VALIDATION] == 0
