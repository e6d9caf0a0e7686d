"""Custom Model Import: the checks on a model folder, its manifest, its test set, and `make check-model`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ft_pipeline.model_import import (
    CHECK_NAME,
    MANIFEST_NAME,
    ImportManifest,
    ImportVerdict,
    ManifestError,
    Problem,
    check_folder,
    check_test_set,
    parse_manifest,
    write_manifest,
)
from ft_pipeline.model_import.checks import MAX_CONTEXT_TOKENS, MAX_PER_CODE, PROBLEM_CODES
from ft_pipeline.model_import.manifest import scan_folder
from local_emulation.check_model import main

CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "max_position_embeddings": 131072,
          "transformers_version": "4.51.3", "torch_dtype": "bfloat16"}
TOKENIZER_CONFIG = {"tokenizer_class": "PreTrainedTokenizerFast",
                    "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}
TEST_LINES = [{"prompt": "Is this good?", "completion": "positive"},
              {"messages": [{"role": "user", "content": "Bad?"}, {"role": "assistant", "content": "negative"}]}]


def jsonl(records: list[object]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def make_model(folder: Path, config: dict | None = None, tokenizer_config: dict | None = None,
               extra: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """A tiny model folder: real JSON files, fake weights (only their sizes matter)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "config.json": json.dumps(CONFIG if config is None else config).encode(),
        "tokenizer_config.json": json.dumps(TOKENIZER_CONFIG if tokenizer_config is None
                                            else tokenizer_config).encode(),
        "tokenizer.json": b"{}",
        "model.safetensors": b"\0" * 64,
        **(extra or {}),
    }
    for name, data in files.items():
        if name not in drop:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    return folder


def check(folder: Path, region: str = "us-east-1", present: dict[str, int] | None = None,
          **manifest_fields: object) -> ImportVerdict:
    """check_folder on `folder`, with a manifest listing exactly what is there (unless given)."""
    files = {n: s for n, s in scan_folder(folder).items() if n not in (MANIFEST_NAME, CHECK_NAME)}
    manifest = ImportManifest.model_validate({"files": files, **manifest_fields})
    return check_folder(manifest, present if present is not None else scan_folder(folder),
                        lambda name: (folder / name).read_bytes(), region)


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


# --- a good folder ------------------------------------------------------------------------------------------------


def test_a_complete_llama_folder_is_accepted_with_its_facts(tmp_path):
    folder = make_model(tmp_path / "m", extra={"test.jsonl": jsonl(TEST_LINES)})
    verdict = check(folder, test_set="test.jsonl", labels=["positive", "negative"])
    assert verdict.accepted, verdict.render()
    assert verdict.problems == [] and verdict.warnings == []
    assert (verdict.architecture, verdict.family, verdict.context_length) == ("LlamaForCausalLM", "llama", 131072)
    assert verdict.converse_supported and verdict.weights_bytes == 64 and verdict.files_checked == 5
    assert verdict.test_records == 2
    assert verdict.summary().startswith("accepted: LlamaForCausalLM (llama)")
    assert "Facts:" in verdict.render()
    assert ImportVerdict.model_validate_json(verdict.model_dump_json()) == verdict  # import-check.json round trip


def test_the_manifest_and_the_check_file_in_the_folder_are_ignored(tmp_path):
    folder = make_model(tmp_path / "m")
    write_manifest(folder)
    (folder / CHECK_NAME).write_text("{}")
    verdict = check(folder, present={**scan_folder(folder), "": 0, "sub/": 0})  # S3 folder markers too
    assert verdict.accepted, verdict.render()


@pytest.mark.parametrize(("architecture", "family"), [
    ("MistralForCausalLM", "mistral"), ("MixtralForCausalLM", "mixtral"), ("T5ForConditionalGeneration", "flan"),
    ("GPTBigCodeForCausalLM", "gptbigcode"), ("Qwen2ForCausalLM", "qwen2"), ("Qwen3MoeForCausalLM", "qwen3"),
    ("MllamaForConditionalGeneration", "mllama"), ("Qwen2_5_VLForConditionalGeneration", "qwen2-vl"),
    ("GptOssForCausalLM", "gpt-oss"),
])
def test_every_supported_architecture_maps_to_its_family(tmp_path, architecture, family):
    folder = make_model(tmp_path / "m", config={**CONFIG, "architectures": [architecture]})
    verdict = check(folder)
    assert verdict.accepted, verdict.render()
    assert verdict.family == family


