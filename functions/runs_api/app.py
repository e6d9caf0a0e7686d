"""The runs API: follow and steer runs. API Gateway (REST, AWS IAM authorization) → this function.

GET /runs, GET /runs/{run_id}, POST /runs/{run_id}/stop, POST /runs. Every answer is JSON; errors have a
`message`: 404 no such run (or route), 422 a bad parameter (named), 503 the ledger, bucket or bus did not
answer (Retry-After), 502 AWS refused the call or a record is damaged, 500 only for a bug (logged, counted as
the UnhandledError metric). The caller is whoever API Gateway authenticated (SigV4): a stop records their ARN.
"""

# no `from __future__ import annotations`: Powertools reads the route signatures at run time

from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from ft_pipeline.adapters.clients import DeadlineNear
from ft_pipeline.adapters.event_bus import PublishError
from ft_pipeline.api_bodies import error_reply, json_body, plain_event
from ft_pipeline.lifecycle import RunState
from ft_pipeline.observability import logger, metrics, pipeline_handler
from ft_pipeline.runs import service
from ft_pipeline.runs.api_models import (
    DEFAULT_PAGE,
    MAX_PAGE,
    ErrorAnswer,
    RunDetail,
    RunList,
    StopAnswer,
    SubmitAnswer,
    SubmitRequest,
)
from ft_pipeline.runs.cursor import InvalidCursor
from ft_pipeline.runs.service import InvalidRequest, RunNotFound, RunsDeps, RunUnreadable
from ft_pipeline.wiring import runs_deps

MAX_BODY_BYTES = 64 * 1024  # a submission's options are at most 32 KB as JSON
RETRYABLE = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
             "InternalServerError", "InternalFailure", "ServiceUnavailable", "SlowDown", "RequestTimeout"}


app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=json_body)

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"model": ErrorAnswer}}}
    for code, text in ((404, "No such run"), (413, "Request body too large"),
                       (422, "A bad parameter: the message names it"),
                       (502, "AWS refused the call (configuration), or the run's record is damaged"),
                       (503, "The ledger, bucket or bus did not answer: retry (Retry-After)"))
}


