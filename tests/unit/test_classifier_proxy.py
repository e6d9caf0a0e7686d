"""The proxy's error mapping and health cache, without a network: fake endpoints, botocore's Stubber, and the real
handler over real botocore clients whose HTTP layer is a before-send hook (faults injected there, never in the code)."""

import base64
import importlib.util
import io
import json
from functools import cache
from types import SimpleNamespace

import boto3
import pytest
from botocore import exceptions as boto_errors
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as URLLib3ReadTimeout

from ft_pipeline.adapters import sagemaker_endpoint
from ft_pipeline.adapters.sagemaker_endpoint import EndpointTimeout, EndpointUnavailable, ModelFailed, SageMakerEndpoint
from ft_pipeline.headlines import service as service_module
from ft_pipeline.headlines.service import EndpointStatusUnknown, HeadlineService, PayloadTooLarge
from ft_pipeline.observability import logger
from tests.conftest import REPO


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


# --- through the real handler: every fault ends in a planned status, a short JSON message and a log line -----------

MARKER = "S3CR3T-MARKER-arn:aws:iam::123456789012:role/leak"  # must never reach a client
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbe00"
DOCUMENTED = {200, 400, 404, 413, 415, 422, 502, 503, 504}  # 500 only from the catch-all, i.e. a bug
GOOD = {"predicted_label": "health", "probabilities": {"health": 0.75, "science": 0.25}}


class LambdaContext:
    function_name = "ftp-dev-ClassifyHeadline"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ftp-dev-ClassifyHeadline"
    aws_request_id = "lambda-request-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 28_000


@cache
def proxy_module():
    spec = importlib.util.spec_from_file_location("proxy_under_test", REPO / "functions/classify_headline/app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def api_event(method="POST", path="/classify", body=None, base64_encoded=False,
              content_type="application/json"):
    headers = {"Content-Type": content_type} if content_type else {}
    return {"resource": path, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
            "body": body, "isBase64Encoded": base64_encoded,
            "requestContext": {"resourcePath": path, "httpMethod": method, "path": f"/dev{path}", "stage": "dev",
                               "requestId": REQUEST_ID, "accountId": "123456789012", "apiId": "abc123"}}


class Raw:
    """What urllib3 hands botocore as a response's raw stream: bytes, or an error while they are read."""

    def __init__(self, data=b"", error=None):
        self.data, self.error = data, error

    def read(self, amt=None, **kwargs):
        if self.error:
            raise self.error
        data, self.data = (self.data, b"") if amt is None else (self.data[:amt], self.data[amt:])
        return data

    def stream(self, **kwargs):
        yield self.read()

    def close(self):
        pass


class Wire:
    """The HTTP layer under one real botocore client, replaced by a before-send hook: no network."""

    def __init__(self, client, default):
        self.client, self.answers, self.calls, self.default = client, [], 0, default
        client.meta.events.register("before-send", self._send)

    def answer(self, body=b"", status=200, headers=None, error=None, raw_error=None):
        """Queue one answer: bytes (or a JSON value), an error raised on send, or an error raised on reading."""
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.answers.append((body, status, headers or {}, error, raw_error))
        return self

    def fail(self, code, status=400, message=MARKER):
        return self.answer({"__type": code, "message": message}, status, {"x-amzn-ErrorType": code})

    def _send(self, request, **kwargs):
        self.calls += 1
        body, status, headers, error, raw_error = self.answers.pop(0) if self.answers else self.default()
        if error is not None:
            raise error
        return AWSResponse(request.url, status, {"Content-Type": "application/json", **headers},
                           Raw(body, raw_error))


def _describe(status="InService"):
    return (json.dumps({"EndpointName": "ep", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep",
                        "EndpointConfigName": "cfg", "EndpointStatus": status, "CreationTime": 0,
                        "LastModifiedTime": 0}).encode(), 200, {}, None, None)


