"""Where a rollout's state lives between ticks: a local JSON file or an S3 object.

Both stores offer the same compare-and-set: `load()` returns the document and a token, and
`save(doc, token)` writes only if the stored document is still the one that token names
(`token=None`: only if there is none yet), else raises `StateConflict`.

- local file: the compare and the write happen under an exclusive `flock` of `<path>.lock`;
  the write is a temporary file in the same directory, fsynced, renamed over the state
  (atomic: a reader sees the old or the new document, never half of one). Token: SHA-256.
- S3: `PutObject` with `If-Match: <ETag>` (`If-None-Match: *` to create). S3 answers 412
  (or 409 for a concurrent conditional write) to the loser. moto's server implements both
  headers on PutObject (checked per request; unlike S3 its check and write are not one atomic
  step under truly simultaneous requests, so the race tests use the local store).

Who may advance a rollout is a lease inside the document (`holder`), taken and released
with this compare-and-set (see `mlci.canary.controller`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from mlci.errors import InputError, ServiceError


class StateConflict(Exception):
    """Someone else wrote the state since we read it."""


class StateStore(Protocol):
    where: str

    def load(self) -> tuple[dict[str, Any] | None, str | None]: ...

    def save(self, doc: dict[str, Any], token: str | None) -> str: ...


def _encode(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def _decode(raw: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except ValueError as error:
        raise InputError(f"the rollout state is not valid JSON ({error}); it was not written "
                         "by mlci, or was edited by hand", file=where) from None
    if not isinstance(doc, dict):
        raise InputError("the rollout state is not a JSON object", file=where)
    return doc


class LocalStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(str(self.path) + ".lock", "a+b")  # noqa: SIM115 - held below
        except OSError as error:
            raise InputError(f"cannot use the rollout state: {error.strerror or error}",
                             file=self.where) from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)   # held for a read and a rename: milliseconds
            yield

    def _read(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, None
        except OSError as error:
            raise InputError(f"cannot read the rollout state: {error.strerror or error}",
                             file=self.where) from None
        return _decode(raw, self.where), hashlib.sha256(raw).hexdigest()

    def load(self) -> tuple[dict[str, Any] | None, str | None]:
        with self._locked():
            return self._read()

    def save(self, doc: dict[str, Any], token: str | None) -> str:
        raw = _encode(doc)
        with self._locked():
            _, current = self._read()
            if current != token:
                raise StateConflict(self.where)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(raw)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except OSError as error:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise InputError(f"cannot write the rollout state: {error.strerror or error}",
                                 file=self.where) from None
        return hashlib.sha256(raw).hexdigest()


class S3Store:
    def __init__(self, uri: str) -> None:
        rest = uri[len("s3://"):]
        bucket, _, key = rest.partition("/")
        if not bucket or not key or key.endswith("/"):
            raise InputError(f"expected s3://bucket/path/to/state.json, got {uri!r}",
                             key="deploy.state")
        self.bucket, self.key, self.where = bucket, key, uri
        try:
            import boto3
        except ImportError:
            raise InputError("an s3:// rollout state needs boto3: install mlci[s3]",
                             key="deploy.state") from None
        self.client = boto3.client("s3")

    def _fail(self, what: str, error: Exception) -> ServiceError:
        return ServiceError(f"S3 {what} of the rollout state {self.where} failed: {error}")

    def load(self) -> tuple[dict[str, Any] | None, str | None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key)
            raw = answer["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None, None
            raise self._fail("read", error) from None
        except BotoCoreError as error:
            raise self._fail("read", error) from None
        return _decode(raw, self.where), str(answer["ETag"])

    def save(self, doc: dict[str, Any], token: str | None) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        condition = {"IfMatch": token} if token else {"IfNoneMatch": "*"}
        try:
            answer = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=_encode(doc),
                                            ContentType="application/json", **condition)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or \
                    status in (409, 412):
                raise StateConflict(self.where) from None
            raise self._fail("write", error) from None
        except BotoCoreError as error:
            raise self._fail("write", error) from None
        return str(answer["ETag"])


def open_store(location: str, base_dir: Path) -> StateStore:
    if location.startswith("s3://"):
        return S3Store(location)
    if "://" in location:
        raise InputError(f"expected a local path or s3://bucket/key, got {location!r}",
                         key="deploy.state")
    path = Path(location)
    return LocalStore(path if path.is_absolute() else base_dir / path)
