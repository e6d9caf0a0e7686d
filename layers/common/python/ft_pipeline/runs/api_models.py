"""The runs API's request and response bodies: the one source for the handler, its OpenAPI document, the
command-line tool and the tests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ft_pipeline.api_bodies import ErrorResponse
from ft_pipeline.lifecycle import RunState, ServingState

MAX_PAGE = 100
DEFAULT_PAGE = 20
FILENAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.(csv|jsonl)(\.gz)?$"


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


ErrorAnswer = ErrorResponse  # the error answer both APIs share (ft_pipeline/api_bodies.py)


class StateTime(_Answer):
    """One step of the run's timeline: the state it entered, when, by which transition, and why."""

    status: str
    at: str
    transition: str = ""
    note: str = ""


class RunSummary(_Answer):
    """A run as a list shows it."""

    run_id: str
    kind: Literal["dataset", "import"] = Field("dataset", description="a dataset trained by Bedrock, or a model "
                                                                      "folder imported (Custom Model Import)")
    status: RunState
    created_at: str
    state_since: str
    key: str = Field(description="the uploaded object's key (an import: the folder's import-manifest.json)")
    base_model: str | None = None
    serving_state: ServingState = ServingState.NONE
    cost_usd: float | None = Field(None, description="the run's cost so far (training estimate + serving)")
    passed: bool | None = Field(None, description="the quality gate's verdict, once evaluated")


class RunList(_Answer):
    runs: list[RunSummary]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; absent on the last")


class Link(_Answer):
    url: str
    expires_at: str


class TrainingView(_Answer):
    job_name: str | None = None
    job_arn: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    failure_message: str | None = None
    training_loss: float | None = None
    validation_loss: float | None = None


class ModelView(_Answer):
    base_model: str | None = None
    custom_model_arn: str | None = None
    deleted_at: str | None = None


class ImportView(_Answer):
    """A model folder's import: what the checks found, the job, the imported model."""

    folder_uri: str | None = None
    waiting_for: list[str] = Field(default_factory=list, description="IMPORT_WAITING: listed files not there (at "
                                                                     "their sizes) when the folder was first seen")
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
    failure_message: str | None = None


class ServingView(_Answer):
    state: ServingState = ServingState.NONE
    mode: str | None = None
    name: str | None = None
    arn: str | None = None
    deadline: str | None = Field(None, description="deleted by then, whatever else happens")
    created_at: str | None = None
    active_at: str | None = None
    deleted_at: str | None = None
    reason: str | None = None
    keep: bool = False


class CostView(_Answer):
    estimated_training_usd: float | None = None
    serving_usd: float | None = None
    serving_hours: float = 0.0
    storage_usd_per_month: float | None = None
    total_usd: float | None = None
    unconfirmed: list[str] = Field(default_factory=list, description="prices AWS's pages do not state")
    as_of: str | None = None


class EvaluationView(_Answer):
    summary: str | None = None
    scores: dict[str, float] | None = Field(None, description="each model's headline figure (tuned, base)")
    metric: str | None = Field(None, description="what the scores are: accuracy or exact_match")
    passed: bool | None = Field(None, description="the quality gate's verdict")
    reason: str | None = None
    examples: int = 0


class RunDetail(_Answer):
    """A run as a person following it needs it."""

    run_id: str
    kind: Literal["dataset", "import"] = "dataset"
    status: RunState
    created_at: str
    updated_at: str
    state_since: str
    source: dict[str, Any]
    counts: dict[str, int] | None = None
    reasons: list[str] = Field(default_factory=list, description="why the dataset (or model folder) was rejected, "
                                                                 "if it was: each names its file, line or field")
    timeline: list[StateTime]
    training: TrainingView
    model: ModelView
    serving: ServingView
    cost: CostView
    evaluation: EvaluationView
    model_import: ImportView | None = Field(None, description="an import run's folder, job and imported model")
    stop_requested_at: str | None = None
    stop_requested_by: str | None = None
    links: dict[str, Link] = Field(default_factory=dict,
                                   description="short-lived presigned links: report.html, report.json, "
                                               "rejected.jsonl, import-check.json (those that exist)")


class StopAnswer(_Answer):
    run_id: str
    status: RunState
    stop_requested: bool = Field(description="a stop was sent now (false: the run has nothing left to stop)")
    message: str


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(pattern=FILENAME_PATTERN, description="the data file's name: .csv or .jsonl, optionally .gz")
    options: dict[str, Any] | None = Field(None, description="the options manifest's content (see Per-dataset "
                                                             "options); checked now, written beside the data")


class Upload(_Answer):
    method: str = "PUT"
    url: str
    key: str
    headers: dict[str, str] = Field(default_factory=dict, description="send these headers with the upload")


class SubmitAnswer(_Answer):
    data: Upload = Field(description="PUT the data file here; the upload starts the run")
    options: Upload = Field(description="PUT an options manifest here first, if you have one as a file")
    options_written: bool = Field(description="the options given in the request were checked and written")
    expires_at: str
    follow: str = Field(description="how to find the run once the data is uploaded")