@cache
def _session():
    return boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")


class Harness:
    """The real lambda_handler, the real SageMakerEndpoint and real botocore clients over a fake wire."""

    def __init__(self, monkeypatch):
        monkeypatch.setenv("ENDPOINT_NAME", "ep")
        monkeypatch.setenv("MODEL_VERSION", "v1")
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "1")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        self.module = proxy_module()
        self.module._settings.cache_clear()
        self.module._service.cache_clear()
        session = _session()  # fresh clients (each with its own hooks) from one session (models loaded once)
        runtime = session.client("sagemaker-runtime", config=sagemaker_endpoint._runtime_config())
        control = session.client("sagemaker", config=sagemaker_endpoint._control_config())
        self.runtime = Wire(runtime, lambda: (json.dumps([GOOD]).encode(), 200, {}, None, None))
        self.control = Wire(control, _describe)
        monkeypatch.setattr(sagemaker_endpoint, "_runtime", lambda: runtime)
        monkeypatch.setattr(sagemaker_endpoint, "_control", lambda: control)
        self.stream = io.StringIO()
        self._previous = logger.registered_handler.setStream(self.stream)

    def close(self):
        logger.registered_handler.setStream(self._previous)
        logger.remove_keys(["correlation_id"])

    def logs(self):
        return [json.loads(line) for line in self.stream.getvalue().split("\n") if line.strip()]

    def call(self, method="POST", path="/classify", body=None, **kwargs):
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        reply = self.module.lambda_handler(api_event(method, path, body, **kwargs), LambdaContext())
        headers = {**(reply.get("headers") or {}),
                   **{k: ",".join(v) for k, v in (reply.get("multiValueHeaders") or {}).items()}}
        return SimpleNamespace(status=reply["statusCode"], text=reply["body"], json=json.loads(reply["body"]),
                               headers=headers, raw=reply)


@pytest.fixture
def api(monkeypatch):
    harness = Harness(monkeypatch)
    yield harness
    harness.close()


def assert_planned_error(reply, status, harness=None):
    assert reply.status == status, reply.text
    assert isinstance(reply.json["message"], str) and reply.json["message"]
    assert MARKER not in json.dumps(reply.raw) and "Traceback" not in reply.text and "arn:" not in reply.text
    if harness is not None:
        lines = harness.logs()
        assert any(line["level"] in ("WARNING", "ERROR") and line.get("correlation_id") == REQUEST_ID
                   for line in lines), lines
        assert not any(line["message"] == "unhandled error" for line in lines)


def test_a_good_answer_is_classified(api):
    reply = api.call(body={"headline": "Flu season"})
    assert reply.status == 200 and reply.json["label"] == "health" and reply.json["model_version"] == "v1"
    api.runtime.answer([GOOD, GOOD])
    assert api.call(path="/classify/batch", body={"headlines": ["a", "b"]}).json["results"][1]["score"] == 0.75


def _p(**changes):
    return {**GOOD, **changes}


