"""What the steps need from the world, as Protocols, and the domain types that cross that line.

Steps import from here, never from `adapters/`; adapters implement these; `wiring.py` picks them. A test
can hand a step any object with these methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from ft_pipeline.clock import Clock, clock
from ft_pipeline.contracts import ObjectRef
from ft_pipeline.lifecycle import RunState, ServingState
from ft_pipeline.run_record import Lease, OutboxEvent, RunRecord
from ft_pipeline.settings import TrainingSettings, ValidatorSettings

# --- domain types ----------------------------------------------------------------------------------------


class JobSnapshot(BaseModel):
    """What GetModelCustomizationJob says now: the authority, whatever events claimed."""

    job_arn: str
    job_name: str
    status: str  # InProgress | Completed | Failed | Stopping | Stopped
    failure_message: str | None = None
    output_model_arn: str | None = None
    output_model_name: str | None = None
    output_uri: str | None = None
    training_loss: float | None = None
    validation_losses: list[float] = []
    creation_time: str | None = None
    end_time: str | None = None


class ImportJobSnapshot(BaseModel):
    """What GetModelImportJob says now (no event exists for import jobs: this is the only source)."""

    job_arn: str
    job_name: str
    status: str  # InProgress | Completed | Failed
    imported_model_arn: str | None = None
    imported_model_name: str | None = None
    failure_message: str | None = None
    creation_time: str | None = None
    end_time: str | None = None


class PermanentJobError(RuntimeError):
    """Bedrock refused the request for a reason a retry will not change; `code` is AWS's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class ServingSnapshot(BaseModel):
    """What Get/List say of a provisioned throughput or a custom model deployment now."""

    mode: str  # provisioned | on-demand
    name: str
    arn: str
    status: str  # PT: Creating | InService | Updating | Failed; deployment: Creating | Active | Failed
    model_arn: str | None = None
    failure_message: str | None = None
    created_at: str | None = None
    committed: bool = False  # a PT with a commitment term (never ours: we only buy no-commitment)

    @property
    def ready(self) -> bool:
        return self.status in ("InService", "Active")


class ServingQuotaExceeded(RuntimeError):
    """The account's limit (two no-commitment PTs) is reached."""


@dataclass(frozen=True)
class UnreadableRecord:
    """A ledger item that does not parse as a run record: reported and counted, never fatal to a sweep."""

    run_id: str
    error: str


@dataclass(frozen=True)
class Page:
    """One page of the runs listing, and the cursor of the next (None: this was the last)."""

    records: list[RunRecord | UnreadableRecord]
    cursor: str | None


class StepOutcome(BaseModel):
    """What one step did with one run (handlers return it; the sweeper collects them)."""

    action: str
    run_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None
    version_id: str | None


# --- ports -----------------------------------------------------------------------------------------------


class Ledger(Protocol):
    def get(self, run_id: str) -> RunRecord | None: ...

    def apply(self, run_id: str, name: str, *, changes: dict[str, Any] | None = None,
              event: OutboxEvent | None = None, note: str = "", lease: Lease | None = None,
              expected_lease: Lease | None = None, source: ObjectRef | None = None) -> RunRecord | None:
        """Apply the lifecycle transition `name`; the new record, or None when the run is not in one of its
        source states (or its guard does not hold): another caller got there first."""
        ...

    def apply_serving(self, run_id: str, target: ServingState, *, changes: dict[str, Any] | None = None,
                      note: str = "") -> RunRecord | None: ...

    def record_cost(self, run_id: str, cost: dict[str, Any]) -> None: ...

    def mark_delivered(self, run_id: str, key: str, what: str) -> None: ...

    def settle_outbox(self, run_id: str, event_seq: int) -> None: ...

    def runs_in_state(self, state: RunState) -> Iterator[RunRecord | UnreadableRecord]: ...

    def runs_with_pending_events(self, updated_before: str) -> Iterator[str]:
        """Ids of runs whose outbox holds an undelivered event, last moved before `updated_before`."""
        ...

    def claim_content(self, content_key: str, run_id: str, replacing: str | None = None) -> str:
        """Record `run_id` as the run of this content (data and options), if no run is recorded (or if
        `replacing` is). The run recorded afterwards: `run_id`, or the one that holds it."""
        ...


