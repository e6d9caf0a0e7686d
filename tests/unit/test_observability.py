"""Observability: one decorator stack for every pipeline handler, the run id as the correlation id of every log
line, and the sweeper's gauges as CloudWatch EMF with the dimensions the template's alarms watch."""

import ast
import importlib.util
import io
import json
from pathlib import Path

import pytest

from ft_pipeline.clock import iso
from ft_pipeline.lifecycle import RunState
from ft_pipeline.observability import NAMESPACE, RUN_ID_PATH, SERVICE, logger, record_gauge
from ft_pipeline.ports import StepOutcome
from tests.conftest import EVENTS, REPO

FUNCTIONS = REPO / "functions"
DECORATOR = "pipeline_handler"
# the API's proxy keeps API Gateway's request id as its correlation id, and its own documented stack
# the API's handler correlates by API Gateway's request id: it serves requests, not runs
BY_REQUEST_ID = {"classify_headline", "runs_api"}
# the handlers whose event names the run at detail.run_id (the others bind it once they know it)
BY_RUN_ID = {"complete_run": ("handle_evaluation_completed", "evaluation_completed.json"),
             "deploy_model": ("deploy", "model_trained.json"),
             "evaluate_model": ("start_evaluation", "model_deployed.json"),
             "start_customization": ("start_training", "dataset_validated.json"),
             "stop_run": ("stop_run", "stop_requested.json")}
FIND_RUN_ID = ("dataset_validator", "evaluate_chunk", "job_state_change", "sweep_runs")


