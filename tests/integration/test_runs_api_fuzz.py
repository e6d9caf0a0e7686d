"""Property test of the runs API through its real handler in the local stack: whatever a (signed) client sends,
as query strings, path ids or bodies, the answer is a documented status with a JSON `message` on errors, and
never a 500 (the catch-all's: a bug) nor a crash."""

import base64
import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_emulation.harness import LocalPipeline
from tests.conftest import EVENTS

DOCUMENTED = {200, 201, 202, 404, 413, 422}  # 502 only for a damaged record, which this never makes
TEMPLATE_EVENT = json.loads((EVENTS / "runs_api_list.json").read_text())
PARAMS = ["state", "since", "until", "key", "limit", "cursor", "other"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=15)
submissions = st.one_of(
    st.fixed_dictionaries({"filename": st.one_of(st.text(max_size=40), st.sampled_from(["a.csv", "b.jsonl.gz"]))},
                          optional={"options": json_values}),
    json_values)
query_values = st.one_of(st.text(max_size=40), st.sampled_from(
    ["TRAINING", "2026-12-01T00:00:00Z", "0", "100", "101", "-1", "9999-12-31T23:59:59-23:59",
     base64.urlsafe_b64encode(b'{"dataset_id": {"S": "x"}}').decode()]))
run_ids = st.one_of(st.text(min_size=1, max_size=80).filter(lambda t: "/" not in t),
                    st.sampled_from(["h-0123456789", "a" * 64, "A-B", "..", "%00"]))


@st.composite
def requests(draw):
    """An API Gateway event for one of the routes, with what a client might send."""
    event = json.loads(json.dumps(TEMPLATE_EVENT))
    route = draw(st.sampled_from(["list", "get", "stop", "submit"]))
    run_id = draw(run_ids)
    query = draw(st.dictionaries(st.sampled_from(PARAMS), query_values, max_size=4)) if route == "list" else None
    resource, method, path = {"list": ("/runs", "GET", "/runs"), "submit": ("/runs", "POST", "/runs"),
                              "get": ("/runs/{run_id}", "GET", f"/runs/{quote(run_id, safe='')}"),
                              "stop": ("/runs/{run_id}/stop", "POST", f"/runs/{quote(run_id, safe='')}/stop")}[route]
    body = None
    if route == "submit":
        kind = draw(st.sampled_from(["json", "json", "text", "base64"]))
        body = (json.dumps(draw(submissions)) if kind == "json" else draw(st.text(max_size=100)) if kind == "text"
                else base64.b64encode(draw(st.binary(max_size=60))).decode())
        event["isBase64Encoded"] = kind == "base64"
    event |= {"resource": resource, "httpMethod": method, "path": path, "body": body,
              "pathParameters": {"run_id": run_id} if route in ("get", "stop") else None,
              "queryStringParameters": query or None,
              "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None}
    event["requestContext"] |= {"resourcePath": resource, "httpMethod": method}
    return event


def test_no_request_gets_a_500_or_a_crash():
    with LocalPipeline() as pipeline:
        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(requests())
        def property_(event):
            invocation = pipeline.invoke("RunsApiFunction", event)
            assert invocation.error is None, invocation.error
            answer = invocation.result
            assert answer["statusCode"] in DOCUMENTED, (answer, event["path"], event["queryStringParameters"])
            body = json.loads(answer["body"])
            if answer["statusCode"] >= 400:
                assert isinstance(body.get("message"), str) and body["message"]

        property_()
