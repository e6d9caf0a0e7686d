"""A file of a model folder under models/ (or the sweeper's retry request) → the checks → CreateModelImportJob."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import S3ObjectCreatedEvent, StepRetryRequested
from ft_pipeline.observability import pipeline_handler
from ft_pipeline.steps.import_model import handle_object_created, handle_retry
from ft_pipeline.wiring import training_deps


@pipeline_handler(correlation_id_path=None)  # the run id is made from the folder's manifest (the step binds it)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps, owner, remaining = training_deps(), context.aws_request_id, context.get_remaining_time_in_millis()
    if event.get("detail-type") == StepRetryRequested.DETAIL_TYPE:
        retry = parse(event=event, model=StepRetryRequested)
        outcome = handle_retry(retry.detail, deps=deps, owner=owner, remaining_ms=remaining)
    else:
        upload = parse(event=event, model=S3ObjectCreatedEvent)
        outcome = handle_object_created(upload.detail, deps=deps, owner=owner, remaining_ms=remaining)
    return outcome.model_dump(mode="json")
