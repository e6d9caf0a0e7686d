"""Merges a PEFT LoRA adapter into its base model and writes a folder that Bedrock Custom Model Import accepts
(Bedrock imports full weights, not adapters): config.json, *.safetensors, tokenizer files with a chat template.
Both inputs are local folders; nothing is downloaded.

    python -m ml.model_import.merge_lora --base DIR --adapter DIR --out DIR
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

from ml.model_import.tiny_model import TOKENIZER_FILES, portable_model_config, portable_tokenizer_config

ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+?)\."
                       r"(?P<part>lora_(?:embedding_)?[AB]|lora_magnitude_vector)(?:\.[^.]+)*$")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read ({error})") from error


def _adapter_tensors(adapter_dir: Path) -> dict:
    """The adapter's saved tensors by key (safetensors preferred; a .bin is read with weights_only)."""
    safetensors_path = adapter_dir / ADAPTER_WEIGHTS[0]
    if safetensors_path.exists():
        from safetensors.torch import load_file

        return load_file(str(safetensors_path))
    bin_path = adapter_dir / ADAPTER_WEIGHTS[1]
    if bin_path.exists():
        import torch

        return torch.load(bin_path, map_location="cpu", weights_only=True)
    raise ValueError(f"{adapter_dir}: no adapter weights ({' or '.join(ADAPTER_WEIGHTS)})")


def _module_path(key: str) -> tuple[str, str] | None:
    match = _LORA_KEY.match(key)
    if not match:
        return None
    return match.group("module"), match.group("part")


def check_adapter(base_dir: Path, adapter_dir: Path) -> dict:
    """The adapter's config, once it is known to be a LoRA adapter made for this base; ValueError otherwise."""
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.is_file():
        raise ValueError(f"{adapter_dir}: no adapter_config.json (not a PEFT adapter folder)")
    adapter = _read_json(config_path)
    peft_type = str(adapter.get("peft_type", "")).upper()
    if peft_type != "LORA":
        raise ValueError(f"{adapter_dir}: the adapter is {peft_type or 'of no peft_type'}, not LORA; only LoRA "
                         "adapters can be merged here")
    task_type = adapter.get("task_type")
    if task_type not in (None, "CAUSAL_LM"):
        raise ValueError(f"{adapter_dir}: task_type {task_type}; a causal LM adapter (CAUSAL_LM) is needed")
    if not (base_dir / "config.json").is_file():
        raise ValueError(f"{base_dir}: no config.json (not a model folder)")
    base = _read_json(base_dir / "config.json")
    named = adapter.get("base_model_name_or_path")
    if named and (Path(named) / "config.json").is_file():
        other = _read_json(Path(named) / "config.json")
        for key in ("model_type", "architectures"):
            if other.get(key) is not None and base.get(key) is not None and other.get(key) != base.get(key):
                raise ValueError(f"{adapter_dir}: the adapter was made for {named} ({key} {other.get(key)}), "
                                 f"the base {base_dir} is {key} {base.get(key)}")
    return adapter


def _check_weights_fit(model, tensors: dict, adapter_dir: Path) -> int:
    """Every adapter tensor belongs to a module of the base, with the base's shapes; the number of modules."""
    import torch

    modules = dict(model.named_modules())
    seen = set()
    for key, tensor in tensors.items():
        found = _module_path(key)
        if found is None:
            continue  # modules_to_save and the like: PEFT's own load checks them
        path, part = found
        module = modules.get(path)
        if module is None:
            raise ValueError(f"{adapter_dir}: the adapter has weights for {path}, which the base model lacks "
                             "(an adapter for another architecture?)")
        seen.add(path)
        if isinstance(module, torch.nn.Linear) and tensor.dim() == 2:
            if part == "lora_A" and tensor.shape[1] != module.in_features:
                raise ValueError(f"{adapter_dir}: {key} has {tensor.shape[1]} inputs, the base's {path} has "
                                 f"{module.in_features} (an adapter for another model size?)")
            if part == "lora_B" and tensor.shape[0] != module.out_features:
                raise ValueError(f"{adapter_dir}: {key} has {tensor.shape[0]} outputs, the base's {path} has "
                                 f"{module.out_features} (an adapter for another model size?)")
    if not seen:
        raise ValueError(f"{adapter_dir}: no LoRA weights in the adapter")
    return len(seen)


def merge_lora(base_dir: Path, adapter_dir: Path, out_dir: Path) -> dict:
    """Loads the base model from ``base_dir``, applies the LoRA adapter in ``adapter_dir``, merges it into the
    weights and saves the result into ``out_dir`` (safetensors) with the tokenizer files (the adapter's when it has
    them, else the base's), made portable. ``out_dir`` must not exist or be empty. Returns a summary."""
    started = time.monotonic()
    base_dir, adapter_dir, out_dir = Path(base_dir).resolve(), Path(adapter_dir).resolve(), Path(out_dir).resolve()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"{out_dir} exists and is not empty; choose a new folder")
    if out_dir in (base_dir, adapter_dir):
        raise ValueError("the output folder must differ from the base and adapter folders")
    adapter = check_adapter(base_dir, adapter_dir)
    tensors = _adapter_tensors(adapter_dir)

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir, local_files_only=True)
    modules = _check_weights_fit(base, tensors, adapter_dir)
    try:
        peft_model = PeftModel.from_pretrained(base, adapter_dir, is_trainable=False)
    except (RuntimeError, KeyError) as error:
        raise ValueError(f"{adapter_dir}: the adapter does not fit the base model ({error})") from error
    merged = peft_model.merge_and_unload()
    merged.eval()

    tokenizer_source = adapter_dir if any((adapter_dir / name).is_file() for name in
                                          ("tokenizer.json", "tokenizer_config.json")) else base_dir
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir(parents=True)
        merged.save_pretrained(partial, safe_serialization=True)
        for name in TOKENIZER_FILES:
            if (tokenizer_source / name).is_file():
                shutil.copy2(tokenizer_source / name, partial / name)
        if not (partial / "tokenizer_config.json").exists() and not (partial / "tokenizer.json").exists():
            raise ValueError(f"{tokenizer_source}: no tokenizer files to copy")
        portable_tokenizer_config(partial)
        portable_model_config(partial)
        for stray in partial.glob("*.bin"):
            stray.unlink()
        if out_dir.exists():
            out_dir.rmdir()
        partial.rename(out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return {
        "out_dir": str(out_dir),
        "base_dir": str(base_dir),
        "adapter_dir": str(adapter_dir),
        "r": adapter.get("r"),
        "lora_alpha": adapter.get("lora_alpha"),
        "merged_modules": modules,
        "params": sum(p.numel() for p in merged.parameters()),
        "tokenizer_from": "adapter" if tokenizer_source == adapter_dir else "base",
        "files": sorted(p.name for p in out_dir.iterdir()),
        "seconds": round(time.monotonic() - started, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.model_import.merge_lora", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, type=Path, help="the base model folder")
    parser.add_argument("--adapter", required=True, type=Path, help="the PEFT LoRA adapter folder")
    parser.add_argument("--out", required=True, type=Path, help="the merged model folder to write (new or empty)")
    args = parser.parse_args(argv)
    try:
        summary = merge_lora(args.base, args.adapter, args.out)
    except ValueError as error:
        print(f"merge_lora: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
