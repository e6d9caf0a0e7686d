"""A local stand-in for a SageMaker endpoint, serving inference.py over InvokeEndpoint's HTTP path.

Point boto3 at it with AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME (and AWS_ENDPOINT_URL_SAGEMAKER for
DescribeEndpoint) and code that calls SageMaker runs unchanged:
  POST /endpoints/<name>/invocations   the model's answer, or AWS's errors: ValidationError for an unknown
                                       endpoint, ModelError (424) when inference.py rejects the input
  POST / (X-Amz-Target: SageMaker.DescribeEndpoint)   InService for the served endpoint
  GET  /ping                           the container health check
Loopback only. Inference runs one request at a time, as one model worker would.
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
INFERENCE = REPO / "ml" / "headline_classifier" / "inference.py"


def load_inference(path: Path = INFERENCE) -> ModuleType:
    spec = importlib.util.spec_from_file_location("headline_inference", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SageMakerStandIn:
    def __init__(self, model_dir: Path, endpoint_name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.endpoint_name = endpoint_name
        self.inference = load_inference()
        self.model = self.inference.model_fn(str(model_dir))
        self.created = time.time()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SageMakerStandIn:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def invoke(self, body: bytes, content_type: str, accept: str) -> str:
        inf = self.inference
        with self._lock:
            data = inf.input_fn(body, content_type)
            return inf.output_fn(inf.predict_fn(data, self.model), accept)

    def describe(self) -> dict[str, Any]:
        arn = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{self.endpoint_name.lower()}"
        return {"EndpointName": self.endpoint_name, "EndpointArn": arn, "EndpointConfigName": self.endpoint_name,
                "EndpointStatus": "InService", "CreationTime": self.created, "LastModifiedTime": self.created}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict[str, Any] | str, error_type: str | None = None) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                else:
                    self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/ping":
                    self._send(200, "")
                else:
                    self._send(404, {"message": "not found"}, "UnknownOperationException")

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                if target == "SageMaker.DescribeEndpoint":
                    name = json.loads(body or b"{}").get("EndpointName")
                    if name != stand_in.endpoint_name:
                        self._send(400, {"__type": "ValidationException",
                                         "message": f"Could not find endpoint \"{name}\"."}, "ValidationException")
                    else:
                        self._send(200, stand_in.describe())
                    return
                parts = self.path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
                    self._send(404, {"message": f"unknown path {self.path}"}, "UnknownOperationException")
                    return
                if parts[1] != stand_in.endpoint_name:
                    self._send(400, {"message": f"Endpoint {parts[1]} of account 123456789012 not found."},
                               "ValidationError")
                    return
                try:
                    answer = stand_in.invoke(body, self.headers.get("Content-Type", "application/json"),
                                             self.headers.get("Accept", "application/json"))
                except ValueError as exc:  # what the inference toolkit turns into a 400 from the container
                    self._send(424, {"message": "Received client error (400) from primary with message "
                                                f"\"{exc}\".", "OriginalStatusCode": 400,
                                     "OriginalMessage": str(exc)}, "ModelError")
                    return
                self._send(200, answer)

        return Handler
