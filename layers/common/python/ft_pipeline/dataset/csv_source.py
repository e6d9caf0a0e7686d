"""Physical lines for `csv.reader`, bounded and numbered, and the dialect of a spreadsheet export.

`csv.reader` takes any iterator of lines. This one reads each line with a length cap, so one endless line
(a 400 MB field, a file without line breaks) costs at most the cap in memory, and keeps the lines of the
record being parsed, so that a record that runs away (an unbalanced quote swallowing the lines after it) can be
rejected alone and the lines after its first read again as records of their own.
"""

from __future__ import annotations

import csv
from collections import deque
from typing import TextIO

MAX_RECORD_LINES = 10_000  # a record's lines are kept to be read again: short lines cost memory too
DELIMITERS = (",", ";", "\t", "|")  # comma, then what spreadsheets write in locales where comma is decimal
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


class RecordTooLong(Exception):  # noqa: N818 - a signal from the line source, caught by the CSV reader loop
    """The record being read is over the cap; its lines up to the next line break have been skipped."""

    def __init__(self, line: int, cap: int, skipped: int | None = None) -> None:
        super().__init__(f"the record from line {line} is over {cap} characters")
        self.line = line
        self.cap = cap
        self.skipped = skipped  # the number of an over-long line skipped while the record was open


class CsvLines:
    """An iterator of physical lines (line breaks kept: `\\n`, `\\r\\n` or a lone `\\r`), each and every record
    at most `cap` characters."""

    def __init__(self, text: TextIO, cap: int) -> None:
        self._readline = text.readline
        self._cap = cap
        self._pending: deque[tuple[int, str]] = deque()  # lines to read again, with their numbers
        self.record: list[str] = []  # the lines of the record being parsed
        self.record_start = 1  # the line number of its first line
        self._record_chars = 0
        self._next = 1  # the number of the next line to read from the file
        self.last = 0  # the number of the last line handed out

    def __iter__(self) -> CsvLines:
        return self

    def __next__(self) -> str:
        if self._pending:
            number, line = self._pending.popleft()
        else:
            line = self._readline(self._cap)
            if not line:
                raise StopIteration
            number = self._next
            self._next += 1
            if len(line) == self._cap and line[-1] not in "\r\n":
                self._skip_line()
                self.last = number
                if self.record:
                    raise RecordTooLong(self.record_start, self._cap, skipped=number)
                raise RecordTooLong(number, self._cap)
        if not self.record:
            self.record_start = number
        self.record.append(line)
        self.last = number
        self._record_chars += len(line)
        if self._record_chars > self._cap or len(self.record) > MAX_RECORD_LINES:
            raise RecordTooLong(self.record_start, self._cap)  # its lines stay in `record`, to be read again
        return line

    def _skip_line(self) -> None:
        """Read past the rest of an over-long line without keeping it."""
        while True:
            piece = self._readline(self._cap)
            if not piece or piece[-1] in "\r\n":
                return

    def new_record(self) -> None:
        self.record = []
        self._record_chars = 0

    def read_again_after_first(self) -> None:
        """Hand out the current record's lines after its first one again (its first is rejected)."""
        again = [(self.record_start + i, line) for i, line in enumerate(self.record[1:], start=1)]
        self._pending.extendleft(reversed(again))
        self.new_record()

    def first_nonblank(self) -> str | None:
        """Skip blank lines before the header; the header line stays to be read."""
        for line in self:
            if line.strip():
                self._pending.appendleft((self.last, line))
                self.new_record()
                return line
        return None


def fields_of(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def guess_delimiter(header: str) -> str:
    """The delimiter that splits the header line into the most fields (ties: the earlier in DELIMITERS)."""
    return max(DELIMITERS, key=lambda d: (len(fields_of(header, d)), -DELIMITERS.index(d)))
