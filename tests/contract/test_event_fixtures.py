"""events/ holds one fixture per trigger and outcome; each parses into its contract model and none drifts."""

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser import parse

from ft_pipeline.contracts import (
    BedrockJobStateChange,
    CustomizationStarted,
    DatasetRejected,
    DatasetValidated,
    DeploymentFailed,
    DeploymentQueued,
    DeploymentStarted,
    EvaluationCompleted,
    EvaluationFailed,
    ImportFailed,
    ImportStarted,
    ModelDeployed,
    ModelImported,
    ModelRejected,
    ModelTrained,
    RunCompleted,
    RunStopped,
    S3ObjectCreatedEvent,
    ScheduledEvent,
    StepRetryRequested,
    StopRequested,
    TrainingFailed,
)
from tests.conftest import EVENTS
from tools.make_event_fixtures import main as make_fixtures

MODELS = {
    "s3_object_created": S3ObjectCreatedEvent,
    "dataset_validated": DatasetValidated,
    "dataset_rejected": DatasetRejected,
    "bedrock_job_": BedrockJobStateChange,
    "scheduled_": ScheduledEvent,
    "stop_requested": StopRequested,
    "step_retry_requested": StepRetryRequested,
    "customization_started": CustomizationStarted,
    "model_trained": ModelTrained,
    "training_failed": TrainingFailed,
    "deployment_started": DeploymentStarted,
    "deployment_queued": DeploymentQueued,
    "model_deployed": ModelDeployed,
    "deployment_failed": DeploymentFailed,
    "run_completed": RunCompleted,
    "run_stopped": RunStopped,
    "evaluation_completed": EvaluationCompleted,
    "evaluation_failed": EvaluationFailed,
    "model_rejected": ModelRejected,
    "import_started": ImportStarted,
    "model_imported": ModelImported,
    "import_failed": ImportFailed,
}


@pytest.mark.parametrize("path", sorted(EVENTS.glob("api_*.json")), ids=lambda p: p.name)
def test_api_fixtures_are_api_gateway_events_the_proxy_answers(path, monkeypatch):
    """Each API fixture parses as an API Gateway proxy event and gets the answer a client would."""
    from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

    from ft_pipeline.headlines import service
    from tests.conftest import REPO

    event = json.loads(path.read_text())
    APIGatewayProxyEventModel.model_validate(event)

    class InstantEndpoint:
        name = "headline-classifier"

        def invoke(self, inputs):
            return [{"predicted_label": "science", "probabilities": {"business": 0.1, "entertainment": 0.1,
                                                                     "health": 0.1, "science": 0.7}}] * len(inputs)

        def status(self):
            return "InService"

    import importlib.util

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "1")
    spec = importlib.util.spec_from_file_location("classify_app_fixture", REPO / "functions/classify_headline/app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setattr(app, "_service", lambda: service.HeadlineService(InstantEndpoint(), ["science"], "v1"))
    from local_emulation.harness import LambdaContext

    result = app.lambda_handler(event, LambdaContext("f", 512, "arn:aws:lambda:us-east-1:1:function:f", 28))
    expected = 422 if "invalid" in path.name else 200
    assert result["statusCode"] == expected, result


def model_for(path: Path):
    return next(model for prefix, model in MODELS.items() if path.stem.startswith(prefix))


def test_the_evaluation_chunk_fixture_is_an_sqs_batch_of_one_chunk():
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    from ft_pipeline.contracts import EvaluationChunk

    batch = SqsModel.model_validate(json.loads((EVENTS / "sqs_evaluation_chunk.json").read_text()))
    (record,) = batch.Records
    chunk = EvaluationChunk.model_validate_json(record.body)
    assert chunk.end - chunk.start == 50 and chunk.sample_uri.endswith("evaluation/sample.jsonl")


@pytest.mark.parametrize("path", sorted(p for p in EVENTS.glob("*.json")
                                      if not p.name.startswith(("api_", "sqs_", "runs_api_"))),
                         ids=lambda p: p.name)
def test_fixture_parses_into_its_model(path):
    model = model_for(path)
    event = parse(event=json.loads(path.read_text()), model=model)
    assert event.detail_type == model.DETAIL_TYPE and event.source == model.SOURCE


def test_fixtures_match_the_models_that_generate_them(tmp_path):
    make_fixtures(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in EVENTS.glob("*.json"))
    for generated in tmp_path.iterdir():
        assert generated.read_text() == (EVENTS / generated.name).read_text(), \
            f"{generated.name} drifted: run `python tools/make_event_fixtures.py`"


def test_encoded_key_fixture_decodes_to_the_real_key():
    event = parse(event=json.loads((EVENTS / "s3_object_created_encoded_key.json").read_text()),
                  model=S3ObjectCreatedEvent)
    assert event.detail.object.key_candidates()[0] == "incoming/team a/news headlines (v2).csv"


@pytest.mark.parametrize("path", sorted(EVENTS.glob("runs_api_*.json")), ids=lambda p: p.name)
def test_runs_api_fixtures_are_signed_requests_for_a_route_of_the_template(path):
    from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

    from local_emulation.api_server import api_routes
    from local_emulation.template import Stack
    from tests.conftest import REPO

    event = APIGatewayProxyEventModel.model_validate(json.loads(path.read_text()))
    routes = api_routes(Stack(REPO / "template.yaml", "fixtures"), ["RunsApi"])
    (route,) = [r for r in routes if r.path == event.resource and r.method == event.httpMethod]
    assert route.match(event.httpMethod, event.path) == (event.pathParameters or {})
    assert event.headers["Authorization"].startswith("AWS4-HMAC-SHA256") and event.requestContext.identity.userArn
