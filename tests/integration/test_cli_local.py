"""`ft-pipeline` against the real runs API handler, served by the local emulation (`LocalPipeline.serve_api()`):
a dataset submitted through the tool is uploaded to the emulated bucket by its presigned URL, validated, trained,
deployed, evaluated and torn down by the pipeline's real handlers, and the tool follows it all the way.

The tool is called in-process (`main([...])`): the emulated pipeline only moves when the test calls run()/advance().
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ft_pipeline_cli.main import main
from local_emulation.harness import LocalPipeline
from tests.conftest import HEADLINES

HEADLINES_CSV = (HEADLINES / "validation.csv").read_bytes()
SMALL = {"evaluation": {"max_examples": 30, "chunk_size": 10}}  # a short evaluation
READY = 20  # minutes: the emulated deployment is active, the evaluation runs, the serving resource is deleted


@pytest.fixture
def local():
    with LocalPipeline(log_level="WARNING") as pipeline:
        server = pipeline.serve_api()
        try:
            yield pipeline, server
        finally:
            server.stop()


def cli(capsys, url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--url", url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_run_submitted_followed_reported_and_costed_through_the_tool(local, capsys, tmp_path):
    pipeline, server = local
    data, options = tmp_path / "headlines.csv", tmp_path / "options.json"
    data.write_bytes(HEADLINES_CSV)
    options.write_text(json.dumps(SMALL))

    code, out, err = cli(capsys, server.url, "submit", str(data), "--options", str(options))
    assert code == 0, err
    key = re.search(r"^key: (\S+)$", out, re.M)[1]  # type: ignore[index]
    assert key.endswith("/headlines.csv") and "with its options" in out
    assert pipeline.read_object(key) == HEADLINES_CSV  # the presigned PUT reached the emulated bucket
    assert json.loads(pipeline.read_object(key + ".options.json")) == SMALL

    pipeline.run()  # the upload's event: validated, the training job started
    code, out, _ = cli(capsys, server.url, "--json", "runs")
    (run,) = json.loads(out)["runs"]
    assert code == 0 and run["key"] == key and run["status"] == "TRAINING"
    run_id = run["run_id"]
    code, out, _ = cli(capsys, server.url, "runs", "--all", "--limit", "1")
    assert code == 0 and out.splitlines()[1].split()[:2] == [run_id, "TRAINING"]

    code, out, err = cli(capsys, server.url, "report", run_id, "--out", str(tmp_path / "early"))
    assert code == 1 and "no report yet (the run is TRAINING)" in err

    (job,) = pipeline.bedrock.in_progress()
    pipeline.bedrock.finish(job, "Completed")
    pipeline.run()
    pipeline.advance(minutes=READY)

    code, out, _ = cli(capsys, server.url, "show", run_id)
    assert code == 0 and out.startswith(f"run {run_id}: COMPLETED since ")
    assert "timeline:" in out and "COMPLETED  evaluated_run_completed" in out
    assert re.search(r"job arn +arn:aws:bedrock:\S+:model-customization-job/", out)
    assert re.search(r"custom model +arn:aws:bedrock:\S+:custom-model/", out)
    assert re.search(r"serving:\n  state +deleted", out) and "gate" in out and "examples  30" in out
    assert "report.html  " + server.url in out  # the presigned link, served by the local server
    code, out, _ = cli(capsys, server.url, "--json", "show", run_id)
    shown = json.loads(out)
    assert shown["status"] == "COMPLETED" and shown["evaluation"]["scores"] and set(shown["links"]) >= {
        "report.html", "report.json"}

    code, out, _ = cli(capsys, server.url, "watch", run_id, "--interval", "0.001")
    lines = out.splitlines()
    assert code == 0 and lines[-1].startswith(f"run {run_id} ended COMPLETED")
    assert len(lines) - 1 == len(shown["timeline"])
    assert all(re.match(r"\[\+(\d+:)?\d\d:\d\d\] \S+  \S+", line) for line in lines[:-1]), lines
    assert lines[0].startswith("[+00:00] VALIDATING")

    code, out, _ = cli(capsys, server.url, "report", run_id, "--out", str(tmp_path / "reports"))
    html, report = Path(tmp_path / "reports" / f"{run_id}-report.html"), tmp_path / "reports" / f"{run_id}-report.json"
    assert code == 0 and out.splitlines() == [str(html), str(report)]
    assert html.read_bytes() == pipeline.read_object(f"datasets/{run_id}/evaluation/report.html")
    assert json.loads(report.read_bytes())["models"]["tuned"]

    code, out, _ = cli(capsys, server.url, "stop", run_id)
    assert code == 0 and out.strip() == "the run is COMPLETED: nothing is left to stop"

    code, out, _ = cli(capsys, server.url, "cost")
    total = f"${shown['cost']['total_usd']:,.2f}" if shown["cost"]["total_usd"] is not None else "$0.00"
    assert code == 0 and out.splitlines() == ["nothing alive: no run in progress, no serving resource",
                                              f"all 1 run(s): {total}"]
    code, out, _ = cli(capsys, server.url, "--json", "cost")
    assert json.loads(out)["alive"] == [] and json.loads(out)["runs"] == 1

    assert cli(capsys, server.url, "show", "no-such-run")[0] == 3


def test_a_rejected_dataset_ends_the_watch_with_1(local, capsys, tmp_path):
    pipeline, server = local
    data = tmp_path / "broken.jsonl"
    data.write_bytes(b"not json at all\n" * 20)
    code, out, _ = cli(capsys, server.url, "submit", str(data))
    key = re.search(r"^key: (\S+)$", out, re.M)[1]  # type: ignore[index]
    pipeline.run()
    code, out, _ = cli(capsys, server.url, "--json", "runs", "--state", "REJECTED")
    (run,) = json.loads(out)["runs"]
    assert run["key"] == key
    code, out, _ = cli(capsys, server.url, "watch", run["run_id"], "--interval", "0.001")
    assert code == 1 and out.splitlines()[-1] == f"run {run['run_id']} ended REJECTED"
    code, out, err = cli(capsys, server.url, "report", run["run_id"], "--out", str(tmp_path))
    assert code == 1 and "no report yet (the run is REJECTED)" in err
    code, out, _ = cli(capsys, server.url, "show", run["run_id"])
    assert "rejected because:" in out


def test_a_filename_the_api_refuses_is_refused_before_asking(local, capsys, tmp_path):
    pipeline, server = local
    data = tmp_path / "my headlines.csv"
    data.write_bytes(HEADLINES_CSV)
    code, _, err = cli(capsys, server.url, "submit", str(data))
    assert code == 2 and "rename the file" in err and pipeline.list_keys("incoming/") == []


def test_signed_requests_reach_an_api_that_requires_sigv4(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with LocalPipeline(log_level="WARNING") as pipeline:
        server = pipeline.serve_api(require_sigv4=True)
        try:
            code, _, err = cli(capsys, server.url, "runs")
            assert code == 4 and "HTTP 403" in err
            code, out, err = cli(capsys, server.url, "--sign", "runs")
            assert code == 0 and out.strip() == "no runs", err
        finally:
            server.stop()
