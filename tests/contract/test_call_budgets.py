"""An AWS call never outlives the function that makes it: every client's worst case (all attempts timing out,
with the longest backoff) fits the timeout of each function that can make it, and the deadline guard stops
an attempt the invocation could not see finish, before it is sent."""

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from ft_pipeline.adapters import clients
from ft_pipeline.adapters.clients import API, INTERACTIVE, MODEL, OBJECTS, DeadlineNear, guard_invocation
from ft_pipeline.adapters.sagemaker_endpoint import CONTROL_CONFIG, RUNTIME_CONFIG
from local_emulation.template import Stack
from tests.conftest import REPO
from tests.contract.test_stack_hardening import actions, functions, statements

PROXY = "ClassifyHeadlineFunction"
API_GATEWAY_INTEGRATION_LIMIT_S = 29


@pytest.fixture(scope="module")
def stack():
    return Stack(REPO / "template.yaml", "contract")


def _timeout(stack, lid):
    return float(stack.function_property(lid, "Timeout"))


def _calls_models(stack, lid):
    return any(a.startswith(("bedrock:InvokeModel", "bedrock:Converse")) for s in statements(stack, lid)
               for a in actions(s))


def _behind_api_gateway(stack, lid):
    return any(e["Type"] == "Api" for e in (functions(stack)[lid]["Properties"].get("Events") or {}).values())


def test_every_function_behind_api_gateway_answers_before_it_gives_up(stack):
    behind = [lid for lid in functions(stack) if _behind_api_gateway(stack, lid) and lid != PROXY]
    assert behind
    for lid in behind:
        assert _timeout(stack, lid) < API_GATEWAY_INTEGRATION_LIMIT_S, lid
        assert stack.function_environment(lid).get("CALL_PROFILE") == "interactive", lid
        assert INTERACTIVE.worst_case_seconds() < _timeout(stack, lid) - clients.DEADLINE_MARGIN_SECONDS, lid


def test_the_interactive_profile_applies_to_every_service(monkeypatch):
    monkeypatch.setenv("CALL_PROFILE", "interactive")
    assert {clients.profile_of(s) for s in ("s3", "dynamodb", "events", "bedrock-runtime")} == {INTERACTIVE}


def test_every_pipeline_function_outlasts_its_clients_worst_case(stack):
    for lid in functions(stack):
        if _behind_api_gateway(stack, lid):
            continue
        budget = _timeout(stack, lid) - clients.DEADLINE_MARGIN_SECONDS
        assert API.worst_case_seconds() < budget, (lid, API.worst_case_seconds(), budget)
        assert OBJECTS.worst_case_seconds() < budget, (lid, OBJECTS.worst_case_seconds(), budget)
        if _calls_models(stack, lid):
            assert MODEL.worst_case_seconds() < budget, (lid, MODEL.worst_case_seconds(), budget)


def test_only_long_functions_call_models(stack):
    callers = [lid for lid in functions(stack) if _calls_models(stack, lid)]
    assert callers, "no function calls a model: the MODEL profile's budget is checked against nothing"
    for lid in callers:
        assert _timeout(stack, lid) > MODEL.worst_case_seconds(), lid


def _total_attempts(config, service):
    """As botocore counts them (its `max_attempts` does not count the first)."""
    return boto3.session.Session(region_name="us-east-1").client(
        service, config=config).meta.config.retries["total_max_attempts"]


def test_the_classifier_answers_before_api_gateway_gives_up(stack):
    timeout = _timeout(stack, PROXY)
    assert timeout < API_GATEWAY_INTEGRATION_LIMIT_S
    for config, service in ((RUNTIME_CONFIG, "sagemaker-runtime"), (CONTROL_CONFIG, "sagemaker")):
        attempts = _total_attempts(config, service)
        assert attempts * (config.connect_timeout + config.read_timeout) < timeout, (service, attempts)


def test_clients_carry_their_profiles(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset_clients()
    assert clients.client("dynamodb").meta.config.read_timeout == API.read_timeout
    assert clients.client("s3").meta.config.read_timeout == OBJECTS.read_timeout
    runtime = clients.model_client().meta.config
    assert (runtime.read_timeout, runtime.retries["total_max_attempts"], runtime.retries["mode"]) == (60, 5, "adaptive")
    clients.reset_clients()


class _Context:
    def __init__(self, seconds_left):
        self.seconds_left = seconds_left

    def get_remaining_time_in_millis(self):
        return int(self.seconds_left * 1000)


@pytest.fixture
def bus(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        clients.reset_clients()
        boto3.client("sqs").create_queue(QueueName="seen")
        yield clients.client("sqs")
    clients.reset_clients()


def _sent(bus):
    url = boto3.client("sqs").get_queue_url(QueueName="seen")["QueueUrl"]
    return int(boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])


def _send(bus):
    url = bus.get_queue_url(QueueName="seen")["QueueUrl"]
    bus.send_message(QueueUrl=url, MessageBody="x")


def test_a_call_goes_when_the_invocation_has_time(bus):
    with guard_invocation(_Context(40)):
        _send(bus)
    assert _sent(bus) == 1


def test_no_call_is_sent_in_the_invocations_last_seconds(bus):
    _send(bus)  # the queue url, before the guard
    with guard_invocation(_Context(1.0)), pytest.raises(DeadlineNear, match="not sent"):
        _send(bus)
    assert _sent(bus) == 1


class _EmptyBody:
    def stream(self, **_):
        yield b""


def test_a_retry_that_could_not_finish_is_not_started(bus):
    url = bus.get_queue_url(QueueName="seen")["QueueUrl"]
    attempts = []

    def unavailable_once(request, **_):  # the first attempt: a 503 the standard retry mode would retry
        attempts.append(request.url)
        if len(attempts) == 1:
            return AWSResponse(request.url, 503, {}, _EmptyBody())
        return None

    bus.meta.events.register_first("before-send.sqs.SendMessage", unavailable_once)
    try:
        with guard_invocation(_Context(API.attempt_seconds())), pytest.raises(DeadlineNear, match="attempt 2"):
            bus.send_message(QueueUrl=url, MessageBody="x")
    finally:
        bus.meta.events.unregister("before-send.sqs.SendMessage", unavailable_once)
    assert len(attempts) == 1  # the second attempt never reached the wire (before-send sees every one)


def test_outside_an_invocation_nothing_is_guarded(bus):
    with guard_invocation(object()):  # no remaining-time method: a script, the demo
        _send(bus)
    assert _sent(bus) == 1
