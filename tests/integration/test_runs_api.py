"""The runs API over HTTP on the local stack: the real handler behind the template's routes, signed requests as
API Gateway's AWS_IAM authorizer wants them, presigned uploads into the emulated bucket. Assertions are on what
the emulated world holds (Bedrock's jobs and serving resources, the bus, the bucket), not only on the answers."""

import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ft_pipeline.adapters.ledger_table import LedgerTable
from ft_pipeline.contracts import ObjectRef
from ft_pipeline.runs.api_models import RunDetail, RunList, StopAnswer, SubmitAnswer
from tests.conftest import EVENTS
from tests.integration.test_deploy_and_teardown import HEADLINES_CSV, READY, alive, the_run, trained

SMALL = {"evaluation": {"max_examples": 30, "chunk_size": 10}}


def call(server, method, path, body=None, signed=True, raw_url=None):
    url = raw_url or server.url + path
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": "application/json"} if isinstance(body, dict) else {}
    if signed:
        request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
        SigV4Auth(Credentials("AKIDLOCALTEST", "secret"), "execute-api", "us-east-1").add_auth(request)
        headers = dict(request.headers.items())
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers)) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


@pytest.fixture
def server(pipeline):
    api = pipeline.serve_api(require_sigv4=True)
    yield api
    api.stop()


def test_a_request_without_aws_credentials_is_refused(server):
    for method, path in (("GET", "/runs"), ("GET", "/runs/x"), ("POST", "/runs/x/stop"), ("POST", "/runs")):
        status, body = call(server, method, path, signed=False)
        assert status == 403 and body == {"message": "Missing Authentication Token"}, (method, path)


def test_an_uploaded_dataset_is_listed_and_shown_as_its_run(pipeline, server):
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    status, listed = call(server, "GET", "/runs")
    assert status == 200
    (summary,) = RunList.model_validate(listed).runs  # the answer is the documented shape, nothing more
    assert summary.status == "TRAINING" and summary.key == "incoming/h.csv" and summary.cost_usd > 0
    status, shown = call(server, "GET", f"/runs/{summary.run_id}")
    run = RunDetail.model_validate(shown)
    assert [t.status for t in run.timeline] == ["VALIDATING", "VALIDATED", "TRAINING_STARTING", "TRAINING"]
    (job,) = pipeline.bedrock.in_progress()
    assert run.training.job_name == job and run.training.job_arn.endswith(job)


def test_a_completed_run_shows_its_figures_its_verdict_and_links_to_its_report(pipeline, server):
    trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    run_id = the_run(pipeline)["run_id"]
    status, shown = call(server, "GET", f"/runs/{run_id}")
    run = RunDetail.model_validate(shown)
    assert run.status == "COMPLETED" and run.evaluation.passed is not None
    assert run.evaluation.metric == "accuracy" and set(run.evaluation.scores) == {"tuned", "base"}
    assert run.serving.state == "deleted" and run.model.custom_model_arn
    assert {"report.html", "report.json"} <= set(run.links) and "rejected.jsonl" not in run.links
    with urllib.request.urlopen(run.links["report.html"].url) as page:  # presigned: no signature of ours needed
        assert b"<html" in page.read()[:500].lower()
    with urllib.request.urlopen(run.links["report.json"].url) as report:
        assert json.loads(report.read())["models"]["tuned"]["accuracy"] == run.evaluation.scores["tuned"]


def test_a_rejected_dataset_links_its_rejected_records(pipeline, server):
    pipeline.upload("incoming/bad.jsonl", b'{"nothing": "useful"}\n' * 20)
    pipeline.run()
    (listed,) = call(server, "GET", "/runs")[1]["runs"]
    run = RunDetail.model_validate(call(server, "GET", f"/runs/{listed['run_id']}")[1])
    assert run.status == "REJECTED" and run.reasons and run.counts["rejected"] == 20
    with urllib.request.urlopen(run.links["rejected.jsonl"].url) as rejected:
        assert len(rejected.read().splitlines()) == 20


