"""A local HTTP front for the template's REST APIs: each request becomes an API Gateway proxy event for the real
Lambda handler of its route, with the environment the template gives the function.

Routes, methods, path parameters, the API-key requirement and AWS_IAM authorization are read from template.yaml:
- an API key is checked only when API_KEY is set (then `x-api-key` must match, as API Gateway checks it);
- an AWS_IAM route wants a SigV4 `Authorization` header for execute-api when `require_sigv4` is on (the
  signature itself is not verified: locally there is no IAM), and the caller's identity is put in the event.
Handlers run either through a `LocalPipeline` (`invoke`: the emulated AWS world, IAM enforced) or, for the
classification API alone, loaded here with their environment (`environment`). Locally S3 lives in-process, so
presigned S3 URLs in answers are rewritten to this server's `/_s3/<bucket>/<key>` (a `LocalS3Front` serves
them: GET reads the object, PUT uploads it as S3 would, and the upload starts a run). Loopback only; one
request is handled at a time, as by one Lambda instance.
"""

from __future__ import annotations

import calendar
import importlib.util
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local_emulation.harness import LambdaContext
from local_emulation.template import ACCOUNT_ID, Stack

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request payload limit
S3_PREFIX = "/_s3"
LOCAL_CALLER = f"arn:aws:iam::{ACCOUNT_ID}:user/local"

Invoker = Callable[[str, dict[str, Any]], dict[str, Any]]  # (function logical id, event) -> the proxy answer


class ApiRoute:
    def __init__(self, function: str, path: str, method: str, api_key_required: bool, api: str = "",
                 iam_auth: bool = False) -> None:
        self.function, self.path, self.method = function, path, method.upper()
        self.api_key_required, self.api, self.iam_auth = api_key_required, api, iam_auth
        # /runs/{run_id}/stop -> ^/runs/(?P<run_id>[^/]+)/stop$
        self.pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path) if method == self.method else None
        return {k: unquote(v) for k, v in found.groupdict().items()} if found else None


def api_routes(stack: Stack, apis: list[str] | None = None) -> list[ApiRoute]:
    """Every Api event of every function (of the APIs named in `apis`, or of all)."""
    routes = []
    for lid, res in stack.of_type("AWS::Serverless::Function").items():
        for spec in ((res.get("Properties") or {}).get("Events") or {}).values():
            if spec["Type"] != "Api":
                continue
            props = stack.resolve(spec["Properties"])
            api_id = spec["Properties"].get("RestApiId", {}).get("Ref", "")
            if apis is not None and api_id not in apis:
                continue
            api_auth = (stack.resources.get(api_id, {}).get("Properties") or {}).get("Auth") or {}
            route_auth = props.get("Auth") or {}
            required = route_auth.get("ApiKeyRequired", api_auth.get("ApiKeyRequired", False))
            authorizer = route_auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
            routes.append(ApiRoute(lid, props["Path"], props["Method"], bool(required), api_id,
                                   authorizer == "AWS_IAM"))
    return routes


