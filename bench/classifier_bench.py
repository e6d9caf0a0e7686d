"""`make bench` (second part): the headline classifier and its API, on this machine's CPU.

    python -m bench.classifier_bench [--sections latency,throughput,cold,proxy,load]   (default: all)

Every figure is a ratio against a baseline measured in the same run, on the same model and headlines:
- latency: one headline per request through inference.py's functions (input_fn → predict_fn → output_fn),
  p50 and p99, for torch, ONNX fp32 and ONNX int8, against the default `pipeline("text-classification")`'s
  p50 (target: at most 0.35x). The paths take turns, headline by headline, so load from elsewhere on the
  machine falls on all of them alike.
- throughput: the 2,000 validation headlines in requests of 32, and one 1,000-headline request, against
  `pipeline(batch_size=32)` on the same batches (target: at least 1.6x); the accuracy of every path on the
  validation split and its loss against fp32 torch (train.py ships int8 only within 0.5 points).
- cold: model_fn's time and peak RSS (and after a 1,000-headline request) per path, each in a fresh
  interpreter (target: at most 0.5x torch's); also for a DistilBERT-base-shaped model (what deploy.py trains
  by default; random weights, built from its config) to size the serverless memory.
- proxy: the Lambda handler's time per request against a runtime that answers at once; its cold-start
  imports in fresh interpreters with the Lambda environment the template sets, against a bare `import boto3`.
- load: a bounded load test of the local API (loopback only): requests/s and p99 at a fixed concurrency.
The model is .serve/model (made by `make serve`, or here on first run); its ONNX variants are built under
.serve/bench/ once (and model.onnx into the model, as train.py does now, when it has none).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADLINES = REPO / "data" / "headlines" / "validation.csv"
BENCH_DIR = REPO / ".serve" / "bench"
SECTIONS = ("latency", "throughput", "cold", "proxy", "load")
# inference.py's paths: (HEADLINE_BACKEND, HEADLINE_ONNX_FILE under BENCH_DIR, HEADLINE_QUANTIZE)
PATHS = {"torch": ("torch", None, "0"), "torch int8 (HEADLINE_QUANTIZE=1)": ("torch", None, "1"),
         "onnx fp32": ("onnx", "fp32.onnx", "0"), "onnx int8": ("onnx", "int8.onnx", "0")}


def _rows() -> list[tuple[str, str]]:
    with HEADLINES.open(encoding="utf-8", newline="") as f:
        return [(r[0], r[1]) for r in list(csv.reader(f))[1:]]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _accuracy(predicted: list[str], rows: list[tuple[str, str]]) -> float:
    return sum(p == label for p, (_, label) in zip(predicted, rows, strict=True)) / len(rows)


def _train_module():
    from local_emulation.headline_model import _train_module as train_module

    return train_module()


def onnx_variants(model_dir: Path) -> dict[str, Path]:
    """fp32 and int8 ONNX exports of the model, built once (as train.py builds them) under BENCH_DIR."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    fp32, int8 = BENCH_DIR / "fp32.onnx", BENCH_DIR / "int8.onnx"
    stamp = BENCH_DIR / "source.json"
    source = {"model": str(model_dir), "mtime": (model_dir / "model.safetensors").stat().st_mtime}
    fresh = fp32.is_file() and int8.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == source
    if not fresh or not (model_dir / "model.onnx").is_file():
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        train = _train_module()
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        if not fresh:
            print(f"exporting {model_dir} to ONNX (fp32, dynamic int8) under {BENCH_DIR} ...", flush=True)
            train.export_onnx(model, tokenizer, fp32, 64)
            train.quantize_int8(fp32, int8)
            train.tag_precision(fp32, "fp32")
            train.tag_precision(int8, "int8")
            stamp.write_text(json.dumps(source))
        if not (model_dir / "model.onnx").is_file():  # a model trained before train.py exported one
            label2id = model.config.label2id
            val = [(t, label2id[c]) for t, c in _rows()]
            metrics_file = model_dir / "metrics.json"
            metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
            last = (metrics.get("epochs") or [{}])[-1]
            print(f"{model_dir} has no model.onnx: building it as train.py does ...", flush=True)
            metrics["serving"] = train.build_serving(model, tokenizer, model_dir, val, 64, 128,
                                                     last.get("val_accuracy"))
            metrics_file.write_text(json.dumps(metrics, indent=2))
    return {"fp32": fp32, "int8": int8}


