"""Write events/*.json from the contract models (run again when a contract changes; a test checks them).

The fixtures are what `sam local invoke -e events/<name>.json` and the contract tests use.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ft_pipeline.contracts import (
    BedrockJobStateChange,
    BedrockJobStateChangeDetail,
    CustomizationStarted,
    CustomizationStartedDetail,
    DatasetRejected,
    DatasetRejectedDetail,
    DatasetValidated,
    DatasetValidatedDetail,
    DeploymentFailed,
    DeploymentFailedDetail,
    DeploymentQueued,
    DeploymentQueuedDetail,
    DeploymentStarted,
    DeploymentStartedDetail,
    EvaluationChunk,
    EvaluationCompleted,
    EvaluationCompletedDetail,
    EvaluationFailed,
    EvaluationFailedDetail,
    ImportedModelRef,
    ImportFailed,
    ImportFailedDetail,
    ImportStarted,
    ImportStartedDetail,
    ModelDeployed,
    ModelDeployedDetail,
    ModelImported,
    ModelImportedDetail,
    ModelRejected,
    ModelRejectedDetail,
    ModelTrained,
    ModelTrainedDetail,
    ObjectRef,
    RunCompleted,
    RunCompletedDetail,
    RunStopped,
    RunStoppedDetail,
    S3Bucket,
    S3Object,
    S3ObjectCreatedDetail,
    S3ObjectCreatedEvent,
    ScheduledEvent,
    ServingRef,
    SplitCounts,
    StepRetryRequested,
    StepRetryRequestedDetail,
    StopRequested,
    StopRequestedDetail,
    TrainingFailed,
    TrainingFailedDetail,
    TrainingMetricsSummary,
)

EVENTS = Path(__file__).resolve().parent.parent / "events"
BUCKET = "ft-pipeline-dev-databucket-1a2b3c4d5e6f"
TIME = "2026-11-23T12:00:00Z"


def s3_event(key: str, event_id: str) -> S3ObjectCreatedEvent:
    return S3ObjectCreatedEvent(
        id=event_id, detail_type="Object Created", source="aws.s3", time=TIME,
        resources=[f"arn:aws:s3:::{BUCKET}"],
        detail=S3ObjectCreatedDetail(
            bucket=S3Bucket(name=BUCKET),
            object=S3Object(key=key, size=1372314, etag="81498b3f7aec3dce403f4a5349c3d6fb",
                            version_id="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", sequencer="0062E99A88DC407460"),
            request_id="N4N7GDK58NMKJ12R", requester="123456789012", reason="PutObject"),
    )


JOB_NAME = "ftp-job-headlines-0123456789"
JOB_ARN = f"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/{'a1b2c3d4e5f6'}"
MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/f6e5d4c3b2a1"
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/0a1b2c3d4e5f"
DEPLOYMENT = ServingRef(mode="on-demand", name="ftp-dep-headlines-0123456789", arn=DEPLOYMENT_ARN,
                        deadline="2026-11-23T18:05:00.000Z")
PT = ServingRef(mode="provisioned", name="ftp-pt-headlines-0123456789", deadline="2026-11-23T18:05:00.000Z")


def bedrock_event(status: str, event_id: str, failure: str | None = None) -> BedrockJobStateChange:
    """The shape AWS documents (monitoring-eventbridge-how-it-works), with this stack's job name."""
    return BedrockJobStateChange(
        id=event_id, detail_type=BedrockJobStateChange.DETAIL_TYPE, source=BedrockJobStateChange.SOURCE, time=TIME,
        resources=[JOB_ARN],
        detail=BedrockJobStateChangeDetail(
            jobName=JOB_NAME, jobArn=JOB_ARN, jobStatus=status, outputModelName="ftp-model-headlines-0123456789",
            outputModelArn=MODEL_ARN if status == "Completed" else None, failureMessage=failure,
            creationTime="2026-11-23T12:05:00Z", lastModifiedTime="2026-11-23T14:05:00Z",
            endTime="2026-11-23T14:05:00Z",
            baseModelArn="arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
            roleArn="arn:aws:iam::123456789012:role/ft-pipeline-dev-BedrockCustomizationRole-1A2B3C",
            hyperParameters={"epochCount": "2", "learningRate": "1e-05", "learningRateWarmupSteps": "10"},
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/datasets/headlines-0123456789/train.jsonl"},
            validationDataConfig={"validators": [
                {"s3Uri": f"s3://{BUCKET}/datasets/headlines-0123456789/validation.jsonl"}]},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/customization-output/headlines-0123456789/"}))


def api_event(method: str, path: str, body: dict | None, request_id: str) -> dict:
    """An API Gateway REST proxy event (payload format 1.0), as `sam local invoke` and Lambda receive it."""
    headers = {"Content-Type": "application/json", "x-api-key": "<api key>", "Host": "abc123.execute-api.us-east-1"
               ".amazonaws.com", "X-Forwarded-Proto": "https"}
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
        "requestContext": {"resourceId": "a1b2c3", "resourcePath": path, "httpMethod": method,
                           "path": f"/dev{path}", "stage": "dev", "requestId": request_id,
                           "accountId": "123456789012", "apiId": "abc123", "protocol": "HTTP/1.1",
                           "requestTime": "23/Nov/2026:12:00:00 +0000", "requestTimeEpoch": 1795440000000,
                           "identity": {"sourceIp": "203.0.113.10", "apiKeyId": "k1", "userAgent": "curl/8"}},
    }


def runs_api_event(method: str, resource: str, path_parameters: dict | None, query: dict | None,
                   body: dict | None, request_id: str) -> dict:
    """A runs API request as Lambda receives it: signed (SigV4), so API Gateway names the caller."""
    path = resource
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", value)
    event = api_event(method, path, body, request_id)
    event["headers"].pop("x-api-key")
    event["headers"]["Authorization"] = ("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/us-east-1/execute-api/"
                                         "aws4_request, SignedHeaders=host;x-amz-date, Signature=<signature>")
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    caller = "arn:aws:iam::123456789012:user/alice"
    event |= {"resource": resource, "pathParameters": path_parameters,
              "queryStringParameters": query, "multiValueQueryStringParameters":
                  {k: [v] for k, v in query.items()} if query else None}
    event["requestContext"] |= {"resourcePath": resource}
    event["requestContext"]["identity"] = {"sourceIp": "203.0.113.10", "userAgent": "ft-pipeline/0.1",
                                           "userArn": caller, "caller": "AIDAEXAMPLE", "accountId": "123456789012",
                                           "user": "AIDAEXAMPLE"}
    return event


RUNS_API_FIXTURES = {
    "runs_api_list.json": ("GET", "/runs", None, {"state": "TRAINING", "limit": "10"}, None),
    "runs_api_get.json": ("GET", "/runs/{run_id}", {"run_id": "headlines-0123456789"}, None, None),
    "runs_api_stop.json": ("POST", "/runs/{run_id}/stop", {"run_id": "headlines-0123456789"}, None, None),
    "runs_api_submit.json": ("POST", "/runs", None, None,
                             {"filename": "headlines.csv", "options": {"base_model": "amazon.nova-micro-v1:0:128k"}}),
}


def sqs_event(body: str, message_id: str) -> dict:
    """An SQS event source batch of one message, as Lambda's poller delivers it."""
    return {"Records": [{
        "messageId": message_id, "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795440000000",
                       "SenderId": "AROAEXAMPLE:ftp-dev-EvaluateModelFunction",
                       "ApproximateFirstReceiveTimestamp": "1795440000001"},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(), "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ft-pipeline-dev-EvaluationChunkQueue-1A2B3C4D",
        "awsRegion": "us-east-1"}]}


