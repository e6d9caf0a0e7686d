"""The classification API's logic: validate sizes, call the endpoint, check and shape its answers.

The endpoint's answer is validated (EndpointPrediction: a label and finite probabilities, one prediction per
headline); anything else raises ModelAnswerInvalid, which the API answers 502. DescribeEndpoint is cached for
health_ttl_seconds when it succeeds, and for at most ERROR_TTL_SECONDS when it fails (EndpointStatusUnknown),
so that a throttled or briefly unreachable control plane does not mark the API unhealthy for the full TTL.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from ft_pipeline.headlines.api_models import (
    MAX_BATCH,
    MAX_HEADLINE_CHARS,
    BatchClassifyResponse,
    Classification,
    ClassifyResponse,
    EndpointPrediction,
    HealthResponse,
    ModelInfo,
)

ERROR_TTL_SECONDS = 3.0
MAX_PROBLEMS = 10


class PayloadTooLarge(ValueError):
    """413: the request is bigger than this API accepts."""


class ModelAnswerInvalid(RuntimeError):
    """502: the endpoint answered, but not with one prediction per headline of the expected shape."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the model answered in an unexpected form")
        self.problems = problems[:MAX_PROBLEMS]  # where and what, never the values (they may echo the input)


class EndpointStatusUnknown(RuntimeError):
    """DescribeEndpoint failed (throttled, denied, unreachable, no credentials); the message says which, briefly."""


class Endpoint(Protocol):
    name: str

    def invoke(self, inputs: list[str]) -> list[Any]: ...  # raw predictions; checked here
    def status(self) -> str | None: ...  # may raise EndpointStatusUnknown


_PREDICTIONS = TypeAdapter(list[EndpointPrediction])


def _check_sizes(headlines: list[str]) -> None:
    if len(headlines) > MAX_BATCH:
        raise PayloadTooLarge(f"{len(headlines)} headlines in one request; at most {MAX_BATCH}")
    for i, headline in enumerate(headlines):
        if len(headline) > MAX_HEADLINE_CHARS:
            raise PayloadTooLarge(f"headline {i} has {len(headline)} characters; at most {MAX_HEADLINE_CHARS}")


def _where(loc: tuple[int | str, ...]) -> str:
    """A path into the answer, for the log: indexes and field names; a label (a dict key) is not repeated."""
    return ".".join(str(p) if isinstance(p, int) or p in EndpointPrediction.model_fields else "*"
                    for p in loc) or "body"


def _predictions(endpoint: Endpoint, headlines: list[str]) -> list[EndpointPrediction]:
    answer = endpoint.invoke(headlines)
    try:
        predictions = _PREDICTIONS.validate_python(answer)
    except ValidationError as exc:
        raise ModelAnswerInvalid([f"{_where(e['loc'])}: {e['type']}"
                                  for e in exc.errors(include_input=False, include_url=False)]) from None
    except (TypeError, ValueError, RecursionError):
        raise ModelAnswerInvalid(["body: unreadable"]) from None
    if len(predictions) != len(headlines):
        raise ModelAnswerInvalid([f"body: {len(predictions)} predictions for {len(headlines)} headlines"])
    return predictions


def _classification(prediction: EndpointPrediction) -> Classification:
    probabilities = {k: round(v, 6) for k, v in prediction.probabilities.items()}
    label = prediction.predicted_label
    return Classification(label=label, score=probabilities.get(label, 0.0), probabilities=probabilities)


class HeadlineService:
    def __init__(self, endpoint: Endpoint, labels: list[str], model_version: str | None,
                 health_ttl_seconds: float = 30.0) -> None:
        self.endpoint = endpoint
        self.labels = labels
        self.model_version = model_version or None
        self.health_ttl_seconds = health_ttl_seconds
        # (when, for how long, EndpointStatus, why it is unknown)
        self._status_cache: tuple[float, float, str | None, str | None] | None = None

    def classify(self, headline: str) -> ClassifyResponse:
        _check_sizes([headline])
        (prediction,) = _predictions(self.endpoint, [headline])
        return ClassifyResponse(**_classification(prediction).model_dump(), model_version=self.model_version)

    def classify_batch(self, headlines: list[str]) -> BatchClassifyResponse:
        _check_sizes(headlines)
        predictions = _predictions(self.endpoint, headlines)
        return BatchClassifyResponse(results=[_classification(p) for p in predictions],
                                     model_version=self.model_version)

    def _status(self) -> tuple[str | None, str | None]:
        """(EndpointStatus, why it is unknown): DescribeEndpoint, cached briefly so health checks do not hammer
        the control plane; a failure is cached for ERROR_TTL_SECONDS at most."""
        now = time.monotonic()
        if self._status_cache is None or now - self._status_cache[0] > self._status_cache[1]:
            try:
                self._status_cache = (now, self.health_ttl_seconds, self.endpoint.status(), None)
            except EndpointStatusUnknown as exc:
                self._status_cache = (now, min(ERROR_TTL_SECONDS, self.health_ttl_seconds), None, str(exc))
        return self._status_cache[2], self._status_cache[3]

    def endpoint_status(self) -> str | None:
        return self._status()[0]

    def health(self) -> HealthResponse:
        status, unknown = self._status()
        if status == "InService":
            reason = None
        elif unknown:
            reason = f"the endpoint's status is unknown: {unknown}"
        elif status is None:
            reason = "no endpoint is configured" if not self.endpoint.name else "the endpoint does not exist"
        else:
            reason = f"the endpoint is {status}"
        return HealthResponse(status="ok" if status == "InService" else "unavailable",
                              endpoint=self.endpoint.name or None, endpoint_status=status, reason=reason)

    def model_info(self) -> ModelInfo:
        """Always answers: the labels and the model version are known even when the endpoint's status is not
        (endpoint_status is then null; /health says why)."""
        return ModelInfo(endpoint=self.endpoint.name or None, endpoint_status=self.endpoint_status(),
                         labels=self.labels, model_version=self.model_version)
