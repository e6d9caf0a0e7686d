"""Length statistics for the report."""

from __future__ import annotations

from array import array


class LengthStats:
    """Exact min / mean / percentiles / max. Keeps 4 bytes per record, and the validator stops adding
    records once a dataset is over its record quota, so memory stays bounded by the quota."""

    def __init__(self) -> None:
        self._values = array("I")
        self.add = self._values.append  # the hot path is one C call

    @property
    def count(self) -> int:
        return len(self._values)

    def summary(self) -> dict[str, float | int | None]:
        if not self._values:
            return {"min": None, "mean": None, "p50": None, "p95": None, "max": None}
        ordered = sorted(self._values)
        n = len(ordered)
        return {
            "min": ordered[0],
            "mean": round(sum(ordered) / n, 1),
            "p50": ordered[(n - 1) // 2],
            "p95": ordered[min(n - 1, round(0.95 * (n - 1)))],
            "max": ordered[-1],
        }
