"""A tiny Llama that answers a news headline's category, built from a config and trained on the spot (nothing is
downloaded), saved as a folder that Bedrock Custom Model Import accepts: config.json (LlamaForCausalLM),
model.safetensors, tokenizer.json and tokenizer_config.json with a chat template.

    python -m ml.model_import.tiny_model --out DIR [--train FILE] [--steps N] [--limit N] [--eval FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TRAIN = REPO / "data" / "headlines" / "train.csv"

LABELS = ("business", "science", "entertainment", "health")
SYSTEM_PROMPT = (
    "Classify the news headline into one of: business, science, entertainment, health. "
    "Answer with the category only."
)

BOS, EOS_TEXT, EOT = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"
HEADER_START, HEADER_END, PAD = "<|start_header_id|>", "<|end_header_id|>", "<|pad|>"
SPECIAL_TOKENS = [BOS, EOS_TEXT, HEADER_START, HEADER_END, EOT, PAD]

# Llama-3-like, simple: message content may be a string or a list of {"text": ...} parts (Converse-shaped).
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] | trim }}"
    "{%- else %}{%- for part in message['content'] %}{%- if part['text'] is defined %}{{- part['text'] | trim }}"
    "{%- endif %}{%- endfor %}{%- endif %}"
    "{{- '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "tokenizer.model", "added_tokens.json", "vocab.json", "merges.txt")


def read_pairs(path: Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(headline, category) pairs, in file order, from the headlines CSV (header ``headline,category``) or from
    JSON Lines with ``headline``/``text`` and ``category``/``label`` keys. ``limit`` keeps the first N."""
    path = Path(path)
    pairs: list[tuple[str, str]] = []
    if path.suffix.lower() in (".jsonl", ".json"):
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                text, label = row.get("headline", row.get("text")), row.get("category", row.get("label"))
                if not isinstance(text, str) or not isinstance(label, str):
                    raise ValueError(f"{path}:{number}: needs headline/text and category/label strings")
                pairs.append((text, label))
                if limit is not None and len(pairs) >= limit:
                    break
    else:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            text_key = next((k for k in ("headline", "text") if k in fields), None)
            label_key = next((k for k in ("category", "label") if k in fields), None)
            if text_key is None or label_key is None:
                raise ValueError(f"{path}: header must name headline (or text) and category (or label), got {fields}")
            for row in reader:
                pairs.append((row[text_key], row[label_key]))
                if limit is not None and len(pairs) >= limit:
                    break
    return [(text.strip(), label.strip()) for text, label in pairs if text.strip() and label.strip()]


