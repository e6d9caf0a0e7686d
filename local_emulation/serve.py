"""`make serve`: the headline classification API on localhost, as deployed but without AWS.

HTTP on PORT (3000) → the template's API routes → the real proxy Lambda → boto3 → a local SageMaker
endpoint stand-in serving inference.py with a model trained here (on first run) from the bundled data.
Set API_KEY to require an `x-api-key` header, as API Gateway does.
"""

from __future__ import annotations

import os
import sys
import time

from local_emulation.api_server import LocalApi
from local_emulation.harness import FAKE_ENV, TEMPLATE
from local_emulation.headline_model import ensure_model
from local_emulation.sagemaker_runtime import SageMakerStandIn
from local_emulation.template import Stack

ENDPOINT = "local-headlines"


def main() -> int:
    port = int(os.environ.get("PORT", "3000"))
    model_dir = ensure_model()
    runtime = SageMakerStandIn(model_dir, ENDPOINT).start()
    stack = Stack(TEMPLATE, "ftp-local", {"HeadlineEndpointName": ENDPOINT, "HeadlineModelVersion": "local"})
    env = FAKE_ENV | {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime.url, "AWS_ENDPOINT_URL_SAGEMAKER": runtime.url,
                      "POWERTOOLS_LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    api = LocalApi(stack, env, port=port, api_key=os.environ.get("API_KEY") or None).start()
    key = ' -H "x-api-key: $API_KEY"' if os.environ.get("API_KEY") else ""
    print(f"""
headline classification API on {api.url} (SageMaker stand-in on {runtime.url}); Ctrl-C stops it

  curl -s {api.url}/health{key}
  curl -s -X POST {api.url}/classify{key} -H 'Content-Type: application/json' \\
       -d '{{"headline": "Apple unveils its new iPhone"}}'
  curl -s -X POST {api.url}/classify/batch{key} -H 'Content-Type: application/json' \\
       -d '{{"headlines": ["Fed raises rates", "Ebola outbreak spreads"]}}'
""", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        api.stop()
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