class LocalS3Front:
    """S3 as a browser or curl meets it through presigned URLs, for the in-process (moto) S3 of a pipeline.

    What S3 checks and this does too: a presigned URL's expiry (X-Amz-Date + X-Amz-Expires), that a request
    carries a signature at all, and a conditional write (If-None-Match: * on an existing key: 412). What it
    does not: the signature itself; instead a PUT is refused outside `writable_prefixes` (where the runs API
    signs uploads), so a test cannot pass by writing where no URL was handed out."""

    def __init__(self, client: Callable[[], Any], buckets: list[str], upload: Callable[[str, str, bytes], Any],
                 lock: threading.Lock | threading.RLock | None = None,
                 writable_prefixes: tuple[str, ...] = ("incoming/",)) -> None:
        self.client, self.buckets, self.upload = client, buckets, upload
        self.lock = lock or threading.Lock()
        self.writable_prefixes = writable_prefixes

    def rewrite(self, text: str, base_url: str) -> str:
        """Presigned URLs of these buckets (virtual-hosted or path style) → this server's /_s3/ route."""
        for bucket in self.buckets:
            host, local = re.escape(bucket), f"{base_url}{S3_PREFIX}/{bucket}/"
            text = re.sub(rf"https://{host}\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/", local, text)
            text = re.sub(rf"https://s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com/{host}/", local, text)
        return text

    @staticmethod
    def _refusal(query: dict[str, list[str]]) -> bytes | None:
        signed_at, expires = (query.get("X-Amz-Date") or [""])[-1], (query.get("X-Amz-Expires") or [""])[-1]
        if not (query.get("X-Amz-Signature") and signed_at and expires.isdigit()):
            return b"<Error><Code>AccessDenied</Code><Message>not a presigned URL</Message></Error>"
        start = calendar.timegm(time.strptime(signed_at, "%Y%m%dT%H%M%SZ"))
        if time.time() > start + int(expires):
            return b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
        return None

    def serve(self, method: str, path: str, body: bytes, headers: dict[str, str] | None = None,
              query: dict[str, list[str]] | None = None) -> tuple[int, bytes, str]:
        bucket, _, key = unquote(path[len(S3_PREFIX) + 1:]).partition("/")
        if bucket not in self.buckets or not key:
            return 404, b"<Error><Code>NoSuchBucket</Code></Error>", "application/xml"
        refusal = self._refusal(query or {})
        if refusal is not None:
            return 403, refusal, "application/xml"
        with self.lock:
            if method == "PUT":
                if not key.startswith(self.writable_prefixes):
                    return 403, b"<Error><Code>AccessDenied</Code></Error>", "application/xml"
                if (headers or {}).get("if-none-match") == "*" and self._exists(bucket, key):
                    return 412, b"<Error><Code>PreconditionFailed</Code></Error>", "application/xml"
                self.upload(bucket, key, body)
                return 200, b"", "application/xml"
            try:
                answer = self.client().get_object(Bucket=bucket, Key=key)
            except Exception:  # noqa: BLE001 - moto's NoSuchKey
                return 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml"
            return 200, answer["Body"].read(), answer.get("ContentType") or "application/octet-stream"

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self.client().head_object(Bucket=bucket, Key=key)
            return True
        except Exception:  # noqa: BLE001 - moto's 404
            return False