def _ok(model: type, description: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The success answer, documented beside the errors (given `responses`, Powertools documents only those)."""
    return {status: {"description": description, "content": {"application/json": {"model": model}}}} | _ERRORS


@cache
def _deps() -> RunsDeps:
    return runs_deps()


def _caller() -> str | None:
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or None


@app.get("/runs", summary="Runs, newest first, a page at a time", responses=_ok(RunList, "A page of runs"))
def list_runs(state: Annotated[RunState | None, Query(description="only runs in this state")] = None,
              since: Annotated[str | None, Query(description="created at or after (ISO 8601)")] = None,
              until: Annotated[str | None, Query(description="created at or before (ISO 8601)")] = None,
              key: Annotated[str | None, Query(description="the run of this upload's key", max_length=1024)] = None,
              limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
              cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
              ) -> RunList:
    return service.list_runs(_deps(), state=state, since=since, until=until, key=key, limit=limit, cursor=cursor)


@app.get("/runs/<run_id>", summary="One run: its timeline, resources, cost, evaluation and links",
         responses=_ok(RunDetail, "The run"))
def get_run(run_id: str) -> RunDetail:
    return service.get_run(_deps(), run_id)


@app.post("/runs/<run_id>/stop", summary="Stop the run and tear down what it created (idempotent)",
          responses=_ok(StopAnswer, "Nothing left to stop") | _ok(StopAnswer, "Stop requested", 202))
def stop_run(run_id: str) -> Response[StopAnswer]:
    answer = service.stop(_deps(), run_id, _caller())
    if answer.stop_requested:
        logger.info("stop requested", extra={"run_id": run_id, "by": _caller()})
    status = HTTPStatus.ACCEPTED if answer.stop_requested else HTTPStatus.OK
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=answer)


@app.post("/runs", summary="Upload URLs for a new dataset (the upload starts the run)",
          responses=_ok(SubmitAnswer, "Upload URLs", 201))
def submit(request: SubmitRequest) -> Response[SubmitAnswer]:
    answer = service.submit(_deps(), request)
    logger.info("submission prepared", extra={"key": answer.data.key, "options_written": answer.options_written})
    return Response(status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=answer)


def _error(status: HTTPStatus, message: str, details: list[dict[str, str]] | None = None) -> Response[Any]:
    body = ErrorAnswer(message=message, details=details).model_dump(exclude_none=True)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response[Any]:
    details = [{"field": ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
                or "body", "problem": str(err.get("msg", "invalid"))[:200]} for err in exc.errors()[:10]]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid request", details)


@app.exception_handler(InvalidRequest)
@app.exception_handler(InvalidCursor)
def invalid_parameter(exc: ValueError) -> Response[Any]:
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc)[:1000])


@app.exception_handler(RunNotFound)
def no_such_run(exc: RunNotFound) -> Response[Any]:
    return _error(HTTPStatus.NOT_FOUND, "no such run")


@app.exception_handler(RunUnreadable)
def unreadable_run(exc: RunUnreadable) -> Response[Any]:
    metrics.add_metric(name="UnhandledError", unit="Count", value=1)  # the data needs a person: counted
    return _error(HTTPStatus.BAD_GATEWAY, str(exc))


@app.exception_handler(NotFoundError)
def no_such_route(exc: NotFoundError) -> Response[Any]:
    return _error(HTTPStatus.NOT_FOUND, "no such route")


def _retry_later(exc: Exception) -> Response[Any]:
    logger.warning("an AWS call failed; the client may retry", extra={"error": type(exc).__name__})
    answer = _error(HTTPStatus.SERVICE_UNAVAILABLE, "the pipeline's storage did not answer; retry shortly")
    answer.headers["Retry-After"] = "5"
    return answer


@app.exception_handler(ClientError)
def aws_refused(exc: ClientError) -> Response[Any]:
    """Throttled or failing on AWS's side: 503, worth a retry. Anything else (denied, invalid) is this stack's
    configuration, which a retry will not mend: a 502, logged and counted for the alarm."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if error.get("Code") in RETRYABLE or status >= 500 or status == 429:
        return _retry_later(exc)
    logger.error("AWS refused a call of the runs API", extra={"code": error.get("Code")})
    metrics.add_metric(name="UnhandledError", unit="Count", value=1)
    return _error(HTTPStatus.BAD_GATEWAY, "the pipeline's storage refused the request (a configuration problem); "
                                          "the operators are alarmed")


@app.exception_handler(BotoCoreError)  # unreachable, timed out, a connection closed
@app.exception_handler(PublishError)  # PutEvents answered but did not take the event (throttled)
@app.exception_handler(DeadlineNear)  # the invocation's time ran out before the next call
def aws_unavailable(exc: Exception) -> Response[Any]:
    return _retry_later(exc)


@app.exception_handler(Exception)
def unhandled(exc: Exception) -> Response[Any]:
    """A bug, or AWS failing us: a JSON 500 with nothing internal in it; the trace goes to the log."""
    logger.exception("unhandled error")
    metrics.add_metric(name="UnhandledError", unit="Count", value=1)
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


@pipeline_handler(correlation_id_path=correlation_paths.API_GATEWAY_REST)  # API Gateway's request id
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = event.get("body") or ""
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:  # before decoding: an oversized body is refused unread
        return error_reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes")
    plain = plain_event(event)
    if plain is None:
        return error_reply(HTTPStatus.UNPROCESSABLE_ENTITY, "body is not valid base64 of UTF-8 JSON")
    event = plain
    if len(event.get("body") or "") > MAX_BODY_BYTES:
        return error_reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes")
    return app.resolve(event, context)

