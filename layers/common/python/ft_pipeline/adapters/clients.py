"""boto3 clients, created on first use (never at import) with explicit timeouts and standard retries."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(
    connect_timeout=5,
    read_timeout=60,
    retries={"mode": "standard", "max_attempts": 5},
)


@cache
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=CLIENT_CONFIG)


@cache
def resource(service: str) -> Any:
    return boto3.session.Session().resource(service, config=CLIENT_CONFIG)


def reset_clients() -> None:
    """For tests and the local harness: forget clients bound to an earlier (mocked) session."""
    client.cache_clear()
    resource.cache_clear()
