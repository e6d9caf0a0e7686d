"""StopRequested (from a user, on the pipeline bus) → StopModelCustomizationJob → Stopped via the usual path."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import StopRequested
from ft_pipeline.observability import pipeline_handler
from ft_pipeline.steps.stop_run import stop_run
from ft_pipeline.wiring import training_deps


@pipeline_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(event=event, model=StopRequested)
    return stop_run(request.detail.run_id, request.detail.requested_by, training_deps()).model_dump()