API_FIXTURES = {
    "api_classify.json": ("POST", "/classify", {"headline": "Apple unveils its new iPhone"}),
    "api_classify_batch.json": ("POST", "/classify/batch",
                                {"headlines": ["Fed raises rates", "Ebola outbreak spreads in West Africa"]}),
    "api_classify_invalid.json": ("POST", "/classify", {"headline": ""}),
    "api_health.json": ("GET", "/health", None),
    "api_model.json": ("GET", "/model", None),
}


def _import_fixtures() -> dict:
    """A model folder under models/ (Custom Model Import): its upload, and the run's events."""
    folder = f"s3://{BUCKET}/models/tiny-llama/"
    run_id = "tiny-llama-0123456789"
    source = ObjectRef(bucket=BUCKET, key="models/tiny-llama/import-manifest.json",
                       version_id="Yl2mFq0p7Xx3bGvHnT9kZc1wQe5rUs8o", etag="5d41402abc4b2a76b9719d911017c592")
    job_arn = "arn:aws:bedrock:us-east-1:123456789012:model-import-job/a1b2c3d4e5f6"
    model_arn = "arn:aws:bedrock:us-east-1:123456789012:imported-model/0f1e2d3c4b5a"
    started = ImportedModelRef(folder_uri=folder, job_name=f"ftp-import-{run_id}", job_arn=job_arn,
                               imported_model_name=f"ftp-imported-{run_id}")
    imported = started.model_copy(update={"imported_model_arn": model_arn})
    labels = ["business", "entertainment", "health", "science"]
    return {
        "s3_object_created_model_file.json": s3_event("models/tiny-llama/model.safetensors",
                                                      "6c2f1a3b-0000-4c55-9b1e-2f4a0c6b7d82"),
        "s3_object_created_import_manifest.json": s3_event("models/tiny-llama/import-manifest.json",
                                                           "6c2f1a3b-0000-4c55-9b1e-2f4a0c6b7d83"),
        "step_retry_requested_import.json": StepRetryRequested(
            id="2e72ed00-0000-4000-8000-000000000005", detail_type=StepRetryRequested.DETAIL_TYPE,
            source=StepRetryRequested.SOURCE, time=TIME,
            detail=StepRetryRequestedDetail(
                run_id=run_id, source=source, step="import", retry=1,
                reason="no outcome from import by 2026-11-23T12:15:30.000Z (its lease lapsed)",
                event_id=f"{run_id}:import_start_retried@2026-11-23T12:20:00.000Z")),
        "model_rejected.json": ModelRejected(
            id="1a9e0000-0000-4000-8000-000000000001", detail_type=ModelRejected.DETAIL_TYPE,
            source=ModelRejected.SOURCE, time=TIME, resources=[folder],
            detail=ModelRejectedDetail(
                run_id=run_id, source=source, folder_uri=folder, check_uri=f"s3://{BUCKET}/datasets/{run_id}/"
                                                                           "import-check.json",
                reasons=["models/tiny-llama/pytorch_model.bin: Bedrock imports safetensors weights only; convert it "
                         "with safetensors.torch.save_file"])),
        "import_started.json": ImportStarted(
            id="1a9e0000-0000-4000-8000-000000000002", detail_type=ImportStarted.DETAIL_TYPE,
            source=ImportStarted.SOURCE, time=TIME, resources=[job_arn],
            detail=ImportStartedDetail(run_id=run_id, source=source, model_import=started)),
        "model_imported.json": ModelImported(
            id="1a9e0000-0000-4000-8000-000000000003", detail_type=ModelImported.DETAIL_TYPE,
            source=ModelImported.SOURCE, time=TIME, resources=[model_arn],
            detail=ModelImportedDetail(
                run_id=run_id, source=source, model_import=imported,
                test_data_uri=f"s3://{BUCKET}/datasets/{run_id}/test.jsonl", labels=labels,
                base_model_id="meta.llama3-2-1b-instruct-v1:0",
                options={"evaluation": {"enabled": True, "compare_with_base_model": True, "max_examples": 200,
                                        "max_tokens": 16, "base_model_id": "meta.llama3-2-1b-instruct-v1:0"},
                         "deployment": {"mode": "none"}})),
        "import_failed.json": ImportFailed(
            id="1a9e0000-0000-4000-8000-000000000004", detail_type=ImportFailed.DETAIL_TYPE,
            source=ImportFailed.SOURCE, time=TIME, resources=[job_arn],
            detail=ImportFailedDetail(run_id=run_id, source=source, model_import=started,
                                      reason="the import job failed: Unsupported model configuration.")),
    }


