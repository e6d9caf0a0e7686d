"""The proxy's error mapping and health cache, without a network: fake endpoints and botocore's Stubber."""

import io
import json

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from ft_pipeline.adapters import sagemaker_endpoint
from ft_pipeline.adapters.sagemaker_endpoint import EndpointTimeout, EndpointUnavailable, ModelFailed, SageMakerEndpoint
from ft_pipeline.headlines.service import HeadlineService, PayloadTooLarge


@pytest.fixture
def runtime(monkeypatch):
    import boto3

    client = boto3.client("sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    monkeypatch.setattr(sagemaker_endpoint, "_runtime", lambda: client)
    with Stubber(client) as stubber:
        yield stubber


def error(runtime, code, status, message="boom"):
    runtime.add_client_error("invoke_endpoint", service_error_code=code, service_message=message,
                             http_status_code=status)


def test_model_error_becomes_model_failed(runtime):
    error(runtime, "ModelError", 424)
    with pytest.raises(ModelFailed):
        SageMakerEndpoint("ep").invoke(["x"])


@pytest.mark.parametrize(("code", "status", "message"), [
    ("ValidationError", 400, "Endpoint ep of account 123456789012 not found."),
    ("ModelNotReadyException", 429, "not ready"),
    ("ServiceUnavailable", 503, "try later"),
    ("ThrottlingException", 400, "Rate exceeded"),
])
def test_missing_busy_or_throttled_endpoint_is_unavailable(runtime, code, status, message):
    error(runtime, code, status, message)
    with pytest.raises(EndpointUnavailable):
        SageMakerEndpoint("ep").invoke(["x"])


def test_timeout_is_endpoint_timeout(monkeypatch):
    class Slow:
        def invoke_endpoint(self, **kwargs):
            raise ReadTimeoutError(endpoint_url="http://localhost/endpoints/ep/invocations")

    monkeypatch.setattr(sagemaker_endpoint, "_runtime", lambda: Slow())
    with pytest.raises(EndpointTimeout):
        SageMakerEndpoint("ep").invoke(["x"])


def test_no_configured_endpoint_is_unavailable():
    with pytest.raises(EndpointUnavailable, match="no endpoint"):
        SageMakerEndpoint("").invoke(["x"])


def test_answers_are_parsed_single_or_list(runtime):
    answer = {"predicted_label": "health", "probabilities": {"health": 0.9, "science": 0.1}}
    runtime.add_response("invoke_endpoint", {"Body": io.BytesIO(json.dumps(answer).encode())})
    assert SageMakerEndpoint("ep").invoke(["x"]) == [answer]


class CountingEndpoint:
    name = "ep"

    def __init__(self):
        self.calls = 0

    def status(self):
        self.calls += 1
        return "InService"

    def invoke(self, inputs):
        return [{"predicted_label": "health", "probabilities": {"health": 0.75, "science": 0.25}} for _ in inputs]


def test_health_is_cached_briefly():
    endpoint = CountingEndpoint()
    service = HeadlineService(endpoint, ["health", "science"], "v1", health_ttl_seconds=60)
    assert service.health().status == "ok"
    service.health()
    service.model_info()
    assert endpoint.calls == 1


def test_sizes_are_checked_before_the_endpoint_is_called():
    endpoint = CountingEndpoint()
    service = HeadlineService(endpoint, [], None)
    with pytest.raises(PayloadTooLarge, match="101 headlines"):
        service.classify_batch(["x"] * 101)
    result = service.classify("Flu season")
    assert (result.label, result.score) == ("health", 0.75)