# --- in-process paths -------------------------------------------------------------------------------------


def _ours(model_dir: Path, backend: str, onnx_file: str | None, quantize: str):
    from local_emulation.sagemaker_runtime import load_inference

    os.environ.update({"HEADLINE_BACKEND": backend, "HEADLINE_QUANTIZE": quantize,
                       "HEADLINE_ONNX_FILE": str(BENCH_DIR / onnx_file) if onnx_file else "model.onnx"})
    inference = load_inference()
    model = inference.model_fn(str(model_dir))

    def call(headlines: list[str]) -> list[str]:
        body = json.dumps({"inputs": headlines if len(headlines) > 1 else headlines[0]}).encode()
        out = json.loads(inference.output_fn(inference.predict_fn(inference.input_fn(body, "application/json"),
                                                                  model), "application/json"))
        return [o["predicted_label"] for o in (out if isinstance(out, list) else [out])]
    return call


def _pipeline(model_dir: Path, batch_size: int | None):
    from transformers import pipeline

    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    classifier = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=-1)

    def call(headlines: list[str]) -> list[str]:
        return [r["label"] for r in classifier(headlines, **kwargs)]
    return call


def _candidates(model_dir: Path, names: list[str]) -> dict[str, object]:
    calls = {"pipeline, defaults": _pipeline(model_dir, None), "pipeline, batch_size=32": _pipeline(model_dir, 32)}
    for name in names:
        calls[name] = _ours(model_dir, *PATHS[name])
    for call in calls.values():
        call(["warm up"])
        call([t for t, _ in _rows()[:64]])
    return calls


def latency_section(calls: dict[str, object], requests: int) -> dict[str, tuple[float, float]]:
    texts = [t for t, _ in _rows()][:requests]
    names = [n for n in calls if n != "pipeline, batch_size=32"]
    samples: dict[str, list[float]] = {n: [] for n in names}
    for text in texts:  # paths take turns: load from elsewhere falls on all of them alike
        for name in names:
            started = time.perf_counter()
            calls[name]([text])
            samples[name].append((time.perf_counter() - started) * 1000)
    base = statistics.median(samples["pipeline, defaults"])
    print(f"single-request latency, {len(texts)} requests of one headline each (target: p50 at most 0.35x the "
          f"default pipeline's p50)")
    print(f"{'':<36}{'p50 ms':>9}{'p99 ms':>9}{'p50 x pipeline p50':>20}{'p99 x pipeline p50':>20}")
    out = {}
    for name in names:
        p50, p99 = statistics.median(samples[name]), _percentile(samples[name], 0.99)
        out[name] = (p50, p99)
        print(f"{name:<36}{p50:>9.2f}{p99:>9.2f}{p50 / base:>20.2f}{p99 / base:>20.2f}")
    print()
    return out


def throughput_section(calls: dict[str, object], repeats: int) -> None:
    rows = _rows()
    texts = [t for t, _ in rows]
    requests_of_32 = [texts[i:i + 32] for i in range(0, len(texts), 32)]
    big = texts[:1000]
    names = [n for n in calls if n != "pipeline, defaults"]
    best32 = dict.fromkeys(names, float("inf"))
    best1000 = dict.fromkeys(names, float("inf"))
    predicted: dict[str, list[str]] = {}
    for _ in range(repeats):  # rounds of every path in turn; the best round of each counts
        for name in names:
            started = time.perf_counter()
            labels = [label for request in requests_of_32 for label in calls[name](request)]
            best32[name] = min(best32[name], time.perf_counter() - started)
            predicted[name] = labels
            started = time.perf_counter()
            calls[name](big)
            best1000[name] = min(best1000[name], time.perf_counter() - started)
    base32 = len(texts) / best32["pipeline, batch_size=32"]
    base1000 = len(big) / best1000["pipeline, batch_size=32"]
    reference = _accuracy(predicted["torch"], rows) if "torch" in predicted else None
    print(f"throughput (best of {repeats}; target: at least 1.6x pipeline(batch_size=32) on the same batches) and "
          f"accuracy on the {len(rows)} validation headlines")
    print(f"{'':<36}{'32/request h/s':>15}{'x pipeline':>11}{'1,000/request h/s':>18}{'x pipeline':>11}"
          f"{'accuracy':>10}{'loss vs torch':>15}")
    for name in names:
        rate32, rate1000 = len(texts) / best32[name], len(big) / best1000[name]
        accuracy = _accuracy(predicted[name], rows)
        loss = f"{(reference - accuracy) * 100:+.2f} pts" if reference is not None else "-"
        print(f"{name:<36}{rate32:>15.0f}{rate32 / base32:>11.2f}{rate1000:>18.0f}{rate1000 / base1000:>11.2f}"
              f"{accuracy:>10.4f}{loss:>15}")
    print()


