"""The one Logger, Tracer and Metrics of the pipeline; every function shares them through the layer.

Every pipeline handler is decorated by `pipeline_handler` alone: structured JSON logs with the Lambda context,
an X-Ray segment, and the EMF metrics flushed at the end with a cold-start metric. The run id is the
correlation id of every log line: taken from the event (`detail.run_id`) where the event names the run, set by
the step with `bind_run` / `run_scope` once it knows the run otherwise (an upload, a job name, a queue message,
the sweeper's many runs).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import single_metric

from ft_pipeline.adapters.clients import guard_invocation

SERVICE = "ft-pipeline"
NAMESPACE = "FineTuningPipeline"
RUN_ID_PATH = "detail.run_id"  # every pipeline event (and the sweeper's retry request) names its run here

logger = Logger(service=SERVICE)
# every AWS call goes through botocore: patching only it keeps cold starts short (about 100 modules fewer)
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def pipeline_handler(correlation_id_path: str | None = RUN_ID_PATH) -> Callable[[Handler], Handler]:
    """The decorator stack of every pipeline handler, in one place: Logger (JSON, the Lambda context, the
    correlation id at `correlation_id_path` of the event; None: the step binds the run id itself), Tracer, and
    Metrics (flushed as EMF, with the cold-start metric), and the deadline guard of every AWS call it makes
    (`adapters.clients.guard_invocation`: no attempt is sent that the invocation could not see finish).

    The logger's keys are cleared at each invocation, so that a warm container never carries the previous
    invocation's run id into the next one's log lines.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def guarded(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            with guard_invocation(context):
                return handler(event, context, *args, **kwargs)

        with_metrics = metrics.log_metrics(guarded, capture_cold_start_metric=True)
        traced = tracer.capture_lambda_handler(with_metrics)
        return logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path,  # type: ignore[return-value]
                                            clear_state=True)

    return decorate


def bind_run(run_id: str | None) -> None:
    """This invocation works on this run: its id is the correlation id (and `run_id`) of the log lines that
    follow. None (a job or resource that is not this stack's) binds nothing."""
    if run_id:
        logger.append_keys(correlation_id=run_id, run_id=run_id)


@contextmanager
def run_scope(run_id: str | None) -> Iterator[None]:
    """`bind_run` for a while (one run of the sweep, one message of a batch), then the keys as they were."""
    before = {key: logger.get_current_keys().get(key) for key in ("correlation_id", "run_id")}
    bind_run(run_id)
    try:
        yield
    finally:
        logger.remove_keys([key for key, value in before.items() if value is None])
        logger.append_keys(**{key: value for key, value in before.items() if value is not None})


def record_gauge(name: str, value: float, unit: str, **dimensions: str) -> None:
    """One metric with its own dimensions (e.g. runs waiting, per state), flushed at once as EMF."""
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
