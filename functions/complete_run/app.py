"""EvaluationCompleted → the run completes: its deployment is kept (gate passed, asked for) or deleted."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import EvaluationCompleted
from ft_pipeline.observability import pipeline_handler
from ft_pipeline.steps.teardown import handle_evaluation_completed
from ft_pipeline.wiring import training_deps


@pipeline_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    evaluated = parse(event=event, model=EvaluationCompleted)
    return handle_evaluation_completed(evaluated.detail.run_id, training_deps(), evaluated.detail.event_id).model_dump()
