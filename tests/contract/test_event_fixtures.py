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
    ModelTrained,
    S3ObjectCreatedEvent,
    ScheduledEvent,
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
    "customization_started": CustomizationStarted,
    "model_trained": ModelTrained,
    "training_failed": TrainingFailed,
}


def model_for(path: Path):
    return next(model for prefix, model in MODELS.items() if path.stem.startswith(prefix))


@pytest.mark.parametrize("path", sorted(EVENTS.glob("*.json")), ids=lambda p: p.name)
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
