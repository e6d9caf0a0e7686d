"""Opaque page cursors: the ledger query's last evaluated key, as URL-safe base64 of its JSON.

A cursor is checked on the way in (its shape, not a signature): a made-up one can only start the listing at
another place in the same index, which the caller may list anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

MAX_CURSOR_CHARS = 1_000


class InvalidCursor(ValueError):
    pass


def encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":"), sort_keys=True).encode()).decode()


def decode(cursor: str | None, allowed: frozenset[str], fixed: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The key a cursor holds: exactly the string attributes named in `allowed` (DynamoDB refuses a partial start
    key), with the values `fixed` gives (the index's one partition)."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor: not one this API gave out")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor: not one this API gave out") from None
    if (not isinstance(key, dict) or set(key) != allowed
            or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) and 0 < len(v["S"]) <= 200
                       for v in key.values())
            or any(key[name]["S"] != value for name, value in (fixed or {}).items())):
        raise InvalidCursor("cursor: not one this API gave out")
    return key