# --- cold start: fresh interpreters -----------------------------------------------------------------------

_COLD_PROBE = """
import json, sys, time
def hwm():  # this process's peak RSS (VmHWM; ru_maxrss would carry the parent's peak over exec)
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
started = time.perf_counter()
import importlib.util as u
spec = u.spec_from_file_location("inference", sys.argv[1])
inference = u.module_from_spec(spec); spec.loader.exec_module(inference)
model = inference.model_fn(sys.argv[2])
loaded = time.perf_counter() - started
rss_loaded = hwm()
t = time.perf_counter()
inference.output_fn(inference.predict_fn(inference.input_fn(b'{"inputs": "Fed raises rates"}'), model))
first = (time.perf_counter() - t) * 1000
batch = json.dumps({"inputs": [h for h in json.loads(sys.argv[3])]}).encode()
inference.output_fn(inference.predict_fn(inference.input_fn(batch), model))
print(json.dumps({"model_fn_s": loaded, "rss_mb": rss_loaded, "first_ms": first, "torch": "torch" in sys.modules,
                  "peak_rss_mb": hwm(),
                  "backend": model["backend"], "precision": model["precision"]}))
"""


def _cold(model_dir: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    headlines = json.dumps([t for t, _ in _rows()][:1000])
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", _COLD_PROBE, str(REPO / "ml/headline_classifier/inference.py"),
                               str(model_dir), headlines], env=dict(os.environ, **env), capture_output=True,
                              text=True, check=True, cwd=REPO)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: (statistics.median(r[key] for r in results) if isinstance(results[0][key], float)
                  else results[0][key]) for key in results[0]}


def distilbert_base_shape(model_dir: Path) -> Path:
    """A DistilBERT-base-shaped classifier (66M parameters, random weights, the MiniLM's uncased vocabulary, the
    same size as distilbert-base-uncased's) with its ONNX exports: what deploy.py's training job makes, in size."""
    target = BENCH_DIR / "distilbert-base-shape"
    if (target / "int8.onnx").is_file():
        return target
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    print("building a DistilBERT-base-shaped model (random weights) for memory sizing ...", flush=True)
    config = json.loads((model_dir / "config.json").read_text())
    torch.manual_seed(0)
    model = DistilBertForSequenceClassification(DistilBertConfig(
        vocab_size=30522, num_labels=len(config["id2label"]), id2label=config["id2label"],
        label2id=config["label2id"], seq_classif_dropout=0.3)).eval()
    model.save_pretrained(target)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    tokenizer.save_pretrained(target)
    train = _train_module()
    train.export_onnx(model, tokenizer, target / "fp32.onnx", 64)
    train.quantize_int8(target / "fp32.onnx", target / "int8.onnx")
    train.tag_precision(target / "fp32.onnx", "fp32")
    train.tag_precision(target / "int8.onnx", "int8")
    return target


