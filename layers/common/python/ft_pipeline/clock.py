"""The one clock of the pipeline: ledger times, leases, deadlines and the sweeper's thresholds all read it.

In Lambda it is the system clock. The local harness installs a `ManualClock` (`use_clock`), so a test can
move time past a lease or a deadline (`LocalPipeline.advance(minutes=…)`) without waiting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError("a clock does not run backwards")
        self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        self.set(self._now + delta)
        return self._now


_current: Clock = SystemClock()


def clock() -> Clock:
    return _current


def use_clock(replacement: Clock | None) -> None:
    """Install a clock for the whole process (None: back to the system clock)."""
    global _current
    _current = replacement or SystemClock()


def iso(moment: datetime) -> str:
    """The one timestamp format of the ledger: UTC, milliseconds, `Z`. Fixed width, so strings sort as times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def now_iso() -> str:
    return iso(clock().now())