def _make_runs(pipeline, count):
    """Run records as the validator creates them (its first transition), without validating anything."""
    ledger = LedgerTable(pipeline.resource_name("LedgerTable"), pipeline.clock)
    ids = []
    for i in range(count):
        run_id = f"run-{i:03d}"
        source = ObjectRef(bucket=pipeline.data_bucket, key=f"incoming/{i}.csv")
        ledger.apply(run_id, "validation_claimed", source=source, lease=_lease(pipeline))
        pipeline.advance(seconds=61)  # a creation time of its own
        ids.append(run_id)
    return ids


def _lease(pipeline):
    from ft_pipeline.clock import iso
    from ft_pipeline.run_record import Lease

    return Lease(owner="test", until=iso(pipeline.clock.now()))


def test_pages_follow_their_cursor_newest_first_and_filter_by_state_and_time(pipeline, server):
    ids = _make_runs(pipeline, 25)
    seen, cursor, pages = [], None, 0
    while True:
        status, page = call(server, "GET", "/runs?limit=10" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        seen += [r["run_id"] for r in page["runs"]]
        pages += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == list(reversed(ids)) and pages == 3  # every run once, newest first
    status, validating = call(server, "GET", "/runs?state=VALIDATING&limit=100")
    assert len(validating["runs"]) == 25
    assert call(server, "GET", "/runs?state=COMPLETED")[1]["runs"] == []
    middle = the_created(pipeline, ids[10])
    status, since = call(server, "GET", f"/runs?since={middle}&limit=100")
    assert [r["run_id"] for r in since["runs"]] == list(reversed(ids[10:]))
    status, until = call(server, "GET", f"/runs?until={middle}&limit=100")
    assert [r["run_id"] for r in until["runs"]] == list(reversed(ids[:11]))


def the_created(pipeline, run_id):
    return next(r["created_at"] for r in pipeline.ledger() if r["run_id"] == run_id)


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=ten", "state=DANCING", "since=yesterday", "until=2026-13-01T00:00:00Z",
    "since=2026-12-02T00:00:00", "since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", "cursor=not-a-cursor",
    "cursor=" + "A" * 2000, "cursor=eyJ4IjogMX0",  # base64 of {"x": 1}: a key this index does not have
])
def test_bad_parameters_are_422_naming_the_parameter(server, query):
    status, body = call(server, "GET", f"/runs?{query}")
    assert status == 422, (query, body)
    name = query.split("=")[0]
    assert name in json.dumps(body), body


def test_an_unknown_run_is_404_for_show_and_stop(server):
    for method, path in (("GET", "/runs/no-such-run"), ("POST", "/runs/no-such-run/stop"),
                         ("GET", "/runs/" + "x" * 300), ("GET", "/runs/UPPER%20case")):
        status, body = call(server, method, path)
        assert status == 404 and body == {"message": "no such run"}, (path, body)


def _stop(server, run_id):
    status, body = call(server, "POST", f"/runs/{run_id}/stop")
    return status, StopAnswer.model_validate(body)


def test_a_stop_while_training_stops_the_job_and_records_who_asked(pipeline, server):
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    run_id = the_run(pipeline)["run_id"]
    status, answer = _stop(server, run_id)
    assert status == 202 and answer.stop_requested
    pipeline.run()
    assert [j.status for j in pipeline.bedrock.jobs().values()] == ["Stopping"]
    stopped = the_run(pipeline)
    assert stopped["status"] == "STOPPING" and stopped["stop"]["requested_by"].endswith("user/AKIDLOCALTEST")
    assert call(server, "POST", f"/runs/{run_id}/stop")[0] == 202  # again: idempotent, the job is asked again
    pipeline.run()
    assert [j.status for j in pipeline.bedrock.jobs().values()] == ["Stopping"]


def test_a_stop_while_deploying_deletes_the_deployment(pipeline, server):
    trained(pipeline, SMALL)
    assert the_run(pipeline)["status"] == "DEPLOYING" and alive(pipeline)
    assert _stop(server, the_run(pipeline)["run_id"])[0] == 202
    pipeline.run()
    pipeline.tick()
    assert the_run(pipeline)["status"] == "STOPPED" and alive(pipeline) == []