def cold_section(model_dir: Path, runs: int) -> None:
    print(f"cold start: import inference.py + model_fn in a fresh interpreter (median of {runs}), the first "
          f"answer after it, and peak RSS after model_fn and after a 1,000-headline request (target: model_fn at "
          f"most 0.5x torch's)")
    print(f"{'':<48}{'model_fn s':>11}{'x torch':>9}{'RSS MB':>8}{'x torch':>9}{'first ms':>10}{'peak MB':>9}"
          f"{'torch loaded':>14}")
    shape = distilbert_base_shape(model_dir)
    cases = [("MiniLM, torch", model_dir, {"HEADLINE_BACKEND": "torch"}),
             ("MiniLM, onnx fp32", model_dir, {"HEADLINE_BACKEND": "onnx",
                                               "HEADLINE_ONNX_FILE": str(BENCH_DIR / "fp32.onnx")}),
             ("MiniLM, onnx int8", model_dir, {"HEADLINE_BACKEND": "onnx",
                                               "HEADLINE_ONNX_FILE": str(BENCH_DIR / "int8.onnx")}),
             ("DistilBERT-base shape, torch", shape, {"HEADLINE_BACKEND": "torch"}),
             ("DistilBERT-base shape, onnx fp32", shape, {"HEADLINE_BACKEND": "onnx",
                                                          "HEADLINE_ONNX_FILE": "fp32.onnx"}),
             ("DistilBERT-base shape, onnx int8", shape, {"HEADLINE_BACKEND": "onnx",
                                                          "HEADLINE_ONNX_FILE": "int8.onnx"})]
    base: dict[str, float] = {}
    for name, directory, env in cases:
        result = _cold(directory, env | {"HEADLINE_QUANTIZE": "0"}, runs)
        if name.endswith("torch"):
            base = result
        print(f"{name:<48}{result['model_fn_s']:>11.2f}{result['model_fn_s'] / base['model_fn_s']:>9.2f}"
              f"{result['rss_mb']:>8.0f}{result['rss_mb'] / base['rss_mb']:>9.2f}{result['first_ms']:>10.1f}"
              f"{result['peak_rss_mb']:>9.0f}{'yes' if result['torch'] else 'no':>14}")
    print()


# the classify function's environment on Lambda (template.yaml's Globals and its own), for the import probes
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "ft-pipeline-ClassifyHeadlineFunction", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/ft-pipeline", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x", "AWS_SESSION_TOKEN": "x",
    "POWERTOOLS_SERVICE_NAME": "ft-pipeline", "POWERTOOLS_METRICS_NAMESPACE": "FineTuningPipeline",
    "POWERTOOLS_LOG_LEVEL": "INFO", "ENDPOINT_NAME": "headline-classifier", "MODEL_VERSION": "bench",
    "LABELS": "business,entertainment,health,science", "MAX_BODY_BYTES": "262144",
}


def proxy_section(runs: int = 7) -> None:
    import importlib.util

    os.environ.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_METRICS_DISABLED": "1",
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "ENDPOINT_NAME": "bench"})
    from ft_pipeline.adapters import sagemaker_endpoint
    from local_emulation.harness import LambdaContext

    answer = json.dumps({"predicted_label": "health", "probabilities": {
        "business": 0.1, "entertainment": 0.1, "health": 0.7, "science": 0.1}}).encode()

    class Instant:  # a runtime that answers at once
        def invoke_endpoint(self, **kwargs):
            return {"Body": io.BytesIO(answer)}

    sagemaker_endpoint._runtime = lambda: Instant()  # type: ignore[assignment]
    spec = importlib.util.spec_from_file_location("classify_app", REPO / "functions/classify_headline/app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    event = {"resource": "/classify", "path": "/classify", "httpMethod": "POST",
             "headers": {"content-type": "application/json"}, "multiValueHeaders": {},
             "queryStringParameters": None, "pathParameters": None, "isBase64Encoded": False,
             "body": json.dumps({"headline": "Ebola outbreak spreads in West Africa"}),
             "requestContext": {"resourcePath": "/classify", "httpMethod": "POST", "stage": "bench",
                                "requestId": "r", "identity": {"sourceIp": "127.0.0.1"}}}
    context = LambdaContext("bench", 512, "arn:aws:lambda:us-east-1:123456789012:function:bench", 28)
    for _ in range(50):
        app.lambda_handler(event, context)
    n = 2000
    started = time.perf_counter()
    for _ in range(n):
        result = app.lambda_handler(event, context)
    per_request = (time.perf_counter() - started) / n * 1e6
    assert result["statusCode"] == 200, result
    # fresh interpreters with the function's Lambda environment (tracing on, as Tracing: Active sets it), the
    # handler directory as the task root and the layer on the path, as on Lambda
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))} | LAMBDA_ENV
    env["PYTHONPATH"] = f"{REPO / 'functions/classify_headline'}{os.pathsep}{REPO / 'layers/common/python'}"
    probe = ("import time; t = time.perf_counter(); {stmt}; import sys; "
             "print(time.perf_counter() - t, len(sys.modules))")

    def import_time(stmt: str) -> tuple[float, int]:
        runs_ = [subprocess.run([sys.executable, "-c", probe.format(stmt=stmt)], env=env, capture_output=True,
                                cwd=REPO / "functions/classify_headline", text=True, check=True).stdout.split()
                 for _ in range(runs)]
        return statistics.median(float(r[0]) for r in runs_), int(runs_[0][1])

    (boto3_s, boto3_modules), (app_s, app_modules) = import_time("import boto3"), import_time("import app")
    print(f"proxy handler, instant runtime: {per_request:.0f} µs per request (mean of {n})")
    print(f"proxy cold-start imports (Lambda environment, tracing on): handler module {app_s * 1000:.0f} ms "
          f"({app_modules} modules), bare `import boto3` {boto3_s * 1000:.0f} ms ({boto3_modules} modules): "
          f"x{app_s / boto3_s:.2f}; median of {runs} fresh interpreters\n")


