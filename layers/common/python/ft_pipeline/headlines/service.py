"""The classification API's logic: validate sizes, call the endpoint, shape the answers."""

from __future__ import annotations

import time
from typing import Any, Protocol

from ft_pipeline.headlines.api_models import (
    MAX_BATCH,
    MAX_HEADLINE_CHARS,
    BatchClassifyResponse,
    Classification,
    ClassifyResponse,
    HealthResponse,
    ModelInfo,
)


class PayloadTooLarge(ValueError):
    """413: the request is bigger than this API accepts."""


class Endpoint(Protocol):
    name: str

    def invoke(self, inputs: list[str]) -> list[dict[str, Any]]: ...
    def status(self) -> str | None: ...


def _check_sizes(headlines: list[str]) -> None:
    if len(headlines) > MAX_BATCH:
        raise PayloadTooLarge(f"{len(headlines)} headlines in one request; at most {MAX_BATCH}")
    for i, headline in enumerate(headlines):
        if len(headline) > MAX_HEADLINE_CHARS:
            raise PayloadTooLarge(f"headline {i} has {len(headline)} characters; at most {MAX_HEADLINE_CHARS}")


def _classification(prediction: dict[str, Any]) -> Classification:
    probabilities = {str(k): round(float(v), 6) for k, v in prediction["probabilities"].items()}
    label = str(prediction["predicted_label"])
    return Classification(label=label, score=probabilities.get(label, 0.0), probabilities=probabilities)


class HeadlineService:
    def __init__(self, endpoint: Endpoint, labels: list[str], model_version: str | None,
                 health_ttl_seconds: float = 30.0) -> None:
        self.endpoint = endpoint
        self.labels = labels
        self.model_version = model_version or None
        self.health_ttl_seconds = health_ttl_seconds
        self._status_cache: tuple[float, str | None] | None = None

    def classify(self, headline: str) -> ClassifyResponse:
        _check_sizes([headline])
        (prediction,) = self.endpoint.invoke([headline])
        return ClassifyResponse(**_classification(prediction).model_dump(), model_version=self.model_version)

    def classify_batch(self, headlines: list[str]) -> BatchClassifyResponse:
        _check_sizes(headlines)
        predictions = self.endpoint.invoke(headlines)
        if len(predictions) != len(headlines):
            raise RuntimeError(f"the endpoint answered {len(predictions)} of {len(headlines)} headlines")
        return BatchClassifyResponse(results=[_classification(p) for p in predictions],
                                     model_version=self.model_version)

    def endpoint_status(self) -> str | None:
        """DescribeEndpoint, cached briefly so that health checks do not hammer the control plane."""
        now = time.monotonic()
        if self._status_cache is None or now - self._status_cache[0] > self.health_ttl_seconds:
            self._status_cache = (now, self.endpoint.status())
        return self._status_cache[1]

    def health(self) -> HealthResponse:
        status = self.endpoint_status()
        return HealthResponse(status="ok" if status == "InService" else "unavailable",
                              endpoint=self.endpoint.name or None, endpoint_status=status)

    def model_info(self) -> ModelInfo:
        return ModelInfo(endpoint=self.endpoint.name or None, endpoint_status=self.endpoint_status(),
                         labels=self.labels, model_version=self.model_version)