def test_a_stop_while_evaluating_deletes_the_deployment(pipeline, server):
    dies = pipeline.faults.die("s3.PutObject", times=None,  # no chunk is ever stored: the evaluation waits
                               when=lambda params: "/evaluation/chunks/" in params["Key"])
    trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    assert the_run(pipeline)["status"] == "EVALUATING" and alive(pipeline)
    pipeline.faults.faults.remove(dies)
    assert _stop(server, the_run(pipeline)["run_id"])[0] == 202
    pipeline.run()
    pipeline.tick()
    assert the_run(pipeline)["status"] == "STOPPED" and alive(pipeline) == []


@pytest.mark.parametrize("ending", ["completed", "rejected"])
def test_a_run_that_ended_has_nothing_to_stop_and_no_event_is_sent(pipeline, server, ending):
    if ending == "completed":
        trained(pipeline, SMALL)
        pipeline.advance(minutes=READY)
    else:
        pipeline.upload("incoming/bad.jsonl", b"{}\n" * 5)
        pipeline.run()
    run = the_run(pipeline)
    status, answer = _stop(server, run["run_id"])
    assert status == 200 and not answer.stop_requested and run["status"] in answer.message
    assert pipeline.events_of("StopRequested") == []


def test_a_submission_uploads_through_its_presigned_url_and_starts_a_run(pipeline, server):
    options = {"base_model": "amazon.nova-micro-v1:0:128k", "evaluation": {"enabled": False}}
    status, body = call(server, "POST", "/runs", {"filename": "news.csv", "options": options})
    assert status == 201
    submitted = SubmitAnswer.model_validate(body)
    assert submitted.options_written and submitted.data.key.startswith("incoming/")
    assert json.loads(pipeline.read_object(submitted.options.key)) == options  # beside the data, before it
    put = urllib.request.Request(submitted.data.url, data=HEADLINES_CSV, method="PUT")
    with urllib.request.urlopen(put) as answer:
        assert answer.status == 200
    pipeline.run()
    status, listed = call(server, "GET", f"/runs?key={submitted.data.key}")
    (run,) = listed["runs"]
    assert run["status"] == "TRAINING" and run["key"] == submitted.data.key
    (job,) = pipeline.bedrock.in_progress()
    assert run["run_id"] in job
    assert the_run(pipeline)["options"]["evaluation"]["enabled"] is False  # the options reached the run
    second = SubmitAnswer.model_validate(call(server, "POST", "/runs", {"filename": "news.csv"})[1])
    assert second.data.key != submitted.data.key and not second.options_written  # never the same key twice


@pytest.mark.parametrize(("body", "named"), [
    ({"filename": "../../etc/passwd.csv"}, "filename"), ({"filename": "data.exe"}, "filename"),
    ({}, "filename"), ({"filename": "a.csv", "surprise": 1}, "surprise"),
    ({"filename": "a.csv", "options": {"hyperparameters": {"epochCount": "many"}}}, "epochCount"),
    ({"filename": "a.csv", "options": {"base_model": "no-such-model"}}, "base_model"),
])
def test_a_bad_submission_is_422_naming_what_is_wrong_and_writes_nothing(pipeline, server, body, named):
    status, answer = call(server, "POST", "/runs", body)
    assert status == 422 and named in json.dumps(answer), answer
    assert pipeline.list_keys("incoming/") == []


def test_a_stop_after_completion_deletes_the_deployment_the_run_kept(pipeline, server):
    trained(pipeline, SMALL | {"deployment": {"keep_after_evaluation": True}})
    pipeline.advance(minutes=READY)
    run = the_run(pipeline)
    assert run["status"] == "COMPLETED" and run["serving"]["keep"] and alive(pipeline)  # the gate passed: kept
    status, answer = _stop(server, run["run_id"])
    assert status == 202 and answer.stop_requested
    pipeline.run()
    assert alive(pipeline) == [] and the_run(pipeline)["serving"]["state"] == "deleted"
    assert _stop(server, run["run_id"])[0] == 200  # now there is nothing left to stop


def _schema_validator(document, status_schema):
    import jsonschema

    # the document's components resolve from the document itself
    return jsonschema.Draft202012Validator(status_schema | {"components": document["components"]})


