"""The one Logger, Tracer and Metrics of the pipeline; every function shares them through the layer."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "ft-pipeline"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="FineTuningPipeline", service=SERVICE)
