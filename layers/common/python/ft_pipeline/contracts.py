"""Event contracts: every event this pipeline reads or emits, as pydantic models, in one place.

These models are the single source for the handlers (Powertools parser), the tests, the `events/`
fixtures, and the EventBridge patterns in `template.yaml` (a contract test checks that each rule's
pattern matches what `pattern()` here says and what the models produce).

Shapes of AWS's own events:
- S3 "Object Created" via EventBridge: https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
- Bedrock "Model Customization Job State Change": https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge-how-it-works.html
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import unquote_plus

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ft_pipeline.clock import clock

DetailT = TypeVar("DetailT", bound=BaseModel)

PIPELINE_SOURCE_PREFIX = "ft-pipeline"


class EventBridgeEvent(BaseModel, Generic[DetailT]):
    """The EventBridge envelope (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    version: str = "0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str = "123456789012"
    time: datetime = Field(default_factory=lambda: clock().now())
    region: str = "us-east-1"
    resources: list[str] = Field(default_factory=list)
    detail: DetailT


# --- S3 → EventBridge -------------------------------------------------------------------------------


class S3Bucket(BaseModel):
    name: str


class S3Object(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = Field(None, alias="version-id")
    sequencer: str | None = None

    def key_candidates(self) -> list[str]:
        """Keys to try, decoded first. S3 URL-encodes keys in notifications (`a b` → `a+b`, `/` → `%2F`);
        whether the EventBridge form does is not documented, so a key that only exists verbatim is tried too."""
        decoded = unquote_plus(self.key)
        return [decoded] if decoded == self.key else [decoded, self.key]


class S3ObjectCreatedDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    version: str = "0"
    bucket: S3Bucket
    object: S3Object
    request_id: str | None = Field(None, alias="request-id")
    requester: str | None = None
    reason: str | None = None  # PutObject | POST Object | CopyObject | CompleteMultipartUpload


class S3ObjectCreatedEvent(EventBridgeEvent[S3ObjectCreatedDetail]):
    SOURCE: ClassVar[str] = "aws.s3"
    DETAIL_TYPE: ClassVar[str] = "Object Created"

    @classmethod
    def pattern(cls, bucket: str, prefix: str) -> dict[str, Any]:
        return {"source": [cls.SOURCE], "detail-type": [cls.DETAIL_TYPE],
                "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}}}


# --- Our own events, on the stack's bus --------------------------------------------------------------


class ObjectRef(BaseModel):
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class SplitCounts(BaseModel):
    train: int
    validation: int
    test: int
    rejected: int
    duplicates: int
    blank: int
    records_read: int


class _PipelineDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1"] = "1"
    run_id: str  # for a dataset run also its dataset id: its files are under datasets/<run_id>/
    source: ObjectRef
    # stable per transition (`<run_id>:<transition>@<time>`): the bus delivers at least once, so a consumer
    # that must act once dedupes on it. Set by the ledger when the event is recorded in the outbox.
    event_id: str | None = None


class DatasetValidatedDetail(_PipelineDetail):
    base_model: str
    output_format: str
    training_data_uri: str
    validation_data_uri: str | None  # None when the split is empty (the job then runs without validators)
    test_data_uri: str | None
    report_uri: str
    rejected_uri: str
    counts: SplitCounts
    labels: list[str] | None = None
    estimated_cost_usd: float | None = None
    options: dict[str, Any]


class DatasetRejectedDetail(_PipelineDetail):
    reasons: list[str]
    report_uri: str | None
    rejected_uri: str | None
    counts: SplitCounts | None = None


class DatasetValidated(EventBridgeEvent[DatasetValidatedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.dataset-validator"
    DETAIL_TYPE: ClassVar[str] = "DatasetValidated"


class DatasetRejected(EventBridgeEvent[DatasetRejectedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.dataset-validator"
    DETAIL_TYPE: ClassVar[str] = "DatasetRejected"


# --- Bedrock's own event (default bus) ----------------------------------------------------------------

BEDROCK_TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")


class BedrockJobStateChangeDetail(BaseModel):
    """Lenient on purpose: AWS documents the fields as those of GetModelCustomizationJob, and the sample's
    shapes and timestamp formats vary, so only what the handler needs is required."""

    model_config = ConfigDict(extra="ignore")

    jobName: str
    jobArn: str
    jobStatus: str  # InProgress | Completed | Failed | Stopping | Stopped
    outputModelName: str | None = None
    outputModelArn: str | None = None
    failureMessage: str | None = None
    creationTime: str | None = None
    lastModifiedTime: str | None = None
    endTime: str | None = None
    baseModelArn: str | None = None
    roleArn: str | None = None
    hyperParameters: dict[str, str] | None = None
    trainingDataConfig: dict[str, Any] | None = None
    validationDataConfig: dict[str, Any] | None = None
    outputDataConfig: dict[str, Any] | None = None


class BedrockJobStateChange(EventBridgeEvent[BedrockJobStateChangeDetail]):
    SOURCE: ClassVar[str] = "aws.bedrock"
    DETAIL_TYPE: ClassVar[str] = "Model Customization Job State Change"

    @classmethod
    def pattern(cls, job_name_prefix: str) -> dict[str, Any]:
        return {"source": [cls.SOURCE], "detail-type": [cls.DETAIL_TYPE],
                "detail": {"jobStatus": list(BEDROCK_TERMINAL_STATUSES),
                           "jobName": [{"prefix": job_name_prefix}]}}


class ScheduledEvent(EventBridgeEvent[dict[str, Any]]):
    SOURCE: ClassVar[str] = "aws.events"
    DETAIL_TYPE: ClassVar[str] = "Scheduled Event"


# --- training lifecycle (ours) ---------------------------------------------------------------------


class CustomizationStartedDetail(_PipelineDetail):
    job_arn: str
    job_name: str
    custom_model_name: str
    base_model: str
    hyperparameters: dict[str, str]
    output_uri: str


class TrainingMetricsSummary(BaseModel):
    training_loss: float | None = None
    validation_loss: float | None = None
    steps: int | None = None
    epochs: int | None = None
    metrics_uri: str | None = None  # the loss curves, as JSON


class ModelTrainedDetail(_PipelineDetail):
    job_arn: str
    custom_model_arn: str
    custom_model_name: str | None
    base_model: str
    metrics: TrainingMetricsSummary
    test_data_uri: str | None
    labels: list[str] | None = None
    options: dict[str, Any]


class TrainingFailedDetail(_PipelineDetail):
    job_arn: str | None
    status: Literal["Failed", "Stopped", "StartFailed"]
    reason: str


class StopRequestedDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # `dataset_id` is accepted too: what the first versions of `make stop-run` sent
    run_id: str = Field(validation_alias=AliasChoices("run_id", "dataset_id"))
    requested_by: str | None = None


class StepRetryRequestedDetail(_PipelineDetail):
    """The sweeper asks a step to try again: its lease lapsed (the step died) and no outcome was recorded."""

    step: Literal["validate", "start_training", "deploy", "evaluate", "import"]
    retry: int  # 1 for the first retry the sweeper asks for
    reason: str


class CustomizationStarted(EventBridgeEvent[CustomizationStartedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.training"
    DETAIL_TYPE: ClassVar[str] = "CustomizationStarted"


class ModelTrained(EventBridgeEvent[ModelTrainedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.training"
    DETAIL_TYPE: ClassVar[str] = "ModelTrained"


class TrainingFailed(EventBridgeEvent[TrainingFailedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.training"
    DETAIL_TYPE: ClassVar[str] = "TrainingFailed"


class StopRequested(EventBridgeEvent[StopRequestedDetail]):
    """Sent by a user (`make stop-run`, or `aws events put-events`) to stop a run's training job."""

    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.user"
    DETAIL_TYPE: ClassVar[str] = "StopRequested"


class StepRetryRequested(EventBridgeEvent[StepRetryRequestedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.sweeper"
    DETAIL_TYPE: ClassVar[str] = "StepRetryRequested"

    @classmethod
    def pattern(cls, step: str) -> dict[str, Any]:
        return {"source": [cls.SOURCE], "detail-type": [cls.DETAIL_TYPE], "detail": {"step": [step]}}


# --- deployment and the end of a run (ours) -------------------------------------------------------------


class ServingRef(BaseModel):
    """The paid serving resource of a run: a provisioned throughput or an on-demand custom model deployment."""

    mode: Literal["provisioned", "on-demand"]
    name: str
    arn: str | None = None
    deadline: str  # deleted by then, whatever happens (ISO time)


class DeploymentStartedDetail(_PipelineDetail):
    serving: ServingRef
    custom_model_arn: str


class DeploymentQueuedDetail(_PipelineDetail):
    serving: ServingRef
    reason: str


class ModelDeployedDetail(_PipelineDetail):
    """What an evaluation needs: the model to call, its base model, the held-out test split, the labels."""

    serving: ServingRef
    custom_model_arn: str
    base_model: str
    test_data_uri: str | None
    labels: list[str] | None = None
    options: dict[str, Any]


class DeploymentFailedDetail(_PipelineDetail):
    serving: ServingRef | None
    reason: str


class RunCompletedDetail(_PipelineDetail):
    outcome: str  # what the run ended with, in words
    custom_model_arn: str | None
    serving_state: str  # deleted | none | kept
    cost_usd: float | None
    cost_unconfirmed: list[str] = []


class RunStoppedDetail(_PipelineDetail):
    requested_by: str | None
    reason: str
    serving_state: str


class DeploymentStarted(EventBridgeEvent[DeploymentStartedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.deployment"
    DETAIL_TYPE: ClassVar[str] = "DeploymentStarted"


class DeploymentQueued(EventBridgeEvent[DeploymentQueuedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.deployment"
    DETAIL_TYPE: ClassVar[str] = "DeploymentQueued"


class ModelDeployed(EventBridgeEvent[ModelDeployedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.deployment"
    DETAIL_TYPE: ClassVar[str] = "ModelDeployed"


class DeploymentFailed(EventBridgeEvent[DeploymentFailedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.deployment"
    DETAIL_TYPE: ClassVar[str] = "DeploymentFailed"


class RunCompleted(EventBridgeEvent[RunCompletedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.teardown"
    DETAIL_TYPE: ClassVar[str] = "RunCompleted"


class EvaluationCompletedDetail(_PipelineDetail):
    """The tuned model against its base model: the gate's verdict, the headline figures, where the report is."""

    passed: bool
    summary: str
    metrics: dict[str, dict[str, float | None]]  # per model role (tuned, base): accuracy, macro_f1, …
    report_uri: str
    report_html_uri: str
    serving: ServingRef | None = None


class EvaluationFailedDetail(_PipelineDetail):
    reason: str
    serving: ServingRef | None = None


class EvaluationCompleted(EventBridgeEvent[EvaluationCompletedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.evaluation"
    DETAIL_TYPE: ClassVar[str] = "EvaluationCompleted"


class EvaluationFailed(EventBridgeEvent[EvaluationFailedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.evaluation"
    DETAIL_TYPE: ClassVar[str] = "EvaluationFailed"


class EvaluationChunk(BaseModel):
    """One queue message of the evaluation's fan-out: answer examples [start, end) of the run's sample."""

    run_id: str
    chunk: int
    start: int
    end: int
    sample_uri: str


class RunStopped(EventBridgeEvent[RunStoppedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.teardown"
    DETAIL_TYPE: ClassVar[str] = "RunStopped"


# --- Custom Model Import (a model folder under models/) ---------------------------------------------------


class ImportedModelRef(BaseModel):
    """A run's import job and the model it makes (Bedrock names both from the run id)."""

    folder_uri: str  # s3://bucket/models/<name>/
    job_name: str
    job_arn: str | None = None
    imported_model_name: str
    imported_model_arn: str | None = None  # once the job completed


class ModelRejectedDetail(_PipelineDetail):
    """The folder breaks what Bedrock documents for import; nothing was sent to Bedrock."""

    folder_uri: str
    reasons: list[str]  # every problem, each naming its file (and line or field)
    check_uri: str | None  # the full verdict, as JSON


class ImportStartedDetail(_PipelineDetail):
    model_import: ImportedModelRef


class ModelImportedDetail(_PipelineDetail):
    """What an evaluation needs: the imported model to call (on demand), the test set, the labels."""

    model_import: ImportedModelRef
    test_data_uri: str | None
    labels: list[str] | None = None
    base_model_id: str | None = None
    options: dict[str, Any]


class ImportFailedDetail(_PipelineDetail):
    model_import: ImportedModelRef | None
    reason: str


class ModelRejected(EventBridgeEvent[ModelRejectedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.model-import"
    DETAIL_TYPE: ClassVar[str] = "ModelRejected"


class ImportStarted(EventBridgeEvent[ImportStartedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.model-import"
    DETAIL_TYPE: ClassVar[str] = "ImportStarted"


class ModelImported(EventBridgeEvent[ModelImportedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.model-import"
    DETAIL_TYPE: ClassVar[str] = "ModelImported"


class ImportFailed(EventBridgeEvent[ImportFailedDetail]):
    SOURCE: ClassVar[str] = f"{PIPELINE_SOURCE_PREFIX}.model-import"
    DETAIL_TYPE: ClassVar[str] = "ImportFailed"


PIPELINE_EVENTS: tuple[type[EventBridgeEvent[Any]], ...] = (
    DatasetValidated, DatasetRejected, CustomizationStarted, ModelTrained, TrainingFailed, StopRequested,
    StepRetryRequested, DeploymentStarted, DeploymentQueued, ModelDeployed, DeploymentFailed, RunCompleted,
    RunStopped, EvaluationCompleted, EvaluationFailed, ModelRejected, ImportStarted, ModelImported, ImportFailed,
)
# what the pipeline itself emits (through the ledger's outbox), by detail-type
EMITTED_EVENTS: dict[str, type[EventBridgeEvent[Any]]] = {
    e.DETAIL_TYPE: e for e in PIPELINE_EVENTS if e is not StopRequested  # type: ignore[attr-defined]
}


def pattern_for(event_type: type[EventBridgeEvent[Any]]) -> dict[str, Any]:
    """The EventBridge pattern that selects exactly this event type."""
    return {"source": [event_type.SOURCE], "detail-type": [event_type.DETAIL_TYPE]}  # type: ignore[attr-defined]


def put_events_entry(detail: BaseModel, event_type: type[EventBridgeEvent[Any]], bus_name: str,
                     resources: list[str] | None = None) -> dict[str, Any]:
    """A PutEvents entry for one of our events."""
    return {
        "Source": event_type.SOURCE,  # type: ignore[attr-defined]
        "DetailType": event_type.DETAIL_TYPE,  # type: ignore[attr-defined]
        "Detail": detail.model_dump_json(),
        "EventBusName": bus_name,
        "Resources": resources or [],
    }