# --- one test per rejection -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dropped", ["config.json", "tokenizer_config.json", "model.safetensors", "tokenizer.json"])
def test_a_required_file_missing_is_missing_file(tmp_path, dropped):
    verdict = check(make_model(tmp_path / "m", drop=(dropped,)))
    assert not verdict.accepted
    assert "missing_file" in codes(verdict.problems)
    assert any(dropped in p.message or p.file == "*.safetensors" for p in verdict.problems)


def test_tokenizer_model_stands_in_for_tokenizer_json(tmp_path):
    folder = make_model(tmp_path / "m", drop=("tokenizer.json",), extra={"tokenizer.model": b"sp"})
    assert check(folder).accepted


def test_a_file_the_manifest_lists_but_the_folder_lacks_is_missing_file(tmp_path):
    folder = make_model(tmp_path / "m")
    files = scan_folder(folder)
    manifest = ImportManifest(files={**files, "model-extra.txt": 10})
    verdict = check_folder(manifest, files, lambda n: (folder / n).read_bytes(), "us-east-1")
    assert codes(verdict.problems) == ["missing_file"]
    assert verdict.problems[0].file == "model-extra.txt"


def test_a_size_other_than_the_manifests_is_size_mismatch(tmp_path):
    folder = make_model(tmp_path / "m")
    files = scan_folder(folder)
    manifest = ImportManifest(files={**files, "model.safetensors": 65})
    verdict = check_folder(manifest, files, lambda n: (folder / n).read_bytes(), "us-east-1")
    assert codes(verdict.problems) == ["size_mismatch"]
    assert "64" in verdict.problems[0].message and "65" in verdict.problems[0].message


def test_a_file_in_the_folder_but_not_in_the_manifest_is_unlisted_file(tmp_path):
    folder = make_model(tmp_path / "m")
    files = scan_folder(folder)
    manifest = ImportManifest(files=files)
    verdict = check_folder(manifest, {**files, "notes.txt": 3}, lambda n: (folder / n).read_bytes(), "us-east-1")
    assert codes(verdict.problems) == ["unlisted_file"]


def test_many_stray_files_are_listed_up_to_a_limit_then_counted(tmp_path):
    folder = make_model(tmp_path / "m")
    files = scan_folder(folder)
    stray = {f"junk/{i}.txt": 1 for i in range(MAX_PER_CODE + 10)}
    verdict = check_folder(ImportManifest(files=files), {**files, **stray}, lambda n: (folder / n).read_bytes(),
                           "us-east-1")
    assert len(verdict.problems) == MAX_PER_CODE + 1
    assert "10 more unlisted_file" in verdict.problems[-1].message


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "optimizer.pth", "m.ckpt", "model.gguf",
                                  "tf_model.h5", "training_args.bin"])
def test_weights_in_another_format_are_not_safetensors(tmp_path, name):
    verdict = check(make_model(tmp_path / "m", extra={name: b"x"}))
    assert codes(verdict.problems) == ["not_safetensors"]
    assert verdict.problems[0].file == name and "safetensors" in verdict.problems[0].message


def test_pickled_weights_alone_are_also_missing_safetensors(tmp_path):
    verdict = check(make_model(tmp_path / "m", drop=("model.safetensors",), extra={"pytorch_model.bin": b"x"}))
    assert sorted(codes(verdict.problems)) == ["missing_file", "not_safetensors"]


def test_a_lora_adapter_is_refused(tmp_path):
    folder = make_model(tmp_path / "m", drop=("model.safetensors",),
                        extra={"adapter_config.json": b"{}", "adapter_model.safetensors": b"\0"})
    verdict = check(folder)
    assert "lora_adapter" in codes(verdict.problems)
    assert "merge" in next(p for p in verdict.problems if p.code == "lora_adapter").message