def main(target: Path = EVENTS) -> None:
    source = ObjectRef(bucket=BUCKET, key="incoming/headlines.csv", version_id="3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
                       etag="81498b3f7aec3dce403f4a5349c3d6fb")
    prefix = f"s3://{BUCKET}/datasets/headlines-0123456789/"
    counts = SplitCounts(train=16000, validation=2001, test=1999, rejected=0, duplicates=0, blank=0,
                         records_read=20000)
    fixtures = {
        "s3_object_created.json": s3_event("incoming/headlines.csv", "17793124-05d4-b198-2fde-7ededc63b103"),
        "s3_object_created_encoded_key.json": s3_event("incoming/team+a/news+headlines+%28v2%29.csv",
                                                       "2d1c9a1e-7f0b-4c55-9b1e-2f4a0c6b7d81"),
        "s3_object_created_options_manifest.json": s3_event("incoming/headlines.csv.options.json",
                                                            "5b0f6a2c-3d4e-4f11-8a9b-0c1d2e3f4a5b"),
        "dataset_validated.json": DatasetValidated(
            id="9f3c2d1e-0000-4a5b-8c7d-6e5f4a3b2c1d", detail_type="DatasetValidated",
            source=DatasetValidated.SOURCE, time=TIME, resources=[source.uri],
            detail=DatasetValidatedDetail(
                run_id="headlines-0123456789", source=source, base_model="amazon.nova-micro-v1:0:128k",
                output_format="bedrock-conversation-2024", training_data_uri=prefix + "train.jsonl",
                validation_data_uri=prefix + "validation.jsonl", test_data_uri=prefix + "test.jsonl",
                report_uri=prefix + "report.json", rejected_uri=prefix + "rejected.jsonl", counts=counts,
                labels=["business", "entertainment", "health", "science"], estimated_cost_usd=1.68,
                options={"base_model": "amazon.nova-micro-v1:0:128k", "hyperparameters": {},
                         "split": {"train": 0.8, "validation": 0.1, "test": 0.1},
                         "deployment": {"mode": "on-demand", "model_units": 1, "max_hours": 4.0},
                         "evaluation": {"enabled": True, "max_examples": 200, "compare_with_base_model": True}})),
        "dataset_rejected.json": DatasetRejected(
            id="0a1b2c3d-0000-4e5f-8a9b-0c1d2e3f4a5b", detail_type="DatasetRejected",
            source=DatasetRejected.SOURCE, time=TIME, resources=[source.uri],
            detail=DatasetRejectedDetail(
                run_id="headlines-0123456789", source=source,
                reasons=["only one label ('business') in the data; a classifier needs at least two"],
                report_uri=prefix + "report.json", rejected_uri=prefix + "rejected.jsonl")),
        "bedrock_job_completed.json": bedrock_event("Completed", "c0ffee00-0000-4000-8000-000000000001"),
        "bedrock_job_failed.json": bedrock_event("Failed", "c0ffee00-0000-4000-8000-000000000002",
                                                 "Insufficient capacity to run the job."),
        "bedrock_job_stopped.json": bedrock_event("Stopped", "c0ffee00-0000-4000-8000-000000000003",
                                                  "Job stopped by the user."),
        "scheduled_sweep.json": ScheduledEvent(
            id="5ca1ab1e-0000-4000-8000-000000000001", detail_type=ScheduledEvent.DETAIL_TYPE,
            source=ScheduledEvent.SOURCE, time=TIME, detail={},
            resources=["arn:aws:events:us-east-1:123456789012:rule/ft-pipeline-dev-SweepRunsFunctionSweep"]),
        "step_retry_requested_validate.json": StepRetryRequested(
            id="2e72ed00-0000-4000-8000-000000000001", detail_type=StepRetryRequested.DETAIL_TYPE,
            source=StepRetryRequested.SOURCE, time=TIME,
            detail=StepRetryRequestedDetail(
                run_id="headlines-0123456789", source=source, step="validate", retry=1,
                reason="no outcome from validate by 2026-11-23T12:15:30.000Z (its lease lapsed)",
                event_id="headlines-0123456789:validation_redriven@2026-11-23T12:20:00.000Z")),
        "step_retry_requested_start.json": StepRetryRequested(
            id="2e72ed00-0000-4000-8000-000000000002", detail_type=StepRetryRequested.DETAIL_TYPE,
            source=StepRetryRequested.SOURCE, time=TIME,
            detail=StepRetryRequestedDetail(
                run_id="headlines-0123456789", source=source, step="start_training", retry=1,
                reason="no outcome from start_training by 2026-11-23T12:15:00.000Z (its lease lapsed)",
                event_id="headlines-0123456789:training_start_redriven@2026-11-23T12:20:00.000Z")),
        "stop_requested.json": StopRequested(
            id="57095700-0000-4000-8000-000000000001", detail_type=StopRequested.DETAIL_TYPE,
            source=StopRequested.SOURCE, time=TIME,
            detail=StopRequestedDetail(run_id="headlines-0123456789", requested_by="alice")),
        "customization_started.json": CustomizationStarted(
            id="57a77ed0-0000-4000-8000-000000000001", detail_type=CustomizationStarted.DETAIL_TYPE,
            source=CustomizationStarted.SOURCE, time=TIME, resources=[JOB_ARN],
            detail=CustomizationStartedDetail(
                run_id="headlines-0123456789", source=source, job_arn=JOB_ARN, job_name=JOB_NAME,
                custom_model_name="ftp-model-headlines-0123456789", base_model="amazon.nova-micro-v1:0:128k",
                hyperparameters={"epochCount": "2", "learningRate": "1e-05", "learningRateWarmupSteps": "10"},
                output_uri=f"s3://{BUCKET}/customization-output/headlines-0123456789/")),
        "model_trained.json": ModelTrained(
            id="7ea1ed00-0000-4000-8000-000000000001", detail_type=ModelTrained.DETAIL_TYPE,
            source=ModelTrained.SOURCE, time=TIME, resources=[JOB_ARN, MODEL_ARN],
            detail=ModelTrainedDetail(
                run_id="headlines-0123456789", source=source, job_arn=JOB_ARN, custom_model_arn=MODEL_ARN,
                custom_model_name="ftp-model-headlines-0123456789", base_model="amazon.nova-micro-v1:0:128k",
                metrics=TrainingMetricsSummary(training_loss=0.412, validation_loss=0.538, steps=500, epochs=2,
                                               metrics_uri=prefix + "training_metrics.json"),
                test_data_uri=prefix + "test.jsonl", labels=["business", "entertainment", "health", "science"],
                options={"base_model": "amazon.nova-micro-v1:0:128k", "deployment": {"mode": "on-demand"}})),
        "training_failed.json": TrainingFailed(
            id="fa11ed00-0000-4000-8000-000000000001", detail_type=TrainingFailed.DETAIL_TYPE,
            source=TrainingFailed.SOURCE, time=TIME, resources=[JOB_ARN],
            detail=TrainingFailedDetail(run_id="headlines-0123456789", source=source, job_arn=JOB_ARN,
                                        status="Failed", reason="Insufficient capacity to run the job.")),
        "step_retry_requested_deploy.json": StepRetryRequested(
            id="2e72ed00-0000-4000-8000-000000000003", detail_type=StepRetryRequested.DETAIL_TYPE,
            source=StepRetryRequested.SOURCE, time=TIME,
            detail=StepRetryRequestedDetail(
                run_id="headlines-0123456789", source=source, step="deploy", retry=1,
                reason="no outcome from deploy by 2026-11-23T14:10:30.000Z (its lease lapsed)",
                event_id="headlines-0123456789:deployment_start_retried@2026-11-23T14:15:00.000Z")),
        "deployment_started.json": DeploymentStarted(
            id="de910700-0000-4000-8000-000000000001", detail_type=DeploymentStarted.DETAIL_TYPE,
            source=DeploymentStarted.SOURCE, time=TIME,
            detail=DeploymentStartedDetail(run_id="headlines-0123456789", source=source,
                                           serving=DEPLOYMENT.model_copy(update={"arn": None}),
                                           custom_model_arn=MODEL_ARN)),
        "deployment_queued.json": DeploymentQueued(
            id="de910700-0000-4000-8000-000000000002", detail_type=DeploymentQueued.DETAIL_TYPE,
            source=DeploymentQueued.SOURCE, time=TIME,
            detail=DeploymentQueuedDetail(
                run_id="headlines-0123456789", source=source, serving=PT,
                reason="queued: the account already has 2 no-commitment provisioned throughputs; it starts when "
                       "one is deleted, or fails after 6 h")),
        "model_deployed.json": ModelDeployed(
            id="de910700-0000-4000-8000-000000000003", detail_type=ModelDeployed.DETAIL_TYPE,
            source=ModelDeployed.SOURCE, time=TIME, resources=[DEPLOYMENT_ARN],
            detail=ModelDeployedDetail(
                run_id="headlines-0123456789", source=source, serving=DEPLOYMENT, custom_model_arn=MODEL_ARN,
                base_model="amazon.nova-micro-v1:0:128k", test_data_uri=prefix + "test.jsonl",
                labels=["business", "entertainment", "health", "science"],
                options={"base_model": "amazon.nova-micro-v1:0:128k", "deployment": {"mode": "on-demand"}})),
        "deployment_failed.json": DeploymentFailed(
            id="de910700-0000-4000-8000-000000000004", detail_type=DeploymentFailed.DETAIL_TYPE,
            source=DeploymentFailed.SOURCE, time=TIME, resources=[DEPLOYMENT_ARN],
            detail=DeploymentFailedDetail(
                run_id="headlines-0123456789", source=source, serving=DEPLOYMENT,
                reason="ftp-dep-headlines-0123456789 failed: Insufficient capacity for the requested model.")),
        "run_completed.json": RunCompleted(
            id="c0de0000-0000-4000-8000-000000000001", detail_type=RunCompleted.DETAIL_TYPE,
            source=RunCompleted.SOURCE, time=TIME, resources=[MODEL_ARN],
            detail=RunCompletedDetail(
                run_id="headlines-0123456789", source=source, outcome="trained and deployed; deployment released",
                custom_model_arn=MODEL_ARN, serving_state="deleted", cost_usd=1.68,
                cost_unconfirmed=["custom model storage per month (set CustomModelStorageMonthlyUsd)"])),
        "run_stopped.json": RunStopped(
            id="c0de0000-0000-4000-8000-000000000002", detail_type=RunStopped.DETAIL_TYPE,
            source=RunStopped.SOURCE, time=TIME, resources=[MODEL_ARN],
            detail=RunStoppedDetail(run_id="headlines-0123456789", source=source, requested_by="alice",
                                    reason="stopped by alice while DEPLOYING", serving_state="deleted")),
        "step_retry_requested_evaluate.json": StepRetryRequested(
            id="2e72ed00-0000-4000-8000-000000000004", detail_type=StepRetryRequested.DETAIL_TYPE,
            source=StepRetryRequested.SOURCE, time=TIME,
            detail=StepRetryRequestedDetail(
                run_id="headlines-0123456789", source=source, step="evaluate", retry=1,
                reason="no outcome from evaluate by 2026-11-23T14:45:00.000Z (its lease lapsed)",
                event_id="headlines-0123456789:evaluation_start_redriven@2026-11-23T14:50:00.000Z")),
        "evaluation_completed.json": EvaluationCompleted(
            id="e7a10000-0000-4000-8000-000000000001", detail_type=EvaluationCompleted.DETAIL_TYPE,
            source=EvaluationCompleted.SOURCE, time=TIME, resources=[prefix + "evaluation/report.html"],
            detail=EvaluationCompletedDetail(
                run_id="headlines-0123456789", source=source, passed=True,
                summary="tuned accuracy 0.885; base accuracy 0.405; difference +0.480 (95% CI +0.402 to +0.558); "
                        "gate passed",
                metrics={"tuned": {"accuracy": 0.885, "macro_f1": 0.862, "weighted_f1": 0.883},
                         "base": {"accuracy": 0.405, "macro_f1": 0.292, "weighted_f1": 0.34}},
                report_uri=prefix + "evaluation/report.json", report_html_uri=prefix + "evaluation/report.html")),
        "evaluation_failed.json": EvaluationFailed(
            id="e7a10000-0000-4000-8000-000000000002", detail_type=EvaluationFailed.DETAIL_TYPE,
            source=EvaluationFailed.SOURCE, time=TIME,
            detail=EvaluationFailedDetail(run_id="headlines-0123456789", source=source,
                                          reason="2 of 4 chunks were not answered in 3 attempts")),
    }
    fixtures |= _import_fixtures()
    target.mkdir(exist_ok=True)
    for name, event in fixtures.items():
        data = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        (target / name).write_text(json.dumps(data, indent=2) + "\n")
    chunk = EvaluationChunk(run_id="headlines-0123456789", chunk=0, start=0, end=50,
                            sample_uri=prefix + "evaluation/sample.jsonl")
    sqs = sqs_event(chunk.model_dump_json(), "059f36b4-87a3-44ab-83d2-661975830a7d")
    (target / "sqs_evaluation_chunk.json").write_text(json.dumps(sqs, indent=2) + "\n")
    fixtures["sqs_evaluation_chunk.json"] = sqs
    for i, (name, (method, path, body)) in enumerate(API_FIXTURES.items()):
        event = api_event(method, path, body, f"c6af9ac6-7b61-11e6-9a41-93e8deadbe{i:02d}")
        (target / name).write_text(json.dumps(event, indent=2) + "\n")
        fixtures[name] = event
    for i, (name, (method, resource, params, query, body)) in enumerate(RUNS_API_FIXTURES.items()):
        event = runs_api_event(method, resource, params, query, body, f"7b0e5c1a-0000-4000-8000-0000000000{i:02d}")
        (target / name).write_text(json.dumps(event, indent=2) + "\n")
        fixtures[name] = event
    print(f"wrote {len(fixtures)} fixtures to {target}")


if __name__ == "__main__":
    main()
