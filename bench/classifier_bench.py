"""`make bench` (second part): the headline classifier and its API, on this machine's CPU.

1. Serving throughput over a 1,000-headline batch and single-request latency p50/p99 of inference.py,
   against Hugging Face's pipeline("text-classification") on the same model in the same run: once with
   its defaults (what the SageMaker Hugging Face container does without custom code) and once with
   batch_size=32; accuracy of each on the 2,000 validation headlines.
2. Proxy overhead: the Lambda handler's own time per request against a runtime that answers at once,
   and its cold-start import time against a bare `import boto3`.
3. A bounded load test of the local API (loopback only): requests/s and p99 at a fixed concurrency.
The model is .serve/model (made by `make serve`, or here on first run).
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


def _rows() -> list[tuple[str, str]]:
    with HEADLINES.open(encoding="utf-8", newline="") as f:
        return [(r[0], r[1]) for r in list(csv.reader(f))[1:]]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _accuracy(predicted: list[str], rows: list[tuple[str, str]]) -> float:
    return sum(p == label for p, (_, label) in zip(predicted, rows, strict=True)) / len(rows)


def model_section(model_dir: Path, repeats: int) -> None:
    from transformers import pipeline

    from local_emulation.sagemaker_runtime import load_inference

    rows = _rows()
    texts = [t for t, _ in rows]
    batch = texts[:1000]
    print(f"model: {model_dir} ({len(texts)} validation headlines; throughput over a 1,000-headline request)\n")

    def ours(quantize: str):
        os.environ["HEADLINE_QUANTIZE"] = quantize
        inference = load_inference()
        model = inference.model_fn(str(model_dir))

        def call(headlines: list[str]) -> list[str]:
            body = json.dumps({"inputs": headlines if len(headlines) > 1 else headlines[0]}).encode()
            out = json.loads(inference.output_fn(inference.predict_fn(inference.input_fn(body, "application/json"),
                                                                      model), "application/json"))
            return [o["predicted_label"] for o in (out if isinstance(out, list) else [out])]
        return call

    def hf(batch_size: int | None):
        kwargs = {} if batch_size is None else {"batch_size": batch_size}
        classifier = pipeline("text-classification", model=str(model_dir), tokenizer=str(model_dir), device=-1)

        def call(headlines: list[str]) -> list[str]:
            return [r["label"] for r in classifier(headlines, **kwargs)]
        return call

    candidates = {
        "pipeline, defaults": hf(None),
        "pipeline, batch_size=32": hf(32),
        "inference.py": ours("0"),
        "inference.py, int8 (HEADLINE_QUANTIZE=1)": ours("1"),
    }
    results = {}
    for name, call in candidates.items():
        call(batch[:50])  # warm up
        best = min(_timed(lambda c=call: c(batch)) for _ in range(repeats))
        predicted = []
        for start in range(0, len(texts), 1000):
            predicted += call(texts[start:start + 1000])
        latencies = []
        for text in texts[:200]:
            started = time.perf_counter()
            call([text])
            latencies.append((time.perf_counter() - started) * 1000)
        results[name] = (len(batch) / best, _accuracy(predicted, rows), latencies)
    base_default, base_batched = results["pipeline, defaults"][0], results["pipeline, batch_size=32"][0]
    print(f"{'':<44}{'headlines/s':>12}{'x default':>10}{'x batched':>10}{'accuracy':>10}{'p50 ms':>8}{'p99 ms':>8}")
    for name, (rate, accuracy, latencies) in results.items():
        print(f"{name:<44}{rate:>12.0f}{rate / base_default:>10.2f}{rate / base_batched:>10.2f}{accuracy:>10.4f}"
              f"{statistics.median(latencies):>8.1f}{_percentile(latencies, 0.99):>8.1f}")
    print()


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def proxy_section() -> None:
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
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'layers/common/python'}{os.pathsep}{REPO}")
    probe = ("import time, importlib.util as u; t = time.perf_counter(); {stmt}; "
             "print(time.perf_counter() - t)")
    load_app = ("s = u.spec_from_file_location('a', 'functions/classify_headline/app.py'); "
                "m = u.module_from_spec(s); s.loader.exec_module(m)")

    def import_time(stmt: str) -> float:
        runs = [float(subprocess.run([sys.executable, "-c", probe.format(stmt=stmt)], cwd=REPO, env=env,
                                     capture_output=True, text=True, check=True).stdout) for _ in range(5)]
        return statistics.median(runs)

    boto3_s, app_s = import_time("import boto3"), import_time(load_app)
    print(f"proxy handler, instant runtime: {per_request:.0f} µs per request (mean of {n})")
    print(f"cold-start imports: handler module {app_s * 1000:.0f} ms, bare `import boto3` {boto3_s * 1000:.0f} ms "
          f"(x{app_s / boto3_s:.1f}); median of 5 fresh interpreters\n")


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=60)
    args = parser.parse_args()
    import warnings

    from local_emulation.headline_model import ensure_model

    warnings.filterwarnings("ignore", message=".*quantize.*")  # torch's notice about its quantized tensors
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model_dir = ensure_model()
    print(f"classifier benchmark (torch threads: {__import__('torch').get_num_threads()})\n")
    model_section(model_dir, args.repeats)
    proxy_section()
    load_section(model_dir, args.concurrency, args.requests, args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