SHARDS = {"model-00001-of-00002.safetensors": b"\0" * 10, "model-00002-of-00002.safetensors": b"\0" * 20}


def index(*shards: str) -> bytes:
    return json.dumps({"metadata": {"total_size": 30},
                       "weight_map": {f"layer.{i}": s for i, s in enumerate(shards)}}).encode()


def test_a_sharded_model_with_its_index_is_accepted(tmp_path):
    folder = make_model(tmp_path / "m", drop=("model.safetensors",),
                        extra={**SHARDS, "model.safetensors.index.json": index(*SHARDS)})
    verdict = check(folder)
    assert verdict.accepted, verdict.render()
    assert verdict.weights_bytes == 30


def test_an_index_naming_an_absent_shard_is_bad_shard_index(tmp_path):
    folder = make_model(tmp_path / "m", drop=("model.safetensors",),
                        extra={"model-00001-of-00002.safetensors": b"\0",
                               "model.safetensors.index.json": index(*SHARDS)})
    verdict = check(folder)
    assert set(codes(verdict.problems)) == {"bad_shard_index"}
    assert any("model-00002-of-00002.safetensors" in p.message for p in verdict.problems)


@pytest.mark.parametrize(("index_bytes", "needle"), [
    (None, "index.json is not in the folder"),
    (b"{not json", "not valid JSON"),
    (b'{"metadata": {}}', "weight_map"),
])
def test_shards_without_a_usable_index_are_bad_shard_index(tmp_path, index_bytes, needle):
    extra = dict(SHARDS)
    if index_bytes is not None:
        extra["model.safetensors.index.json"] = index_bytes
    verdict = check(make_model(tmp_path / "m", drop=("model.safetensors",), extra=extra))
    assert codes(verdict.problems) == ["bad_shard_index"]
    assert needle in verdict.problems[0].message


def test_weights_the_index_does_not_name_are_a_warning(tmp_path):
    folder = make_model(tmp_path / "m", extra={**SHARDS, "model.safetensors.index.json": index(*SHARDS)})
    verdict = check(folder)
    assert verdict.accepted
    assert codes(verdict.warnings) == ["unindexed_weights"]


def test_a_config_that_does_not_parse_is_bad_config_with_its_line(tmp_path):
    folder = make_model(tmp_path / "m")
    (folder / "config.json").write_text('{\n  "architectures": ["LlamaForCausalLM"],\n}\n')
    verdict = check(folder)
    assert codes(verdict.problems) == ["bad_config"]
    assert (verdict.problems[0].file, verdict.problems[0].line) == ("config.json", 3)
    assert "line 3" in verdict.problems[0].message


def test_a_config_without_architectures_is_bad_config(tmp_path):
    verdict = check(make_model(tmp_path / "m", config={"model_type": "llama"}))
    assert codes(verdict.problems) == ["bad_config"]
    assert verdict.problems[0].field == "architectures"


def test_an_architecture_bedrock_does_not_import_is_unsupported_architecture(tmp_path):
    verdict = check(make_model(tmp_path / "m", config={**CONFIG, "architectures": ["Gemma2ForCausalLM"]}))
    assert codes(verdict.problems) == ["unsupported_architecture"]
    assert "LlamaForCausalLM" in verdict.problems[0].message  # says what is supported


@pytest.mark.parametrize("architecture", ["BertModel", "RobertaForSequenceClassification", "LlamaModel",
                                          "T5EncoderModel", "BertForMaskedLM"])
def test_an_embedding_or_encoder_model_is_embedding_model(tmp_path, architecture):
    verdict = check(make_model(tmp_path / "m", config={**CONFIG, "architectures": [architecture]}))
    assert codes(verdict.problems) == ["embedding_model"]


def test_a_sentence_transformers_folder_is_embedding_model(tmp_path):
    folder = make_model(tmp_path / "m", config={**CONFIG, "architectures": ["Qwen3ForCausalLM"]},
                        extra={"modules.json": b"[]", "1_Pooling/config.json": b"{}"})
    assert "embedding_model" in codes(check(folder).problems)


