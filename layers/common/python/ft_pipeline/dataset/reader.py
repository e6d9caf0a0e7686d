"""Open an uploaded dataset as a stream: gzip, BOM, encoding and CSV-vs-JSONL detection by content.

Nothing here holds more than one read buffer of the file in memory.
"""

from __future__ import annotations

import codecs
import io
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

READ_BUFFER = 1 << 20
SNIFF_BYTES = 1 << 20  # enough text to tell an encoding by its characters


class Container(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


class DatasetUnreadable(ValueError):
    """The file as a whole cannot be read as a dataset; the message says what and where."""


class GzipDamaged(ValueError):
    """The upload's gzip data is corrupt or cut short. Its own type: an OSError from below (an S3 read timeout,
    a full disk) is the infrastructure's, retried, never a verdict on the data."""


class _PrefixedStream(io.RawIOBase):
    """Serves bytes already read for sniffing, then the rest of the underlying stream."""

    def __init__(self, prefix: bytes, rest: io.BufferedReader, error: BaseException | None = None) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest
        self._error = error  # met while reading the prefix: raised once the prefix is handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        if self._error is not None:
            raise self._error
        # read1: what is there now, at most one read below, so that bytes read before a failure (a truncated
        # gzip) are handed out first instead of being dropped with the exception
        data = self._rest.read1(len(buffer))
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


class GunzipStream(io.RawIOBase):
    """Decompresses gzip (one member or several) on demand, each read at most the caller's buffer, so a
    compression bomb costs one buffer. Unlike GzipFile, every byte before a truncation is handed out first; the
    read after it raises GzipDamaged, so the records before the cut are all read and counted."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""  # compressed input not yet given to the decompressor

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while True:
            if self._inflate.eof:
                rest = self._inflate.unused_data or self._raw.read(READ_BUFFER)
                while rest and not rest.strip(b"\x00"):  # zero padding after the last member, as gzip allows
                    rest = self._raw.read(READ_BUFFER)
                if not rest:
                    return 0  # the end, after a complete member
                self._inflate, self._pending = zlib.decompressobj(wbits=31), rest.lstrip(b"\x00")
            data = self._inflate.unconsumed_tail or self._pending or self._raw.read(READ_BUFFER)
            self._pending = b""
            if not data:
                raise GzipDamaged("the gzip data ends before its end marker (a truncated upload?)")
            try:
                out = self._inflate.decompress(data, len(buffer))
            except zlib.error as exc:
                raise GzipDamaged(f"corrupt gzip data ({exc})") from None
            if out:
                buffer[:len(out)] = out
                return len(out)


@dataclass
class OpenedDataset:
    container: Container
    stream: io.BufferedReader  # decompressed, BOM removed, positioned at the first byte of content
    gzip: bool
    bom: bool
    counter: CountingReader
    encoding: str = "utf-8"  # how CSV text is decoded; JSON Lines are always UTF-8
    notes: tuple[str, ...] = ()  # what the reader decided for the user (an encoding it detected)


def _read_up_to(stream: io.BufferedReader, size: int) -> tuple[bytes, BaseException | None]:
    """Up to `size` bytes, and the error that stopped the reading early (a truncated gzip), if one did."""
    chunks, total = [], 0
    while total < size:
        try:
            chunk = stream.read1(size - total)
        except GzipDamaged as exc:
            return b"".join(chunks), exc
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks), None


def open_dataset(source: BinaryIO, name: str) -> OpenedDataset:
    """Detect compression, encoding and container of `source` from its first bytes."""
    counter = CountingReader(source)
    raw = io.BufferedReader(counter, READ_BUFFER)
    is_gzip = raw.peek(2)[:2] == b"\x1f\x8b"  # peek: the magic bytes stay in the stream
    if is_gzip:
        raw = io.BufferedReader(GunzipStream(raw), READ_BUFFER)  # type: ignore[arg-type]
    sample, error = _read_up_to(raw, SNIFF_BYTES)
    if error is not None and not sample:
        raise DatasetUnreadable(f"{name}: corrupt gzip data ({error})") from None

    encoding, bom, note = _detect_encoding(sample, name, _first_byte(sample) == b"{")
    if bom:
        sample = sample[bom:]
    # the first character: in UTF-16 it takes decoding; in the others (ASCII-compatible) it is the first byte
    first = sample.decode(encoding, errors="replace").lstrip()[:1] if encoding.startswith("utf-16") \
        else _first_byte(sample).decode("ascii", errors="replace")
    container = Container.JSONL if first == "{" else Container.CSV
    if first == "[":
        raise DatasetUnreadable(
            f"{name}: line 1 starts a JSON array; JSON Lines needs one JSON object per line, not an array"
        )
    if not first:
        if error is not None:
            raise DatasetUnreadable(f"{name}: corrupt gzip data ({error})") from None
        if len(sample) < SNIFF_BYTES:
            raise DatasetUnreadable(f"{name}: the file is empty (no records)")
        raise DatasetUnreadable(f"{name}: the first {SNIFF_BYTES // 1024} KiB hold only blank lines")
    if container is Container.JSONL and encoding != "utf-8":
        raise DatasetUnreadable(f"{name}: the file is {ENCODING_NAMES[encoding]}, not UTF-8; JSON Lines must be "
                                "UTF-8: save it as UTF-8")
    stream = io.BufferedReader(_PrefixedStream(sample, raw, error), READ_BUFFER)
    return OpenedDataset(container, stream, is_gzip, bom > 0, counter, encoding, (note,) if note else ())


MIN_LEGACY_EVIDENCE = 3  # bytes that are not UTF-8 before a file is read as Windows-1252: one is damage
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-16-le": "UTF-16 (little-endian)", "utf-16-be": "UTF-16 (big-endian)",
                  "cp1252": "Windows-1252"}


def _decoded_as(encoding: str) -> str:
    return f"the file is {ENCODING_NAMES[encoding]} (Excel's \"Unicode text\" export), and was decoded as such"


def _first_byte(sample: bytes) -> bytes:
    """The first byte after a UTF-8 BOM and white space (ASCII-compatible encodings only)."""
    body = sample[len(codecs.BOM_UTF8):] if sample.startswith(codecs.BOM_UTF8) else sample
    return body.lstrip()[:1]


def _detect_encoding(sample: bytes, name: str, json_lines: bool) -> tuple[str, int, str | None]:
    """(encoding, length of its byte-order mark, what to tell the user) for the first bytes of a file.

    UTF-8 unless the bytes say otherwise. A file with valid UTF-8 characters and a few bytes that are not is
    UTF-8 with damage: only the records holding those bytes are rejected. A file with no valid UTF-8 character
    but bytes that are not UTF-8 is a legacy 8-bit export (Excel's plain "CSV" on Windows): Windows-1252.
    """
    if sample.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2, _decoded_as("utf-16-le")
    if sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2, _decoded_as("utf-16-be")
    utf16 = _looks_utf16(sample)
    if utf16:
        return utf16, 0, _decoded_as(utf16)
    bom = len(codecs.BOM_UTF8) if sample.startswith(codecs.BOM_UTF8) else 0
    body = sample[bom:]
    nul = body.find(b"\x00")
    if nul >= 0:
        raise DatasetUnreadable(
            f"{name}: binary content (NUL byte at offset {nul}); expected UTF-8 CSV or JSON Lines text"
        )
    if body.isascii():
        return "utf-8", bom, None
    # final=False: a character cut off at the end of the sample is not counted as invalid
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(body, final=False)
    invalid = text.count("\ufffd")
    if invalid == 0:
        return "utf-8", bom, None
    valid = sum(1 for ch in text if ord(ch) > 127) - invalid
    # JSON Lines are UTF-8 by definition; a few bad bytes, or any valid UTF-8 character, mean damaged UTF-8:
    # the records holding the bad bytes are rejected, one by one, and the rest is read
    if json_lines or bom or valid >= invalid or invalid < MIN_LEGACY_EVIDENCE:
        return "utf-8", bom, None
    try:
        body.decode("cp1252")
    except UnicodeDecodeError:
        if invalid / max(1, len(text)) <= 0.05:
            return "utf-8", bom, None
        raise DatasetUnreadable(f"{name}: not UTF-8 text ({invalid} bytes in the first {len(body)} do not decode "
                                "as UTF-8, nor as Windows-1252); save it as UTF-8 (CSV or JSON Lines)") from None
    return "cp1252", 0, ("the file is not UTF-8 (its first MiB has no UTF-8 character, and bytes that are not "
                         "UTF-8); it was read as Windows-1252, as Excel writes plain CSV: check the text, or save "
                         "it as CSV UTF-8")


def _looks_utf16(sample: bytes) -> str | None:
    """UTF-16 without a BOM: every other byte of ASCII text is NUL (odd bytes: little-endian)."""
    probe = sample[:512]
    if len(probe) < 8:
        return None
    zeros_even = probe[0::2].count(0)
    zeros_odd = probe[1::2].count(0)
    half = len(probe) // 2
    if max(zeros_even, zeros_odd) > 0.4 * half and min(zeros_even, zeros_odd) < 0.05 * half:
        return "utf-16-le" if zeros_odd > zeros_even else "utf-16-be"
    return None
