"""SageMaker inference handler for the headline classifier (model.tar.gz:code/inference.py).

The inference toolkit calls model_fn once per worker, then input_fn → predict_fn → output_fn per request.
Accepted bodies: JSON `{"inputs": "a headline"}` or `{"inputs": ["…", "…"]}`, or CSV/plain text with one
headline per line. Each answer: `{"predicted_label": …, "probabilities": {label: p, …}}` - one object for
a single headline, a list otherwise, in request order.

Two backends, the same answers:
- ONNX Runtime (the default when model.tar.gz has `model.onnx`, which train.py exports: int8 when its
  validation accuracy is within 0.5 points of fp32, fp32 otherwise; see metrics.json "serving"). model_fn
  imports neither torch nor transformers on this path (importing torch was most of a 5 s cold start): the
  tokenizer is `tokenizers` reading tokenizer.json, labels come from config.json. One session per worker,
  sequential execution, all graph optimizations, intra-op threads = the CPUs this worker may use (the
  cgroup quota, divided among SAGEMAKER_MODEL_SERVER_WORKERS), so 1-2 vCPU serverless endpoints and
  multi-worker real-time instances are not oversubscribed.
- torch (the fallback: no `model.onnx`, onnxruntime not installed, or HEADLINE_BACKEND=torch), as before;
  HEADLINE_QUANTIZE=1 also quantizes its Linear layers to int8.
Both sort the headlines by token length and run them in batches padded to the longest in the batch
(little padding waste), truncated at HEADLINE_MAX_LENGTH (64) or the model's maximum, whichever is lower.

Environment: HEADLINE_BACKEND (auto|onnx|torch), HEADLINE_ONNX_FILE (model.onnx), HEADLINE_THREADS
(0: automatic), HEADLINE_MAX_LENGTH, HEADLINE_BATCH_SIZE, HEADLINE_MAX_INPUTS, HEADLINE_QUANTIZE (torch).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

MAX_LENGTH = int(os.environ.get("HEADLINE_MAX_LENGTH", "64"))
BATCH_SIZE = int(os.environ.get("HEADLINE_BATCH_SIZE", "32"))
MAX_INPUTS = int(os.environ.get("HEADLINE_MAX_INPUTS", "1000"))
ONNX_FILE = "model.onnx"

log = logging.getLogger("headline_inference")


class InputError(ValueError):
    """The request cannot be read; the toolkit answers 400 with this message."""


# --- threads ----------------------------------------------------------------------------------------------


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup CPU quota (a container's vCPUs)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quotas = (("/sys/fs/cgroup/cpu.max", None), ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
                                                  "/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
    for quota_file, period_file in quotas:
        try:
            if period_file is None:
                quota, period = Path(quota_file).read_text().split()[:2]
            else:
                quota, period = Path(quota_file).read_text().strip(), Path(period_file).read_text().strip()
            if quota not in ("max", "-1") and int(quota) > 0:
                cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
            break
        except (OSError, ValueError):
            continue
    return max(1, cpus)


def thread_count() -> int:
    """HEADLINE_THREADS, or this worker's share of the CPUs (the model server runs one model per worker)."""
    threads = int(os.environ.get("HEADLINE_THREADS", "0") or 0)
    if threads > 0:
        return threads
    workers = max(1, int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", "1") or 1))
    return max(1, available_cpus() // workers)


# --- loading ----------------------------------------------------------------------------------------------


def _config(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / "config.json").read_text())


def _labels(config: dict[str, Any]) -> list[str]:
    id2label = {int(k): v for k, v in config["id2label"].items()}
    return [id2label[i] for i in range(len(id2label))]


def _max_length(config: dict[str, Any]) -> int:
    return min(MAX_LENGTH, int(config.get("max_position_embeddings") or MAX_LENGTH))


def _fast_tokenizer(model_dir: Path, max_length: int):
    """A `tokenizers` tokenizer (what transformers' fast tokenizer wraps) from tokenizer.json, or None."""
    if not (model_dir / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # padding is per batch, below
    tokenizer.enable_truncation(max_length)

    def encode(headlines: list[str]) -> list[list[int]]:
        return [e.ids for e in tokenizer.encode_batch(headlines)]
    return encode


def _onnx_session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = thread_count()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _onnx_model(model_dir: Path, onnx_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    session = _onnx_session(onnx_path)
    max_length = _max_length(config)
    encode = _fast_tokenizer(model_dir, max_length)
    if encode is None:  # no tokenizer.json (a slow tokenizer): transformers, still without torch
        from transformers import AutoTokenizer

        slow = AutoTokenizer.from_pretrained(str(model_dir))

        def encode(headlines: list[str]) -> list[list[int]]:
            return slow(headlines, truncation=True, max_length=max_length)["input_ids"]
    names = {i.name for i in session.get_inputs()}

    def run(input_ids, attention_mask):
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        return session.run(["logits"], {k: v for k, v in feed.items() if k in names})[0]

    precision = session.get_modelmeta().custom_metadata_map.get("precision", "unknown")  # train.py writes it
    return {"backend": "onnx", "precision": precision, "file": onnx_path.name, "threads": thread_count(),
            "encode": encode, "run": run, "labels": _labels(config),
            "pad_id": int(config.get("pad_token_id") or 0), "session": session}


def _torch_model(model_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(thread_count())
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir))
    model.eval()
    precision = "fp32"
    cuda = torch.cuda.is_available()
    if os.environ.get("HEADLINE_QUANTIZE", "0") == "1" and not cuda:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        precision = "int8"
    elif cuda:
        model = model.to("cuda")
    device = torch.device("cuda" if cuda and precision == "fp32" else "cpu")
    max_length = _max_length(config)

    def encode(headlines: list[str]) -> list[list[int]]:
        return tokenizer(headlines, truncation=True, max_length=max_length)["input_ids"]

    def run(input_ids, attention_mask):
        with torch.inference_mode():
            logits = model(input_ids=torch.from_numpy(input_ids).to(device),
                           attention_mask=torch.from_numpy(attention_mask).to(device)).logits
        return logits.float().cpu().numpy()

    return {"backend": "torch", "precision": precision, "file": None, "threads": torch.get_num_threads(),
            "encode": encode, "run": run, "labels": _labels(config),
            "pad_id": int(tokenizer.pad_token_id or 0), "model": model}


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    """The ONNX model when there is one and onnxruntime imports; torch otherwise (HEADLINE_BACKEND forces one)."""
    root = Path(model_dir)
    config = _config(root)
    backend = os.environ.get("HEADLINE_BACKEND", "auto").strip().lower() or "auto"
    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"HEADLINE_BACKEND is auto, onnx or torch, not {backend!r}")
    onnx_path = root / os.environ.get("HEADLINE_ONNX_FILE", ONNX_FILE)
    if backend != "torch":
        reason = None
        if not onnx_path.is_file():
            reason = f"no {onnx_path.name} in the model"
        else:
            try:
                import onnxruntime  # noqa: F401
            except ImportError as exc:
                reason = f"onnxruntime is not installed ({exc})"
        if reason is None:
            model = _onnx_model(root, onnx_path, config)
            log.info("serving %s with ONNX Runtime (%s, %d threads)", onnx_path.name, model["precision"],
                     model["threads"])
            return model
        if backend == "onnx":
            raise RuntimeError(f"HEADLINE_BACKEND=onnx, but {reason}")
        log.warning("serving with torch: %s", reason)
    model = _torch_model(root, config)
    log.info("serving with torch (%s, %d threads)", model["precision"], model["threads"])
    return model


# --- requests ---------------------------------------------------------------------------------------------


def input_fn(input_data: bytes | str, content_type: str = "application/json", context: Any = None
             ) -> dict[str, Any]:
    text = input_data.decode("utf-8") if isinstance(input_data, (bytes, bytearray)) else input_data
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise InputError(f"body is not JSON: {exc}") from None
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if isinstance(inputs, str):
            headlines, single = [inputs], True
        elif isinstance(inputs, list) and all(isinstance(h, str) for h in inputs):
            headlines, single = inputs, False
        else:
            raise InputError('expected {"inputs": "headline"} or {"inputs": ["headline", ...]}')
    elif kind in ("text/csv", "text/plain"):
        rows = csv.reader(io.StringIO(text)) if kind == "text/csv" else ([line] for line in text.splitlines())
        headlines, single = [row[0] for row in rows if row and row[0].strip()], False
    else:
        raise InputError(f"unsupported content type {content_type!r}; use application/json or text/csv")
    if not headlines or any(not h.strip() for h in headlines):
        raise InputError("empty headline")
    if len(headlines) > MAX_INPUTS:
        raise InputError(f"{len(headlines)} headlines; at most {MAX_INPUTS} per request")
    return {"headlines": headlines, "single": single}


def predict_fn(data: dict[str, Any], model: dict[str, Any], context: Any = None) -> dict[str, Any]:
    headlines: list[str] = data["headlines"]
    labels, run, pad_id = model["labels"], model["run"], model["pad_id"]
    encoded = model["encode"](headlines)
    order = sorted(range(len(headlines)), key=lambda i: len(encoded[i]))  # similar lengths pad little
    probabilities: list[list[float]] = [[] for _ in headlines]
    for start in range(0, len(order), BATCH_SIZE):
        chunk = order[start:start + BATCH_SIZE]
        width = max(len(encoded[i]) for i in chunk)
        input_ids = np.full((len(chunk), width), pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(chunk), width), dtype=np.int64)
        for row, i in enumerate(chunk):
            input_ids[row, :len(encoded[i])] = encoded[i]
            attention_mask[row, :len(encoded[i])] = 1
        logits = np.asarray(run(input_ids, attention_mask), dtype=np.float64)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        for i, row in zip(chunk, (exp / exp.sum(axis=-1, keepdims=True)).tolist(), strict=True):
            probabilities[i] = row
    results = [{"predicted_label": labels[max(range(len(p)), key=p.__getitem__)],
                "probabilities": {label: round(v, 6) for label, v in zip(labels, p, strict=True)}}
               for p in probabilities]
    return {"results": results, "single": data["single"]}


def output_fn(prediction: dict[str, Any], accept: str = "application/json", context: Any = None) -> str:
    kind = (accept or "application/json").split(";")[0].strip().lower()
    if kind not in ("application/json", "*/*"):
        raise InputError(f"unsupported accept type {accept!r}; use application/json")
    results = prediction["results"]
    return json.dumps(results[0] if prediction["single"] else results)
