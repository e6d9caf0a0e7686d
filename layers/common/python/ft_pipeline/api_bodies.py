"""What both REST APIs do with a request body before routing, and their error answer, in one place."""

from __future__ import annotations

import base64
import binascii
import json
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field


class ErrorResponse(BaseModel):
    message: str
    details: list[dict[str, str]] | None = Field(
        None, description="422 only: the fields (by schema path, never the input) and what is wrong with them")


def json_body(text: str) -> Any:
    """json.loads, but every way a body is not JSON is a JSONDecodeError (which Powertools answers 422)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError):  # e.g. an integer of 5000 digits, or [[[[... nested too deeply
        raise json.JSONDecodeError("unreadable JSON", "", 0) from None


def plain_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event with a base64 body decoded (UTF-8), or None when it is not valid base64 of UTF-8 text."""
    if not event.get("isBase64Encoded") or not event.get("body"):
        return event
    try:
        text = base64.b64decode(event["body"], validate=True).decode("utf-8")
    except (binascii.Error, ValueError, TypeError):
        return None
    return {**event, "body": text, "isBase64Encoded": False}


def error_reply(status: HTTPStatus, message: str) -> dict[str, Any]:
    """A proxy answer made before the resolver runs (too large, not decodable)."""
    return {"statusCode": int(status), "headers": {"Content-Type": "application/json"},
            "body": ErrorResponse(message=message).model_dump_json(exclude_none=True)}
