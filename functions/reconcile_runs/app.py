"""Every few minutes: catch up on Bedrock state changes whose (best-effort) events never arrived."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import ScheduledEvent
from ft_pipeline.observability import logger, metrics, tracer
from ft_pipeline.steps.training import reconcile
from ft_pipeline.wiring import training_deps


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse(event=event, model=ScheduledEvent)
    outcomes = reconcile(training_deps())
    changed = [o for o in outcomes if o.action not in ("in-progress", "duplicate")]
    if changed:
        logger.info("reconciler applied missed transitions", extra={"changes": [o.model_dump() for o in changed]})
    metrics.add_metric(name="ReconcilerTransitions", unit="Count", value=len(changed))
    return {"checked": len(outcomes), "changed": [o.model_dump() for o in changed]}
