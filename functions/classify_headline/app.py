"""The headline classification API: API Gateway (REST) → this proxy → the SageMaker endpoint.

POST /classify, POST /classify/batch, GET /health, GET /model. Every answer is JSON with a short `message` on
error, never the input echoed back and never an ARN or a stack trace; each error is logged (with API Gateway's
request id as the correlation id). The statuses:

  400  the body is flagged base64 but is not valid base64 of UTF-8 text
  404  no such route; 415 a POST whose Content-Type is not application/json
  413  the body, the batch or a headline is too large
  422  invalid input: which fields (by schema path) and why, at most MAX_DETAILS of them
  502  the model failed, or answered in an unexpected form (not JSON, wrong shape, NaN, wrong count)
  503  the endpoint is missing, not InService, starting, throttled or unreachable, or this stack may not call it
       (credentials, permissions); Retry-After when it is starting / not ready / throttled
  504  the model's answer did not arrive in full in time
  500  a bug: only the catch-all answers it ("internal error"), logged as "unhandled error" with the trace and
       counted as the UnhandledError metric; the tests fail on any 500

GET /health answers 503 (status "unavailable", endpoint_status null and a reason) when DescribeEndpoint fails;
GET /model still answers 200 then, with endpoint_status null, since the labels and model version are known.
"""

# no `from __future__ import annotations`: Powertools reads the route signatures at run time

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ft_pipeline.adapters.sagemaker_endpoint import (
    EndpointStarting,
    EndpointTimeout,
    EndpointUnavailable,
    ModelFailed,
    SageMakerEndpoint,
)
from ft_pipeline.api_bodies import error_reply, json_body, plain_event
from ft_pipeline.headlines.api_models import (
    BatchClassifyRequest,
    BatchClassifyResponse,
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    HealthResponse,
    ModelInfo,
)
from ft_pipeline.headlines.service import HeadlineService, ModelAnswerInvalid, PayloadTooLarge
from ft_pipeline.observability import logger, metrics, pipeline_handler, tracer
from ft_pipeline.settings import ClassifierSettings

MAX_DETAILS = 10


app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=json_body)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"model": ErrorResponse}}}
    for code, text in ((400, "Body flagged base64 but not valid base64"), (413, "Request too large"),
                       (415, "Content-Type is not application/json"), (422, "Invalid request"),
                       (502, "The model failed or answered in an unexpected form"),
                       (503, "Endpoint missing, not in service, starting, throttled or unreachable"),
                       (504, "The model timed out"))
}


@cache
def _settings() -> ClassifierSettings:
    return ClassifierSettings.from_env()


@cache
def _service() -> HeadlineService:
    settings = _settings()
    return HeadlineService(SageMakerEndpoint(settings.endpoint_name), settings.label_list(),
                           settings.model_version, settings.health_cache_seconds)


def _ok(model: type, description: str) -> dict[int | str, dict[str, Any]]:
    """The 200 answer beside the errors (given `responses`, Powertools documents only those)."""
    return {200: {"description": description, "content": {"application/json": {"model": model}}}}


@app.post("/classify", summary="Classify one headline", responses=_ok(ClassifyResponse, "The label") | _ERRORS)
@tracer.capture_method
def classify(request: ClassifyRequest) -> ClassifyResponse:
    return _service().classify(request.headline)


@app.post("/classify/batch", summary="Classify up to 100 headlines",
          responses=_ok(BatchClassifyResponse, "One label per headline, in order") | _ERRORS)
@tracer.capture_method
def classify_batch(request: BatchClassifyRequest) -> BatchClassifyResponse:
    return _service().classify_batch(request.headlines)


@app.get("/health", summary="Endpoint status (cached briefly)",
         responses=_ok(HealthResponse, "The endpoint is InService")
         | {503: {"description": "Endpoint missing, not in service, or its status unknown (see reason)",
                  "content": {"application/json": {"model": HealthResponse}}}})
def health() -> Response[HealthResponse]:
    result = _service().health()
    code = HTTPStatus.OK if result.status == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
    if result.reason:
        logger.warning("unhealthy", extra={"reason": result.reason})
    return Response(status_code=code, content_type=content_types.APPLICATION_JSON, body=result)


@app.get("/model", summary="Endpoint, labels and model version (endpoint_status null when unknown)")
def model() -> ModelInfo:
    return _service().model_info()


def _error(status: HTTPStatus | int, message: str, details: list[dict[str, str]] | None = None,
           retry_after: int | None = None) -> Response[Any]:
    body = ErrorResponse(message=message, details=details).model_dump(exclude_none=True)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


# the request models' fields: the only names a 422 may repeat (anything else in `loc` came from the client)
_KNOWN_FIELDS = frozenset(ClassifyRequest.model_fields) | frozenset(BatchClassifyRequest.model_fields)
_PROBLEMS = {  # pydantic's error type → what a 422 says (a fixed text: pydantic's msg may quote the input)
    "missing": "field required", "extra_forbidden": "unknown field", "string_type": "must be a string",
    "string_too_short": "must not be empty", "list_type": "must be a list", "too_short": "must not be empty",
    "model_attributes_type": "must be a JSON object", "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object", "json_invalid": "not valid JSON", "string_unicode": "must be a string",
}


