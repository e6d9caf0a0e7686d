"""The run ledger: one record per dataset id, extended by every later step of the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class RunStatus(StrEnum):
    VALIDATING = "VALIDATING"
    VALIDATED = "VALIDATED"
    REJECTED = "REJECTED"
    TRAINING = "TRAINING"
    STOPPING = "STOPPING"  # a user asked to stop; Bedrock's Stopped event (or the reconciler) finishes it
    TRAINED = "TRAINED"
    TRAINING_FAILED = "TRAINING_FAILED"
    TRAINING_STOPPED = "TRAINING_STOPPED"

# runs whose training job may still change state: the reconciler looks at these
IN_FLIGHT_TRAINING = (RunStatus.TRAINING, RunStatus.STOPPING)

def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

class TimelineEntry(BaseModel):
    at: str
    status: str
    note: str = ""

class RunRecord(BaseModel):
    model_config = ConfigDict(extra="allow")  # later steps add their own fields

    dataset_id: str
    status: str
    created_at: str
    updated_at: str
    source: dict[str, Any]
    timeline: list[TimelineEntry] = Field(default_factory=list)
    options: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    counts: dict[str, Any] | None = None
    reasons: list[str] | None = None
    outcome_event: dict[str, Any] | None = None  # validation's outcome event, kept until announced (outbox)
    announced_at: str | None = None
    lease_until: float | None = None
    lease_owner: str | None = None
