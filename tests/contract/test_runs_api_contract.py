"""The runs API's contract: its OpenAPI document is the code's, the template routes exactly the handler's routes,
every route wants AWS IAM (SigV4), and the operators' policy grants calling this API and nothing else."""

import json

import pytest

from local_emulation.api_server import api_routes
from local_emulation.template import Stack
from tests.conftest import REPO
from tools.export_openapi import RUNS_TARGET, runs_openapi_document


@pytest.fixture(scope="module")
def stack():
    return Stack(REPO / "template.yaml", "contract")


def test_exported_openapi_document_matches_the_code():
    assert RUNS_TARGET.read_text() == runs_openapi_document(), "docs/runs-openapi.json drifted: run `make openapi`"


def test_template_routes_are_exactly_the_handlers_routes_and_all_want_sigv4(stack):
    document = json.loads(runs_openapi_document())
    in_code = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routes = api_routes(stack, ["RunsApi"])
    assert {(r.path, r.method) for r in routes} == in_code
    assert all(r.iam_auth and not r.api_key_required for r in routes)
    assert document["security"] == [{"sigv4": []}]
    # API Gateway invokes the function with its own permission: SAM's default for AWS_IAM would invoke it with
    # each caller's credentials, which then need lambda:InvokeFunction too (every call a 500 otherwise)
    assert stack.resources["RunsApi"]["Properties"]["Auth"]["InvokeRole"] == "NONE"


def test_every_documented_answer_is_json_with_a_schema():
    document = json.loads(runs_openapi_document())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                assert "application/json" in answer.get("content", {}), (path, method, status)
            assert {"404", "422"} <= set(operation["responses"]) or path == "/runs", (path, method)


def test_the_operators_policy_may_invoke_this_api_only(stack):
    policy = stack.resolve(stack.resources["RunsApiOperatorPolicy"]["Properties"]["PolicyDocument"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    api_id = stack.ref("RunsApi")
    assert statement["Resource"].split(":")[-1].startswith(f"{api_id}/")
    outputs = stack.template["Outputs"]
    assert "RunsApiUrl" in outputs and "RunsApiOperatorPolicyArn" in outputs


def test_the_runs_api_may_read_runs_send_stops_and_accept_uploads_only(stack):
    policies = stack.resolve(stack.resources["RunsApiFunction"]["Properties"]["Policies"])
    statements = [s for p in policies if isinstance(p, dict) for s in p["Statement"]]
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == ["dynamodb:GetItem", "dynamodb:Query", "events:PutEvents", "s3:GetObject", "s3:PutObject"]
    (put,) = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert put["Resource"].endswith("/incoming/*")  # uploads land where every upload lands, nowhere else
