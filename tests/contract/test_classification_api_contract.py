"""The classification API: the exported OpenAPI document, the template's routes and the proxy's permissions."""

import json

import pytest

from local_emulation.api_server import api_routes
from local_emulation.template import Stack
from tests.conftest import REPO
from tools.export_openapi import TARGET, openapi_document


@pytest.fixture(scope="module")
def stack():
    return Stack(REPO / "template.yaml", "contract", {"HeadlineEndpointName": "headline-classifier"})


def test_exported_openapi_document_matches_the_code():
    assert TARGET.read_text() == openapi_document(), "docs/openapi.json drifted: run `make openapi`"


def test_template_routes_are_exactly_the_handlers_routes(stack):
    document = json.loads(openapi_document())
    in_code = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    in_template = {(r.path, r.method) for r in api_routes(stack, ["HeadlineApi"])}
    assert in_template == in_code
    assert all(r.api_key_required for r in api_routes(stack, ["HeadlineApi"]))


def test_api_has_a_usage_plan_access_logs_and_throttling(stack):
    api = stack.resolve(stack.resources["HeadlineApi"]["Properties"])
    plan = api["Auth"]["UsagePlan"]
    assert api["Auth"]["ApiKeyRequired"] is True and plan["CreateUsagePlan"] == "PER_API"
    assert plan["Throttle"] == {"RateLimit": stack.parameters["ApiRateLimit"],
                                "BurstLimit": stack.parameters["ApiBurstLimit"]}
    assert api["AccessLogSetting"]["DestinationArn"] == stack.get_att("HeadlineApiAccessLogs", "Arn")
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]


def test_proxy_may_call_that_one_endpoint_only_and_answers_within_api_gateways_limit(stack):
    props = stack.resolve(stack.resources["ClassifyHeadlineFunction"]["Properties"])
    (statement,) = props["Policies"][0]["Statement"]
    assert statement["Resource"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/headline-classifier"
    assert sorted(statement["Action"]) == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]
    # its clients' time budget against this timeout and API Gateway's 29 s: tests/contract/test_call_budgets.py
