"""`make serve`: the classification API and the runs API on localhost, as deployed but without AWS.

One local pipeline (local_emulation/harness.py) first runs the bundled headlines through the whole flow, so the
runs API shows a real run; then HTTP on PORT (3000) serves every route of template.yaml through the real
handlers: `/classify*`, `/health`, `/model` (the proxy Lambda → boto3 → a local SageMaker endpoint stand-in
serving inference.py with a model trained here on first run) and `/runs*` (the runs API over the emulated
ledger, bucket and bus). While it serves, the emulated world moves on by itself: every few seconds its clock
advances EMULATED_MINUTES_PER_STEP and the emulated Bedrock finishes any job in training, so a dataset
submitted through `POST /runs` (or `ft-pipeline --url ... submit`) runs to its report in about a minute.

Set API_KEY to require `x-api-key` on the classification routes, as API Gateway does. The runs API's routes
take unsigned requests here (locally there is no IAM); `ft-pipeline --url http://127.0.0.1:3000` uses them.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from local_emulation.demo import DEFAULT_DATASET
from local_emulation.harness import LocalPipeline
from local_emulation.headline_model import ensure_model
from local_emulation.sagemaker_runtime import SageMakerStandIn

ENDPOINT = "local-headlines"
STEP_SECONDS = 5.0
EMULATED_MINUTES_PER_STEP = 10  # the sweeper runs every 10 emulated minutes: one sweep per step


def run_bundled_dataset(pipeline: LocalPipeline, dataset: bytes, key: str = "incoming/headlines.csv") -> dict:
    """The demo's run, quietly: upload, validate, train (emulated), deploy, evaluate, tear down."""
    pipeline.upload(key, dataset)
    pipeline.run()
    for job in pipeline.bedrock.in_progress():
        pipeline.bedrock.finish(job, "Completed")
    pipeline.run()
    pipeline.advance(minutes=30)
    return pipeline.ledger()[-1]


def move_on(pipeline: LocalPipeline, lock: threading.RLock, stop: threading.Event) -> None:
    """The emulated world's own time: jobs finish, the clock moves on, schedules fire."""
    while not stop.wait(STEP_SECONDS):
        with lock:
            for job in pipeline.bedrock.in_progress():
                pipeline.bedrock.finish(job, "Stopped" if pipeline.bedrock.jobs()[job].status == "Stopping"
                                        else "Completed")
            pipeline.advance(minutes=EMULATED_MINUTES_PER_STEP)


def main() -> int:
    port = int(os.environ.get("PORT", "3000"))
    model_dir = ensure_model()
    runtime = SageMakerStandIn(model_dir, ENDPOINT).start()
    endpoints = {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime.url, "AWS_ENDPOINT_URL_SAGEMAKER": runtime.url}
    overrides = {"HeadlineEndpointName": ENDPOINT, "HeadlineModelVersion": "local"}
    with LocalPipeline(parameter_overrides=overrides, function_env=endpoints,
                       log_level=os.environ.get("LOG_LEVEL", "WARNING")) as pipeline:
        print("running the bundled headlines through the local pipeline first...", flush=True)
        run = run_bundled_dataset(pipeline, DEFAULT_DATASET.read_bytes())
        lock, stop = threading.RLock(), threading.Event()
        api = pipeline.serve_api(port=port, api_key=os.environ.get("API_KEY") or None, auto_run=True, lock=lock)
        threading.Thread(target=move_on, args=(pipeline, lock, stop), daemon=True).start()
        key = ' -H "x-api-key: $API_KEY"' if os.environ.get("API_KEY") else ""
        print(f"""
run {run['run_id']}: {run['status']}. Both APIs on {api.url} (SageMaker stand-in on {runtime.url}); Ctrl-C stops

  curl -s {api.url}/runs
  curl -s {api.url}/runs/{run['run_id']}
  ft-pipeline --url {api.url} runs
  ft-pipeline --url {api.url} submit data/headlines/validation.csv --wait

  curl -s {api.url}/health{key}
  curl -s -X POST {api.url}/classify{key} -H 'Content-Type: application/json' \\
       -d '{{"headline": "Apple unveils its new iPhone"}}'
""", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            stop.set()
            api.stop()
    runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
