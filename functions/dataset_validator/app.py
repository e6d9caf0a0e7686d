"""S3 "Object Created" under incoming/ → validate the dataset → DatasetValidated | DatasetRejected."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import S3ObjectCreatedEvent
from ft_pipeline.observability import logger, metrics, tracer
from ft_pipeline.steps.validate_upload import handle_object_created
from ft_pipeline.wiring import validator_deps


@logger.inject_lambda_context(correlation_id_path="detail.object.key")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    upload = parse(event=event, model=S3ObjectCreatedEvent)
    outcome = handle_object_created(upload.detail, deps=validator_deps(), invocation_id=context.aws_request_id,
                                    remaining_ms=context.get_remaining_time_in_millis())
    return outcome.model_dump(mode="json")