def test_weights_over_the_text_limit_are_too_large(tmp_path):
    folder = make_model(tmp_path / "m")
    files = {**scan_folder(folder), "model.safetensors": 200 * 10**9}
    verdict = check_folder(ImportManifest(files=files), files, lambda n: (folder / n).read_bytes(), "us-east-1")
    assert codes(verdict.problems) == ["too_large"]
    assert verdict.weights_bytes == 200 * 10**9


def test_multimodal_weights_have_the_lower_limit(tmp_path):
    folder = make_model(tmp_path / "m", config={**CONFIG, "architectures": ["MllamaForConditionalGeneration"]})
    files = {**scan_folder(folder), "model.safetensors": 150 * 10**9}
    verdict = check_folder(ImportManifest(files=files), files, lambda n: (folder / n).read_bytes(), "us-east-1")
    assert codes(verdict.problems) == ["too_large"] and "100 GB" in verdict.problems[0].message
    text_folder = make_model(tmp_path / "t")
    text_files = {**scan_folder(text_folder), "model.safetensors": 150 * 10**9}
    assert check_folder(ImportManifest(files=text_files), text_files, lambda n: (text_folder / n).read_bytes(),
                        "us-east-1").accepted


def test_a_context_above_128k_is_context_too_long(tmp_path):
    verdict = check(make_model(tmp_path / "m", config={**CONFIG, "max_position_embeddings": 262144}))
    assert codes(verdict.problems) == ["context_too_long"]
    assert verdict.problems[0].field == "max_position_embeddings"
    assert str(MAX_CONTEXT_TOKENS) in verdict.problems[0].message


def test_the_context_is_read_where_the_family_keeps_it(tmp_path):
    gpt = {"architectures": ["GPTBigCodeForCausalLM"], "n_positions": 8192}
    assert check(make_model(tmp_path / "a", config=gpt)).context_length == 8192
    mllama = {"architectures": ["MllamaForConditionalGeneration"], "text_config": {"max_position_embeddings": 200000}}
    verdict = check(make_model(tmp_path / "b", config=mllama))
    assert codes(verdict.problems) == ["context_too_long"]
    assert verdict.problems[0].field == "text_config.max_position_embeddings"


def test_an_unlisted_tokenizer_class_is_unsupported_tokenizer(tmp_path):
    verdict = check(make_model(tmp_path / "m", tokenizer_config={**TOKENIZER_CONFIG,
                                                                 "tokenizer_class": "GemmaTokenizerFast"}))
    assert codes(verdict.problems) == ["unsupported_tokenizer"]


def test_transformers_5s_tokenizers_backend_says_what_to_set(tmp_path):
    verdict = check(make_model(tmp_path / "m", tokenizer_config={**TOKENIZER_CONFIG,
                                                                 "tokenizer_class": "TokenizersBackend"}))
    assert codes(verdict.problems) == ["unsupported_tokenizer"]
    assert '"PreTrainedTokenizerFast"' in verdict.problems[0].message


def test_no_chat_template_is_a_problem_with_a_test_set_and_a_warning_without(tmp_path):
    bare = {"tokenizer_class": "LlamaTokenizerFast"}
    folder = make_model(tmp_path / "m", tokenizer_config=bare, extra={"test.jsonl": jsonl(TEST_LINES)})
    verdict = check(folder, test_set="test.jsonl")
    assert codes(verdict.problems) == ["no_chat_template"] and not verdict.converse_supported
    verdict = check(folder)
    assert verdict.accepted and codes(verdict.warnings) == ["no_chat_template"]
    assert "Converse will not be available" in verdict.warnings[0].message


def test_a_template_in_chat_template_jinja_is_pointed_out(tmp_path):
    folder = make_model(tmp_path / "m", tokenizer_config={"tokenizer_class": "Qwen2TokenizerFast"},
                        extra={"chat_template.jinja": b"{{ messages }}"})
    verdict = check(folder)
    assert codes(verdict.warnings) == ["no_chat_template"]
    assert "chat_template.jinja" in verdict.warnings[0].message


