"""The SageMaker endpoint that serves the headline classifier: invoke and describe.

Time budget. API Gateway gives up on an integration after 29 s and the proxy Lambda's Timeout is 28 s, but a
serverless endpoint's first invocation after a scale-to-zero (a cold start) may take up to 60 s. No retry
can fit that, so InvokeEndpoint gets ONE attempt (no botocore retry): 2 s to connect, 24 s to read. When the
read times out the proxy answers 503 with ``Retry-After: 10`` ("the model is starting ... retry shortly")
rather than 504: the endpoint keeps warming after we stop waiting, so a client retrying a little later finds
it warm. ModelNotReadyException and throttling are answered the same way. DescribeEndpoint (the control
plane, for /health and /model) gets 2 s to connect, 3 s to read and 2 attempts.
The alternative that removes cold starts altogether is Provisioned Concurrency on the serverless endpoint
(``ProvisionedConcurrency`` in its ``ServerlessConfig``), paid for by the hour whether used or not.

Every failure of the SDK is turned into one of this module's errors (or the service's ModelAnswerInvalid /
EndpointStatusUnknown), each with a short message that names no ARN, account or input. The client is created
once per container and reused, so connections are kept alive between invocations.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from urllib3.exceptions import HTTPError as URLLib3Error

from ft_pipeline.adapters.clients import CallProfile
from ft_pipeline.headlines.service import EndpointStatusUnknown, ModelAnswerInvalid

# the same call profiles as every other client (adapters/clients.py), sized for the proxy's 28 s:
# InvokeEndpoint one attempt, 2 s + 24 s; DescribeEndpoint (health, model info) 2 attempts of 2 s + 3 s
INVOKE = CallProfile(connect_timeout=2, read_timeout=24, max_attempts=1)
DESCRIBE = CallProfile(connect_timeout=2, read_timeout=3, max_attempts=2)
CONNECT_TIMEOUT_S, READ_TIMEOUT_S, INVOKE_ATTEMPTS = INVOKE.connect_timeout, INVOKE.read_timeout, INVOKE.max_attempts
CONTROL_CONNECT_TIMEOUT_S, CONTROL_READ_TIMEOUT_S, CONTROL_ATTEMPTS = (
    DESCRIBE.connect_timeout, DESCRIBE.read_timeout, DESCRIBE.max_attempts)
RETRY_AFTER_S = 10  # what a 503 for a starting, not-ready or throttled endpoint tells the client to wait


def _runtime_config() -> Config:
    return INVOKE.config()


def _control_config() -> Config:
    return DESCRIBE.config()


# for readers and tests (each client still gets a Config of its own)
RUNTIME_CONFIG = _runtime_config()
CONTROL_CONFIG = _control_config()


class EndpointUnavailable(RuntimeError):
    """503: missing, not InService, throttled, unreachable, or this stack may not call it."""

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EndpointTimeout(RuntimeError):
    """504: the answer did not arrive (in full) in time."""


class EndpointStarting(EndpointTimeout):
    """503 with Retry-After: no answer within the read timeout, most likely a serverless cold start."""

    retry_after = RETRY_AFTER_S


class ModelFailed(RuntimeError):
    """502: the model container (or SageMaker on its behalf) answered with an error."""


@cache
def _runtime() -> Any:
    return boto3.session.Session().client("sagemaker-runtime", config=_runtime_config())


@cache
def _control() -> Any:
    return boto3.session.Session().client("sagemaker", config=_control_config())


def reset_clients() -> None:
    _runtime.cache_clear()
    _control.cache_clear()


_BUSY = {"ModelNotReadyException", "ServiceUnavailable", "ThrottlingException", "Throttling",
         "TooManyRequestsException", "RequestLimitExceeded"}
_UNAVAILABLE = _BUSY | {"InternalDependencyException", "InternalFailure"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException", "InvalidClientTokenId",
           "InvalidSignatureException", "SignatureDoesNotMatch", "MissingAuthenticationToken", "RequestExpired"}
# what botocore's parsers raise, beyond ResponseParserError, on an answer that is not AWS's (e.g. from a proxy)
_UNPARSABLE = (AttributeError, KeyError, TypeError, ValueError)
_MISCONFIGURED = "this stack cannot reach its model (a configuration problem); the operators have been alerted"
_UNREACHABLE = "the SageMaker runtime could not be reached"


def _denied(code: str) -> bool:
    return code in _DENIED or code.startswith("ExpiredToken")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class SageMakerEndpoint:
    def __init__(self, name: str) -> None:
        self.name = name

    def invoke(self, inputs: list[str]) -> list[Any]:
        """The endpoint's parsed JSON answer, as a list (a single object becomes a list of one).

        The shape of each prediction is checked by the service, which raises ModelAnswerInvalid.
        """
        if not self.name:
            raise EndpointUnavailable("no endpoint is configured for this stack (HeadlineEndpointName)")
        try:
            response = _runtime().invoke_endpoint(EndpointName=self.name, ContentType="application/json",
                                                  Accept="application/json",
                                                  Body=json.dumps({"inputs": inputs}).encode())
        except ReadTimeoutError:
            raise EndpointStarting("the model is starting (a serverless endpoint's cold start can take up to a "
                                   "minute); retry shortly") from None
        except (NoCredentialsError, PartialCredentialsError):
            raise EndpointUnavailable(_MISCONFIGURED) from None
        except (BotoConnectionError, ConnectionClosedError, HTTPClientError):  # incl. connect timeouts
            raise EndpointUnavailable(_UNREACHABLE) from None
        except ClientError as exc:
            raise self._client_error(exc) from None
        except BotoCoreError:
            raise EndpointUnavailable("the model could not be called") from None
        except _UNPARSABLE:  # botocore could not parse what came back (not UTF-8, not an object)
            raise ModelFailed("the model service answered with an error") from None
        try:
            body = response["Body"].read()
        except (ReadTimeoutError, ResponseStreamingError, IncompleteReadError, URLLib3Error, OSError):
            raise EndpointTimeout("the model's answer did not arrive in full in time") from None
        except BotoCoreError:
            raise EndpointUnavailable(_UNREACHABLE) from None
        try:
            predictions = json.loads(body)
        except (ValueError, TypeError, RecursionError):  # not JSON, not UTF-8, empty, nested too deep
            raise ModelAnswerInvalid(["body: not JSON"]) from None
        return predictions if isinstance(predictions, list) else [predictions]

    def _client_error(self, exc: ClientError) -> Exception:
        code = _code(exc)
        message = str(exc.response.get("Error", {}).get("Message", ""))
        http_status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("ModelError", "ModelStreamError"):
            return ModelFailed("the model failed on this input")
        if code == "ValidationError" and "endpoint" in message.lower():
            return EndpointUnavailable(f"endpoint {self.name} is not available")
        if _denied(code):
            return EndpointUnavailable(_MISCONFIGURED)
        if code in _BUSY or http_status == 429:
            return EndpointUnavailable(f"endpoint {self.name} is busy or starting; retry shortly",
                                       retry_after=RETRY_AFTER_S)
        if code in _UNAVAILABLE or http_status == 503:
            return EndpointUnavailable(f"endpoint {self.name} is not available right now",
                                       retry_after=RETRY_AFTER_S)
        return ModelFailed("the model service answered with an error")

    def status(self) -> str | None:
        """EndpointStatus, or None when there is no such endpoint; EndpointStatusUnknown when it cannot be read."""
        if not self.name:
            return None
        try:
            return str(_control().describe_endpoint(EndpointName=self.name)["EndpointStatus"])
        except ClientError as exc:
            code = _code(exc)
            if code == "ValidationException":
                return None
            if _denied(code):
                raise EndpointStatusUnknown("this stack may not read its endpoint's status (configuration)") from None
            if code in _BUSY or "throttl" in code.lower():
                raise EndpointStatusUnknown("SageMaker is throttling status requests") from None
            raise EndpointStatusUnknown("SageMaker did not give the endpoint's status") from None
        except (NoCredentialsError, PartialCredentialsError):
            raise EndpointStatusUnknown("this stack has no credentials for SageMaker (configuration)") from None
        except BotoCoreError:
            raise EndpointStatusUnknown("SageMaker could not be reached") from None
        except _UNPARSABLE:  # an answer botocore could not parse (not UTF-8, not an object, no EndpointStatus)
            raise EndpointStatusUnknown("SageMaker did not give the endpoint's status") from None
