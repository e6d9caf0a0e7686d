"""The `ft-pipeline` command-line tool against a tiny fake runs API (http.server on a loopback port) whose answers
are built with the API's own models (ft_pipeline.runs.api_models), so the canned bodies stay in their shape."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ft_pipeline.lifecycle import RunState, ServingState, implemented, terminal_states
from ft_pipeline.runs import api_models as m
from ft_pipeline_cli import constants
from ft_pipeline_cli import main as cli_main
from ft_pipeline_cli.main import main

REPO = Path(__file__).resolve().parents[2]
CREATED = "2026-12-01T10:00:00Z"


# --- the fake API ---------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Answer = tuple[int, Any]  # (status, a model, a dict, or raw bytes)


@dataclass
class FakeApi:
    """Routes `(METHOD, path)` → a list of answers, given in turn (the last one repeats) or a callable."""

    routes: dict[tuple[str, str], list[Answer] | Callable[[Recorded], Answer]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def on(self, method: str, path: str, *answers: Answer | Callable[[Recorded], Answer]) -> None:
        self.routes[(method, path)] = answers[0] if callable(answers[0]) else list(answers)  # type: ignore[assignment]

    def made(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)]

    def answer(self, request: Recorded) -> Answer:
        route = self.routes.get((request.method, request.path))
        if route is None:
            return 403, {"message": "Missing Authentication Token"}  # API Gateway's answer for an unknown route
        if callable(route):
            return route(request)
        return route.pop(0) if len(route) > 1 else route[0]


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Recorded(self.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                               {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
            api.requests.append(request)
            status, body = api.answer(request)
            if isinstance(body, m.BaseModel):
                data = body.model_dump_json(exclude_none=True).encode()
            elif isinstance(body, bytes):
                data = body
            else:
                data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815

    return Handler


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi()
    fake.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.server.daemon_threads = True
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FT_PIPELINE_URL", "FT_PIPELINE_STACK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str, url: str | None = None) -> tuple[int, str, str]:
        code = main(["--url", url or api.url, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# --- canned answers, built with the API's models ----------------------------------------------------------------


def summary(run_id: str, status: RunState = RunState.TRAINING, **extra: Any) -> m.RunSummary:
    return m.RunSummary(run_id=run_id, status=status, created_at=CREATED, state_since="2026-12-01T10:05:00Z",
                        key=f"incoming/20261201T100000Z-ab12cd34/{run_id}.csv", **extra)


def entry(status: str, minute: int, transition: str, note: str = "") -> m.StateTime:
    return m.StateTime(status=status, at=f"2026-12-01T{10 + minute // 60:02d}:{minute % 60:02d}:07Z",
                       transition=transition, note=note)


TIMELINE = [entry("VALIDATING", 0, "upload_received"), entry("VALIDATED", 1, "dataset_validated", "1990 rows"),
            entry("TRAINING_STARTING", 2, "training_claimed"), entry("TRAINING", 3, "training_started"),
            entry("TRAINED", 95, "training_completed"), entry("DEPLOYING", 96, "deployment_started"),
            entry("DEPLOYED", 106, "deployment_active"), entry("EVALUATING", 107, "evaluation_started"),
            entry("COMPLETED", 110, "evaluated_run_completed", "gate passed")]


def detail(run_id: str = "run-1", status: RunState = RunState.COMPLETED, timeline: list[m.StateTime] | None = None,
           links: dict[str, m.Link] | None = None, **extra: Any) -> m.RunDetail:
    arn = "arn:aws:bedrock:us-east-1:123456789012"
    return m.RunDetail(
        run_id=run_id, status=status, created_at=CREATED, updated_at="2026-12-01T11:50:07Z",
        state_since="2026-12-01T11:50:07Z", source={"bucket": "data-bucket", "key": "incoming/x/h.csv"},
        counts={"accepted": 1990, "rejected": 3}, timeline=TIMELINE if timeline is None else timeline,
        training=m.TrainingView(job_name="ft-run-1", job_arn=f"{arn}:model-customization-job/abc",
                                started_at="2026-12-01T10:03:07Z", ended_at="2026-12-01T11:35:07Z",
                                training_loss=0.1234, validation_loss=0.2345),
        model=m.ModelView(base_model="amazon.nova-micro-v1:0", custom_model_arn=f"{arn}:custom-model/xyz"),
        serving=m.ServingView(state=ServingState.ACTIVE, mode="on_demand", name="ft-run-1-serving",
                              arn=f"{arn}:custom-model-deployment/dep1", deadline="2026-12-01T14:00:00Z"),
        cost=m.CostView(estimated_training_usd=4.2, serving_usd=0.5, serving_hours=0.25, total_usd=4.7,
                        unconfirmed=["on-demand inference"]),
        evaluation=m.EvaluationView(summary="tuned beats base", scores={"tuned": 0.91, "base": 0.55},
                                    metric="accuracy", passed=True, reason="tuned 0.910 >= 0.8", examples=199),
        links=links or {}, **extra)


# --- the constants copied from the layer ------------------------------------------------------------------------


def test_the_copied_constants_equal_the_layers():
    assert constants.FILENAME_PATTERN == m.FILENAME_PATTERN
    layer_terminal = {s.value for s in terminal_states()}
    assert layer_terminal <= constants.TERMINAL_STATES
    left = {str(source) for t in implemented() for source in t.sources if source != t.target}
    assert not constants.TERMINAL_STATES & left, "a state the CLI waits to end in is left by a transition"
    assert {s.value for s in RunState} >= constants.TERMINAL_STATES
    assert {RunState.COMPLETED.value} == constants.SUCCEEDED
    assert constants.ENDED_BADLY == constants.TERMINAL_STATES - constants.SUCCEEDED
    assert {ServingState.CREATING, ServingState.ACTIVE, ServingState.DELETING} == constants.PAID_SERVING_STATES


def test_the_tool_does_not_import_the_layer():
    code = ("import sys, ft_pipeline_cli.main, ft_pipeline_cli.client, ft_pipeline_cli.render;"
            "assert not any(n == 'ft_pipeline' or n.startswith('ft_pipeline.') for n in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(REPO / "cli")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO / "cli")


# --- runs --------------------------------------------------------------------------------------------------------


def test_runs_prints_a_table(api, cli):
    api.on("GET", "/runs", (200, m.RunList(runs=[summary("run-2", cost_usd=12.5),
                                                 summary("run-1", RunState.REJECTED)])))
    code, out, _ = cli("runs", "--state", "TRAINING", "--since", "2026-12-01T00:00:00Z", "--limit", "5")
    assert code == 0
    lines = out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["RUN ID", "STATUS", "CREATED", "SINCE", "COST", "KEY"]
    assert re.split(r"\s{2,}", lines[1]) == ["run-2", "TRAINING", "2026-12-01 10:00:00Z", "2026-12-01 10:05:00Z",
                                             "$12.50", "incoming/20261201T100000Z-ab12cd34/run-2.csv"]
    assert re.split(r"\s{2,}", lines[2])[:2] == ["run-1", "REJECTED"] and re.split(r"\s{2,}", lines[2])[4] == "-"
    (request,) = api.made("GET", "/runs")
    assert request.query == {"state": "TRAINING", "since": "2026-12-01T00:00:00Z", "limit": "5"}
    assert "more runs" not in out


def test_runs_json_is_the_apis_document(api, cli):
    page = m.RunList(runs=[summary("run-2")], next_cursor="abc")
    api.on("GET", "/runs", (200, page))
    code, out, _ = cli("runs", "--json")
    assert code == 0 and json.loads(out) == json.loads(page.model_dump_json(exclude_none=True))


def test_runs_all_follows_the_cursors_through_short_and_empty_pages(api, cli):
    pages = {None: m.RunList(runs=[summary("run-5"), summary("run-4")], next_cursor="c1"),
             "c1": m.RunList(runs=[], next_cursor="c2"),  # a page may hold fewer than the limit, even none
             "c2": m.RunList(runs=[summary("run-3")], next_cursor="c3"),
             "c3": m.RunList(runs=[summary("run-2"), summary("run-1")])}
    api.on("GET", "/runs", lambda request: (200, pages[request.query.get("cursor")]))
    code, out, _ = cli("runs", "--all", "--limit", "2")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["run-5", "run-4", "run-3", "run-2", "run-1"]
    assert [r.query.get("cursor") for r in api.made("GET", "/runs")] == [None, "c1", "c2", "c3"]
    assert all(r.query["limit"] == "2" for r in api.made("GET", "/runs"))
    code, out, _ = cli("--json", "runs", "--all")
    assert [r["run_id"] for r in json.loads(out)["runs"]] == ["run-5", "run-4", "run-3", "run-2", "run-1"]


def test_runs_without_all_says_there_are_more(api, cli):
    api.on("GET", "/runs", (200, m.RunList(runs=[summary("run-2")], next_cursor="c1")))
    code, out, _ = cli("runs")
    assert code == 0 and "more runs: ft-pipeline runs --all" in out and len(api.made()) == 1


def test_the_environment_gives_the_url(api, capsys, monkeypatch):
    api.on("GET", "/runs", (200, m.RunList(runs=[])))
    monkeypatch.setenv("FT_PIPELINE_URL", api.url)
    assert main(["runs"]) == 0 and capsys.readouterr().out.strip() == "no runs"


# --- show ----------------------------------------------------------------------------------------------------


def test_show_prints_the_run_for_a_person(api, cli):
    links = {"report.html": m.Link(url=f"{api.url}/files/report.html?sig=1", expires_at="2026-12-01T12:50:07Z")}
    api.on("GET", "/runs/run-1", (200, detail(links=links, stop_requested_at="2026-12-01T11:00:00Z",
                                              stop_requested_by="arn:aws:iam::123456789012:user/alice")))
    code, out, _ = cli("show", "run-1")
    assert code == 0
    assert out.startswith("run run-1: COMPLETED since 2026-12-01 11:50:07Z\n")
    assert "2026-12-01 10:01:07Z  [+01:07] VALIDATED  dataset_validated  1990 rows" in out
    assert "[+1:50:07] COMPLETED  evaluated_run_completed  gate passed" in out
    for text in ("arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abc",
                 "arn:aws:bedrock:us-east-1:123456789012:custom-model/xyz",
                 "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/dep1",
                 "2026-12-01 14:00:00Z (deleted by then", "training 0.1234, validation 0.2345",
                 "so far", "$4.70", "$0.50 over 0.25 h", "on-demand inference",
                 "gate", "passed: tuned 0.910 >= 0.8", "accuracy  tuned 0.910, base 0.550", "examples  199",
                 "report.html  " + links["report.html"].url, "by arn:aws:iam::123456789012:user/alice",
                 "records         accepted 1990, rejected 3"):
        assert text in out, text
    assert re.search(r"serving:\n  state +active\n  mode +on_demand", out)


def test_show_json_is_the_apis_document(api, cli):
    run = detail()
    api.on("GET", "/runs/run-1", (200, run))
    code, out, _ = cli("show", "run-1", "--json")
    assert code == 0 and json.loads(out) == json.loads(run.model_dump_json(exclude_none=True))


def test_show_a_rejected_run_lists_the_reasons(api, cli):
    run = m.RunDetail(run_id="run-9", status=RunState.REJECTED, created_at=CREATED, updated_at=CREATED,
                      state_since=CREATED, source={"bucket": "b", "key": "incoming/x/h.csv"},
                      reasons=["no label column", "too few rows"], timeline=[entry("REJECTED", 0, "dataset_rejected")],
                      training=m.TrainingView(), model=m.ModelView(), serving=m.ServingView(), cost=m.CostView(),
                      evaluation=m.EvaluationView())
    api.on("GET", "/runs/run-9", (200, run))
    code, out, _ = cli("show", "run-9")
    assert code == 0 and "rejected because:\n  - no label column\n  - too few rows" in out
    assert "serving:" not in out and "training:" not in out


# --- errors and exit codes ----------------------------------------------------------------------------------


def test_an_unknown_run_exits_3(api, cli):
    api.on("GET", "/runs/nope", (404, m.ErrorAnswer(message="no such run")))
    code, out, err = cli("show", "nope")
    assert (code, out) == (3, "") and "no such run (HTTP 404)" in err and "Traceback" not in err


@pytest.mark.parametrize(("status", "body", "expected"), [
    (500, m.ErrorAnswer(message="internal error"), "internal error (HTTP 500)"),
    (503, m.ErrorAnswer(message="the pipeline's storage did not answer; retry shortly"), "retry shortly (HTTP 503)"),
    (403, {"Message": "User: anonymous is not authorized"}, "not authorized (HTTP 403)"),
    (502, b"<html>Bad Gateway</html>", "<html>Bad Gateway</html> (HTTP 502)"),
])
def test_api_errors_exit_4_with_the_message(api, cli, status, body, expected):
    api.on("GET", "/runs", (status, body))
    code, _, err = cli("runs")
    assert code == 4 and expected in err and "Traceback" not in err


def test_a_parameter_the_api_refuses_is_a_usage_error_exit_2(api, cli):
    api.on("GET", "/runs", (422, m.ErrorAnswer(message="invalid request",
                                               details=[{"field": "limit", "problem": "too large"}])))
    code, _, err = cli("runs")
    assert code == 2 and "invalid request (HTTP 422)\n  limit: too large" in err and "Traceback" not in err


def test_an_answer_that_is_not_json_exits_4(api, cli):
    api.on("GET", "/runs", (200, b"<html>a captive portal</html>"))
    code, _, err = cli("runs")
    assert code == 4 and "not JSON" in err


def test_a_refused_connection_exits_4(cli):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = cli("runs", url=f"http://127.0.0.1:{port}")
    assert code == 4 and f"cannot reach http://127.0.0.1:{port}" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [
    [],  # no command
    ["runs", "--limit", "0"],
    ["runs", "--bogus"],
    ["watch"],  # no run
    ["--stack", "s", "runs"],  # --url and --stack
])
def test_usage_errors_exit_2(cli, args):
    code, _, err = cli(*args)
    assert code == 2 and "error" in err


def test_no_url_and_no_stack_exits_2(capsys):
    assert main(["runs"]) == 2
    assert "give --stack NAME (a deployed stack) or --url URL" in capsys.readouterr().err


def test_not_an_http_url_exits_2(capsys):
    assert main(["--url", "file:///etc/passwd", "runs"]) == 2


def test_help_exits_0_and_documents_the_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out and "3    not found (404" in out and "4    API or network error" in out
    for number in ("0", "1", "2", "3", "4"):
        assert re.search(rf"^\s+{number}\s", cli_main.__doc__ or "", re.M), number


# --- watch -------------------------------------------------------------------------------------------------


def test_watch_prints_each_new_timeline_entry_once_and_exits_0_on_completed(api, cli):
    api.on("GET", "/runs/run-1", (200, detail(status=RunState.TRAINING, timeline=TIMELINE[:2])),
           (200, detail(status=RunState.TRAINING, timeline=TIMELINE[:4])),
           (200, detail(status=RunState.TRAINING, timeline=TIMELINE[:4])),
           (200, detail(status=RunState.COMPLETED)))
    code, out, _ = cli("watch", "run-1", "--interval", "0.001")
    assert code == 0
    assert out.splitlines() == [
        "[+00:07] VALIDATING  upload_received",
        "[+01:07] VALIDATED  dataset_validated  1990 rows",
        "[+02:07] TRAINING_STARTING  training_claimed",
        "[+03:07] TRAINING  training_started",
        "[+1:35:07] TRAINED  training_completed",
        "[+1:36:07] DEPLOYING  deployment_started",
        "[+1:46:07] DEPLOYED  deployment_active",
        "[+1:47:07] EVALUATING  evaluation_started",
        "[+1:50:07] COMPLETED  evaluated_run_completed  gate passed",
        "run run-1 ended COMPLETED; the quality gate passed",
    ]
    assert len(api.made("GET", "/runs/run-1")) == 4


@pytest.mark.parametrize("status", sorted(constants.ENDED_BADLY))
def test_watch_exits_1_when_the_run_ends_badly(api, cli, status):
    timeline = [*TIMELINE[:4], m.StateTime(status=status, at="2026-12-01T10:10:00Z", transition="ended")]
    api.on("GET", "/runs/run-1", (200, detail(status=RunState(status), timeline=timeline)))
    code, out, _ = cli("watch", "run-1", "--interval", "0.001")
    assert code == 1 and out.splitlines()[-1].startswith(f"run run-1 ended {status}")
    assert f"[+10:00] {status}  ended" in out


def test_watch_json_prints_one_line_per_entry(api, cli):
    api.on("GET", "/runs/run-1", (200, detail(status=RunState.TRAINING, timeline=TIMELINE[:3])),
           (200, detail(status=RunState.STOPPED, timeline=[*TIMELINE[:4], entry("STOPPED", 9, "run_stopped")])))
    code, out, _ = cli("--json", "watch", "run-1", "--interval", "0.001")
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["status"] for line in lines] == ["VALIDATING", "VALIDATED", "TRAINING_STARTING", "TRAINING",
                                                  "STOPPED"]
    assert lines[1] == TIMELINE[1].model_dump(exclude_none=True)


def test_watch_sits_out_a_503_but_not_a_404(api, cli):
    api.on("GET", "/runs/run-1", (503, m.ErrorAnswer(message="retry shortly")), (200, detail()))
    code, out, err = cli("watch", "run-1", "--interval", "0.001")
    assert code == 0 and "retrying" in err and out.splitlines()[-1].startswith("run run-1 ended COMPLETED")
    api.on("GET", "/runs/gone", (404, m.ErrorAnswer(message="no such run")))
    assert cli("watch", "gone", "--interval", "0.001")[0] == 3


def test_ctrl_c_exits_130(api, cli, monkeypatch):
    api.on("GET", "/runs/run-1", (200, detail(status=RunState.TRAINING)))

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main.time, "sleep", interrupted)
    code, _, err = cli("watch", "run-1")
    assert code == 130 and "interrupted" in err


# --- signing -------------------------------------------------------------------------------------------------


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-example")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)


SIGNED = re.compile(r"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/(?P<region>[a-z0-9-]+)/execute-api/aws4_request, "
                    r"SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=[0-9a-f]{64}$")


def test_sign_adds_sigv4_headers_for_execute_api(api, cli, credentials):
    api.on("GET", "/runs", (200, m.RunList(runs=[])))
    api.on("POST", "/runs/run-1/stop", (202, m.StopAnswer(run_id="run-1", status=RunState.TRAINING,
                                                          stop_requested=True, message="stop requested")))
    assert cli("--sign", "runs", "--state", "TRAINING", "--since", "2026-12-01T00:00:00+01:00")[0] == 0
    assert cli("--sign", "--region", "us-west-2", "stop", "run-1")[0] == 0
    listed, stopped = api.made()
    for request, region in ((listed, "eu-west-1"), (stopped, "us-west-2")):
        signed = SIGNED.match(request.headers["authorization"])
        assert signed and signed["region"] == region, request.headers["authorization"]
        assert {"host", "x-amz-date", "x-amz-security-token"} <= set(signed["headers"].split(";"))
        assert re.fullmatch(r"\d{8}T\d{6}Z", request.headers["x-amz-date"])
        assert request.headers["x-amz-security-token"] == "session-token-example"
    assert listed.query["since"] == "2026-12-01T00:00:00+01:00"  # what was signed is what was sent


def test_the_signature_is_what_botocore_computes_for_the_request_sent(api, cli, credentials):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    api.on("GET", "/runs", (200, m.RunList(runs=[])))
    assert cli("--sign", "runs", "--since", "2026-12-01T00:00:00Z", "--state", "TRAINING")[0] == 0
    (sent,) = api.made()
    query = "&".join(f"{k}={v}" for k, v in sorted(sent.query.items())).replace(":", "%3A")
    signed_headers = SIGNED.match(sent.headers["authorization"])["headers"].split(";")  # type: ignore[index]
    request = AWSRequest(method="GET", url=f"{api.url}{sent.path}?{query}",
                         headers={k: v for k, v in sent.headers.items() if k in signed_headers})
    request.context["timestamp"] = sent.headers["x-amz-date"]
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                   "session-token-example"), "execute-api", "eu-west-1")
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert sent.headers["authorization"].endswith(f"Signature={signature}")


def test_signing_without_credentials_exits_4_with_a_clear_message(api, cli, credentials, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    code, _, err = cli("--sign", "runs")
    assert code == 4 and "no AWS credentials found" in err and "Traceback" not in err and api.made() == []


def test_stack_finds_the_api_url_and_signs(api, capsys, credentials, monkeypatch):
    import boto3.session
    from botocore.stub import Stubber

    api.on("GET", "/prod/runs", (200, m.RunList(runs=[summary("run-1")])))
    cloudformation = boto3.session.Session(region_name="eu-west-1").client("cloudformation")
    stubber = Stubber(cloudformation)
    stubber.add_response("describe_stacks", {"Stacks": [{
        "StackName": "ft-demo", "CreationTime": "2026-12-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": "BucketName", "OutputValue": "b"},
                    {"OutputKey": "RunsApiUrl", "OutputValue": f"{api.url}/prod/"}]}]}, {"StackName": "ft-demo"})
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id no-such-stack does not exist",
                             400, expected_params={"StackName": "no-such-stack"})
    stubber.add_response("describe_stacks", {"Stacks": [{
        "StackName": "other", "CreationTime": "2026-12-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE"}]})
    stubber.activate()
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, name, **kwargs: cloudformation)
    assert main(["--stack", "ft-demo", "runs"]) == 0
    assert "run-1" in capsys.readouterr().out
    assert main(["--stack", "no-such-stack", "runs"]) == 4
    assert "stack no-such-stack: Stack with id no-such-stack does not exist" in capsys.readouterr().err
    assert main(["--stack", "other", "runs"]) == 4
    assert "stack other has no RunsApiUrl output" in capsys.readouterr().err
    stubber.assert_no_pending_responses()
    (request,) = api.made()
    assert request.path == "/prod/runs" and SIGNED.match(request.headers["authorization"])


# --- submit -------------------------------------------------------------------------------------------------


def submit_answer(api: FakeApi, key: str = "incoming/20261201T100000Z-ab12cd34/headlines.csv",
                  written: bool = True) -> m.SubmitAnswer:
    return m.SubmitAnswer(data=m.Upload(url=f"{api.url}/upload/{key}?X-Amz-Signature=abc", key=key),
                          options=m.Upload(url=f"{api.url}/upload/{key}.options.json", key=f"{key}.options.json"),
                          options_written=written, expires_at="2026-12-01T11:00:00Z",
                          follow=f"GET /runs?key={key} lists the run once the upload has been validated")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "headlines.csv"
    path.write_bytes(b"text,label\n" + b"".join(b"headline %d,sports\n" % i for i in range(500)))
    return path


def test_submit_asks_for_upload_urls_and_puts_the_file(api, cli, dataset, tmp_path):
    answer = submit_answer(api)
    api.on("POST", "/runs", (201, answer))
    api.on("PUT", f"/upload/{answer.data.key}", (200, b""))
    options = tmp_path / "opts.json"
    options.write_text(json.dumps({"hyperparameters": {"epochCount": 2}, "base_model": "old"}))
    code, out, _ = cli("submit", str(dataset), "--options", str(options), "--base-model", "amazon.nova-micro-v1:0")
    assert code == 0
    (post,) = api.made("POST", "/runs")
    body = json.loads(post.body)
    assert body == {"filename": "headlines.csv",
                    "options": {"hyperparameters": {"epochCount": 2}, "base_model": "amazon.nova-micro-v1:0"}}
    m.SubmitRequest.model_validate(body)  # what the API accepts
    (put,) = api.made("PUT")
    assert put.body == dataset.read_bytes() and put.headers["content-length"] == str(dataset.stat().st_size)
    assert put.query == {"X-Amz-Signature": "abc"} and "authorization" not in put.headers
    assert f"key: {answer.data.key}" in out.splitlines()


def test_submit_without_options_sends_none_and_json_prints_the_answer(api, cli, dataset):
    answer = submit_answer(api, written=False)
    api.on("POST", "/runs", (201, answer))
    api.on("PUT", f"/upload/{answer.data.key}", (200, b""))
    code, out, _ = cli("--json", "submit", str(dataset))
    assert code == 0 and json.loads(api.made("POST")[0].body) == {"filename": "headlines.csv"}
    assert json.loads(out)["data"]["key"] == answer.data.key


@pytest.mark.parametrize("name", ["my data.csv", "data.txt", ".hidden.csv", "x" * 101 + ".csv", "données.jsonl"])
def test_submit_refuses_a_filename_the_api_refuses_before_asking(api, cli, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"text,label\n")
    code, _, err = cli("submit", str(path))
    assert code == 2 and "rename the file" in err and api.made() == []
    with pytest.raises(ValueError):
        m.SubmitRequest(filename=name)


@pytest.mark.parametrize("name", ["h.csv", "h.jsonl.gz", "A-b_c.1.csv.gz"])
def test_submit_accepts_what_the_api_accepts(name):
    assert re.fullmatch(constants.FILENAME_PATTERN, name) and m.SubmitRequest(filename=name)


def test_submit_with_a_bad_options_file_or_no_file_exits_2(api, cli, dataset, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1]")
    assert cli("submit", str(dataset), "--options", str(tmp_path / "bad.json"))[0] == 2
    assert cli("submit", str(dataset), "--options", str(tmp_path / "list.json"))[0] == 2
    assert cli("submit", str(tmp_path / "missing.csv"))[0] == 2
    assert api.made() == []


def test_submit_options_refused_by_the_api_exit_2(api, cli, dataset):
    api.on("POST", "/runs", (422, m.ErrorAnswer(message="options: unknown field 'epochs'")))
    code, _, err = cli("submit", str(dataset), "--base-model", "x")
    assert code == 2 and "unknown field 'epochs'" in err and api.made("PUT") == []


def test_a_failed_upload_exits_4(api, cli, dataset):
    answer = submit_answer(api)
    api.on("POST", "/runs", (201, answer))
    api.on("PUT", f"/upload/{answer.data.key}", (403, b"<Error><Code>AccessDenied</Code></Error>"))
    code, _, err = cli("submit", str(dataset))
    assert code == 4 and "the upload failed" in err and "AccessDenied" in err


def test_submit_wait_finds_the_run_by_its_key_and_follows_it(api, cli, dataset):
    answer = submit_answer(api)
    api.on("POST", "/runs", (201, answer))
    api.on("PUT", f"/upload/{answer.data.key}", (200, b""))
    api.on("GET", "/runs", (200, m.RunList(runs=[])), (200, m.RunList(runs=[summary("run-1", RunState.VALIDATING)])))
    api.on("GET", "/runs/run-1", (200, detail(status=RunState.VALIDATED, timeline=TIMELINE[:2])), (200, detail()))
    code, out, _ = cli("submit", str(dataset), "--wait", "--interval", "0.001")
    assert code == 0
    assert [r.query for r in api.made("GET", "/runs")] == [{"key": answer.data.key, "limit": "1"}] * 2
    assert "run: run-1" in out and out.count("VALIDATED  dataset_validated") == 1
    assert out.splitlines()[-1] == "run run-1 ended COMPLETED; the quality gate passed"


# --- stop, report, cost ---------------------------------------------------------------------------------------


def test_stop_prints_the_message(api, cli):
    api.on("POST", "/runs/run-1/stop", (202, m.StopAnswer(run_id="run-1", status=RunState.TRAINING,
                                                          stop_requested=True, message="stop requested: ...")))
    api.on("POST", "/runs/run-2/stop", (200, m.StopAnswer(run_id="run-2", status=RunState.COMPLETED,
                                                          stop_requested=False,
                                                          message="the run is COMPLETED: nothing is left to stop")))
    assert cli("stop", "run-1") == (0, "stop requested: ...\n", "")
    code, out, _ = cli("stop", "run-2", "--json")
    assert code == 0 and json.loads(out)["stop_requested"] is False
    api.on("POST", "/runs/nope/stop", (404, m.ErrorAnswer(message="no such run")))
    assert cli("stop", "nope")[0] == 3


def test_report_downloads_the_files_and_opens_the_html(api, cli, tmp_path, monkeypatch):
    links = {name: m.Link(url=f"{api.url}/files/{name}?X-Amz-Signature=1", expires_at="2026-12-01T12:00:00Z")
             for name in ("report.html", "report.json", "rejected.jsonl")}
    api.on("GET", "/runs/run-1", (200, detail(links=links)))
    api.on("GET", "/files/report.html", (200, b"<html>report</html>"))
    api.on("GET", "/files/report.json", (200, b'{"models": {}}'))
    opened: list[str] = []
    monkeypatch.setattr(cli_main.webbrowser, "open", opened.append)
    code, out, _ = cli("report", "run-1", "--out", str(tmp_path / "reports"), "--open")
    assert code == 0
    html, report = tmp_path / "reports" / "run-1-report.html", tmp_path / "reports" / "run-1-report.json"
    assert out.splitlines() == [str(html), str(report)]
    assert html.read_bytes() == b"<html>report</html>" and report.read_bytes() == b'{"models": {}}'
    assert opened == [html.resolve().as_uri()] and not api.made("GET", "/files/rejected.jsonl")


def test_report_without_links_exits_1(api, cli, tmp_path):
    api.on("GET", "/runs/run-1", (200, detail(status=RunState.TRAINING)))
    code, out, err = cli("report", "run-1", "--out", str(tmp_path))
    assert (code, out) == (1, "") and "no report yet (the run is TRAINING)" in err and list(tmp_path.iterdir()) == []


def test_cost_shows_what_is_alive_and_the_totals(api, cli):
    pages = {None: m.RunList(runs=[summary("run-5", RunState.TRAINING, cost_usd=1.5),
                                   summary("run-4", RunState.COMPLETED, cost_usd=10.0),
                                   summary("run-3", RunState.STOPPED, cost_usd=3.25,
                                           serving_state=ServingState.DELETING)], next_cursor="c1"),
             "c1": m.RunList(runs=[summary("run-2", RunState.COMPLETED, cost_usd=2.0,
                                           serving_state=ServingState.ACTIVE),
                                   summary("run-1", RunState.VALIDATING)])}
    api.on("GET", "/runs", lambda request: (200, pages[request.query.get("cursor")]))
    code, out, _ = cli("cost")
    assert code == 0
    lines = out.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["RUN ID", "STATUS", "SERVING", "COST", "KEY"]
    assert [line.split()[0] for line in lines[1:5]] == ["run-5", "run-3", "run-2", "run-1"]
    assert re.split(r"\s{2,}", lines[2])[:4] == ["run-3", "STOPPED", "deleting", "$3.25"]
    assert lines[5] == "alive: 4 run(s), $6.75 so far" and lines[6] == "all 5 run(s): $16.75"
    code, out, _ = cli("cost", "--json")
    document = json.loads(out)
    assert document["alive_usd"] == 6.75 and document["total_usd"] == 16.75 and document["runs"] == 5
    assert [r["run_id"] for r in document["alive"]] == ["run-5", "run-3", "run-2", "run-1"]


def test_cost_with_nothing_alive(api, cli):
    api.on("GET", "/runs", (200, m.RunList(runs=[summary("run-1", RunState.COMPLETED, cost_usd=0.5)])))
    code, out, _ = cli("cost")
    assert code == 0 and out.splitlines() == ["nothing alive: no run in progress, no serving resource",
                                              "all 1 run(s): $0.50"]