class _ModuleInvoker:
    """One function's handler, loaded here with its template environment (the classification API alone)."""

    def __init__(self, stack: Stack, function: str, environment: dict[str, str]) -> None:
        self.stack, self.function = stack, function
        values = stack.function_environment(function) | environment
        self.saved_env = {k: os.environ.get(k) for k in values}
        os.environ.update(values)  # handlers read it at first use, like a Lambda container
        code_uri = stack.function_property(function, "CodeUri")
        module_name, self.handler = stack.function_property(function, "Handler").rsplit(".", 1)
        spec = importlib.util.spec_from_file_location(f"lambda_{function}", stack.root / code_uri / f"{module_name}.py")
        assert spec and spec.loader
        self.module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.timeout_s = int(stack.function_property(function, "Timeout", 3))

    def __call__(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(function_name=function, memory_limit_in_mb=512,
                                invoked_function_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{function}",
                                timeout_s=self.timeout_s)
        return getattr(self.module, self.handler)(event, context)

    def restore(self) -> None:
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class LocalApi:
    def __init__(self, stack: Stack, environment: dict[str, str] | None = None, host: str = "127.0.0.1",
                 port: int = 3000, api_key: str | None = None, stage: str = "local", *,
                 invoke: Invoker | None = None, apis: list[str] | None = None, require_sigv4: bool = False,
                 s3: LocalS3Front | None = None) -> None:
        self.stack = stack
        self.routes = api_routes(stack, apis)
        self.api_key, self.stage, self.require_sigv4, self.s3 = api_key, stage, require_sigv4, s3
        self._modules: _ModuleInvoker | None = None
        if invoke is None:
            functions = {r.function for r in self.routes}
            if len(functions) != 1:
                raise NotImplementedError(f"without a pipeline one function is served; these APIs have {functions}")
            self._modules = _ModuleInvoker(stack, functions.pop(), environment or {})
            invoke = self._modules
        self.invoke = invoke
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True

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
        if self._modules is not None:
            self._modules.restore()

    def event(self, method: str, path: str, headers: dict[str, str], body: str | None, route: ApiRoute,
              query: dict[str, list[str]] | None = None, path_parameters: dict[str, str] | None = None,
              caller: str | None = None) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        identity: dict[str, Any] = {"sourceIp": "127.0.0.1", "apiKey": headers.get("x-api-key")}
        if caller:  # what API Gateway puts in the event for an IAM-authorized request
            identity |= {"userArn": caller, "caller": caller.rsplit("/", 1)[-1], "accountId": ACCOUNT_ID,
                         "user": caller.rsplit("/", 1)[-1]}
        return {
            "resource": route.path, "path": path, "httpMethod": method,
            "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
            "multiValueQueryStringParameters": query or None, "pathParameters": path_parameters or None,
            "stageVariables": None, "body": body, "isBase64Encoded": False,
            "requestContext": {"resourcePath": route.path, "httpMethod": method, "path": f"/{self.stage}{path}",
                               "stage": self.stage, "requestId": request_id, "accountId": ACCOUNT_ID,
                               "apiId": "local", "requestTimeEpoch": int(time.time() * 1000),
                               "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                               "identity": identity},
        }

    def call(self, event: dict[str, Any], function: str | None = None) -> dict[str, Any]:
        with self._lock:
            return self.invoke(function or self.routes[0].function, event)

    def _caller(self, route: ApiRoute, headers: dict[str, str]) -> tuple[bool, str | None]:
        """(allowed, caller ARN) for an AWS_IAM route: a SigV4 header for execute-api, when it is required."""
        if not route.iam_auth:
            return True, None
        signed = re.match(r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/\d{8}/[a-z0-9-]+/execute-api/aws4_request",
                          headers.get("authorization", ""))
        if signed:
            return True, f"arn:aws:iam::{ACCOUNT_ID}:user/{signed.group(1)}"
        return (not self.require_sigv4), LOCAL_CALLER

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: str | bytes, headers: dict[str, str] | None = None) -> None:
                data = body.encode() if isinstance(body, str) else body
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
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                if api.s3 is not None and parts.path.startswith(S3_PREFIX + "/"):
                    status, data, content_type = api.s3.serve(
                        method, parts.path, raw, {k.lower(): v for k, v in self.headers.items()},
                        parse_qs(parts.query, keep_blank_values=True))
                    self._reply(status, data, {"Content-Type": content_type})
                    return
                found = next(((r, p) for r in api.routes if (p := r.match(method, parts.path)) is not None), None)
                if found is None:  # what API Gateway answers for a route it does not have
                    self._reply(403, json.dumps({"message": "Missing Authentication Token"}))
                    return
                route, path_parameters = found
                headers = {k.lower(): v for k, v in self.headers.items()}
                if api.api_key and route.api_key_required and headers.get("x-api-key") != api.api_key:
                    self._reply(403, json.dumps({"message": "Forbidden"}))
                    return
                allowed, caller = api._caller(route, headers)
                if not allowed:
                    self._reply(403, json.dumps({"message": "Missing Authentication Token"}))
                    return
                body = raw.decode("utf-8", "replace") if raw else None
                query = parse_qs(parts.query, keep_blank_values=True) if parts.query else None
                event = api.event(method, parts.path, headers, body, route, query, path_parameters, caller)
                result = api.call(event, route.function)
                out_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
                out_headers.setdefault("Content-Type", "application/json")
                text = result.get("body") or ""
                if api.s3 is not None:
                    text = api.s3.rewrite(text, api.url)
                self._reply(int(result["statusCode"]), text, out_headers)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._serve("PUT")

        return Handler
