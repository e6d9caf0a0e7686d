"""Every period: each run in a waiting state is looked at by its owner; undelivered events are delivered."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import ScheduledEvent
from ft_pipeline.observability import logger, pipeline_handler
from ft_pipeline.steps.sweep import sweep
from ft_pipeline.wiring import training_deps


@pipeline_handler(correlation_id_path=None)  # many runs: the sweep binds each while it works on it
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse(event=event, model=ScheduledEvent)
    report = sweep(training_deps())
    if report.changed:
        logger.info("sweeper moved runs on", extra={"changes": [o.model_dump() for o in report.changed]})
    return report.model_dump()