class Context:
    function_name = "ftp-dev-Function"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ftp-dev-Function"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def handler_module(name: str):
    spec = importlib.util.spec_from_file_location(f"observed_{name}", FUNCTIONS / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def log_lines(monkeypatch):
    """What the shared logger writes, as JSON documents (at INFO, whatever an earlier import set)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "1")  # the handlers' EMF is not what these tests read
    stream, level = io.StringIO(), logger.log_level
    previous = logger.registered_handler.setStream(stream)
    logger.setLevel("INFO")
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    logger.registered_handler.setStream(previous)
    logger.setLevel(level)
    logger.remove_keys(["correlation_id", "run_id"])


def logging_step(message: str, run_id: str | None = None):
    def step(*args, **kwargs):
        logger.info(message)
        return StepOutcome(action="done", run_id=run_id)

    return step


# --- one decorator stack ------------------------------------------------------------------------------------------


def decorators(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    (handler,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler"]
    return [ast.unparse(d) for d in handler.decorator_list]


def test_every_pipeline_handler_is_decorated_by_the_one_stack_and_nothing_else():
    apps = sorted(FUNCTIONS.glob("*/app.py"))
    assert {p.parent.name for p in apps} >= set(BY_RUN_ID) | set(FIND_RUN_ID) | BY_REQUEST_ID
    for path in apps:
        name, found = path.parent.name, decorators(path)
        if name in BY_REQUEST_ID:
            assert found == [f"{DECORATOR}(correlation_id_path=correlation_paths.API_GATEWAY_REST)"], name
            continue
        assert len(found) == 1 and found[0].startswith(f"{DECORATOR}("), (name, found)
        call = ast.parse(found[0], mode="eval").body
        assert not call.args and [k.arg for k in call.keywords] in ([], ["correlation_id_path"]), (name, found)
        expected = "pipeline_handler()" if name in BY_RUN_ID else "pipeline_handler(correlation_id_path=None)"
        assert found == [expected], (name, found)  # the run id: from detail.run_id, or bound by the step


def test_the_decorator_logs_json_with_the_lambda_context_and_flushes_metrics_with_a_cold_start(capsys, monkeypatch):
    from aws_lambda_powertools.metrics.provider import cold_start

    from ft_pipeline.observability import metrics, pipeline_handler

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setattr(cold_start, "is_cold_start", True)  # whichever handler this process ran first
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)

    @pipeline_handler()
    def handler(event, context):
        logger.info("working")
        metrics.add_metric(name="Probe", unit="Count", value=1)
        return {"ok": True}

    try:
        assert handler({"detail": {"run_id": "r-1"}}, Context()) == {"ok": True}
    finally:
        logger.registered_handler.setStream(previous)
        logger.remove_keys(["correlation_id", "run_id"])
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["message"] == "working" and line["correlation_id"] == "r-1" and line["service"] == SERVICE
    assert line["function_request_id"] == Context.aws_request_id and "cold_start" in line
    documents = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    (probe,) = [d for d in documents if "Probe" in d]
    assert probe["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE and probe["service"] == SERVICE
    (cold,) = [d for d in documents if "ColdStart" in d]
    assert cold["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function_name", "service"]]
    assert cold["function_name"] == Context.function_name
    assert RUN_ID_PATH == "detail.run_id"


# --- the run id is the correlation id -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BY_RUN_ID))
def test_a_handler_whose_event_names_the_run_logs_its_id_as_the_correlation_id(name, log_lines, monkeypatch):
    step, fixture = BY_RUN_ID[name]
    module = handler_module(name)
    monkeypatch.setattr(module, "training_deps", lambda: None)
    monkeypatch.setattr(module, step, logging_step("step ran"))
    trigger = event(fixture)
    module.lambda_handler(trigger, Context())
    (line,) = [x for x in log_lines() if x["message"] == "step ran"]
    assert line["correlation_id"] == trigger["detail"]["run_id"]


def test_a_warm_container_never_carries_the_last_run_into_the_next_invocation(log_lines, monkeypatch):
    chunks, sweeper = handler_module("evaluate_chunk"), handler_module("sweep_runs")
    monkeypatch.setattr(chunks, "answer_chunk", logging_step("answered"))
    monkeypatch.setattr(chunks, "training_deps", lambda: None)
    monkeypatch.setattr(sweeper, "training_deps", lambda: None)
    monkeypatch.setattr(sweeper, "sweep", lambda deps: logger.info("swept") or _empty_report())
    chunks.lambda_handler(event("sqs_evaluation_chunk.json"), Context())
    sweeper.lambda_handler(event("scheduled_sweep.json"), Context())
    answered, swept = ([x for x in log_lines() if x["message"] == m] for m in ("answered", "swept"))
    assert answered[0]["correlation_id"] == "headlines-0123456789"  # from the message's body
    assert "correlation_id" not in swept[0] and "run_id" not in swept[0]


def _empty_report():
    from ft_pipeline.steps.sweep import SweepReport

    return SweepReport()


def test_a_batch_of_chunks_logs_each_chunk_under_its_own_run(log_lines, monkeypatch):
    module = handler_module("evaluate_chunk")
    monkeypatch.setattr(module, "training_deps", lambda: None)
    monkeypatch.setattr(module, "answer_chunk", lambda chunk, deps: StepOutcome(action="stored", run_id=chunk.run_id))
    batch = event("sqs_evaluation_chunk.json")
    second = json.loads(json.dumps(batch["Records"][0]))
    second["messageId"], second["body"] = "m-2", second["body"].replace("headlines-0123456789", "other-run")
    batch["Records"].append(second)
    module.lambda_handler(batch, Context())
    done = [x for x in log_lines() if x["message"] == "chunk done"]
    assert [(x["correlation_id"], x["run_id"]) for x in done] == [("headlines-0123456789",) * 2, ("other-run",) * 2]


def test_a_job_state_change_is_logged_under_the_run_its_job_belongs_to(log_lines, monkeypatch):
    from types import SimpleNamespace

    module = handler_module("job_state_change")
    monkeypatch.setattr(module, "training_deps", lambda: SimpleNamespace(settings=SimpleNamespace(
        resource_prefix="ftp")))
    monkeypatch.setattr(module, "handle_job_event", logging_step("looked"))
    module.lambda_handler(event("bedrock_job_failed.json"), Context())
    lines = [x for x in log_lines() if x["message"] in ("job state change", "looked")]
    assert [x["correlation_id"] for x in lines] == ["headlines-0123456789"] * 2


def test_the_validator_binds_the_run_it_makes_from_the_upload(log_lines):
    from ft_pipeline.contracts import ObjectRef
    from ft_pipeline.ports import ValidatorDeps
    from ft_pipeline.steps.validate_upload import validate_run
    from tests.fakes import InMemoryLedger, RecordingPublisher

    ledger = InMemoryLedger()
    known = ledger.put("d-7", RunState.VALIDATED)
    deps = ValidatorDeps(settings=None, store=None, ledger=ledger, publisher=RecordingPublisher(), clock=ledger.clock)
    validate_run("d-7", ObjectRef(bucket="bkt", key="incoming/x.csv"), deps, "req", 60_000, known)
    (line,) = [x for x in log_lines() if x["message"].startswith("duplicate delivery")]
    assert line["correlation_id"] == line["run_id"] == "d-7"


def test_the_sweeper_logs_each_run_under_its_id_and_then_none(log_lines, monkeypatch):
    from datetime import timedelta

    from ft_pipeline.steps import sweep as sweeping
    from tests.fakes import InMemoryLedger
    from tests.unit.test_pipeline_metrics import training_deps

    ledger = InMemoryLedger()
    for run_id in ("r-1", "r-2"):
        ledger.put(run_id, RunState.TRAINED, lease={"owner": "deploy", "until": iso(ledger.clock.now()
                                                                                   + timedelta(hours=1))})
    ledger.put("r-3", RunState.TRAINING)  # without a job name: the sweeper's owner fails on it

    def owner(record, deps, now):
        logger.info("looked at a run")
        return StepOutcome(action="waiting", run_id=record.run_id)

    monkeypatch.setitem(sweeping.SWEEPERS, RunState.TRAINED, owner)
    sweeping.sweep(training_deps(ledger))
    lines = log_lines()
    assert [x["correlation_id"] for x in lines if x["message"] == "looked at a run"] == ["r-1", "r-2"]
    (error,) = [x for x in lines if x["message"] == "sweep could not handle a run"]
    assert error["correlation_id"] == "r-3"
    logger.info("after the sweep")
    assert "correlation_id" not in log_lines()[-1]


# --- gauges -------------------------------------------------------------------------------------------------------


def test_a_gauge_is_one_emf_document_with_its_own_dimensions(capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    record_gauge("RunsWaiting", 3, "Count", state="TRAINING")
    record_gauge("RunsStuck", 0, "Count")
    per_state, total = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert per_state["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert per_state["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "state"]]
    assert (per_state["service"], per_state["state"], per_state["RunsWaiting"]) == (SERVICE, "TRAINING", [3.0])
    assert total["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]  # what the alarm matches