def load_section(model_dir: Path, concurrency: int, requests: int, max_seconds: float) -> None:
    from local_emulation.api_server import LocalApi
    from local_emulation.harness import FAKE_ENV, TEMPLATE
    from local_emulation.sagemaker_runtime import SageMakerStandIn
    from local_emulation.template import Stack

    os.environ["HEADLINE_QUANTIZE"] = "0"
    runtime = SageMakerStandIn(model_dir, "bench-headlines").start()
    stack = Stack(TEMPLATE, "bench", {"HeadlineEndpointName": "bench-headlines"})
    api = LocalApi(stack, FAKE_ENV | {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime.url,
                                      "AWS_ENDPOINT_URL_SAGEMAKER": runtime.url, "POWERTOOLS_LOG_LEVEL": "WARNING"},
                   port=0, apis=["HeadlineApi"]).start()
    texts = [t for t, _ in _rows()]
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    counter = iter(range(requests))

    def worker() -> None:
        nonlocal errors
        for i in counter:
            if time.monotonic() > deadline:
                return
            body = json.dumps({"headline": texts[i % len(texts)]}).encode()
            request = urllib.request.Request(api.url + "/classify", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    ok = response.status == 200
                    response.read()
            except Exception:  # noqa: BLE001 - counted, reported
                ok = False
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    api.stop()
    runtime.stop()
    print(f"load test, local API on loopback: {len(latencies)} POST /classify at concurrency {concurrency}: "
          f"{len(latencies) / elapsed:.0f} requests/s, p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {_percentile(latencies, 0.99):.1f} ms, {errors} errors")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=2, help="throughput rounds (the best counts)")
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for every path (torch and ONNX Runtime alike; 0: each its default)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=60)
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    import warnings

    from local_emulation.headline_model import ensure_model

    warnings.filterwarnings("ignore", message=".*quantiz.*")  # torch's notice about its quantized tensors
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    model_dir = ensure_model()
    started = time.monotonic()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["HEADLINE_THREADS"] = str(args.threads)
    if {"latency", "throughput", "cold"} & set(sections):
        onnx_variants(model_dir)
        import onnxruntime
        import torch

        serving = json.loads((model_dir / "metrics.json").read_text()).get("serving", {})
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"classifier benchmark: {model_dir} (torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"onnxruntime {onnxruntime.__version__}; {os.cpu_count()} CPUs, load average {load}); "
              f"train.py's choice for this model: "
              f"{serving.get('precision', serving.get('backend'))} ({serving.get('reason', '')})\n")
    if {"latency", "throughput"} & set(sections):
        calls = _candidates(model_dir, list(PATHS))
        if "latency" in sections:
            latency_section(calls, args.latency_requests)
        if "throughput" in sections:
            throughput_section(calls, args.repeats)
        del calls
    if "cold" in sections:
        cold_section(model_dir, args.cold_runs)
    if "proxy" in sections:
        proxy_section()
    if "load" in sections:
        load_section(model_dir, args.concurrency, args.requests, args.max_seconds)
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