def portable_tokenizer_config(folder: Path, *, model_max_length: int | None = None) -> dict:
    """Rewrites ``folder/tokenizer_config.json`` into the shape Bedrock's import (and older transformers) read:
    ``tokenizer_class`` "PreTrainedTokenizerFast" instead of transformers 5's "TokenizersBackend", the chat
    template inside tokenizer_config.json (transformers 5 writes it to chat_template.jinja, which is then removed),
    no transformers-5-only ``backend`` key. Returns the new config."""
    folder = Path(folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    jinja = folder / "chat_template.jinja"
    if jinja.exists():
        config["chat_template"] = jinja.read_text(encoding="utf-8")  # transformers 5 reads the .jinja first
        jinja.unlink()
    if config.get("tokenizer_class") in (None, "TokenizersBackend", "PreTrainedTokenizerFast"):
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
    if config.get("backend") == "tokenizers":
        del config["backend"]
    if model_max_length is not None:
        config["model_max_length"] = model_max_length
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return config


def portable_model_config(folder: Path) -> dict:
    """Adds to ``folder/config.json`` the spellings older transformers (and Bedrock's import) read besides
    transformers 5's: ``torch_dtype`` beside ``dtype``, ``rope_theta`` beside ``rope_parameters``. Only adds."""
    path = Path(folder) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if "dtype" in config and "torch_dtype" not in config:
        config["torch_dtype"] = config["dtype"]
    rope = config.get("rope_parameters")
    if isinstance(rope, dict) and "rope_theta" in rope and "rope_theta" not in config:
        config["rope_theta"] = rope["rope_theta"]
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return config


def build_tokenizer(texts: list[str], vocab_size: int):
    """A lower-casing byte-level BPE trained on ``texts``, with Llama-3-like special tokens and the chat template."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = [*texts, SYSTEM_PROMPT, *LABELS, "system", "user", "assistant", "\n\n"]
    # the labels and the role names stand alone (no leading space) after a header: repeat them so BPE merges them
    corpus += [*LABELS, "system", "user", "assistant", "\n\n"] * 4
    bpe.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=EOT, pad_token=PAD,
                                        model_input_names=["input_ids", "attention_mask"])
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def conversation(headline: str, system: str | None = SYSTEM_PROMPT) -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": headline}]


def encode_example(tokenizer, headline: str, label: str) -> tuple[list[int], int]:
    """(prompt ids + answer ids + eot, number of prompt ids): the prompt exactly as generate.py renders it."""
    prompt = tokenizer.apply_chat_template(conversation(headline), tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(label, add_special_tokens=False)["input_ids"] + [tokenizer.convert_tokens_to_ids(EOT)]
    return prompt_ids + answer_ids, len(prompt_ids)


def build_tiny_model(out_dir: Path, pairs: list[tuple[str, str]], *, steps: int = 300, seed: int = 0,
                     hidden_size: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2,
                     intermediate_size: int = 256, vocab_size: int = 4000, max_position_embeddings: int = 256,
                     batch_size: int = 64, learning_rate: float = 3e-3, threads: int | None = 1,
                     log_every: int = 0) -> dict:
    """Builds a randomly initialised tiny LlamaForCausalLM and a BPE tokenizer from ``pairs``, trains it ``steps``
    steps to answer each headline's label in the chat format (loss on the answer tokens only), and saves a
    Bedrock-import-shaped folder into ``out_dir``. Returns a summary (params, steps, seconds, final_loss, ...).

    ``threads``: torch's CPU threads while building (1 by default: the same result on any machine, and faster
    than 2 on a shared 2-core machine); None leaves torch's setting alone."""
    import torch

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _build(Path(out_dir), pairs, steps=steps, seed=seed, hidden_size=hidden_size, layers=layers,
                      heads=heads, kv_heads=kv_heads, intermediate_size=intermediate_size, vocab_size=vocab_size,
                      max_position_embeddings=max_position_embeddings, batch_size=batch_size,
                      learning_rate=learning_rate, log_every=log_every)
    finally:
        torch.set_num_threads(previous_threads)