@pytest.mark.parametrize("architecture", ["GptOssForCausalLM", "Qwen3ForCausalLM", "Qwen2VLForConditionalGeneration"])
def test_invoke_model_only_families_are_a_problem_with_a_test_set_and_a_warning_without(tmp_path, architecture):
    folder = make_model(tmp_path / "m", config={**CONFIG, "architectures": [architecture]},
                        extra={"test.jsonl": jsonl(TEST_LINES)})
    verdict = check(folder, test_set="test.jsonl")
    assert codes(verdict.problems) == ["invoke_model_only"] and not verdict.converse_supported
    verdict = check(folder)
    assert verdict.accepted and codes(verdict.warnings) == ["invoke_model_only"]


def test_qwen2_with_a_test_set_warns_that_converse_may_fail(tmp_path):
    folder = make_model(tmp_path / "m", config={**CONFIG, "architectures": ["Qwen2ForCausalLM"]},
                        extra={"test.jsonl": jsonl(TEST_LINES)})
    verdict = check(folder, test_set="test.jsonl")
    assert verdict.accepted and codes(verdict.warnings) == ["converse_uncertain"]


@pytest.mark.parametrize("region", ["eu-central-1", "us-east-1", "us-east-2", "us-west-2"])
def test_the_regions_import_is_offered_in(tmp_path, region):
    assert check(make_model(tmp_path / "m"), region=region).accepted


def test_another_region_is_region_not_supported(tmp_path):
    verdict = check(make_model(tmp_path / "m"), region="ap-southeast-2")
    assert codes(verdict.problems) == ["region_not_supported"]


def test_gpt_oss_is_us_east_1_only(tmp_path):
    folder = make_model(tmp_path / "m", config={**CONFIG, "architectures": ["GptOssForCausalLM"]})
    assert check(folder, region="us-east-1").accepted
    verdict = check(folder, region="us-west-2")
    assert codes(verdict.problems) == ["region_not_supported"] and "us-east-1" in verdict.problems[0].message


def test_a_bad_test_set_rejects_the_folder_with_its_lines(tmp_path):
    folder = make_model(tmp_path / "m", extra={"test.jsonl": b'{"prompt": "a", "completion": "maybe"}\n'})
    verdict = check(folder, test_set="test.jsonl", labels=["yes", "no"])
    assert codes(verdict.problems) == ["bad_test_set"]
    assert verdict.problems[0].line == 1 and verdict.test_records == 0


def test_a_test_set_over_10_mb_is_not_read(tmp_path):
    folder = make_model(tmp_path / "m", extra={"test.jsonl": jsonl(TEST_LINES)})
    files = {**scan_folder(folder), "test.jsonl": 11_000_000}

    def read(name: str) -> bytes:
        assert name != "test.jsonl"
        return (folder / name).read_bytes()

    verdict = check_folder(ImportManifest(files=files, test_set="test.jsonl"), files, read, "us-east-1")
    assert codes(verdict.problems) == ["file_too_large"]


def test_weights_are_never_read(tmp_path):
    folder = make_model(tmp_path / "m", extra={**SHARDS, "model.safetensors.index.json": index(*SHARDS)})
    seen: list[str] = []
    files = scan_folder(folder)
    check_folder(ImportManifest(files=files), files, lambda n: seen.append(n) or (folder / n).read_bytes(),
                 "us-east-1")
    assert not [n for n in seen if n.endswith(".safetensors")]
    assert sorted(seen) == ["config.json", "model.safetensors.index.json", "tokenizer_config.json"]


