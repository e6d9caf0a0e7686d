"""A model folder's run id, job and model names: deterministic, inside Bedrock's rules, and one folder per run."""

import pytest

from ft_pipeline.naming import (
    CUSTOM_MODEL_NAME,
    JOB_NAME,
    import_job_name,
    import_token,
    imported_model_name,
    model_run_id,
)
from ft_pipeline.settings import SettingsError, TrainingSettings
from ft_pipeline.steps.import_model import folder_of

ENV = {"DATA_BUCKET": "b", "LEDGER_TABLE": "t", "EVENT_BUS_NAME": "bus", "RESOURCE_PREFIX": "ftp"}


@pytest.mark.parametrize("folder", ["models/tiny-llama/", "models/A Very Long Folder Name With Spaces And ÜNICODE "
                                    "that goes on and on/", "models/___/", "models/x/"])
def test_names_fit_bedrocks_rules_for_any_folder_name(folder):
    run_id = model_run_id("bucket", folder, "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
    assert len(run_id) <= 35 and run_id == run_id.lower()
    for prefix in ("ftp", "abcdefghijkl"):  # the longest prefix the template allows
        assert JOB_NAME.fullmatch(import_job_name(prefix, run_id))
        assert CUSTOM_MODEL_NAME.fullmatch(imported_model_name(prefix, run_id))
        assert len(imported_model_name(prefix, run_id)) <= 63


def test_a_new_manifest_version_is_a_new_run_and_the_same_one_is_the_same():
    first = model_run_id("bucket", "models/m/", "v1")
    assert model_run_id("bucket", "models/m/", "v1") == first
    assert model_run_id("bucket", "models/m/", "v2") != first
    assert model_run_id("other", "models/m/", "v1") != first
    assert import_token("ftp", first) == import_token("ftp", first) != import_token("ftp", model_run_id("b", "m/", "1"))


@pytest.mark.parametrize(("key", "folder"), [
    ("models/m/config.json", "models/m/"), ("models/m/sub/shard.safetensors", "models/m/"),
    ("models/config.json", None), ("models/", None), ("incoming/m/config.json", None), ("models//x", None)])
def test_the_folder_of_a_key(key, folder):
    assert folder_of(key, "models/") == folder


def test_a_models_prefix_inside_the_datasets_prefix_is_refused():
    with pytest.raises(SettingsError, match="must not overlap"):
        _from(ENV | {"MODELS_PREFIX": "datasets/models/"})
    assert _from(ENV).models_prefix == "models/"


def _from(env):
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, env, clear=True):
        return TrainingSettings.from_env()
