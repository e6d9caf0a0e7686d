"""Bounded-memory statistics for the report."""

from __future__ import annotations

import math


class LengthStats:
    """min / mean / max exactly; percentiles from a log-spaced histogram (within 2%), in O(1) memory."""

    _BASE = math.log(1.02)

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.min: int | None = None
        self.max: int | None = None
        self._buckets: dict[int, int] = {}

    def add(self, value: int) -> None:
        self.count += 1
        self.total += value
        if self.min is None or value < self.min:
            self.min = value
        if self.max is None or value > self.max:
            self.max = value
        bucket = int(math.log1p(value) / self._BASE)
        self._buckets[bucket] = self._buckets.get(bucket, 0) + 1

    def percentile(self, q: float) -> int | None:
        if not self.count:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen > rank:
                estimate = round(math.expm1((bucket + 0.5) * self._BASE))
                return max(self.min or 0, min(self.max or 0, estimate))
        return self.max

    def summary(self) -> dict[str, float | int | None]:
        return {
            "min": self.min,
            "mean": round(self.total / self.count, 1) if self.count else None,
            "p50": self.percentile(0.5),
            "p95": self.percentile(0.95),
            "max": self.max,
        }
