"""Bedrock "Model Customization Job State Change" (default bus) → ledger → ModelTrained | TrainingFailed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import BedrockJobStateChange
from ft_pipeline.observability import logger, metrics, tracer
from ft_pipeline.steps.training_status import handle_job_event
from ft_pipeline.wiring import training_deps


@logger.inject_lambda_context(correlation_id_path="detail.jobName")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse(event=event, model=BedrockJobStateChange)
    logger.info("job state change", extra={"job": change.detail.jobName, "status": change.detail.jobStatus})
    return handle_job_event(change.detail.jobName, training_deps(), trigger="event").model_dump()
