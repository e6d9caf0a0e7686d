"""Open an uploaded dataset as a stream: gzip, BOM, encoding and CSV-vs-JSONL detection by content.

Nothing here holds more than one read buffer of the file in memory.
"""

from __future__ import annotations

import codecs
import gzip
import io
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

READ_BUFFER = 1 << 20
SNIFF_BYTES = 64 << 10


class Container(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


class DatasetUnreadable(ValueError):
    """The file as a whole cannot be read as a dataset; the message says what and where."""


class _PrefixedStream(io.RawIOBase):
    """Serves bytes already read for sniffing, then the rest of the underlying stream."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n


class CountingReader(io.RawIOBase):
    """Counts the bytes read from the source (the compressed size, for gzip)."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n


@dataclass
class OpenedDataset:
    container: Container
    stream: io.BufferedReader  # decompressed, BOM removed, positioned at the first byte of content
    gzip: bool
    bom: bool
    counter: CountingReader


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    chunks, total = [], 0
    while total < size:
        chunk = stream.read(size - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def open_dataset(source: BinaryIO, name: str) -> OpenedDataset:
    """Detect compression, encoding and container of `source` from its first bytes."""
    counter = CountingReader(source)
    raw: BinaryIO = io.BufferedReader(counter, READ_BUFFER)
    is_gzip = raw.peek(2)[:2] == b"\x1f\x8b"  # peek: the magic bytes stay in the stream
    if is_gzip:
        raw = io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), READ_BUFFER)  # type: ignore[arg-type]
    try:
        sample = _read_up_to(raw, SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise DatasetUnreadable(f"{name}: corrupt gzip data ({exc})") from None

    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(sample):
        raise DatasetUnreadable(f"{name}: the file is UTF-16 encoded; save it as UTF-8 (CSV or JSON Lines)")
    bom = sample.startswith(codecs.BOM_UTF8)
    if bom:
        sample = sample[len(codecs.BOM_UTF8):]
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise DatasetUnreadable(
            f"{name}: binary content (NUL byte at offset {nul}); expected UTF-8 CSV or JSON Lines text"
        )
    if _invalid_utf8_share(sample) > 0.05:
        raise DatasetUnreadable(f"{name}: not UTF-8 text (the first {len(sample)} bytes do not decode as UTF-8)")

    stream = io.BufferedReader(_PrefixedStream(sample, raw), READ_BUFFER)
    first = sample.lstrip()
    if not first:
        if len(sample) < SNIFF_BYTES:
            raise DatasetUnreadable(f"{name}: the file is empty (no records)")
        raise DatasetUnreadable(f"{name}: the first {SNIFF_BYTES // 1024} KiB hold only blank lines")
    if first.startswith(b"["):
        raise DatasetUnreadable(
            f"{name}: line 1 starts a JSON array; JSON Lines needs one JSON object per line, not an array"
        )
    container = Container.JSONL if first.startswith(b"{") else Container.CSV
    return OpenedDataset(container, stream, is_gzip, bom, counter)


def _looks_utf16(sample: bytes) -> bool:
    """UTF-16 without a BOM: every other byte of ASCII text is NUL."""
    probe = sample[:512]
    if len(probe) < 8:
        return False
    zeros_even = probe[0::2].count(0)
    zeros_odd = probe[1::2].count(0)
    half = len(probe) // 2
    return max(zeros_even, zeros_odd) > 0.4 * half and min(zeros_even, zeros_odd) < 0.05 * half


def _invalid_utf8_share(sample: bytes) -> float:
    if not sample:
        return 0.0
    # final=False: a character cut off at the end of the sample is not counted as invalid
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=False)
    return text.count("\ufffd") / max(1, len(text))