@pytest.mark.parametrize(("path", "headlines", "answer"), [
    ("/classify", None, b"not json " + MARKER.encode()),
    ("/classify", None, b""),
    ("/classify", None, b"null"),
    ("/classify", None, b"true"),
    ("/classify", None, b"42"),
    ("/classify", None, json.dumps(MARKER).encode()),
    ("/classify", None, b"\xff\xfe\x00garbage"),
    ("/classify", None, b"[" * 100_000),
    ("/classify", None, {MARKER: 1}),
    ("/classify", None, {"probabilities": {"health": 1.0}}),
    ("/classify", None, {"predicted_label": "health"}),
    ("/classify", None, _p(predicted_label="")),
    ("/classify", None, _p(predicted_label=["health"])),
    ("/classify", None, _p(probabilities=[0.75, 0.25])),
    ("/classify", None, _p(probabilities={})),
    ("/classify", None, _p(probabilities={"health": MARKER})),
    ("/classify", None, _p(probabilities={"health": "0.5"})),
    ("/classify", None, _p(probabilities={"health": True})),
    ("/classify", None, _p(probabilities={"health": None})),
    ("/classify", None, b'{"predicted_label": "health", "probabilities": {"health": NaN}}'),
    ("/classify", None, b'{"predicted_label": "health", "probabilities": {"health": Infinity}}'),
    ("/classify", None, b'{"predicted_label": "health", "probabilities": {"health": -Infinity}}'),
    ("/classify", None, b'{"predicted_label": "health", "probabilities": {"health": 1e999}}'),
    ("/classify", None, [GOOD, GOOD]),
    ("/classify", None, []),
    ("/classify/batch", ["a", "b"], [GOOD]),
    ("/classify/batch", ["a"], [GOOD, GOOD]),
    ("/classify/batch", ["a", "b"], GOOD),
    ("/classify/batch", ["a", "b"], [GOOD, None]),
])
def test_an_unexpected_model_answer_is_a_502(api, path, headlines, answer):
    api.runtime.answer(answer)
    reply = api.call(path=path, body={"headlines": headlines} if headlines else {"headline": "Flu season"})
    assert_planned_error(reply, 502, api)
    assert reply.json["message"] == "the model answered in an unexpected form"
    assert "NaN" not in reply.text and "Infinity" not in reply.text


def _raise(error):
    return {"error": error}


URL = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/ep/invocations"


@pytest.mark.parametrize(("fault", "status", "retry_after"), [
    (("AccessDeniedException", 400), 503, None),
    (("AccessDenied", 403), 503, None),
    (("UnrecognizedClientException", 403), 503, None),
    (("ExpiredTokenException", 403), 503, None),
    (("ExpiredToken", 400), 503, None),
    (("ModelStreamError", 424), 502, None),
    (("ModelError", 424), 502, None),
    (("SomethingAwsAddedLater", 400), 502, None),
    (("InternalFailure", 500), 503, 10),
    (("ModelNotReadyException", 429), 503, 10),
    (("ThrottlingException", 400), 503, 10),
    (_raise(boto_errors.NoCredentialsError()), 503, None),
    (_raise(boto_errors.PartialCredentialsError(provider="env", cred_var=MARKER)), 503, None),
    (_raise(boto_errors.CredentialRetrievalError(provider="sso", error_msg=MARKER)), 503, None),
    (_raise(boto_errors.EndpointConnectionError(endpoint_url=URL, error=MARKER)), 503, None),
    (_raise(boto_errors.ConnectTimeoutError(endpoint_url=URL, error=MARKER)), 503, None),
    (_raise(boto_errors.ConnectionClosedError(endpoint_url=URL, error=MARKER)), 503, None),
    (_raise(boto_errors.SSLError(endpoint_url=URL, error=MARKER)), 503, None),
    (_raise(boto_errors.ReadTimeoutError(endpoint_url=URL, error=MARKER)), 503, 10),  # a cold start, likely
    ({"raw_error": URLLib3ReadTimeout(None, URL, MARKER)}, 504, None),  # while reading the body
    ({"raw_error": ProtocolError(MARKER)}, 504, None),  # connection broken mid-body: ResponseStreamingError
    ({"body": b'[{"predicted', "headers": {"Content-Length": "999"}}, 504, None),  # IncompleteReadError
], ids=lambda v: v[0] if isinstance(v, tuple) else None)
def test_every_sdk_failure_is_a_planned_status(api, fault, status, retry_after):
    if isinstance(fault, tuple):
        api.runtime.fail(*fault)
    else:
        api.runtime.answer(**fault)
    reply = api.call(body={"headline": "Flu season " + MARKER[:4]})
    assert_planned_error(reply, status, api)
    assert reply.headers.get("Retry-After") == (str(retry_after) if retry_after else None)
    assert api.runtime.calls == 1  # one attempt, never a retry that API Gateway would not wait for