def _build(out_dir: Path, pairs: list[tuple[str, str]], *, steps: int, seed: int, hidden_size: int, layers: int,
           heads: int, kv_heads: int, intermediate_size: int, vocab_size: int, max_position_embeddings: int,
           batch_size: int, learning_rate: float, log_every: int) -> dict:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    if not pairs:
        raise ValueError("no training pairs")
    started = time.monotonic()
    random.seed(seed)
    torch.manual_seed(seed)

    tokenizer = build_tokenizer([text for text, _ in pairs], vocab_size)
    examples = []
    for text, label in pairs:
        ids, prompt_len = encode_example(tokenizer, text, label)
        if len(ids) <= max_position_embeddings:
            examples.append((ids, prompt_len))
    if not examples:
        raise ValueError(f"every example is longer than max_position_embeddings={max_position_embeddings}")

    ids_of = tokenizer.convert_tokens_to_ids
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=max_position_embeddings, bos_token_id=ids_of(BOS), eos_token_id=ids_of(EOT),
        pad_token_id=ids_of(PAD), tie_word_embeddings=False, architectures=["LlamaForCausalLM"])
    model = LlamaForCausalLM(config)
    params = sum(p.numel() for p in model.parameters())

    final_loss = None
    if steps > 0:
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01, betas=(0.9, 0.98))
        warmup = max(1, steps // 10)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        generator = torch.Generator().manual_seed(seed)
        pad = ids_of(PAD)
        model.train()
        recent: list[float] = []
        for step in range(steps):
            batch = [examples[i] for i in torch.randint(len(examples), (min(batch_size, len(examples)),),
                                                        generator=generator).tolist()]
            input_ids, mask, positions, targets = _left_padded(batch, pad)
            # logits for the answer positions only (left padding puts them at the end of every row): the
            # vocabulary projection over whole prompts would be most of the work
            keep = targets.shape[1]
            logits = model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                           logits_to_keep=keep + 1).logits[:, :-1]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                                     targets.reshape(-1), ignore_index=-100)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            recent = [*recent[-9:], loss.item()]
            if log_every and (step + 1) % log_every == 0:
                print(f"step {step + 1}/{steps} loss {sum(recent) / len(recent):.4f}", file=sys.stderr, flush=True)
        final_loss = sum(recent) / len(recent)  # mean of the last (up to) 10 steps
    model.eval()

    out_dir.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(bos_token_id=ids_of(BOS), eos_token_id=[ids_of(EOT), ids_of(EOS_TEXT)],
                                               pad_token_id=ids_of(PAD), do_sample=False)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    portable_tokenizer_config(out_dir, model_max_length=max_position_embeddings)
    portable_model_config(out_dir)
    return {
        "out_dir": str(out_dir),
        "params": params,
        "vocab_size": len(tokenizer),
        "examples": len(examples),
        "steps": steps,
        "batch_size": batch_size,
        "seconds": round(time.monotonic() - started, 2),
        "final_loss": None if final_loss is None else round(final_loss, 4),
        "files": sorted(p.name for p in out_dir.iterdir()),
    }


def _left_padded(batch: list[tuple[list[int], int]], pad: int):
    """(input ids, attention mask, position ids, targets) for a batch, left-padded; ``targets`` holds, for each of
    the last K positions but one, the next token when it is an answer token, else -100 (K: the longest answer)."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    answer = max(len(ids) - prompt_len for ids, prompt_len in batch)
    input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    targets = torch.full((len(batch), answer), -100, dtype=torch.long)
    for row, (ids, prompt_len) in enumerate(batch):
        input_ids[row, width - len(ids):] = torch.tensor(ids)
        mask[row, width - len(ids):] = 1
        answer_ids = ids[prompt_len:]
        targets[row, answer - len(answer_ids):] = torch.tensor(answer_ids)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    return input_ids, mask, positions, targets


def evaluate(folder: Path, pairs: list[tuple[str, str]], *, max_tokens: int = 8, threads: int | None = 1) -> dict:
    """Accuracy of the folder's model on ``pairs``: the Converse answer (as the emulator gets it) equals the label.
    ``threads`` as for build_tiny_model (a tiny model answers many times faster on one thread than on two busy)."""
    import torch

    from ml.model_import.generate import LoadedModel

    loaded = LoadedModel.load(Path(folder))
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    started = time.monotonic()
    correct = 0
    try:
        for text, label in pairs:
            messages = [{"role": "user", "content": [{"text": text}]}]
            answer, _, _ = loaded.converse(SYSTEM_PROMPT, messages, max_tokens)
            correct += answer.strip().lower() == label.lower()
    finally:
        torch.set_num_threads(previous_threads)
    return {"examples": len(pairs), "accuracy": round(correct / len(pairs), 4) if pairs else None,
            "seconds": round(time.monotonic() - started, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.model_import.tiny_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write the model into")
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN, help="headlines CSV or JSONL (headline,category)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--limit", type=int, default=None, help="first N training rows (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval", type=Path, default=None, help="also report accuracy on this headlines file")
    parser.add_argument("--eval-limit", type=int, default=200)
    parser.add_argument("--log-every", type=int, default=0)
    args = parser.parse_args(argv)
    summary = build_tiny_model(args.out, read_pairs(args.train, args.limit), steps=args.steps, seed=args.seed,
                               log_every=args.log_every)
    if args.eval is not None:
        summary["eval"] = evaluate(args.out, read_pairs(args.eval, args.eval_limit))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
