"""The one Logger, Tracer and Metrics of the pipeline; every function shares them through the layer."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import single_metric

SERVICE = "ft-pipeline"
NAMESPACE = "FineTuningPipeline"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def record_gauge(name: str, value: float, unit: str, **dimensions: str) -> None:
    """One metric with its own dimensions (e.g. runs waiting, per state), flushed at once as EMF."""
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