def test_a_read_timeout_says_the_model_is_starting(api):
    api.runtime.answer(error=boto_errors.ReadTimeoutError(endpoint_url=URL))
    reply = api.call(body={"headline": "Flu season"})
    assert "starting" in reply.json["message"] and "retry" in reply.json["message"]


def test_a_missing_endpoint_is_a_503(api):
    api.runtime.fail("ValidationError", 400, "Endpoint ep of account 123456789012 not found.")
    assert_planned_error(api.call(body={"headline": "x"}), 503, api)


@pytest.mark.parametrize("fault", [
    ("ThrottlingException", 400), ("AccessDeniedException", 400), ("ExpiredTokenException", 400),
    _raise(boto_errors.EndpointConnectionError(endpoint_url=URL)), _raise(boto_errors.NoCredentialsError()),
    {"body": b"<html>" + MARKER.encode()},  # a 200 that is not DescribeEndpoint's answer
], ids=repr)
def test_health_and_model_survive_a_failing_describe_endpoint(api, fault):
    for _ in range(2):  # DescribeEndpoint may be attempted twice
        api.control.fail(*fault) if isinstance(fault, tuple) else api.control.answer(**fault)
    health = api.call("GET", "/health")
    assert health.status == 503 and MARKER not in health.text and "arn:" not in health.text
    assert health.json["status"] == "unavailable" and health.json["endpoint_status"] is None
    assert "unknown" in health.json["reason"]
    info = api.call("GET", "/model")  # the labels and version are known: 200, endpoint_status null
    assert info.status == 200 and info.json["endpoint_status"] is None and info.json["model_version"] == "v1"
    assert any(line.get("correlation_id") == REQUEST_ID and line["level"] == "WARNING" for line in api.logs())


def test_health_is_ok_then_reports_a_missing_endpoint(api):
    assert api.call("GET", "/health").json == {"status": "ok", "endpoint": "ep", "endpoint_status": "InService"}
    api.module._service.cache_clear()
    api.control.fail("ValidationException", 400, "Could not find endpoint")
    health = api.call("GET", "/health")
    assert health.status == 503 and health.json["reason"] == "the endpoint does not exist"


class FlakyStatus(CountingEndpoint):
    def __init__(self):
        super().__init__()
        self.failures = 1

    def status(self):
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise EndpointStatusUnknown("SageMaker is throttling status requests")
        return "InService"


