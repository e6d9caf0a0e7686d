import codecs
import gzip
import io

import pytest

from ft_pipeline.dataset.reader import Container, DatasetUnreadable, GzipDamaged, open_dataset


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
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "NUL byte at offset 8"),
        (bytes(range(128, 256)) * 10, "not UTF-8"),
        (b'[{"a": 1}]', "JSON array"),
        (gzip.compress(b'{"a":1}\n')[:-12], "gzip"),
    ],
)
def test_unreadable_files_are_rejected_with_a_reason(data: bytes, message: str):
    with pytest.raises((DatasetUnreadable, GzipDamaged), match=message):  # GzipDamaged: mid-stream
        result = opened(data)
        result.stream.read()


def test_json_lines_are_utf8_whatever_their_bytes_say():
    # no UTF-8 character and bytes that are not UTF-8: a CSV would be read as Windows-1252; JSON Lines never are
    assert opened('{"text": "caf\u00e9 \u2019 \u2013", "label": "b"}\n'.encode("cp1252")).encoding == "utf-8"


@pytest.mark.parametrize("damage", [b"\x81", b"\xe9", b"\x92"])
def test_one_stray_byte_in_ascii_text_is_damage_not_another_encoding(damage):
    data = b"text,label\n" + b"".join(f"headline {i},science\n".encode() for i in range(50))
    assert opened(data[:200] + damage + data[200:]).encoding == "utf-8"


def test_zero_padding_after_the_gzip_data_is_the_end():
    payload = b'{"a": 1}\n' * 10
    result = opened(gzip.compress(payload) + b"\x00" * 5000)
    assert result.stream.read() == payload
