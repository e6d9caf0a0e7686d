"""Request and response models of the headline classification API (the OpenAPI document is built from them)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
    status: str = Field(description="ok when the endpoint is InService")
    endpoint: str | None
    endpoint_status: str | None


class ModelInfo(BaseModel):
    endpoint: str | None
    endpoint_status: str | None
    labels: list[str]
    model_version: str | None


class ErrorResponse(BaseModel):
    message: str
    details: list[dict[str, str]] | None = None
