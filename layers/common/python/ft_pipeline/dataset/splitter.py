"""Deterministic, stratified assignment of records to train / validation / test while streaming.

Each stratum (label, or one stratum for unlabelled data) gets its own smooth weighted round robin:
the n-th record goes to the split furthest behind its target share, so every label is split in the
requested ratios to within one record, in one pass and O(labels) memory, and the same file always
splits the same way. Splits spread evenly over the file, so a sorted file does not put its tail in test.
"""

from __future__ import annotations

import hashlib

TRAIN, VALIDATION, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "validation", "test")


class StratifiedSplitter:
    def __init__(self, ratios: tuple[float, float, float], caps: tuple[int | None, int | None, int | None],
                 seed: str = "") -> None:
        self._ratios = ratios
        self._caps = caps
        self._seed = seed
        # per stratum: records meant for train, validation, test, and the stratum's phase (one lookup a record)
        self._per_stratum: dict[str | None, list[float]] = {}
        self.totals = [0, 0, 0]

    def _phase(self, stratum: str | None) -> float:
        """A seed shifts where in each cycle a split gets its turn, so another seed picks other records."""
        if not self._seed:
            return 0.0
        digest = hashlib.blake2b(f"{self._seed}\x1f{stratum}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") / 2**32

    def assign(self, stratum: str | None) -> int:
        counts = self._per_stratum.get(stratum)
        if counts is None:
            counts = self._per_stratum[stratum] = [0, 0, 0, self._phase(stratum)]
        c_train, c_val, c_test, phase = counts
        n1 = c_train + c_val + c_test + phase + 1
        r_train, r_val, r_test = self._ratios
        # the split furthest behind its share; ties go to the earlier split (train, then validation)
        best, best_deficit = TRAIN, r_train * n1 - c_train
        deficit = r_val * n1 - c_val
        if r_val > 0 and deficit > best_deficit + 1e-12:
            best, best_deficit = VALIDATION, deficit
        if r_test > 0 and r_test * n1 - c_test > best_deficit + 1e-12:
            best = TEST
        # the stratum's counters follow the intended split, so a full split's overflow goes to train
        # without shifting the other splits' shares
        counts[best] += 1
        cap = self._caps[best]
        actual = TRAIN if cap is not None and self.totals[best] >= cap else best
        self.totals[actual] += 1
        return actual
