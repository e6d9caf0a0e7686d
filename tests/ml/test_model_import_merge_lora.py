"""ml/model_import/merge_lora.py: a PEFT LoRA adapter merged into a tiny Llama base, written as an importable
folder; and the adapters it refuses. Very small models: nothing is downloaded."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("peft", reason="merge_lora needs peft (requirements-import.txt)")

import torch  # noqa: E402
from peft import IA3Config, LoraConfig, get_peft_model  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

from ml.model_import import merge_lora as merge_module  # noqa: E402
from ml.model_import.generate import LoadedModel  # noqa: E402
from ml.model_import.merge_lora import merge_lora  # noqa: E402
from ml.model_import.tiny_model import build_tiny_model, read_pairs  # noqa: E402
from tests.conftest import HEADLINES  # noqa: E402

TINY = {"hidden_size": 32, "layers": 1, "heads": 2, "kv_heads": 1, "intermediate_size": 64, "vocab_size": 600,
        "max_position_embeddings": 128}
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")
TARGETS = ["q_proj", "v_proj", "o_proj", "down_proj"]


@pytest.fixture(scope="module")
def pairs():
    return read_pairs(HEADLINES / "train.csv", limit=30)


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory, pairs):
    out = tmp_path_factory.mktemp("base")
    build_tiny_model(out, pairs, steps=0, **TINY)
    return out


def load(folder):
    return AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()


def make_adapter(base_dir, adapter_dir, *, seed: int = 1, config=None):
    """A LoRA adapter on the base whose lora_B weights are non-zero (a fresh one is the identity)."""
    torch.manual_seed(seed)
    model = get_peft_model(load(base_dir), config or LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS,
                                                                task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    model.save_pretrained(adapter_dir)
    return model.eval()


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.fixture(scope="module")
def merged(tmp_path_factory, base_dir):
    root = tmp_path_factory.mktemp("merge")
    peft_model = make_adapter(base_dir, root / "adapter")
    summary = merge_lora(base_dir, root / "adapter", root / "out")
    return root, peft_model, summary


def test_merged_logits_equal_the_adapters_and_differ_from_the_base(merged, base_dir):
    root, peft_model, summary = merged
    ids = torch.randint(0, 300, (2, 12), generator=torch.Generator().manual_seed(0))
    merged_logits = logits(load(root / "out"), ids)
    assert torch.allclose(merged_logits, logits(peft_model, ids), atol=1e-5)
    assert not torch.allclose(merged_logits, logits(load(base_dir), ids), atol=1e-3)
    assert summary["merged_modules"] == len(TARGETS) and summary["r"] == 4 and summary["tokenizer_from"] == "base"


def test_output_is_safetensors_with_portable_tokenizer_files(merged):
    root, _, summary = merged
    out = root / "out"
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth")) or n.startswith("adapter_")]
    assert summary["files"] == sorted(names)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    tokenizer_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast" and tokenizer_config["chat_template"]
    assert not (root / "out.partial").exists()


def test_merged_folder_answers_converse(merged):
    root, _, _ = merged
    text, input_tokens, output_tokens = LoadedModel.load(root / "out").converse(
        None, [{"role": "user", "content": [{"text": "Hello"}]}], 3)
    assert isinstance(text, str) and input_tokens > 0 and 1 <= output_tokens <= 3


def test_tokenizer_files_come_from_the_adapter_when_it_has_them(tmp_path, base_dir):
    make_adapter(base_dir, tmp_path / "adapter")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(base_dir / name, tmp_path / "adapter" / name)
    tokenizer_config = json.loads((tmp_path / "adapter" / "tokenizer_config.json").read_text())
    tokenizer_config["chat_template"] = "{{ bos_token }}ADAPTER{% for m in messages %}{{ m['content'] }}{% endfor %}"
    (tmp_path / "adapter" / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    summary = merge_lora(base_dir, tmp_path / "adapter", tmp_path / "out")
    assert summary["tokenizer_from"] == "adapter"
    assert "ADAPTER" in json.loads((tmp_path / "out" / "tokenizer_config.json").read_text())["chat_template"]


def test_refuses_a_non_empty_output_folder(merged, base_dir):
    root, _, _ = merged
    with pytest.raises(ValueError, match="not empty"):
        merge_lora(base_dir, root / "adapter", root / "out")


def test_an_empty_output_folder_is_fine(tmp_path, merged, base_dir):
    root, _, _ = merged
    (tmp_path / "out").mkdir()
    assert merge_lora(base_dir, root / "adapter", tmp_path / "out")["files"]


def test_refuses_an_adapter_that_is_not_lora(tmp_path, base_dir):
    model = get_peft_model(load(base_dir), IA3Config(target_modules=["k_proj", "down_proj"],
                                                     feedforward_modules=["down_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(tmp_path / "adapter")
    with pytest.raises(ValueError, match="not LORA"):
        merge_lora(base_dir, tmp_path / "adapter", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_an_adapter_for_another_architecture(tmp_path, merged, base_dir):
    root, _, _ = merged
    shutil.copytree(root / "adapter", tmp_path / "adapter")
    other = tmp_path / "gpt2"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(other)
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="made for"):
        merge_lora(base_dir, tmp_path / "adapter", tmp_path / "out")


def test_refuses_an_adapter_for_another_model_size(tmp_path, pairs, base_dir):
    wider = tmp_path / "wider"
    build_tiny_model(wider, pairs, steps=0, **{**TINY, "hidden_size": 48})
    make_adapter(wider, tmp_path / "adapter")
    with pytest.raises(ValueError, match="another model size"):
        merge_lora(base_dir, tmp_path / "adapter", tmp_path / "out")


def test_refuses_an_adapter_whose_modules_the_base_lacks(tmp_path, merged, base_dir):
    root, _, _ = merged
    shutil.copytree(root / "adapter", tmp_path / "adapter")
    from safetensors.torch import load_file, save_file

    path = tmp_path / "adapter" / "adapter_model.safetensors"
    tensors = {key.replace("self_attn", "attention"): value for key, value in load_file(str(path)).items()}
    save_file(tensors, str(path))
    with pytest.raises(ValueError, match="lacks"):
        merge_lora(base_dir, tmp_path / "adapter", tmp_path / "out")


def test_refuses_a_folder_that_is_no_adapter(tmp_path, base_dir):
    (tmp_path / "adapter").mkdir()
    with pytest.raises(ValueError, match="adapter_config.json"):
        merge_lora(base_dir, tmp_path / "adapter", tmp_path / "out")


def test_command_line(tmp_path, merged, base_dir, capsys):
    root, _, _ = merged
    args = ["--base", str(base_dir), "--adapter", str(root / "adapter")]
    assert merge_module.main([*args, "--out", str(tmp_path / "out")]) == 0
    assert json.loads(capsys.readouterr().out)["out_dir"] == str((tmp_path / "out").resolve())
    assert merge_module.main([*args, "--out", str(root / "out")]) == 2
    assert "not empty" in capsys.readouterr().err
