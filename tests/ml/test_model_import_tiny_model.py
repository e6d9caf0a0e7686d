"""ml/model_import: the tiny Llama built for Bedrock Custom Model Import, and Converse answered from its folder.
Very small models and few steps: nothing is downloaded."""

from __future__ import annotations

import json

import pytest

from ml.model_import import tiny_model
from ml.model_import.generate import LoadedModel
from ml.model_import.tiny_model import SYSTEM_PROMPT, build_tiny_model, portable_tokenizer_config, read_pairs
from tests.conftest import HEADLINES

TINY = {"hidden_size": 32, "layers": 1, "heads": 2, "kv_heads": 1, "intermediate_size": 64, "vocab_size": 600,
        "max_position_embeddings": 128}
LEARN = {"steps": 150, "batch_size": 4, "learning_rate": 5e-3, **TINY}
FOUR = [("Stocks rally as bank profits soar", "business"), ("NASA probe finds water on distant moon", "science"),
        ("Pop star announces world tour dates", "entertainment"), ("New vaccine cuts flu cases in half", "health")]


def ask(folder, headline: str, max_tokens: int = 8) -> tuple[str, int, int]:
    return LoadedModel.load(folder).converse(SYSTEM_PROMPT, [{"role": "user", "content": [{"text": headline}]}],
                                             max_tokens)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-llama")
    summary = build_tiny_model(out, read_pairs(HEADLINES / "train.csv", limit=50), steps=20, batch_size=8, **TINY)
    return out, summary


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-llama-four")
    return out, build_tiny_model(out, FOUR, **LEARN)


def test_folder_has_the_shape_bedrock_import_takes(built):
    out, summary = built
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".jinja"))]
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["model_type"] == "llama"
    assert config["max_position_embeddings"] == 128 and config["torch_dtype"] == "float32"
    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert "backend" not in tokenizer_config
    assert "<|start_header_id|>" in tokenizer_config["chat_template"]
    assert tokenizer_config["eos_token"] == "<|eot_id|>" and tokenizer_config["bos_token"] == "<|begin_of_text|>"
    assert summary["steps"] == 20 and summary["params"] > 0 and summary["final_loss"] is not None
    assert summary["examples"] == 50 and summary["seconds"] >= 0


def test_converse_returns_text_and_token_counts(built):
    out, _ = built
    text, input_tokens, output_tokens = ask(out, "Fed raises interest rates again", max_tokens=5)
    assert isinstance(text, str) and text == text.strip()
    assert input_tokens > 10 and 1 <= output_tokens <= 5
    assert ask(out, "Fed raises interest rates again", max_tokens=5) == (text, input_tokens, output_tokens)


def test_load_is_cached_per_folder_and_mtime(built):
    out, _ = built
    assert LoadedModel.load(out) is LoadedModel.load(out)


def test_converse_renders_the_folders_chat_template(built):
    out, _ = built
    loaded = LoadedModel.load(out)
    prompt = loaded.render("Be brief.", [{"role": "user", "content": [{"text": "Hi"}]},
                                         {"role": "assistant", "content": [{"text": "Hello"}]},
                                         {"role": "user", "content": [{"text": "A"}, {"text": "B"}]}])
    assert prompt == ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                      "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                      "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
                      "<|start_header_id|>user<|end_header_id|>\n\nAB<|eot_id|>"
                      "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert not loaded.render(None, [{"role": "user", "content": [{"text": "Hi"}]}]).count("system")


@pytest.mark.parametrize("messages", [
    [{"role": "system", "content": [{"text": "x"}]}],
    [{"role": "user", "content": [{"image": {"format": "png"}}]}],
    [{"role": "user", "content": [{"text": "x"}]}, {"role": "assistant", "content": [{"text": "y"}]}],
    [],
])
def test_converse_refuses_what_the_model_cannot_take(built, messages):
    out, _ = built
    with pytest.raises(ValueError):
        LoadedModel.load(out).converse(None, messages, 4)


def test_converse_refuses_a_prompt_longer_than_the_context(built):
    out, _ = built
    with pytest.raises(ValueError, match="context"):
        ask(out, "word " * 400)


def test_learns_a_trivially_learnable_mapping(learned):
    out, summary = learned
    assert summary["final_loss"] < 0.1
    for headline, label in FOUR:
        text, _, output_tokens = ask(out, headline)
        assert text == label
        assert output_tokens < 8  # it stopped at the end-of-turn token


def test_build_is_deterministic(learned, tmp_path):
    out, summary = learned
    again = build_tiny_model(tmp_path / "again", FOUR, **LEARN)
    assert again["final_loss"] == summary["final_loss"]
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()


def test_evaluate_counts_answers_equal_to_labels(learned):
    out, _ = learned
    assert tiny_model.evaluate(out, FOUR)["accuracy"] == 1.0


def test_read_pairs_reads_the_headlines_csv_and_jsonl(tmp_path):
    pairs = read_pairs(HEADLINES / "validation.csv", limit=5)
    assert len(pairs) == 5
    assert all(label in tiny_model.LABELS for _, label in pairs) and all(text for text, _ in pairs)
    jsonl = tmp_path / "h.jsonl"
    jsonl.write_text('{"headline": "A, \\"quoted\\"", "category": "health"}\n\n{"text": "B", "label": "science"}\n')
    assert read_pairs(jsonl) == [('A, "quoted"', "health"), ("B", "science")]
    bad = tmp_path / "bad.csv"
    bad.write_text("title,topic\nx,y\n")
    with pytest.raises(ValueError, match="header"):
        read_pairs(bad)


def test_portable_tokenizer_config_rewrites_transformers_5_output(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"backend": "tokenizers",
                                                                "tokenizer_class": "TokenizersBackend"}))
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    config = portable_tokenizer_config(tmp_path, model_max_length=64)
    assert config == {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": "{{ messages }}",
                      "model_max_length": 64}
    assert json.loads((tmp_path / "tokenizer_config.json").read_text()) == config
    assert not (tmp_path / "chat_template.jinja").exists()


def test_command_line_prints_the_summary(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text("headline,category\n" + "".join(f'"{h}",{label}\n' for h, label in FOUR))
    assert tiny_model.main(["--out", str(tmp_path / "m"), "--train", str(train), "--steps", "2", "--limit", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["examples"] == 3 and "model.safetensors" in summary["files"]