# --- everything at once, and warnings -------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once(tmp_path):
    folder = make_model(
        tmp_path / "m",
        config={**CONFIG, "architectures": ["BertModel"], "max_position_embeddings": 1_000_000},
        tokenizer_config={"tokenizer_class": "TokenizersBackend"},
        drop=("tokenizer.json",),
        extra={"pytorch_model.bin": b"x", "test.jsonl": b"not json\n"},
    )
    files = scan_folder(folder)
    manifest = ImportManifest(files={**files, "model.safetensors": 1, "gone.txt": 5}, test_set="test.jsonl")
    verdict = check_folder(manifest, {**files, "stray.txt": 1}, lambda n: (folder / n).read_bytes(), "sa-east-1")
    assert set(codes(verdict.problems)) == {
        "missing_file", "size_mismatch", "unlisted_file", "not_safetensors", "embedding_model", "context_too_long",
        "unsupported_tokenizer", "no_chat_template", "region_not_supported", "bad_test_set"}
    assert not verdict.accepted and verdict.summary().startswith("rejected: 11 problems")
    rendered = verdict.render()
    assert all(p.message in rendered for p in verdict.problems)
    assert all(code in PROBLEM_CODES for code in codes(verdict.problems))


def test_newer_transformers_and_quantization_are_warnings(tmp_path):
    config = {**CONFIG, "transformers_version": "4.57.0.dev0", "quantization_config": {"quant_method": "gptq"}}
    verdict = check(make_model(tmp_path / "m", config=config))
    assert verdict.accepted
    assert codes(verdict.warnings) == ["newer_transformers", "quantized"]
    assert "Warnings:" in verdict.render()
    assert verdict.summary().endswith("2 warnings")


def test_gpt_oss_mxfp4_weights_are_not_warned_about(tmp_path):
    config = {**CONFIG, "architectures": ["GptOssForCausalLM"], "quantization_config": {"quant_method": "mxfp4"}}
    assert codes(check(make_model(tmp_path / "m", config=config)).warnings) == ["invoke_model_only"]
    other = {**config, "quantization_config": {"quant_method": "gptq"}}
    assert codes(check(make_model(tmp_path / "n", config=other)).warnings) == ["quantized", "invoke_model_only"]


def test_evaluation_settings_without_a_test_set_are_a_warning(tmp_path):
    verdict = check(make_model(tmp_path / "m"), base_model_id="meta.llama3-2-1b-instruct-v1:0")
    assert verdict.accepted and codes(verdict.warnings) == ["no_test_set"]


# --- the manifest ---------------------------------------------------------------------------------------------------


def test_a_manifest_with_a_syntax_error_names_file_line_and_column():
    with pytest.raises(ManifestError) as caught:
        parse_manifest(b'{\n  "files": {"config.json": 1}\n  "test_set": "t.jsonl"\n}', "models/x/import-manifest.json")
    (problem,) = caught.value.problems
    assert (problem.code, problem.file, problem.line) == ("bad_manifest", "models/x/import-manifest.json", 3)
    assert "line 3, column 3" in problem.message and problem.message.startswith("models/x/import-manifest.json")


def test_a_manifest_with_an_unknown_field_names_it():
    with pytest.raises(ManifestError) as caught:
        parse_manifest(b'{"files": {"a": 1}, "test_sets": "t.jsonl", "evaluation": {"max_token": 5}}', "m.json")
    fields = sorted(p.field for p in caught.value.problems)
    assert fields == ["evaluation.max_token", "test_sets"]
    assert "unknown field" in str(caught.value)


@pytest.mark.parametrize("name", ["../escape.json", "/abs.json", "a/../b", "a//b", "a\\b", MANIFEST_NAME, ""])
def test_a_manifest_file_name_outside_the_folder_is_refused(name):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(json.dumps({"files": {name: 1}}).encode(), "m.json")
    assert caught.value.problems[0].field.startswith("files[")


@pytest.mark.parametrize(("manifest", "field"), [
    ({"files": {}}, "files"),
    ({"files": {"a": -1}}, "files['a']"),
    ({"files": {"a": 1.5}}, "files['a']"),
    ({"files": {"a": 1}, "test_set": "t.jsonl"}, "test_set"),
    ({"files": {"a": 1}, "labels": []}, "labels"),
    ({"files": {"a": 1}, "labels": ["x", " x"]}, "labels"),
    ({"files": {"a": 1}, "version": "no spaces"}, "version"),
    ({"files": {"a": 1}, "evaluation": {"max_examples": 1001}}, "evaluation.max_examples"),
    ({"files": {"a": 1}, "evaluation": {"max_tokens": 0}}, "evaluation.max_tokens"),
    ({"files": {"a": 1}, "base_model_id": "has space"}, "base_model_id"),
])
def test_manifest_rules_name_the_field(manifest, field):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(json.dumps(manifest).encode(), "m.json")
    assert [p.field for p in caught.value.problems] == [field]


