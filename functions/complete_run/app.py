"""ModelDeployed → the run completes: its deployment is released per policy (deleted unless kept)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import ModelDeployed
from ft_pipeline.observability import logger, metrics, tracer
from ft_pipeline.steps.teardown import handle_model_deployed
from ft_pipeline.wiring import training_deps


@logger.inject_lambda_context(correlation_id_path="detail.run_id")
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deployed = parse(event=event, model=ModelDeployed)
    return handle_model_deployed(deployed.detail.run_id, training_deps(), deployed.detail.event_id).model_dump()
