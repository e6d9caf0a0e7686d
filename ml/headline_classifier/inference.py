"""SageMaker inference handler for the headline classifier (model.tar.gz:code/inference.py).

The inference toolkit calls model_fn once per worker, then input_fn → predict_fn → output_fn per request.
Accepted bodies: JSON `{"inputs": "a headline"}` or `{"inputs": ["…", "…"]}`, or CSV/plain text with one
headline per line. Each answer: `{"predicted_label": …, "probabilities": {label: p, …}}` - one object for
a single headline, a list otherwise, in request order.

Speed on CPU: headlines are sorted by length and run in batches with dynamic padding (little padding
waste), under torch.inference_mode. HEADLINE_QUANTIZE=1 also quantizes the Linear layers to int8
(faster, at some accuracy cost: `make bench` measures both). Labels come from the model's config (id2label).
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

import torch

MAX_LENGTH = int(os.environ.get("HEADLINE_MAX_LENGTH", "64"))
BATCH_SIZE = int(os.environ.get("HEADLINE_BATCH_SIZE", "64"))
MAX_INPUTS = int(os.environ.get("HEADLINE_MAX_INPUTS", "1000"))


class InputError(ValueError):
    """The request cannot be read; the toolkit answers 400 with this message."""


def model_fn(model_dir: str, context: Any = None) -> dict[str, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    threads = int(os.environ.get("HEADLINE_THREADS", "0"))
    if threads:
        torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    model.eval()
    if os.environ.get("HEADLINE_QUANTIZE", "0") == "1" and not torch.cuda.is_available():
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    elif torch.cuda.is_available():
        model = model.to("cuda")
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return {"model": model, "tokenizer": tokenizer, "labels": labels}


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
    tokenizer, net, labels = model["tokenizer"], model["model"], model["labels"]
    device = next(net.parameters()).device if any(True for _ in net.parameters()) else torch.device("cpu")
    encoded = tokenizer(headlines, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    order = sorted(range(len(headlines)), key=lambda i: len(encoded[i]))  # similar lengths pad little
    probabilities: list[list[float]] = [[] for _ in headlines]
    with torch.inference_mode():
        for start in range(0, len(order), BATCH_SIZE):
            chunk = order[start:start + BATCH_SIZE]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in chunk]}, return_tensors="pt")
            logits = net(input_ids=batch["input_ids"].to(device),
                         attention_mask=batch["attention_mask"].to(device)).logits
            for i, row in zip(chunk, logits.float().softmax(-1).tolist(), strict=True):
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
