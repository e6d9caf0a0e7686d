"""The classification API end to end, locally: HTTP → the template's routes → the real proxy Lambda →
boto3 → the SageMaker stand-in serving inference.py with the tiny trained model."""

import json
import urllib.error
import urllib.request

import pytest

from local_emulation.api_server import LocalApi
from local_emulation.harness import FAKE_ENV
from local_emulation.sagemaker_runtime import SageMakerStandIn
from local_emulation.template import Stack
from tests.conftest import REPO

ENDPOINT = "local-headlines"


@pytest.fixture(scope="module")
def api(tiny_model):
    from ft_pipeline.adapters.sagemaker_endpoint import reset_clients

    runtime = SageMakerStandIn(tiny_model, ENDPOINT).start()
    stack = Stack(REPO / "template.yaml", "api-test", {"HeadlineEndpointName": ENDPOINT,
                                                        "HeadlineModelVersion": "tiny-1"})
    env = FAKE_ENV | {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime.url, "AWS_ENDPOINT_URL_SAGEMAKER": runtime.url,
                      "POWERTOOLS_LOG_LEVEL": "WARNING"}
    reset_clients()
    local = LocalApi(stack, env, port=0, api_key="secret-key", apis=["HeadlineApi"]).start()
    yield local
    local.stop()
    runtime.stop()
    reset_clients()


def call(api, method, path, body=None, key="secret-key", raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"} | ({"x-api-key": key} if key else {})
    request = urllib.request.Request(api.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_classify_one_headline(api):
    status, body = call(api, "POST", "/classify", {"headline": "Ebola outbreak spreads in West Africa"})
    assert status == 200
    assert body["label"] in body["probabilities"] and body["score"] == body["probabilities"][body["label"]]
    assert set(body["probabilities"]) == {"business", "entertainment", "health", "science"}
    assert body["model_version"] == "tiny-1"


def test_classify_a_batch_answers_in_order(api):
    headlines = ["Fed raises interest rates again", "Kim Kardashian wedding photos", "Apple unveils iPhone 6"]
    status, body = call(api, "POST", "/classify/batch", {"headlines": headlines})
    assert status == 200 and len(body["results"]) == 3
    for headline, result in zip(headlines, body["results"], strict=True):
        _, alone = call(api, "POST", "/classify", {"headline": headline})
        assert result["label"] == alone["label"]


def test_health_and_model(api):
    assert call(api, "GET", "/health") == (200, {"status": "ok", "endpoint": ENDPOINT, "endpoint_status": "InService"})
    status, body = call(api, "GET", "/model")
    assert status == 200 and body["labels"] == ["business", "entertainment", "health", "science"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "headline"), ({"headline": ""}, "headline"), ({"headline": 42}, "headline"),
    ({"headline": "x", "extra_key_named_by_the_client": 1}, "body"),  # an unknown key is user input: not named
])
def test_invalid_input_is_422_naming_the_field_without_echoing_it(api, body, field):
    status, answer = call(api, "POST", "/classify", body)
    assert status == 422
    assert any(d["field"] == field for d in answer["details"])
    assert "42" not in json.dumps(answer) and "extra_key" not in json.dumps(answer)  # the input is never echoed


def test_oversized_input_is_413(api):
    assert call(api, "POST", "/classify/batch", {"headlines": ["news"] * 101})[0] == 413
    assert call(api, "POST", "/classify", {"headline": "x" * 1001})[0] == 413
    assert call(api, "POST", "/classify", raw=b'{"headline": "' + b"y" * 300_000 + b'"}')[0] == 413


def test_api_key_is_required_when_configured(api):
    assert call(api, "POST", "/classify", {"headline": "x"}, key=None)[0] == 403
    assert call(api, "POST", "/classify", {"headline": "x"}, key="wrong")[0] == 403


def test_unknown_route_is_refused_like_api_gateway(api):
    assert call(api, "GET", "/admin")[0] == 403


def test_make_serves_pipeline_answers_both_apis_on_one_port(tiny_model):
    """What `make serve` builds: one local pipeline, the classifier through the SageMaker stand-in (not moto)
    beside the runs API over the emulated ledger."""
    from ft_pipeline.adapters.sagemaker_endpoint import reset_clients
    from local_emulation.harness import LocalPipeline

    runtime = SageMakerStandIn(tiny_model, ENDPOINT).start()
    reset_clients()
    endpoints = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime.url, "AWS_ENDPOINT_URL_SAGEMAKER": runtime.url}
    try:
        with LocalPipeline(parameter_overrides={"HeadlineEndpointName": ENDPOINT}, function_env=endpoints) as pipeline:
            server = pipeline.serve_api()
            try:
                status, body = call(server, "POST", "/classify", {"headline": "Fed raises interest rates again"})
                assert status == 200 and body["label"] in ("business", "entertainment", "health", "science")
                assert call(server, "GET", "/health")[1]["endpoint_status"] == "InService"
                assert call(server, "GET", "/runs") == (200, {"runs": [], "next_cursor": None})
            finally:
                server.stop()
    finally:
        runtime.stop()
        reset_clients()
