"""boto3 clients, created on first use (never at import), each with a call profile sized to the functions that
use it, and a deadline guard so that an error surfaces before Lambda kills the function.

Profiles (connect / read timeout, attempts): a control-plane call (DynamoDB, EventBridge, SNS, SQS, Bedrock's
control plane) answers in well under a second, so `API` gives it 10 s to read and 3 attempts: at worst about
45 s with the backoff, inside the shortest pipeline function's 60 s. S3 streams whole objects (`OBJECTS`):
its read timeout bounds a pause in the stream, not the transfer.
A model call (`MODEL`, Converse) may think for a minute on a long answer; only the evaluation's chunk
function (900 s) makes them. `worst_case_seconds` is what tests hold against each function's timeout.

The guard (`guard_invocation`, which `pipeline_handler` applies): every attempt of every call checks the time
the invocation has left; an attempt that could not finish in it is not sent, and `DeadlineNear` is raised
instead, which the step logs and the platform retries (the sweeper, the dead-letter queue), as it would any
error, rather than a timeout that loses the log line and the metrics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class CallProfile:
    connect_timeout: float
    read_timeout: float
    max_attempts: int  # every attempt, the first included (botocore's total_max_attempts)
    retry_mode: str = "standard"
    max_pool_connections: int = 10

    def config(self, service: str = "") -> Config:
        # S3: Signature Version 4 for presigned URLs too (required for KMS-encrypted objects and newer regions)
        # and the regional virtual-hosted endpoint: the global one redirects (307) for a new bucket outside us-east-1
        extra = {"signature_version": "s3v4", "s3": {"addressing_style": "virtual"}} if service == "s3" else {}
        return Config(connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                      retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
                      max_pool_connections=self.max_pool_connections, **extra)

    def attempt_seconds(self) -> float:
        return self.connect_timeout + self.read_timeout

    def worst_case_seconds(self) -> float:
        """Every attempt timing out, with botocore's longest backoff between them (standard and adaptive modes
        wait at most min(20 s, 2^attempt) before the next attempt)."""
        backoff = sum(min(20.0, 2.0 ** attempt) for attempt in range(1, self.max_attempts))
        return self.max_attempts * self.attempt_seconds() + backoff


API = CallProfile(connect_timeout=3, read_timeout=10, max_attempts=3)
# a read timeout bounds the silence between two reads of a socket, not a whole object's transfer
OBJECTS = CallProfile(connect_timeout=3, read_timeout=12, max_attempts=3)
# adaptive: client-side rate limiting once Bedrock throttles; a pool as large as the evaluation's concurrency
MODEL = CallProfile(connect_timeout=5, read_timeout=60, max_attempts=5, retry_mode="adaptive",
                    max_pool_connections=32)

# a function behind API Gateway (29 s) answers a person: every call short, one retry (CALL_PROFILE=interactive)
INTERACTIVE = CallProfile(connect_timeout=2, read_timeout=5, max_attempts=2)

PROFILES: dict[str, CallProfile] = {"s3": OBJECTS, "bedrock-runtime": MODEL}  # every other service: API
DEADLINE_MARGIN_SECONDS = 2.5  # left for the step to log the error, flush its metrics and return


class DeadlineNear(RuntimeError):
    """A call was not sent (or not retried) because the invocation would end before it could finish."""


def profile_of(service: str) -> CallProfile:
    if os.environ.get("CALL_PROFILE") == "interactive":
        return INTERACTIVE
    return PROFILES.get(service, API)


# the time the current invocation has left, in seconds; None outside Lambda (the demo, a script)
_remaining: Callable[[], float] | None = None


@contextmanager
def guard_invocation(context: Any) -> Iterator[None]:
    """While a handler runs: calls respect the invocation's deadline (`context.get_remaining_time_in_millis`)."""
    global _remaining
    before = _remaining
    getter = getattr(context, "get_remaining_time_in_millis", None)
    _remaining = (lambda: getter() / 1000) if callable(getter) else None
    try:
        yield
    finally:
        _remaining = before


def _check_deadline(request: Any, operation_name: str = "", *, service: str, **_: Any) -> None:
    if _remaining is None:
        return
    left = _remaining()
    attempt = ((getattr(request, "context", None) or {}).get("retries") or {}).get("attempt", 1)
    # the first attempt goes if the step can still act on its answer; a retry only if it could finish
    needed = DEADLINE_MARGIN_SECONDS + (profile_of(service).attempt_seconds() if attempt > 1 else 0.0)
    if left < needed:
        raise DeadlineNear(f"{service} {operation_name or 'call'} (attempt {attempt}) not sent: "
                           f"{left:.1f} s of the invocation left, {needed:.1f} s needed")


def _guarded(service: str, made: Any) -> Any:
    # request-created fires once per attempt, before signing and sending (and before moto answers in tests)
    made.meta.events.register_first(f"request-created.{made.meta.service_model.service_id.hyphenize()}",
                                    partial(_check_deadline, service=service))
    return made


@cache
def client(service: str) -> Any:
    return _guarded(service, boto3.session.Session().client(service, config=profile_of(service).config(service)))


def model_client() -> Any:
    return client("bedrock-runtime")


@cache
def resource(service: str) -> Any:
    made = boto3.session.Session().resource(service, config=profile_of(service).config(service))
    _guarded(service, made.meta.client)
    return made


def reset_clients() -> None:
    """For tests and the local harness: forget clients bound to an earlier (mocked) session."""
    client.cache_clear()
    resource.cache_clear()
