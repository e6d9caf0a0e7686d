"""The SageMaker endpoint that serves the headline classifier: invoke and describe.

Timeouts stay under API Gateway's 29 s integration limit: 2 s to connect, 10 s to read, two attempts.
The client is created once per container and reused, so connections are kept alive between invocations.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

RUNTIME_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 2},
                        max_pool_connections=10)
CONTROL_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})


class EndpointUnavailable(RuntimeError):
    """503: missing, not InService, or throttled."""


class EndpointTimeout(RuntimeError):
    """504."""


class ModelFailed(RuntimeError):
    """502: the model container answered with an error."""


@cache
def _runtime() -> Any:
    return boto3.session.Session().client("sagemaker-runtime", config=RUNTIME_CONFIG)


@cache
def _control() -> Any:
    return boto3.session.Session().client("sagemaker", config=CONTROL_CONFIG)


def reset_clients() -> None:
    _runtime.cache_clear()
    _control.cache_clear()


_UNAVAILABLE = {"ModelNotReadyException", "ServiceUnavailable", "ThrottlingException", "Throttling",
                "InternalDependencyException", "InternalFailure"}


class SageMakerEndpoint:
    def __init__(self, name: str) -> None:
        self.name = name

    def invoke(self, inputs: list[str]) -> list[dict[str, Any]]:
        if not self.name:
            raise EndpointUnavailable("no endpoint is configured for this stack (HeadlineEndpointName)")
        try:
            response = _runtime().invoke_endpoint(EndpointName=self.name, ContentType="application/json",
                                                  Accept="application/json",
                                                  Body=json.dumps({"inputs": inputs}).encode())
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise EndpointTimeout(f"the model did not answer in time ({type(exc).__name__})") from None
        except EndpointConnectionError:
            raise EndpointUnavailable("the SageMaker runtime could not be reached") from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            message = exc.response.get("Error", {}).get("Message", "")
            if code == "ModelError":
                raise ModelFailed("the model failed on this input") from None
            if code == "ValidationError" and "endpoint" in message.lower():
                raise EndpointUnavailable(f"endpoint {self.name} is not available") from None
            if code in _UNAVAILABLE or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (429, 503):
                raise EndpointUnavailable(f"endpoint {self.name} is busy or starting ({code})") from None
            raise
        predictions = json.loads(response["Body"].read())
        return predictions if isinstance(predictions, list) else [predictions]

    def status(self) -> str | None:
        """EndpointStatus, or None when there is no such endpoint."""
        if not self.name:
            return None
        try:
            return _control().describe_endpoint(EndpointName=self.name)["EndpointStatus"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                return None
            raise
