"""ModelDeployed or ModelImported (or the sweeper's retry request) → the evaluation's sample, stored, in chunks."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import ModelDeployed, ModelImported, StepRetryRequested
from ft_pipeline.observability import pipeline_handler
from ft_pipeline.steps.evaluate import start_evaluation
from ft_pipeline.wiring import training_deps


@pipeline_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    model = {StepRetryRequested.DETAIL_TYPE: StepRetryRequested, ModelImported.DETAIL_TYPE: ModelImported}.get(
        event.get("detail-type", ""), ModelDeployed)
    trigger = parse(event=event, model=model)
    return start_evaluation(trigger.detail.run_id, training_deps(), trigger.detail.event_id).model_dump()
