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


# model calls: a bounded wait per call, adaptive retries (client-side rate limiting on throttling), and a
# connection pool as large as the evaluation's concurrency allows
MODEL_CALL_CONFIG = Config(
    connect_timeout=5,
    read_timeout=30,
    retries={"mode": "adaptive", "max_attempts": 8},
    max_pool_connections=32,
)


@cache
def model_client() -> Any:
    return boto3.session.Session().client("bedrock-runtime", config=MODEL_CALL_CONFIG)


@cache
def resource(service: str) -> Any:
    return boto3.session.Session().resource(service, config=CLIENT_CONFIG)


def reset_clients() -> None:
    """For tests and the local harness: forget clients bound to an earlier (mocked) session."""
    client.cache_clear()
    model_client.cache_clear()
    resource.cache_clear()
