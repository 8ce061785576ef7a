"""The few MLflow tracking calls `mlci train` makes, behind one small interface.

Both go through the registry layer (`mlci.registry.client`): the same retry policy,
timeout (``$MLCI_REGISTRY_TIMEOUT``) and error vocabulary as every other stage.

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

from mlci.errors import InputError
from mlci.registry.client import (
    REQUEST_TIMEOUT_CAP,
    Conflict,
    HttpError,
    NotFound,
    Refused,
    Registry,
    RetryPolicy,
    timeout_from_env,
)
from mlci.tracking import strip_credentials

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
BATCH = 100


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
        self.policy = RetryPolicy(timeout=timeout_from_env(env))

    # -- transport ----------------------------------------------------------------------
    def _request(self, method: str, path: str, *, body: bytes | None = None,
                 query: Mapping[str, str] | None = None, content_type: str = "application/json",
                 what: str) -> Any:
        """One REST call through the registry layer's retry policy: NotFound, Conflict,
        Refused or Unreachable (`mlci.registry.client`) on failure."""
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
        timeout = [REQUEST_TIMEOUT_CAP]

        def size(remaining: float) -> None:
            timeout[0] = self.policy.request_timeout(remaining)

        def once() -> Any:
            request = urllib.request.Request(  # noqa: S310 - http(s) only (see tracker())
                url, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=timeout[0],  # noqa: S310
                                            context=self.context) as response:
                    text = response.read().decode("utf-8") or "{}"
            except urllib.error.HTTPError as error:
                raise HttpError(error.code, error.read().decode("utf-8", errors="replace")) \
                    from None
            return json.loads(text) if text.lstrip().startswith(("{", "[")) else {}

        return self.policy.run(once, what=what, where=self.where, on_attempt=size)

    def _post(self, endpoint: str, payload: Mapping[str, Any], what: str) -> Any:
        try:
            return self._request("POST", f"{API}/{endpoint}",
                                 body=json.dumps(payload).encode(), what=what)
        except (NotFound, Conflict) as error:
            raise Refused(f"MLflow tracking server {self.where}: {what}: {error.message}") \
                from None

    # -- Tracker -------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        try:
            found = self._request("GET", f"{API}/experiments/get-by-name",
                                  query={"experiment_name": name}, what="reading experiment")
        except NotFound:
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
        except Conflict:  # created concurrently by another job
            again = self._request("GET", f"{API}/experiments/get-by-name",
                                  query={"experiment_name": name}, what="reading experiment")
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
        except (NotFound, Conflict) as error:
            raise Refused(f"MLflow tracking server {self.where}: uploading artifact {rel}: "
                          f"{error.message}") from None

    def terminate(self, run_id: str, status: str) -> None:
        self._post("runs/update", {"run_id": run_id, "status": status,
                                   "end_time": int(time.time() * 1000)}, "ending the run")


# -- MLflow client ---------------------------------------------------------------------------
class MlflowTracker(Tracker):
    """The same calls through `mlci.registry.client.Registry` (local stores, databricks,
    direct artifact stores)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.registry = Registry(uri)
        self.where = self.registry.where

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.registry.call(method, *args, **kwargs)
        except (NotFound, Conflict) as error:
            raise Refused(f"MLflow tracking store {self.where}: {what}: {error.message}") \
                from None

    def experiment_id(self, name: str) -> str:
        found = self._call("reading the experiment", "get_experiment_by_name", name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                raise InputError(f"experiment {name!r} is deleted; restore it or choose "
                                 "another name", key="--experiment")
            return str(found.experiment_id)
        try:
            return str(self.registry.call("create_experiment", name))
        except Conflict:  # created concurrently by another job
            return str(self._call("reading the experiment", "get_experiment_by_name",
                                  name).experiment_id)

    def create_run(self, experiment_id: str, tags: Mapping[str, str],
                   run_name: str | None) -> str:
        run = self._call("creating the run", "create_run", experiment_id, tags=dict(tags),
                         run_name=run_name)
        return str(run.info.run_id)

    def log_batch(self, run_id: str, *, metrics: Mapping[str, float] | None = None,
                  params: Mapping[str, str] | None = None,
                  tags: Mapping[str, str] | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        m = [Metric(k, v, now, 0) for k, v in sorted((metrics or {}).items())]
        p = [Param(k, v) for k, v in sorted((params or {}).items())]
        t = [RunTag(k, v) for k, v in sorted((tags or {}).items())]
        for start in range(0, max(len(m), len(p), len(t), 1), BATCH):
            if m[start:start + BATCH] or p[start:start + BATCH] or t[start:start + BATCH]:
                self._call("logging metrics, params and tags", "log_batch", run_id,
                           metrics=m[start:start + BATCH], params=p[start:start + BATCH],
                           tags=t[start:start + BATCH])

    def log_file(self, run_id: str, path: Path, artifact_dir: str | None) -> None:
        self._call(f"uploading artifact {path.name}", "log_artifact", run_id, str(path),
                   artifact_dir)

    def log_dir(self, run_id: str, directory: Path, artifact_dir: str | None) -> None:
        self._call(f"uploading {directory.name}/", "log_artifacts", run_id, str(directory),
                   artifact_dir)

    def terminate(self, run_id: str, status: str) -> None:
        import contextlib
        import sys

        # MLflow prints a "View run" link to stdout here: keep `--json` output parseable.
        with contextlib.redirect_stdout(sys.stderr):
            self._call("ending the run", "set_terminated", run_id, status)
