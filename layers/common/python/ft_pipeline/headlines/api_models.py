"""Request and response models of the headline classification API (the OpenAPI document is built from them)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ft_pipeline.api_bodies import ErrorResponse

__all__ = ["ErrorResponse"]  # the error answer both APIs share, importable from here as before

MAX_HEADLINE_CHARS = 1_000  # longer is not a headline; the model reads 128 tokens at most anyway
MAX_BATCH = 100  # one request stays well under API Gateway's 29 s and SageMaker's 6 MB

Headline = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headline: Headline = Field(description="A news headline", examples=["Apple unveils a new iPhone"])


class BatchClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headlines: list[Headline] = Field(min_length=1, description=f"1 to {MAX_BATCH} headlines")


class Classification(BaseModel):
    label: str = Field(description="The most likely category")
    score: float = Field(description="Its probability")
    probabilities: dict[str, float] = Field(description="Every category's probability")


class ClassifyResponse(Classification):
    model_version: str | None = None


class BatchClassifyResponse(BaseModel):
    results: list[Classification] = Field(description="One answer per headline, in request order")
    model_version: str | None = None


class HealthResponse(BaseModel):
    status: str = Field(description="ok when the endpoint is InService, else unavailable")
    endpoint: str | None
    endpoint_status: str | None = Field(description="null when there is no endpoint or its status is unknown")
    reason: str | None = Field(None, description="why the API is unavailable (absent when ok)",
                               exclude_if=lambda reason: reason is None)


class ModelInfo(BaseModel):
    endpoint: str | None
    endpoint_status: str | None
    labels: list[str]
    model_version: str | None


# ErrorResponse: the error answer both APIs share (ft_pipeline/api_bodies.py)


# --- what the SageMaker endpoint answers (not part of the API) -----------------------------------------------------

Probability = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class EndpointPrediction(BaseModel):
    """One prediction of the endpoint (inference.py): its label and every label's probability, all finite."""

    model_config = ConfigDict(extra="ignore")

    predicted_label: Annotated[str, StringConstraints(min_length=1)]
    probabilities: dict[str, Probability] = Field(min_length=1)