def test_a_failed_describe_endpoint_is_cached_seconds_not_the_ttl(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(service_module.time, "monotonic", lambda: now[0])
    endpoint = FlakyStatus()
    service = HeadlineService(endpoint, ["health"], None, health_ttl_seconds=60)
    assert service.health().status == "unavailable"
    now[0] += service_module.ERROR_TTL_SECONDS / 2
    assert service.health().status == "unavailable" and endpoint.calls == 1
    now[0] += service_module.ERROR_TTL_SECONDS
    assert service.health().status == "ok" and endpoint.calls == 2
    now[0] += 30
    assert service.health().status == "ok" and endpoint.calls == 2  # a success is kept for the TTL


@pytest.mark.parametrize(("body", "status"), [
    ("!!!not base64 " + MARKER, 400),
    (base64.b64encode(b"\xff\xfe\xfd" + MARKER.encode()).decode(), 400),
    ("eyJoZWFkbGluZSI6ICJ4In0", 400),  # missing padding
])
def test_a_body_flagged_base64_that_is_not_is_a_400(api, body, status):
    reply = api.call(body=body, base64_encoded=True)
    assert_planned_error(reply, status, api)
    assert "base64" in reply.json["message"]


def test_a_base64_body_is_decoded(api):
    body = base64.b64encode(json.dumps({"headline": "Flu season"}).encode()).decode()
    assert api.call(body=body, base64_encoded=True).status == 200


@pytest.mark.parametrize("body", [
    None, "", "null", "[]", "[1, 2]", json.dumps(MARKER), "42", "true", MARKER, "{" + MARKER, "1" * 5000,
    "[" * 50_000, '{"headline": NaN}', '{"headline": ' + '"x"' * 3 + "}",
])
def test_a_body_that_is_not_a_json_object_is_a_422(api, body):
    assert_planned_error(api.call(body=body), 422, api)


def test_a_body_that_is_not_json_content_is_a_415(api):
    assert_planned_error(api.call(body=MARKER, content_type="text/plain"), 415, api)


@pytest.mark.parametrize(("path", "body"), [
    ("/classify", {"headline": "x", MARKER * 50: 1}),
    ("/classify", {MARKER: "x"}),
    ("/classify", {"headline": [MARKER]}),
    ("/classify", {"headline": {MARKER: MARKER}}),
    ("/classify", {"headline": 12345678901234567890}),
    ("/classify/batch", {"headlines": [1, MARKER, {MARKER: 1}, [MARKER], ""]}),
    ("/classify/batch", {"headlines": MARKER}),
    ("/classify/batch", {"headlines": {MARKER: [MARKER]}}),
    ("/classify/batch", {"headlines": [None] * 80, MARKER: 1, MARKER + "2": 2}),
    ("/classify/batch", {"headlines": [1] * 80_000}),  # just under the body limit: answered fast, 10 details
])
def test_a_422_names_schema_fields_only_and_never_echoes_the_input(api, path, body):
    reply = api.call(path=path, body=body)
    assert_planned_error(reply, 422, api)
    details = reply.json["details"]
    assert 1 <= len(details) <= proxy_module().MAX_DETAILS
    assert all(d["field"].split(".")[0] in ("body", "headline", "headlines") for d in details)
    assert "12345678901234567890" not in reply.text and MARKER[:8] not in reply.text


def test_an_unexpected_exception_is_a_logged_json_500_not_a_crash(api):
    api.runtime.answer(error=RuntimeError(MARKER))  # a bug-shaped failure below the adapter
    reply = api.call(body={"headline": "x"})
    assert reply.status == 500 and reply.json == {"message": "internal error"}
    assert MARKER not in reply.text
    (line,) = [x for x in api.logs() if x["message"] == "unhandled error"]
    assert line["correlation_id"] == REQUEST_ID and line["level"] == "ERROR"


def test_one_invoke_attempt_fits_the_lambda_timeout_and_api_gateways_limit():
    from local_emulation.template import Stack

    stack = Stack(REPO / "template.yaml", "unit", {"HeadlineEndpointName": "ep"})
    lambda_timeout_s = int(stack.function_property("ClassifyHeadlineFunction", "Timeout", 3))
    assert lambda_timeout_s < 29  # API Gateway's integration limit
    invoke_s = sagemaker_endpoint.INVOKE_ATTEMPTS * (sagemaker_endpoint.CONNECT_TIMEOUT_S
                                                     + sagemaker_endpoint.READ_TIMEOUT_S)
    describe_s = sagemaker_endpoint.CONTROL_ATTEMPTS * (sagemaker_endpoint.CONTROL_CONNECT_TIMEOUT_S
                                                        + sagemaker_endpoint.CONTROL_READ_TIMEOUT_S)
    assert sagemaker_endpoint.INVOKE_ATTEMPTS == 1
    assert invoke_s < lambda_timeout_s and describe_s < lambda_timeout_s
    client = boto3.session.Session(region_name="us-east-1").client(
        "sagemaker-runtime", config=sagemaker_endpoint._runtime_config())
    assert client.meta.config.retries["total_max_attempts"] == 1  # what botocore will actually do
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2, 24)
    # clients never rewrite the shared one
    assert sagemaker_endpoint.RUNTIME_CONFIG.retries == {"mode": "standard", "total_max_attempts": 1}
