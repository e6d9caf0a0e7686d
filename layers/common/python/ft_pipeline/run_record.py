"""The run record: one per run, in the ledger table, with one typed section per step.

Steps never write a record whole: a transition (`lifecycle.py`) sets the status and the fields of the
sections its step owns, in one conditional write, together with its event in the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ft_pipeline.clock import parse_iso
from ft_pipeline.contracts import ObjectRef, SplitCounts, TrainingMetricsSummary
from ft_pipeline.lifecycle import RunState, ServingState

SWEEPER = "sweeper"  # the lease owner while a retry the sweeper asked for has not been claimed yet


def _utc_time(text: str) -> str:
    """The ledger's times are the clock's ISO format, in UTC: compared as strings by DynamoDB, as times here."""
    moment = parse_iso(text)
    if moment.utcoffset() is None or moment.utcoffset().total_seconds() != 0:
        raise ValueError(f"{text!r} is not a UTC time")
    return text


Time = Annotated[str, AfterValidator(_utc_time)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a newer version's fields do not make the record unreadable


class Lease(_Section):
    """Who is expected to act on a run next, and by when. A step that dies leaves it to lapse."""

    owner: str
    until: Time
    retries: int = 0  # how many times the sweeper has asked for a retry of this step

    def lapsed(self, now: datetime) -> bool:
        return parse_iso(self.until) <= now  # a lease given back (until = now) is open at once

    def open_to_retry(self, now: datetime) -> bool:
        """A retry (a redelivery, or the one the sweeper asked for) may take the run over."""
        return self.owner == SWEEPER or self.lapsed(now)


class TimelineEntry(_Section):
    at: str
    status: str
    transition: str = ""
    note: str = ""


class Notification(_Section):
    subject: str
    message: str


class OutboxEvent(_Section):
    """An event recorded by the transition that caused it, published after it, then marked announced."""

    key: str = ""  # set by the ledger: `<transition>@<time>`
    detail_type: str
    source: str
    detail: dict[str, Any]
    resources: list[str] = Field(default_factory=list)
    created_at: str = ""
    announced_at: str | None = None
    notification: Notification | None = None  # sent once, before the event (failures, for people)
    notified_at: str | None = None

    @property
    def pending(self) -> bool:
        return self.announced_at is None or (self.notification is not None and self.notified_at is None)


class ValidationSection(_Section):
    outputs: dict[str, str] = Field(default_factory=dict)  # file name -> s3 URI
    counts: SplitCounts | None = None
    reasons: list[str] = Field(default_factory=list)
    labels: list[str] | None = None
    output_format: str | None = None


class TrainingMetrics(TrainingMetricsSummary):
    curves: dict[str, list[list[float]]] = Field(default_factory=dict)  # thinned; full curves at metrics_uri


class TrainingSection(_Section):
    job_name: str | None = None
    job_arn: str | None = None
    custom_model_name: str | None = None
    output_uri: str | None = None
    hyperparameters: dict[str, str] | None = None
    started_at: str | None = None
    ended_at: str | None = None
    status_source: str | None = None  # event | sweeper | start
    failure_message: str | None = None
    metrics: TrainingMetrics | None = None


class ModelSection(_Section):
    base_model: str | None = None
    custom_model_arn: str | None = None
    custom_model_name: str | None = None
    # custom models bill storage monthly until deleted; the pipeline never deletes one unless asked to
    storage_note: str | None = None
    deleted_at: str | None = None


class ServingSection(_Section):
    """The paid serving resource (the deploy step fills it): its own lifecycle, with a hard deadline."""

    state: ServingState = ServingState.NONE
    mode: str | None = None  # provisioned | on-demand
    name: str | None = None
    arn: str | None = None
    model_units: int = 1
    deadline: str | None = None  # deleted by then, whatever else happens
    requested_at: str | None = None
    created_at: str | None = None
    active_at: str | None = None
    deleting_at: str | None = None
    deleted_at: str | None = None
    reason: str | None = None  # why it was deleted (or queued)
    queued_since: str | None = None  # first queued at the PT quota: the queue time counts from here, once
    keep: bool = False  # kept after the run (only when asked for and the quality gate passed)

    @property
    def paid(self) -> bool:
        return self.state in (ServingState.CREATING, ServingState.ACTIVE, ServingState.DELETING)


class EvaluationSection(_Section):
    """The evaluation's plan (its sample, in chunks), then its outcome and where the report is."""

    sample_uri: str | None = None
    chunks: int = 0
    examples: int = 0
    started_at: str | None = None
    report_uri: str | None = None
    report_html_uri: str | None = None
    predictions_uri: str | None = None
    passed: bool | None = None  # the quality gate's verdict
    summary: str | None = None  # the headline figures, in words
    reason: str | None = None  # why it failed


class ImportSection(_Section):
    """A model folder's import (Custom Model Import): the checks' verdict, the job, the imported model."""

    folder_uri: str | None = None
    waiting_for: list[str] = Field(default_factory=list)  # listed files not there (at their size) at the first look
    manifest: dict[str, Any] | None = None  # the manifest as read (file names and sizes, test set, options)
    check_uri: str | None = None  # the checks' full verdict, as JSON
    architecture: str | None = None
    family: str | None = None
    converse_supported: bool | None = None
    weights_bytes: int | None = None
    warnings: list[str] = Field(default_factory=list)
    job_name: str | None = None
    job_arn: str | None = None
    imported_model_name: str | None = None
    imported_model_arn: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    status_source: str | None = None  # start | sweeper
    failure_message: str | None = None


class CostSection(_Section):
    estimated_training_usd: float | None = None  # the validator's estimate
    serving_usd: float | None = None  # so far (None: the price is unknown)
    serving_hours: float = 0.0
    storage_usd_per_month: float | None = None
    total_usd: float | None = None
    unconfirmed: list[str] = Field(default_factory=list)  # prices AWS's pages do not state
    as_of: str | None = None


class StopSection(_Section):
    requested_at: str
    requested_by: str | None = None


SECTIONS = ("validation", "training", "model", "serving", "evaluation", "cost", "model_import")


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    kind: Literal["dataset", "import"] = "dataset"
    status: RunState
    created_at: Time
    updated_at: Time
    state_since: Time  # when the run entered its current state (self-transitions keep it)
    source: ObjectRef
    options: dict[str, Any] = Field(default_factory=dict)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    lease: Lease | None = None
    outbox: dict[str, OutboxEvent] = Field(default_factory=dict)
    event_seq: int = 0  # events ever recorded; settles the outbox's pending flag without a race
    outbox_state: str | None = None  # PENDING while an event waits (the sweeper's index)
    validation: ValidationSection = Field(default_factory=ValidationSection)
    training: TrainingSection = Field(default_factory=TrainingSection)
    model: ModelSection = Field(default_factory=ModelSection)
    serving: ServingSection = Field(default_factory=ServingSection)
    evaluation: EvaluationSection = Field(default_factory=EvaluationSection)
    cost: CostSection = Field(default_factory=CostSection)
    model_import: ImportSection = Field(default_factory=ImportSection)
    stop: StopSection | None = None

    def pending_events(self) -> list[OutboxEvent]:
        """Events still to publish (or to notify), oldest first."""
        return sorted((e for e in self.outbox.values() if e.pending), key=lambda e: (e.created_at, e.key))

    def last_note(self) -> str:
        return self.timeline[-1].note if self.timeline else ""
