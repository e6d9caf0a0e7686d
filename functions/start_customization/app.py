"""DatasetValidated → CreateModelCustomizationJob (idempotent) → CustomizationStarted | TrainingFailed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import DatasetValidated
from ft_pipeline.observability import logger, metrics, tracer
from ft_pipeline.steps.training import start_customization
from ft_pipeline.wiring import training_deps


@logger.inject_lambda_context(correlation_id_path="detail.dataset_id")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    validated = parse(event=event, model=DatasetValidated)
    return start_customization(validated.detail, training_deps()).model_dump()
