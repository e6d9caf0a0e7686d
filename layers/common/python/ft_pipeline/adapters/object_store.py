"""S3 access for the pipeline: streaming reads, small reads, uploads.

Every write is tagged by what it is (`naming.retention_tag`): the bucket's lifecycle rules expire rejected
records and intermediate data by that tag, and keep the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from ft_pipeline.adapters.clients import client
from ft_pipeline.naming import retention_tag
from ft_pipeline.ports import ObjectInfo

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _MISSING


def _tagging(key: str) -> dict[str, Any]:
    tag = retention_tag(key)
    return {"Tagging": urlencode([tag])} if tag else {}


class S3ObjectStore:
    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            meta = client("s3").head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return ObjectInfo(key, meta["ContentLength"], (meta.get("ETag") or "").strip('"') or None,
                          meta.get("VersionId"))

    def open(self, bucket: str, key: str, version_id: str | None = None) -> BinaryIO:
        """A streaming body: the object is read as it is consumed, never held whole."""
        extra = {"VersionId": version_id} if version_id and version_id != "null" else {}
        return client("s3").get_object(Bucket=bucket, Key=key, **extra)["Body"]

    def read_small(self, bucket: str, key: str, max_bytes: int = 256 * 1024) -> bytes | None:
        """The whole object if it exists and is small (manifests), else None / ValueError."""
        try:
            obj = client("s3").get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        if obj["ContentLength"] > max_bytes:
            raise ValueError(f"s3://{bucket}/{key} is {obj['ContentLength']} bytes; at most {max_bytes} allowed")
        return obj["Body"].read()

    def upload(self, path: Path, bucket: str, key: str, content_type: str) -> str:
        # upload_file streams from disk and switches to multipart for large files
        client("s3").upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type} | _tagging(key))
        return f"s3://{bucket}/{key}"

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        paginator = client("s3").get_paginator("list_objects_v2")
        return [o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]

    def list_objects(self, bucket: str, prefix: str, limit: int = 10_000) -> list[ObjectInfo]:
        """Keys and sizes under `prefix` (a model folder), at most `limit`: a folder with more is refused anyway."""
        found: list[ObjectInfo] = []
        for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                found.append(ObjectInfo(o["Key"], o["Size"], (o.get("ETag") or "").strip('"') or None, None))
                if len(found) >= limit:
                    return found
        return found

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str) -> str:
        client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **_tagging(key))
        return f"s3://{bucket}/{key}"

    def put_json(self, bucket: str, key: str, document: object) -> str:
        client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=1).encode(),
                                ContentType="application/json", **_tagging(key))
        return f"s3://{bucket}/{key}"

    def presign_get(self, bucket: str, key: str, seconds: int) -> str:
        """A link anyone holding it may read the object with, for `seconds` (and no longer than the signer's
        credentials last: a Lambda role's, hours)."""
        return client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                   ExpiresIn=seconds)

    def presign_put(self, bucket: str, key: str, seconds: int, if_none_match: bool = False) -> str:
        """A URL a client may PUT one object to, at that key only, for `seconds`; `if_none_match`: signed with
        If-None-Match: * (S3's conditional write), so the URL creates the object once and never overwrites it."""
        params = {"Bucket": bucket, "Key": key} | ({"IfNoneMatch": "*"} if if_none_match else {})
        return client("s3").generate_presigned_url("put_object", Params=params, ExpiresIn=seconds)
