"""DatasetValidated (or the sweeper's retry request) → CreateModelCustomizationJob → CustomizationStarted."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import DatasetValidated, StepRetryRequested
from ft_pipeline.observability import pipeline_handler
from ft_pipeline.steps.start_training import start_training
from ft_pipeline.wiring import training_deps


@pipeline_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    model = StepRetryRequested if event.get("detail-type") == StepRetryRequested.DETAIL_TYPE else DatasetValidated
    trigger = parse(event=event, model=model)
    return start_training(trigger.detail.run_id, deps=training_deps(), owner=context.aws_request_id,
                          remaining_ms=context.get_remaining_time_in_millis(),
                          trigger_event_id=trigger.detail.event_id).model_dump()