@pytest.mark.parametrize("raw", [b"[1]", b"\xff\xfe", b'{"files": {"a": 1, "a": 2}}', b'{"files": {"a": NaN}}'])
def test_a_manifest_that_is_not_a_json_object_is_bad_manifest(raw):
    with pytest.raises(ManifestError) as caught:
        parse_manifest(raw, "m.json")
    assert caught.value.problems[0].code == "bad_manifest"


def test_manifest_defaults():
    manifest = parse_manifest(b'{"files": {"config.json": 10}}', "m.json")
    assert manifest.version == "1" and manifest.test_set is None and manifest.evaluation is None
    assert (manifest.evaluation_options.max_examples, manifest.evaluation_options.max_tokens) == (200, 16)


def test_write_manifest_round_trips_and_never_overwrites(tmp_path):
    folder = make_model(tmp_path / "m", extra={"test.jsonl": jsonl(TEST_LINES), "sub/extra.txt": b"abc"})
    (folder / CHECK_NAME).write_text("{}")
    written = write_manifest(folder, test_set="test.jsonl", base_model_id="meta.llama3-2-1b-instruct-v1:0",
                             labels=["positive", "negative"])
    parsed = parse_manifest((folder / MANIFEST_NAME).read_bytes(), "m.json")
    assert parsed == written
    assert parsed.files["model.safetensors"] == 64 and parsed.files["sub/extra.txt"] == 3
    assert MANIFEST_NAME not in parsed.files and CHECK_NAME not in parsed.files
    with pytest.raises(FileExistsError):
        write_manifest(folder)


def test_write_manifest_refuses_a_test_set_not_in_the_folder(tmp_path):
    folder = make_model(tmp_path / "m")
    with pytest.raises(ManifestError) as caught:
        write_manifest(folder, test_set="missing.jsonl")
    assert caught.value.problems[0].field == "test_set"
    assert not (folder / MANIFEST_NAME).exists()


# --- the test set ---------------------------------------------------------------------------------------------------


def test_a_good_test_set_in_both_shapes():
    data = jsonl([
        {"prompt": "p", "completion": "c", "system": "s"},
        {"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "s"}],
         "messages": [{"role": "user", "content": [{"text": "u"}]}, {"role": "assistant", "content": "x"},
                      {"role": "user", "content": "again"}, {"role": "assistant", "content": [{"text": "a"}]}]},
    ]) + b"\n\r\n"
    assert check_test_set(data, "t.jsonl", None) == ([], 2)


@pytest.mark.parametrize(("line", "field", "needle"), [
    (b"{broken", None, "not valid JSON"),
    (b"[1, 2]", None, "expected a JSON object"),
    (b'{"text": "a", "label": "b"}', None, "expected"),
    (b'{"prompt": "p"}', "completion", "missing field"),
    (b'{"prompt": "", "completion": "c"}', "prompt", "empty"),
    (b'{"prompt": 3, "completion": "c"}', "prompt", "must be a string"),
    (b'{"prompt": "p", "completion": "c", "extra": 1}', "extra", "unexpected field"),
    (b'{"prompt": "p", "completion": "c", "messages": []}', "messages", "not both"),
    (b'{"messages": [{"role": "user", "content": "u"}]}', "messages", "at least"),
    (b'{"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}]}',
     "messages[0].role", "expected 'user'"),
    (b'{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}, '
     b'{"role": "user", "content": "u"}]}', "messages[2].role", "last message"),
    (b'{"messages": [{"role": "user", "content": [{"image": {}}]}, {"role": "assistant", "content": "a"}]}',
     "messages[0].content[0]", "only text"),
    (b'{"messages": [{"role": "user", "content": []}, {"role": "assistant", "content": "a"}]}',
     "messages[0].content", "non-empty list"),
    (b'{"schemaVersion": "v2", "messages": []}', "schemaVersion", "schemaVersion"),
    (b'{"system": [{"text": ""}], "messages": []}', "system[0].text", "empty"),
    (b'\xff{"prompt": "p"}', None, "not UTF-8"),
])
def test_a_test_set_line_error_names_line_and_field(line, field, needle):
    problems, usable = check_test_set(jsonl([TEST_LINES[0]]) + line + b"\n", "t.jsonl", None)
    assert usable == 1
    (problem,) = problems
    assert (problem.code, problem.file, problem.line, problem.field) == ("bad_test_set", "t.jsonl", 2, field)
    assert needle in problem.message and "t.jsonl line 2" in problem.message


