"""The runs API over HTTP: urllib only, SigV4-signed for `execute-api` when talking to a deployed stack.

Every failure (an error answer, a refused connection, a timeout, no credentials) is an `ApiError` carrying the
HTTP status (None when no answer came) and a message a person can act on.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import IO, Any

USER_AGENT = "ft-pipeline-cli"
SERVICE = "execute-api"
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class ApiError(Exception):
    """The API (or the network, or AWS credentials) failed the request."""

    def __init__(self, status: int | None, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []

    def __str__(self) -> str:
        text = f"{self.message} (HTTP {self.status})" if self.status else self.message
        for detail in self.details:
            field, problem = detail.get("field"), detail.get("problem")
            text += f"\n  {field}: {problem}" if field else f"\n  {problem or detail}"
        return text


def _error_from_answer(status: int, body: bytes) -> ApiError:
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        # the API's ErrorAnswer has `message`; API Gateway's own answers have `message` or `Message`
        message = answer.get("message") or answer.get("Message")
        details = answer.get("details")
        if message:
            return ApiError(status, str(message), details if isinstance(details, list) else None)
    snippet = body[:300].decode("utf-8", "replace").strip()
    return ApiError(status, snippet or f"HTTP {status} with no message")


class Signer:
    """Adds SigV4 headers (Authorization, X-Amz-Date and, for temporary credentials, X-Amz-Security-Token)."""

    def __init__(self, region: str, credentials: Any, service: str = SERVICE) -> None:
        self.region, self.credentials, self.service = region, credentials, service

    @classmethod
    def from_session(cls, region: str | None, url: str | None = None) -> Signer:
        """The caller's credentials from boto3's usual chain (environment, profile, SSO, instance role)."""
        try:
            import boto3.session
            from botocore.exceptions import BotoCoreError
        except ImportError:  # pragma: no cover - boto3 is a dependency of signing only
            raise ApiError(None, "signing requests needs boto3: pip install boto3") from None
        try:
            session = boto3.session.Session(region_name=region)
            credentials = session.get_credentials()
            region = region or session.region_name or region_of(url)
        except BotoCoreError as exc:
            raise ApiError(None, f"cannot read AWS credentials: {exc}") from None
        if credentials is None:
            raise ApiError(None, "no AWS credentials found to sign the request: configure a profile "
                                 "(aws configure / AWS_PROFILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if not region:
            raise ApiError(None, "no AWS region: give --region or set AWS_REGION")
        signer = cls(region, credentials)  # refreshable (SSO, assumed roles): frozen afresh for every request
        signer.frozen()
        return signer

    def frozen(self) -> Any:
        """The credentials as of now (a watch of hours outlives an hour-long session's first credentials)."""
        freeze = getattr(self.credentials, "get_frozen_credentials", None)
        if freeze is None:
            return self.credentials
        try:
            from botocore.exceptions import BotoCoreError
        except ImportError:  # pragma: no cover
            BotoCoreError = Exception  # noqa: N806
        try:
            return freeze()
        except BotoCoreError as exc:
            raise ApiError(None, f"cannot read AWS credentials: {exc}") from None

    def headers(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(self.frozen(), self.service, self.region).add_auth(request)
        return {str(k): str(v) for k, v in request.headers.items()}


def region_of(url: str | None) -> str | None:
    """The region in an API Gateway URL (https://id.execute-api.REGION.amazonaws.com/stage), if it is one."""
    host = urllib.parse.urlsplit(url or "").hostname or ""
    found = _EXECUTE_API_HOST.match(host)
    return found.group(1) if found else None


def stack_api_url(stack: str, region: str | None) -> str:
    """The deployed stack's `RunsApiUrl` output."""
    try:
        import boto3.session
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover
        raise ApiError(None, "--stack needs boto3: pip install boto3") from None
    try:
        cloudformation = boto3.session.Session(region_name=region).client("cloudformation")
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise ApiError(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                       f"stack {stack}: {error.get('Message') or error.get('Code') or exc}") from None
    except BotoCoreError as exc:
        raise ApiError(None, f"stack {stack}: {exc}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in s.get("Outputs", [])}
    if "RunsApiUrl" not in outputs:
        raise ApiError(None, f"stack {stack} has no RunsApiUrl output (is it this pipeline, fully deployed?)")
    return outputs["RunsApiUrl"]


class Client:
    """The runs API at `base_url`; requests are signed when a `Signer` is given."""

    def __init__(self, base_url: str, signer: Signer | None = None, timeout: float = 30.0) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ApiError(None, f"not an http(s) URL: {base_url}")
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.timeout = timeout

    # --- the routes -----------------------------------------------------------------------------------------

    def list_runs(self, *, state: str | None = None, since: str | None = None, until: str | None = None,
                  key: str | None = None, limit: int | None = None, cursor: str | None = None) -> dict[str, Any]:
        query = {"state": state, "since": since, "until": until, "key": key, "limit": limit, "cursor": cursor}
        return self.call("GET", "/runs", query=query)

    def all_runs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every page, following next_cursor (a page may hold fewer runs than the limit, even none)."""
        cursor = None
        while True:
            page = self.list_runs(cursor=cursor, **filters)
            yield page
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def get_run(self, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/runs/{urllib.parse.quote(run_id, safe='')}")

    def stop_run(self, run_id: str) -> dict[str, Any]:
        return self.call("POST", f"/runs/{urllib.parse.quote(run_id, safe='')}/stop")

    def submit(self, filename: str, options: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"filename": filename}
        if options is not None:
            body["options"] = options
        return self.call("POST", "/runs", body=body)

    # --- HTTP -----------------------------------------------------------------------------------------------

    def call(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
             body: Any = None) -> dict[str, Any]:
        url = self.base_url + path
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(sorted(params.items()), quote_via=urllib.parse.quote)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.signer is not None:
            headers = self.signer.headers(method, url, headers, data)
        _, answer = send(method, url, data, headers, self.timeout)
        try:
            parsed = json.loads(answer) if answer else {}
        except ValueError:
            raise ApiError(None, f"the API answered something that is not JSON: {answer[:200]!r}") from None
        if not isinstance(parsed, dict):
            raise ApiError(None, "the API answered JSON that is not an object")
        return parsed


def send(method: str, url: str, data: bytes | IO[bytes] | None, headers: Mapping[str, str],
         timeout: float) -> tuple[int, bytes]:
    """One HTTP exchange; any failure becomes an ApiError."""
    request = urllib.request.Request(url, data=data, headers=dict(headers), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the scheme is checked
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            raise _error_from_answer(exc.code, exc.read()) from None
    except urllib.error.URLError as exc:
        raise ApiError(None, f"cannot reach {_origin(url)}: {exc.reason}") from None
    except TimeoutError:
        raise ApiError(None, f"{_origin(url)} did not answer within {timeout:g} s") from None
    except (ConnectionError, OSError) as exc:
        raise ApiError(None, f"cannot reach {_origin(url)}: {exc}") from None


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def upload(url: str, stream: IO[bytes], size: int, headers: Mapping[str, str] | None = None,
           timeout: float = 300.0) -> int:
    """PUT a file to a presigned URL (no signing: the URL carries its own), streamed with its Content-Length."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ApiError(None, f"the upload URL is not http(s): {url[:80]}")
    sent = {"Content-Length": str(size), **(headers or {})}
    try:
        status, _ = send("PUT", url, stream, sent, timeout)
    except ApiError as exc:
        raise ApiError(exc.status, f"the upload failed: {exc.message}") from None
    return status


def download(url: str, timeout: float = 60.0) -> bytes:
    """GET a presigned link."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ApiError(None, f"the link is not http(s): {url[:80]}")
    try:
        return send("GET", url, None, {"User-Agent": USER_AGENT}, timeout)[1]
    except ApiError as exc:
        raise ApiError(exc.status, f"the download failed: {exc.message}") from None
