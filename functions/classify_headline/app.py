"""The headline classification API: API Gateway (REST) → this proxy → the SageMaker endpoint.

POST /classify, POST /classify/batch, GET /health, GET /model. Errors a client can act on: 422 invalid
input (sanitised: which field and why, never the input echoed back), 413 too large, 502 model error,
503 endpoint missing / not InService / throttled, 504 timeout.
"""

# no `from __future__ import annotations`: Powertools reads the route signatures at run time

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.adapters.sagemaker_endpoint import EndpointTimeout, EndpointUnavailable, ModelFailed, SageMakerEndpoint
from ft_pipeline.headlines.api_models import (
    BatchClassifyRequest,
    BatchClassifyResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    HealthResponse,
    ModelInfo,
)
from ft_pipeline.headlines.service import HeadlineService, PayloadTooLarge
from ft_pipeline.observability import logger, metrics, tracer
from ft_pipeline.settings import ClassifierSettings

app = APIGatewayRestResolver(enable_validation=True)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"model": ErrorResponse}}}
    for code, text in ((413, "Request too large"), (422, "Invalid request"), (502, "The model failed"),
                       (503, "Endpoint missing, not in service, or throttled"), (504, "The model timed out"))
}


@cache
def _settings() -> ClassifierSettings:
    return ClassifierSettings.from_env()


@cache
def _service() -> HeadlineService:
    settings = _settings()
    return HeadlineService(SageMakerEndpoint(settings.endpoint_name), settings.label_list(),
                           settings.model_version, settings.health_cache_seconds)


@app.post("/classify", summary="Classify one headline", responses=_ERRORS)
@tracer.capture_method
def classify(request: ClassifyRequest) -> ClassifyResponse:
    return _service().classify(request.headline)


@app.post("/classify/batch", summary="Classify up to 100 headlines", responses=_ERRORS)
@tracer.capture_method
def classify_batch(request: BatchClassifyRequest) -> BatchClassifyResponse:
    return _service().classify_batch(request.headlines)


@app.get("/health", summary="Endpoint status (cached briefly)",
         responses={503: {"description": "Endpoint not in service",
                          "content": {"application/json": {"model": HealthResponse}}}})
def health() -> Response[HealthResponse]:
    result = _service().health()
    code = HTTPStatus.OK if result.status == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
    return Response(status_code=code, content_type=content_types.APPLICATION_JSON, body=result)


@app.get("/model", summary="Endpoint, labels and model version")
def model() -> ModelInfo:
    return _service().model_info()


def _error(status: HTTPStatus, message: str, details: list[dict[str, str]] | None = None) -> Response[Any]:
    body = ErrorResponse(message=message, details=details).model_dump(exclude_none=True)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response[Any]:
    details = [{"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body",
                "problem": str(err.get("msg", "invalid"))} for err in exc.errors()]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid request", details)


@app.exception_handler(PayloadTooLarge)
def too_large(exc: PayloadTooLarge) -> Response[Any]:
    return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(exc))


@app.exception_handler(EndpointUnavailable)
def unavailable(exc: EndpointUnavailable) -> Response[Any]:
    metrics.add_metric(name="EndpointUnavailable", unit="Count", value=1)
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))


@app.exception_handler(EndpointTimeout)
def timed_out(exc: EndpointTimeout) -> Response[Any]:
    return _error(HTTPStatus.GATEWAY_TIMEOUT, str(exc))


@app.exception_handler(ModelFailed)
def model_failed(exc: ModelFailed) -> Response[Any]:
    logger.exception("model error")
    return _error(HTTPStatus.BAD_GATEWAY, str(exc))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    limit = _settings().max_body_bytes
    if len(event.get("body") or "") > limit:  # before parsing: an oversized body is refused unread
        return {"statusCode": 413, "headers": {"Content-Type": "application/json"},
                "body": ErrorResponse(message=f"request body over {limit} bytes").model_dump_json()}
    return app.resolve(event, context)