def test_an_answer_outside_the_labels_is_quoted_short():
    long_answer = "a very long answer that is certainly not a label " * 3
    problems, usable = check_test_set(jsonl([TEST_LINES[1], {"prompt": "p", "completion": long_answer}]),
                                      "t.jsonl", ["positive", "negative"])
    assert usable == 1
    assert problems[0].line == 2 and problems[0].field == "completion"
    assert "…" in problems[0].message and long_answer not in problems[0].message


def test_test_set_problems_stop_after_20_with_a_count():
    problems, usable = check_test_set(b"nope\n" * 30, "t.jsonl", None)
    assert usable == 0 and len(problems) == 21
    assert "10 more lines" in problems[-1].message and problems[-1].line is None


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_an_empty_test_set_is_a_problem(data):
    problems, usable = check_test_set(data, "t.jsonl", None)
    assert usable == 0 and "empty" in problems[0].message


def test_a_test_set_over_10_mb_is_refused_unread():
    problems, usable = check_test_set(b" " * 10_000_001, "t.jsonl", None)
    assert usable == 0 and "10,000,000" in problems[0].message


# --- make check-model -----------------------------------------------------------------------------------------------


def test_the_command_writes_a_manifest_then_accepts_the_folder(tmp_path, capsys):
    folder = make_model(tmp_path / "m", extra={"test.jsonl": jsonl(TEST_LINES)})
    assert main([str(folder), "--write-manifest", "--test-set", "test.jsonl", "--label", "positive",
                 "--label", "negative", "--region", "eu-central-1"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "accepted" in out
    assert json.loads((folder / MANIFEST_NAME).read_text())["labels"] == ["positive", "negative"]
    assert main([str(folder)]) == 0


def test_the_command_exits_1_on_a_rejected_folder(tmp_path, capsys):
    folder = make_model(tmp_path / "m", extra={"pytorch_model.bin": b"x"})
    write_manifest(folder)
    assert main([str(folder)]) == 1
    assert "not_safetensors" in capsys.readouterr().out


def test_the_command_exits_1_on_an_unusable_manifest(tmp_path, capsys):
    folder = make_model(tmp_path / "m")
    (folder / MANIFEST_NAME).write_text('{"files": ')
    assert main([str(folder)]) == 1
    assert "bad_manifest" in capsys.readouterr().out


def test_the_command_exits_2_on_usage_errors(tmp_path, capsys):
    assert main([str(tmp_path / "absent")]) == 2
    assert "no such folder" in capsys.readouterr().err
    folder = make_model(tmp_path / "m")
    assert main([str(folder)]) == 2
    assert "WRITE_MANIFEST=1" in capsys.readouterr().err
    assert main([str(folder), "--test-set", "t.jsonl"]) == 2  # only with --write-manifest
    assert main([str(folder), "--write-manifest", "--test-set", "absent.jsonl"]) == 2
    assert not (folder / MANIFEST_NAME).exists()
    write_manifest(folder)
    before = (folder / MANIFEST_NAME).read_bytes()
    assert main([str(folder), "--write-manifest"]) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert (folder / MANIFEST_NAME).read_bytes() == before
