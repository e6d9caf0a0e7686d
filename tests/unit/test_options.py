import json

import pytest

from ft_pipeline.catalogue.base_models import CATALOGUE, OutputFormat, resolve_base_model
from ft_pipeline.catalogue.hyperparameters import NovaHyperparameters, hyperparameters_for
from ft_pipeline.catalogue.options import InvalidOptions, resolve_options

DEFAULTS = {"base_model": "amazon.nova-micro-v1:0:128k", "hyperparameters": {"epochCount": "3"}}


def test_manifest_overrides_stack_defaults_field_by_field():
    options = resolve_options(DEFAULTS, json.dumps({"split": {"train": 0.7, "validation": 0.2, "test": 0.1}}).encode(),
                              "m.json")
    assert options.split.validation == 0.2
    assert options.epochs == 3  # from the stack default
    assert options.api_hyperparameters() == {"epochCount": "3", "learningRate": "1e-05",
                                             "learningRateWarmupSteps": "10"}


def test_another_model_drops_the_default_models_hyperparameters():
    options = resolve_options(DEFAULTS, b'{"base_model": "meta.llama3-1-8b-instruct-v1"}', "m.json")
    assert options.base_model == "meta.llama3-1-8b-instruct-v1:0:128k"
    assert options.epochs == 5  # Llama's default, not Nova's 3


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (b"{not json", "m.json: not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"epochs": 3}', "epochs: Extra inputs are not permitted"),
        (b'{"base_model": "gpt-4"}', "unknown base model 'gpt-4'"),
        (b'{"hyperparameters": {"epochCount": 9}}',
         "hyperparameters.epochCount: Input should be less than or equal to 5"),
        (b'{"hyperparameters": {"batchSize": 8}}', "hyperparameters.batchSize: Extra inputs"),
        (b'{"split": {"train": 0.5, "validation": 0.1, "test": 0.1}}', "split ratios must sum to 1"),
        (b'{"base_model": "meta.llama3-1-8b-instruct-v1", "deployment": {"mode": "on-demand"}}', "not offered"),
        (b'{"base_model": "amazon.titan-text-lite-v1"}', "can no longer be fine-tuned: Titan Text models reached"),
        (b'{"base_model": "cohere.command-text-v14"}', "end of life on 2025-08-12"),
        (b'{"base_model": "anthropic.claude-3-haiku-20240307-v1:0"}', "end of life on 2026-09-10"),
        (b'{"base_model": "meta.llama3-2-1b-instruct-v1"}', "choose one of amazon.nova-micro-v1:0:128k"),
        (b'{"labels": ["a"]}', "at least two distinct"),
    ],
)
def test_invalid_manifests_say_what_and_where(manifest, message):
    with pytest.raises(InvalidOptions, match="m.json") as err:
        resolve_options(DEFAULTS, manifest, "m.json")
    assert message in str(err.value)


def test_models_are_found_with_or_without_context_suffix():
    assert resolve_base_model("anthropic.claude-3-haiku-20240307-v1:0").retired  # known, and known to be retired
    assert resolve_base_model("amazon.nova-pro-v1:0:300k").family.value == "nova"
    assert resolve_base_model("meta.llama3-1-8b-instruct-v1").output_format is OutputFormat.PROMPT_COMPLETION
    assert len({m.model_id for m in CATALOGUE}) == len(CATALOGUE)


def test_hyperparameters_accept_api_strings_and_serialise_back_to_strings():
    hp = hyperparameters_for(resolve_base_model("amazon.nova-lite-v1:0:300k").family,
                             {"epochCount": "4", "learningRate": "0.00005"})
    assert isinstance(hp, NovaHyperparameters)
    assert hp.as_api_map() == {"epochCount": "4", "learningRate": "5e-05", "learningRateWarmupSteps": "10"}


STACK = {"region": "us-east-1", "pt_hourly_usd": None, "cost_ceiling_usd": 100.0}


@pytest.mark.parametrize(("model", "region", "mode"), [
    ("amazon.nova-micro-v1:0:128k", "us-east-1", "on-demand"),  # AWS offers on-demand deployment there
    ("amazon.nova-micro-v1:0:128k", "eu-west-1", "none"),  # not in that region
    ("meta.llama3-1-8b-instruct-v1", "us-east-1", "none"),  # not for that model anywhere
    ("amazon.nova-2-lite-v1", "us-east-1", "on-demand"),
    ("meta.llama3-3-70b-instruct-v1:0:128k", "us-west-2", "on-demand"),
    ("meta.llama3-3-70b-instruct-v1:0:128k", "us-east-1", "none"),
])
def test_auto_deploys_on_demand_where_aws_offers_it_and_otherwise_not_at_all(model, region, mode):
    options = resolve_options({"base_model": model}, None, "stack", STACK | {"region": region})
    assert options.deployment.mode.value == mode


def test_an_unsupported_mode_region_pair_is_refused_at_the_door_with_the_reason():
    with pytest.raises(InvalidOptions, match="not offered for amazon.nova-micro-v1:0:128k in eu-west-1"):
        resolve_options(DEFAULTS, b'{"deployment": {"mode": "on-demand"}}', "m.json", STACK | {"region": "eu-west-1"})


def test_provisioned_throughput_is_refused_while_the_stack_does_not_know_its_price():
    with pytest.raises(InvalidOptions, match="ProvisionedThroughputHourlyUsd"):
        resolve_options(DEFAULTS, b'{"deployment": {"mode": "provisioned"}}', "m.json", STACK)
    priced = resolve_options(DEFAULTS, b'{"deployment": {"mode": "provisioned"}}', "m.json",
                             STACK | {"pt_hourly_usd": 20.0})
    assert priced.deployment.mode.value == "provisioned"


def test_a_run_may_lower_the_stacks_cost_ceiling_but_not_raise_it():
    assert resolve_options(DEFAULTS, b'{"cost_ceiling_usd": 5}', "m.json", STACK).cost_ceiling_usd == 5
    assert resolve_options(DEFAULTS, b'{"cost_ceiling_usd": 500}', "m.json", STACK).cost_ceiling_usd == 100


def test_an_evaluation_chunk_that_could_outlast_a_lambda_is_refused():
    with pytest.raises(InvalidOptions, match="calls in sequence per chunk"):
        resolve_options(DEFAULTS, b'{"evaluation": {"chunk_size": 200, "concurrency": 1}}', "m.json", STACK)
    assert resolve_options(DEFAULTS, b'{"evaluation": {"chunk_size": 100, "concurrency": 8}}', "m.json",
                           STACK).evaluation.chunk_size == 100