def _detail(err: Any) -> dict[str, str]:
    kind = str(err.get("type", "")) if isinstance(err, dict) else ""
    loc = err.get("loc", ()) if isinstance(err, dict) else ()
    path: list[str] = []
    if kind not in ("extra_forbidden", "json_invalid"):  # an unknown key's name is the client's
        for part in loc[1:] if loc and loc[0] == "body" else loc:
            if isinstance(part, int) and not isinstance(part, bool) and path:
                path.append(str(part))  # a list index
            elif isinstance(part, str) and part in _KNOWN_FIELDS and not path:
                path.append(part)
            else:
                break
    return {"field": ".".join(path) or "body", "problem": _PROBLEMS.get(kind, "invalid value")}


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response[Any]:
    errors = exc.errors()
    details: list[dict[str, str]] = []
    for detail in map(_detail, errors[:MAX_DETAILS * 10]):  # a 256 KB body can hold 80,000 wrong items
        if detail not in details:
            details.append(detail)
    if len(details) > MAX_DETAILS or len(errors) > MAX_DETAILS * 10:
        details = details[:MAX_DETAILS - 1] + [{"field": "body", "problem": "more problems not listed"}]
    logger.warning("invalid request", extra={"problems": details, "errors": len(errors)})
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid request", details)


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_content_type(exc: RequestUnsupportedContentType) -> Response[Any]:
    logger.warning("unsupported content type")
    return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")


@app.exception_handler(NotFoundError)
def not_found(exc: NotFoundError) -> Response[Any]:
    return _error(HTTPStatus.NOT_FOUND, "no such route")


@app.exception_handler(ServiceError)
def service_error(exc: ServiceError) -> Response[Any]:
    logger.warning("service error", extra={"status": exc.status_code})
    return _error(exc.status_code, HTTPStatus(exc.status_code).phrase.lower())


@app.exception_handler(PayloadTooLarge)
def too_large(exc: PayloadTooLarge) -> Response[Any]:
    logger.warning("request too large")
    return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(exc))


@app.exception_handler(EndpointUnavailable)
def unavailable(exc: EndpointUnavailable) -> Response[Any]:
    logger.warning("endpoint unavailable", extra={"reason": str(exc)})
    metrics.add_metric(name="EndpointUnavailable", unit="Count", value=1)
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), retry_after=exc.retry_after)


@app.exception_handler(EndpointStarting)
def starting(exc: EndpointStarting) -> Response[Any]:
    logger.warning("endpoint did not answer within the read timeout (starting?)")
    metrics.add_metric(name="EndpointUnavailable", unit="Count", value=1)
    return _error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc), retry_after=exc.retry_after)


@app.exception_handler(EndpointTimeout)
def timed_out(exc: EndpointTimeout) -> Response[Any]:
    logger.warning("model timed out", extra={"reason": str(exc)})
    return _error(HTTPStatus.GATEWAY_TIMEOUT, str(exc))


@app.exception_handler(ModelFailed)
def model_failed(exc: ModelFailed) -> Response[Any]:
    logger.warning("model error", extra={"reason": str(exc)})
    return _error(HTTPStatus.BAD_GATEWAY, str(exc))


@app.exception_handler(ModelAnswerInvalid)
def model_answer_invalid(exc: ModelAnswerInvalid) -> Response[Any]:
    logger.warning("model answer invalid", extra={"problems": exc.problems})
    metrics.add_metric(name="ModelAnswerInvalid", unit="Count", value=1)
    return _error(HTTPStatus.BAD_GATEWAY, str(exc))


@app.exception_handler(Exception)
def unhandled(exc: Exception) -> Response[Any]:
    """The last line of defence against a bug: a JSON 500, not a crashed Lambda (API Gateway's bare 502)."""
    logger.exception("unhandled error")
    metrics.add_metric(name="UnhandledError", unit="Count", value=1)
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


def _is_json(event: dict[str, Any]) -> bool:
    """No Content-Type, or application/json: the API reads nothing else (Powertools' form and multipart parsers
    are never reached, so they cannot fail on what they were not meant for)."""
    headers = event.get("headers") or {}
    value = next((str(v) for k, v in headers.items() if str(k).lower() == "content-type"), "")
    return value.split(";")[0].strip().lower() in ("", content_types.APPLICATION_JSON)


@pipeline_handler(correlation_id_path=correlation_paths.API_GATEWAY_REST)  # API Gateway's request id
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    limit = _settings().max_body_bytes
    if len(event.get("body") or "") > limit:  # before parsing: an oversized body is refused unread
        logger.warning("request body too large")
        return error_reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {limit} bytes")
    if event.get("httpMethod") == "POST" and not _is_json(event):
        logger.warning("unsupported content type")
        return error_reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
    plain = plain_event(event)
    if plain is None:
        logger.warning("body is not valid base64")
        return error_reply(HTTPStatus.BAD_REQUEST, "body is not valid base64 (of UTF-8 text)")
    return app.resolve(plain, context)
