"""Bedrock "Model Customization Job State Change" (default bus) → ledger → ModelTrained | TrainingFailed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.contracts import BedrockJobStateChange
from ft_pipeline.naming import run_id_from_job_name
from ft_pipeline.observability import bind_run, logger, pipeline_handler
from ft_pipeline.steps.training_status import handle_job_event
from ft_pipeline.wiring import training_deps


@pipeline_handler(correlation_id_path=None)  # the event names the job; its name, the run
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse(event=event, model=BedrockJobStateChange)
    deps = training_deps()
    bind_run(run_id_from_job_name(deps.settings.resource_prefix, change.detail.jobName))  # None: not this stack's
    logger.info("job state change", extra={"job": change.detail.jobName, "status": change.detail.jobStatus})
    return handle_job_event(change.detail.jobName, deps, trigger="event").model_dump()
