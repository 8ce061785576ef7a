"""The few MLflow tracking calls `mlci train` makes, behind one small interface.

Importing MLflow costs one to several seconds of CPU — most of the overhead budget of a
training run (issue 7: under 2 s around the container). So for an http(s) tracking server,
mlci speaks MLflow's stable REST API directly (experiments/get-by-name, experiments/create,
runs/create, runs/log-batch, runs/update) and uploads artifacts through the server's
artifact proxy (`mlflow-artifacts:` artifact URIs, the default of `mlflow server`).
Anything else — a local store (sqlite:, file:), databricks, or a server whose runs store
artifacts directly in S3/GCS/... — goes through the MLflow client, imported only then.

Authentication for the REST path follows MLflow's variables: MLFLOW_TRACKING_TOKEN (bearer),
MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD (basic), MLFLOW_TRACKING_INSECURE_TLS,
MLFLOW_TRACKING_SERVER_CERT_PATH.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlci.errors import InputError, ServiceError
from mlci.tracking import strip_credentials

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
BATCH = 100
TIMEOUT = 120.0
RETRIES = 3


class Tracker:
    """What a training run needs from a tracking store."""

    uri: str

    def experiment_id(self, name: str) -> str:
        raise NotImplementedError

    def create_run(self, experiment_id: str, tags: Mapping[str, str],
                   run_name: str | None) -> str:
        raise NotImplementedError

    def log_batch(self, run_id: str, *, metrics: Mapping[str, float] | None = None,
                  params: Mapping[str, str] | None = None,
                  tags: Mapping[str, str] | None = None) -> None:
        raise NotImplementedError

    def log_file(self, run_id: str, path: Path, artifact_dir: str | None) -> None:
        raise NotImplementedError

    def log_dir(self, run_id: str, directory: Path, artifact_dir: str | None) -> None:
        for current, dirs, files in os.walk(directory):
            dirs.sort()
            rel = Path(current).relative_to(directory).as_posix()
            target = "/".join(p for p in (artifact_dir, "" if rel == "." else rel) if p)
            for name in sorted(files):
                self.log_file(run_id, Path(current) / name, target or None)

    def terminate(self, run_id: str, status: str) -> None:
        raise NotImplementedError


def tracker(uri: str) -> Tracker:
    scheme = urllib.parse.urlsplit(uri).scheme
    if scheme in ("http", "https"):
        return RestTracker(uri)
    return MlflowTracker(uri)


# -- REST ------------------------------------------------------------------------------------
class RestTracker(Tracker):
    def __init__(self, uri: str, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        parts = urllib.parse.urlsplit(uri)
        self.uri = uri
        self.where = strip_credentials(uri)
        self.base = urllib.parse.urlunsplit(
            (parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else "")
             if parts.hostname else parts.netloc, parts.path.rstrip("/"), "", ""))
        self.headers = {"User-Agent": "mlci"}
        user = env.get("MLFLOW_TRACKING_USERNAME") or (
            urllib.parse.unquote(parts.username) if parts.username else None)
        password = env.get("MLFLOW_TRACKING_PASSWORD") or (
            urllib.parse.unquote(parts.password) if parts.password else None)
        if env.get("MLFLOW_TRACKING_TOKEN"):
            self.headers["Authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
        elif user and password:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.context: ssl.SSLContext | None = None
        if parts.scheme == "https":
            if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
                self.context = ssl._create_unverified_context()  # noqa: S323 - asked for
            elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
                self.context = ssl.create_default_context(
                    cafile=env["MLFLOW_TRACKING_SERVER_CERT_PATH"])
        self.artifact_roots: dict[str, str] = {}
        self._fallback: MlflowTracker | None = None

    # -- transport -----------------------------------------------------------------------
    def _request(self, method: str, path: str, *, body: bytes | None = None,
                 query: Mapping[str, str] | None = None, content_type: str = "application/json",
                 what: str) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
        last: Exception | None = None
        for attempt in range(RETRIES):
            request = urllib.request.Request(  # noqa: S310 - http(s) only (see tracker())
                url, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT,  # noqa: S310 - http(s)
                                            context=self.context) as response:
                    text = response.read().decode("utf-8") or "{}"
                    return json.loads(text) if text.lstrip().startswith(("{", "[")) else {}
            except urllib.error.HTTPError as error:
                detail = error.read().decode("utf-8", errors="replace")[:500]
                if error.code in (429, 500, 502, 503, 504) and attempt + 1 < RETRIES:
                    last = error
                    time.sleep(0.5 * 2 ** attempt)
                    continue
                raise _HttpError(error.code, detail, f"{what}: HTTP {error.code}: {detail}") \
                    from None
            except (urllib.error.URLError, OSError) as error:
                last = error
                if attempt + 1 < RETRIES:
                    time.sleep(0.5 * 2 ** attempt)
                    continue
        reason = getattr(last, "reason", last)
        raise ServiceError(f"MLflow tracking server {self.where}: {what} failed: {reason}")

    def _post(self, endpoint: str, payload: Mapping[str, Any], what: str) -> Any:
        try:
            return self._request("POST", f"{API}/{endpoint}",
                                 body=json.dumps(payload).encode(), what=what)
        except _HttpError as error:
            raise ServiceError(f"MLflow tracking server {self.where}: {error.message}") from None

    # -- Tracker -------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        try:
            found = self._request("GET", f"{API}/experiments/get-by-name",
                                  query={"experiment_name": name}, what="reading experiment")
        except _HttpError as error:
            if error.code != 404 and "RESOURCE_DOES_NOT_EXIST" not in error.detail:
                raise ServiceError(f"MLflow tracking server {self.where}: "
                                   f"{error.message}") from None
            found = None
        if found:
            experiment = found["experiment"]
            if experiment.get("lifecycle_stage") == "deleted":
                raise InputError(f"experiment {name!r} is deleted; restore it or choose "
                                 "another name", key="--experiment")
            return str(experiment["experiment_id"])
        try:
            created = self._request("POST", f"{API}/experiments/create",
                                    body=json.dumps({"name": name}).encode(),
                                    what="creating experiment")
            return str(created["experiment_id"])
        except _HttpError as error:  # created concurrently by another job
            again = self._request("GET", f"{API}/experiments/get-by-name",
                                  query={"experiment_name": name}, what="reading experiment") \
                if "RESOURCE_ALREADY_EXISTS" in error.detail else None
            if not again:
                raise ServiceError(f"MLflow tracking server {self.where}: "
                                   f"{error.message}") from None
            return str(again["experiment"]["experiment_id"])

    def create_run(self, experiment_id: str, tags: Mapping[str, str],
                   run_name: str | None) -> str:
        payload: dict[str, Any] = {
            "experiment_id": experiment_id, "start_time": int(time.time() * 1000),
            "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        if run_name:
            payload["run_name"] = run_name
        run = self._post("runs/create", payload, "creating the run")["run"]
        run_id = str(run["info"]["run_id"])
        self.artifact_roots[run_id] = str(run["info"].get("artifact_uri") or "")
        return run_id

    def log_batch(self, run_id: str, *, metrics: Mapping[str, float] | None = None,
                  params: Mapping[str, str] | None = None,
                  tags: Mapping[str, str] | None = None) -> None:
        now = int(time.time() * 1000)
        m = [{"key": k, "value": v, "timestamp": now, "step": 0}
             for k, v in sorted((metrics or {}).items())]
        p = [{"key": k, "value": v} for k, v in sorted((params or {}).items())]
        t = [{"key": k, "value": v} for k, v in sorted((tags or {}).items())]
        for start in range(0, max(len(m), len(p), len(t), 1), BATCH):
            chunk = {"run_id": run_id, "metrics": m[start:start + BATCH],
                     "params": p[start:start + BATCH], "tags": t[start:start + BATCH]}
            if chunk["metrics"] or chunk["params"] or chunk["tags"]:
                self._post("runs/log-batch", chunk, "logging metrics, params and tags")

    def _proxied_path(self, run_id: str) -> str | None:
        root = self.artifact_roots.get(run_id, "")
        if not root.startswith("mlflow-artifacts:"):
            return None
        parts = urllib.parse.urlsplit(root)
        return parts.path.strip("/")

    def log_file(self, run_id: str, path: Path, artifact_dir: str | None) -> None:
        prefix = self._proxied_path(run_id)
        if prefix is None:
            # The server hands out a direct artifact store (s3://, gs://, ...): MLflow's
            # client knows how to write there.
            if self._fallback is None:
                self._fallback = MlflowTracker(self.uri)
            self._fallback.log_file(run_id, path, artifact_dir)
            return
        rel = "/".join(p for p in (artifact_dir, path.name) if p)
        quoted = urllib.parse.quote(f"{prefix}/{rel}")
        try:
            self._request("PUT", f"{ARTIFACTS_API}/{quoted}", body=path.read_bytes(),
                          content_type="application/octet-stream",
                          what=f"uploading artifact {rel}")
        except _HttpError as error:
            raise ServiceError(f"MLflow tracking server {self.where}: {error.message}") from None

    def terminate(self, run_id: str, status: str) -> None:
        self._post("runs/update", {"run_id": run_id, "status": status,
                                   "end_time": int(time.time() * 1000)}, "ending the run")


class _HttpError(Exception):
    def __init__(self, code: int, detail: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail
        self.message = message


# -- MLflow client ---------------------------------------------------------------------------
class MlflowTracker(Tracker):
    def __init__(self, uri: str) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise InputError("this tracking URI needs MLflow: pip install mlflow-skinny") from None
        self.uri = uri
        self.where = strip_credentials(uri)
        self.client = MlflowClient(tracking_uri=uri)

    def _fail(self, what: str, error: Exception) -> ServiceError:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return ServiceError(f"MLflow tracking store {self.where}: {what} failed: {text[:500]}")

    def experiment_id(self, name: str) -> str:
        try:
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                if found.lifecycle_stage == "deleted":
                    raise InputError(f"experiment {name!r} is deleted; restore it or choose "
                                     "another name", key="--experiment")
                return str(found.experiment_id)
            try:
                return str(self.client.create_experiment(name))
            except Exception:
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
                return str(found.experiment_id)
        except InputError:
            raise
        except Exception as error:  # noqa: BLE001 - MLflow raises many types
            raise self._fail("reading/creating the experiment", error) from None

    def create_run(self, experiment_id: str, tags: Mapping[str, str],
                   run_name: str | None) -> str:
        try:
            return str(self.client.create_run(experiment_id, tags=dict(tags),
                                              run_name=run_name).info.run_id)
        except Exception as error:  # noqa: BLE001 - MLflow raises many types
            raise self._fail("creating the run", error) from None

    def log_batch(self, run_id: str, *, metrics: Mapping[str, float] | None = None,
                  params: Mapping[str, str] | None = None,
                  tags: Mapping[str, str] | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        m = [Metric(k, v, now, 0) for k, v in sorted((metrics or {}).items())]
        p = [Param(k, v) for k, v in sorted((params or {}).items())]
        t = [RunTag(k, v) for k, v in sorted((tags or {}).items())]
        try:
            for start in range(0, max(len(m), len(p), len(t), 1), BATCH):
                if m[start:start + BATCH] or p[start:start + BATCH] or t[start:start + BATCH]:
                    self.client.log_batch(run_id, metrics=m[start:start + BATCH],
                                          params=p[start:start + BATCH],
                                          tags=t[start:start + BATCH])
        except Exception as error:  # noqa: BLE001 - MLflow raises many types
            raise self._fail("logging metrics, params and tags", error) from None

    def log_file(self, run_id: str, path: Path, artifact_dir: str | None) -> None:
        try:
            self.client.log_artifact(run_id, str(path), artifact_dir)
        except Exception as error:  # noqa: BLE001 - MLflow raises many types
            raise self._fail(f"uploading artifact {path.name}", error) from None

    def log_dir(self, run_id: str, directory: Path, artifact_dir: str | None) -> None:
        try:
            self.client.log_artifacts(run_id, str(directory), artifact_dir)
        except Exception as error:  # noqa: BLE001 - MLflow raises many types
            raise self._fail(f"uploading {directory.name}/", error) from None

    def terminate(self, run_id: str, status: str) -> None:
        import contextlib
        import sys

        # MLflow prints a "View run" link to stdout here: keep `--json` output parseable.
        try:
            with contextlib.redirect_stdout(sys.stderr):
                self.client.set_terminated(run_id, status)
        except Exception as error:  # noqa: BLE001 - MLflow raises many types
            raise self._fail("ending the run", error) from None
