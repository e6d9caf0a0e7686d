import codecs
import gzip
import io

import pytest

from ft_pipeline.dataset.reader import Container, DatasetUnreadable, open_dataset


def opened(data: bytes):
    return open_dataset(io.BytesIO(data), "upload")


def test_detects_jsonl_by_content_whatever_the_name():
    result = opened(b'\n  {"text": "a", "label": "b"}\n')
    assert result.container is Container.JSONL
    assert result.stream.read() == b'\n  {"text": "a", "label": "b"}\n'  # nothing consumed by sniffing


def test_detects_csv_and_strips_a_utf8_bom():
    result = opened(codecs.BOM_UTF8 + b"text,label\r\nhello,x\r\n")
    assert result.container is Container.CSV
    assert result.bom
    assert result.stream.read() == b"text,label\r\nhello,x\r\n"


def test_decompresses_gzip_transparently():
    payload = b'{"prompt": "p", "completion": "c"}\n' * 10_000
    result = opened(gzip.compress(payload))
    assert result.gzip
    assert result.stream.read() == payload
    assert result.counter.bytes_read < len(payload)  # counts what was read from the source


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n   \n", "empty"),
        (codecs.BOM_UTF16_LE + '{"text": "a", "label": "b"}\n'.encode("utf-16-le"), "UTF-16.*JSON Lines must be UTF-8"),
        ('{"text": "a", "label": "b"}\n'.encode("utf-16-le"), "UTF-16"),
        ('{"text": "caf\u00e9 \u2019", "label": "b"}\n'.encode("cp1252"), "Windows-1252, not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "NUL byte at offset 8"),
        (bytes(range(128, 256)) * 10, "not UTF-8"),
        (b'[{"a": 1}]', "JSON array"),
        (gzip.compress(b'{"a":1}\n')[:-12], "gzip"),
    ],
)
def test_unreadable_files_are_rejected_with_a_reason(data: bytes, message: str):
    with pytest.raises((DatasetUnreadable, EOFError), match=message):  # EOFError: mid-stream, as the validator reads on
        result = opened(data)
        result.stream.read()