def test_real_answers_match_the_exported_openapi_document(pipeline, server):
    """Contract: each answer validates against the response schema docs/runs-openapi.json gives its route and
    status (the document a client generates its code from), for success and error answers alike."""
    from tools.export_openapi import RUNS_TARGET

    document = json.loads(RUNS_TARGET.read_text())
    trained(pipeline, SMALL)
    pipeline.advance(minutes=READY)
    run_id = the_run(pipeline)["run_id"]
    cases = [("GET", "/runs", "/runs", None), ("GET", "/runs?limit=1", "/runs", None),
             ("GET", "/runs?limit=0", "/runs", None), ("GET", f"/runs/{run_id}", "/runs/{run_id}", None),
             ("GET", "/runs/nope", "/runs/{run_id}", None),
             ("POST", f"/runs/{run_id}/stop", "/runs/{run_id}/stop", None),
             ("POST", "/runs", "/runs", {"filename": "x.csv"}), ("POST", "/runs", "/runs", {"filename": "x.exe"})]
    for method, path, route, body in cases:
        status, answer = call(server, method, path, body)
        responses = document["paths"][route][method.lower()]["responses"]
        assert str(status) in responses, (method, path, status)
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        _schema_validator(document, schema).validate(answer)


# --- found by a hostile review -------------------------------------------------------------------------------


