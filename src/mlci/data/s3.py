"""S3 prefixes, listed through boto3: key, size and ETag (plus VersionId in a versioned
bucket); nothing is downloaded.

The ETag is an entry's content identity (`etag:<etag>`), so rewriting the same bytes is not a
change; in a versioned bucket each entry also records its VersionId, so the manifest pins
the exact snapshot. The endpoint is `$MLCI_S3_ENDPOINT_URL`, else `$AWS_ENDPOINT_URL_S3` /
`$AWS_ENDPOINT_URL` (MinIO, moto, Ceph ...), else AWS.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from mlci.data.manifest import Entry
from mlci.errors import InputError, ServiceError


def parse_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise InputError(f"expected s3://bucket/prefix, got {uri!r}", key="data.s3")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket:
        raise InputError(f"expected s3://bucket/prefix, got {uri!r}", key="data.s3")
    return bucket, prefix


def client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise InputError("S3 prefixes need boto3, which is not installed: "
                         "pip install 'mlci[s3]'", key="data.s3") from None
    endpoint = (os.environ.get("MLCI_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL") or None)
    return boto3.client("s3", endpoint_url=endpoint,
                        config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                      connect_timeout=10, read_timeout=60))


def _fail(uri: str, exc: Exception) -> Exception:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        if code in ("NoSuchBucket", "404", "NotFound"):
            return InputError(f"{uri}: no such bucket", key="data.s3")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return ServiceError(f"{uri}: access denied listing the prefix ({code}: {message})",
                                key="data.s3")
        return ServiceError(f"{uri}: S3 error {code}: {message}", key="data.s3")
    return ServiceError(f"{uri}: cannot reach S3: {exc}", key="data.s3")


def _versioned(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("AccessDenied", "403",
                                                         "NotImplemented"):
            return False  # no permission to ask: list current objects only
        raise
    return status in ("Enabled", "Suspended")


def list_prefix(uri: str, s3: Any = None,
                progress: Callable[[int], None] | None = None) -> list[Entry]:
    bucket, prefix = parse_uri(uri)
    s3 = s3 if s3 is not None else client()
    from botocore.exceptions import BotoCoreError, ClientError

    entries: list[Entry] = []
    try:
        if _versioned(s3, bucket):
            pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                      Prefix=prefix)
            for page in pages:
                for obj in page.get("Versions", []):
                    if not obj.get("IsLatest") or obj["Key"].endswith("/"):
                        continue  # older versions; "folder" markers
                    entries.append(Entry(f"s3://{bucket}/{obj['Key']}", int(obj["Size"]),
                                         "etag:" + obj["ETag"].strip('"'),
                                         {"source": uri, "version_id": obj.get("VersionId")}))
                if progress:
                    progress(len(entries))
        else:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/") and not obj["Size"]:
                        continue
                    entries.append(Entry(f"s3://{bucket}/{obj['Key']}", int(obj["Size"]),
                                         "etag:" + obj["ETag"].strip('"'), {"source": uri}))
                if progress:
                    progress(len(entries))
    except (ClientError, BotoCoreError) as exc:
        raise _fail(uri, exc) from None
    return entries


def s3_entries(uris: list[str]) -> list[Entry]:
    if not uris:
        return []
    s3 = client()
    entries: dict[str, Entry] = {}
    for uri in uris:  # overlapping prefixes name an object once
        entries.update((e.path, e) for e in list_prefix(uri, s3))
    return list(entries.values())