class Publisher(Protocol):
    def publish(self, event: OutboxEvent) -> str: ...


class Notifier(Protocol):
    def notify(self, subject: str, message: str) -> None: ...


class BedrockJobs(Protocol):
    def create_job(self, request: dict[str, Any]) -> str: ...

    def get_job(self, job_name: str) -> JobSnapshot | None:
        """None when no job has that name."""
        ...

    def stop_job(self, job_name: str) -> bool:
        """Ask the job to stop; False when there is no such job or it has already ended."""
        ...


class BedrockImports(Protocol):
    """Custom Model Import jobs (CreateModelImportJob / GetModelImportJob)."""

    def create_import_job(self, request: dict[str, Any]) -> str:
        """The job's ARN (the existing one's, for the same name: our own earlier attempt). Raises
        PermanentJobError for refusals a retry cannot fix."""
        ...

    def get_import_job(self, job_name: str) -> ImportJobSnapshot | None:
        """None when no job has that name."""
        ...


class BedrockServing(Protocol):
    """Provisioned throughputs and custom model deployments: the resources that bill while they exist."""

    def create(self, mode: str, name: str, model_arn: str, model_units: int, token: str,
               tags: dict[str, str]) -> str:
        """The new resource's ARN (the existing one's, for the same name). Raises ServingQuotaExceeded or
        PermanentJobError for refusals a retry cannot fix."""
        ...

    def get(self, mode: str, name: str) -> ServingSnapshot | None: ...

    def delete(self, mode: str, name: str) -> bool:
        """Delete it; True once it is gone (including when it never existed)."""
        ...

    def list_ours(self, name_prefix: str) -> list[ServingSnapshot]: ...

    def tags(self, arn: str) -> dict[str, str]:
        """The resource's tags (the inventory checks which stack made a resource no run of its own owns)."""
        ...

    def no_commitment_pts_in_use(self) -> int:
        """This account's no-commitment PTs, whoever made them (the quota is per account)."""
        ...

    def delete_custom_model(self, model_arn: str) -> bool: ...


class ModelAnswer(BaseModel):
    text: str
    latency_ms: float
    input_tokens: int = 0
    output_tokens: int = 0


class ModelRuntime(Protocol):
    def converse(self, model_id: str, prompt: str, system: str | None, max_tokens: int) -> ModelAnswer:
        """One question, temperature 0. Raises when the call fails after the client's retries."""
        ...


class WorkQueue(Protocol):
    def send(self, messages: list[BaseModel]) -> None: ...


class ObjectStore(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo | None: ...
    def open(self, bucket: str, key: str, version_id: str | None = None) -> Any: ...
    def read_small(self, bucket: str, key: str, max_bytes: int = ...) -> bytes | None: ...
    def upload(self, path: Path, bucket: str, key: str, content_type: str) -> str: ...
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...
    def list_objects(self, bucket: str, prefix: str, limit: int = ...) -> list[ObjectInfo]: ...
    def put_json(self, bucket: str, key: str, document: object) -> str: ...
    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> str: ...


# --- what each kind of step gets -----------------------------------------------------------------------------


@dataclass
class ValidatorDeps:
    settings: ValidatorSettings
    store: ObjectStore
    ledger: Ledger
    publisher: Publisher
    notifier: Notifier | None = None
    clock: Clock = field(default_factory=clock)


@dataclass
class TrainingDeps:
    """The run's steps after validation (start, job status, deploy, teardown, stop) and the sweeper."""

    settings: TrainingSettings
    bedrock: BedrockJobs
    ledger: Ledger
    publisher: Publisher
    notifier: Notifier | None  # None: the step may not publish; the sweeper delivers its notes
    store: ObjectStore
    serving: BedrockServing | None = None
    runtime: ModelRuntime | None = None  # the evaluation's model calls
    queue: WorkQueue | None = None  # the evaluation's chunks
    imports: BedrockImports | None = None  # Custom Model Import jobs
    clock: Clock = field(default_factory=clock)