def _raw(server, method, path, data, headers=None):
    request = AWSRequest(method=method, url=server.url + path, data=data, headers=headers or {})
    SigV4Auth(Credentials("AKIDLOCALTEST", "secret"), "execute-api", "us-east-1").add_auth(request)
    try:
        with urllib.request.urlopen(urllib.request.Request(server.url + path, data=data, method=method,
                                                           headers=dict(request.headers.items()))) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(("query", "body"), [
    ("since=9999-12-31T23:59:59-23:59", None), ("until=0001-01-01T00:00:00%2B23:59", None),
    (None, b'{"filename": "a.csv", "options": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    (None, b'{"filename": "a.csv", "options": {"seed": ' + b"9" * 5000 + b"}}"),
    (None, b'{"filename": "\xff.csv"}'), (None, b"\x00\x01"), (None, b'"just a string"'), (None, b"null"),
    (None, b'{"filename": "a.csv", "options": {"seed": "' + b"x" * 70_000 + b'"}}'),
])
def test_odd_requests_get_a_4xx_never_a_500(pipeline, server, query, body):
    method, path = ("GET", f"/runs?{query}") if query else ("POST", "/runs")
    status, answer = _raw(server, method, path, body, {"Content-Type": "application/json"} if body else None)
    assert 400 <= status < 500 and answer["message"], (status, answer)
    assert not [i for i in pipeline.invocations if "unhandled error" in (i.output or "")]


def test_a_base64_body_that_is_not_base64_of_utf8_is_a_422(pipeline):
    event = json.loads((EVENTS / "runs_api_submit.json").read_text()) | {"isBase64Encoded": True,
                                                                        "body": "/w=="}  # b"\xff"
    answer = pipeline.invoke("RunsApiFunction", event).result
    assert answer["statusCode"] == 422 and "base64" in json.loads(answer["body"])["message"]


def test_a_throttled_ledger_is_a_503_worth_retrying_and_a_denied_one_a_502_never_a_500(pipeline, server):
    throttled = pipeline.faults.fail("dynamodb.Query", "ProvisionedThroughputExceededException", times=None)
    status, answer = call(server, "GET", "/runs")
    assert status == 503 and "retry" in answer["message"]
    pipeline.faults.faults.remove(throttled)
    pipeline.faults.fail("dynamodb.Query", "AccessDeniedException", times=None)
    status, answer = call(server, "GET", "/runs")
    assert status == 502 and "configuration" in answer["message"]  # a retry would not mend it: alarmed
    (last,) = pipeline.invocations[-1:]
    assert last.error is None and "unhandled error" not in last.output  # answered, not crashed, not the catch-all


def test_a_stop_the_bus_refuses_is_a_503(pipeline, server):
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    pipeline.faults.fail("eventbridge.PutEvents", "ThrottlingException", times=None)
    status, answer = call(server, "POST", f"/runs/{the_run(pipeline)['run_id']}/stop")
    assert status == 503
    assert [j.status for j in pipeline.bedrock.jobs().values()] == ["InProgress"]  # nothing was stopped


def test_a_cursor_must_be_whole_and_of_this_listing(pipeline, server):
    import base64

    _make_runs(pipeline, 3)
    page = call(server, "GET", "/runs?limit=1")[1]
    key = json.loads(base64.urlsafe_b64decode(page["next_cursor"] + "=="))
    for forged in ({"dataset_id": key["dataset_id"]}, key | {"listing": {"S": "other"}}):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        status, answer = call(server, "GET", f"/runs?cursor={cursor}")
        assert status == 422 and "cursor" in answer["message"], forged


def test_an_upload_url_creates_its_object_once_and_nowhere_else(pipeline, server):
    submitted = SubmitAnswer.model_validate(call(server, "POST", "/runs", {"filename": "news.csv"})[1])
    assert submitted.data.headers == {"If-None-Match": "*"}

    def put(url, headers, data=HEADLINES_CSV):
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT", headers=headers)) as a:
                return a.status
        except urllib.error.HTTPError as error:
            return error.code

    assert put(submitted.data.url, submitted.data.headers) == 200
    assert put(submitted.data.url, submitted.data.headers, b"text,label\nreplayed,business\n") == 412
    elsewhere = submitted.data.url.replace("/incoming/", "/datasets/")
    assert put(elsewhere, submitted.data.headers) == 403
    assert pipeline.read_object(submitted.data.key) == HEADLINES_CSV  # the first upload stands
    pipeline.run()
    assert len(pipeline.ledger()) == 1


def test_no_link_to_rejected_records_that_have_expired(pipeline, server):
    pipeline.upload("incoming/bad.jsonl", b'{"nothing": "useful"}\n' * 20)
    pipeline.run()
    run_id = the_run(pipeline)["run_id"]
    assert "rejected.jsonl" in call(server, "GET", f"/runs/{run_id}")[1]["links"]
    pipeline.client("s3").delete_object(Bucket=pipeline.data_bucket, Key=f"datasets/{run_id}/rejected.jsonl")
    assert "rejected.jsonl" not in call(server, "GET", f"/runs/{run_id}")[1]["links"]  # the lifecycle rule ran


def test_a_damaged_record_is_left_out_of_the_list_and_a_502_when_asked_for_never_a_500(pipeline, server):
    pipeline.upload("incoming/h.csv", HEADLINES_CSV)
    pipeline.run()
    pipeline.client("dynamodb").put_item(TableName=pipeline.resource_name("LedgerTable"), Item={
        "dataset_id": {"S": "damaged-0123456789"}, "listing": {"S": "run"}, "status": {"S": "NO_SUCH_STATE"},
        "created_at": {"S": "not a time"}})  # garbage from the ledger, as a bad migration would leave it
    status, listed = call(server, "GET", "/runs")
    assert status == 200 and [r["status"] for r in listed["runs"]] == ["TRAINING"]  # the readable run stands
    for method, path in (("GET", "/runs/damaged-0123456789"), ("POST", "/runs/damaged-0123456789/stop")):
        status, answer = call(server, method, path)
        assert status == 502 and "could not be read" in answer["message"], (path, answer)
    assert pipeline.events_of("StopRequested") == []  # nothing sent for a run nobody can read


def test_an_upload_url_past_its_expiry_is_refused_and_starts_nothing(pipeline, server, monkeypatch):
    import time

    from local_emulation import api_server

    submitted = SubmitAnswer.model_validate(call(server, "POST", "/runs", {"filename": "late.csv"})[1])
    later = time.time() + 16 * 60  # the URLs are valid for 15 minutes
    monkeypatch.setattr(api_server.time, "time", lambda: later)
    request = urllib.request.Request(submitted.data.url, data=HEADLINES_CSV, method="PUT",
                                     headers=submitted.data.headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 403 and b"expired" in refused.value.read()
    pipeline.run()
    assert pipeline.ledger() == [] and pipeline.bedrock.jobs() == {}
