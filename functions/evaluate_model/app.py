"""ModelDeployed (or the sweeper's retry request) → the evaluation's sample, stored and queued in chunks."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import ModelDeployed, StepRetryRequested
from ft_pipeline.observability import pipeline_handler
from ft_pipeline.steps.evaluate import start_evaluation
from ft_pipeline.wiring import training_deps


@pipeline_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    model = StepRetryRequested if event.get("detail-type") == StepRetryRequested.DETAIL_TYPE else ModelDeployed
    trigger = parse(event=event, model=model)
    return start_evaluation(trigger.detail.run_id, training_deps(), trigger.detail.event_id).model_dump()
