"""A local HTTP front for the template's REST API routes: each request becomes an API Gateway proxy event
for the real Lambda handler, with the environment the template gives the function.

Routes, methods and the API-key requirement are read from template.yaml. Locally no key is needed unless
API_KEY is set (then `x-api-key` must match, as API Gateway checks it). Loopback only; one request is
handled at a time, as by one Lambda instance.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

from local_emulation.harness import LambdaContext
from local_emulation.template import ACCOUNT_ID, Stack

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request payload limit


class ApiRoute:
    def __init__(self, function: str, path: str, method: str, api_key_required: bool) -> None:
        self.function, self.path, self.method, self.api_key_required = function, path, method.upper(), api_key_required


def api_routes(stack: Stack) -> list[ApiRoute]:
    routes = []
    for lid, res in stack.of_type("AWS::Serverless::Function").items():
        for spec in ((res.get("Properties") or {}).get("Events") or {}).values():
            if spec["Type"] != "Api":
                continue
            props = stack.resolve(spec["Properties"])
            api_id = spec["Properties"].get("RestApiId", {}).get("Ref")
            api_auth = (stack.resources.get(api_id, {}).get("Properties") or {}).get("Auth") or {}
            required = (props.get("Auth") or {}).get("ApiKeyRequired", api_auth.get("ApiKeyRequired", False))
            routes.append(ApiRoute(lid, props["Path"], props["Method"], bool(required)))
    return routes


class LocalApi:
    def __init__(self, stack: Stack, environment: dict[str, str], host: str = "127.0.0.1", port: int = 3000,
                 api_key: str | None = None, stage: str = "local") -> None:
        self.stack = stack
        self.routes = api_routes(stack)
        self.api_key = api_key
        self.stage = stage
        functions = {r.function for r in self.routes}
        if len(functions) != 1:
            raise NotImplementedError(f"one function behind the API is emulated; the template has {functions}")
        self.function = functions.pop()
        # the function's environment is set once: handlers read it at first use, like a Lambda container
        values = stack.function_environment(self.function) | environment
        self._saved_env = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        self.module, self.handler = self._load()
        self.timeout_s = int(stack.function_property(self.function, "Timeout", 3))
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True

    def _load(self) -> tuple[ModuleType, str]:
        code_uri = self.stack.function_property(self.function, "CodeUri")
        module_name, handler = self.stack.function_property(self.function, "Handler").rsplit(".", 1)
        path = self.stack.root / code_uri / f"{module_name}.py"
        spec = importlib.util.spec_from_file_location(f"lambda_{self.function}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module, handler

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def event(self, method: str, path: str, headers: dict[str, str], body: str | None,
              route: ApiRoute) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        return {
            "resource": route.path, "path": path, "httpMethod": method,
            "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
            "stageVariables": None, "body": body, "isBase64Encoded": False,
            "requestContext": {"resourcePath": route.path, "httpMethod": method, "path": f"/{self.stage}{path}",
                               "stage": self.stage, "requestId": request_id, "accountId": ACCOUNT_ID,
                               "apiId": "local", "requestTimeEpoch": int(time.time() * 1000),
                               "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                               "identity": {"sourceIp": "127.0.0.1", "apiKey": headers.get("x-api-key")}},
        }

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(function_name=self.function, memory_limit_in_mb=512,
                                invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{self.function}",
                                timeout_s=self.timeout_s)
        with self._lock:
            return getattr(self.module, self.handler)(event, context)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                for key, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_PAYLOAD:
                    self._reply(413, json.dumps({"message": "Request Too Long"}))
                    return
                body = self.rfile.read(length).decode("utf-8", "replace") if length else None
                path = self.path.split("?", 1)[0]
                route = next((r for r in api.routes if r.path == path and r.method == method), None)
                if route is None:  # what API Gateway answers for a route it does not have
                    self._reply(403, json.dumps({"message": "Missing Authentication Token"}))
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                if api.api_key and route.api_key_required and headers.get("x-api-key") != api.api_key:
                    self._reply(403, json.dumps({"message": "Forbidden"}))
                    return
                result = api.call(api.event(method, path, headers, body, route))
                out_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
                out_headers.setdefault("Content-Type", "application/json")
                self._reply(int(result["statusCode"]), result.get("body") or "", out_headers)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

        return Handler
