"""Helpers of the promote/rollback/history tests and benchmark: candidate runs, gate reports,
and `mlci` run in-process or as a subprocess against a real `mlflow server`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LINEAGE = {"mlci.git_commit": "0123456789abcdef0123456789abcdef01234567",
           "mlci.data_fingerprint": "sha256:da7a", "mlci.image_digest": "sha256:1ma9e",
           "mlci.seed": "42", "mlci.ci_run_url": "https://ci.example/train/1"}
QUIET = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def client(url: str) -> Any:
    os.environ.update(QUIET)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def candidate_runs(url: str, count: int, *, experiment: str = "mlci-test-train",
                   tags: Mapping[str, str] | None = None) -> list[str]:
    """Finished training runs, each with lineage tags and a `model/MLmodel` artifact."""
    mlflow = client(url)
    found = mlflow.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found else mlflow.create_experiment(experiment)
    ids = []
    with tempfile.TemporaryDirectory() as tmp:
        artifact = Path(tmp) / "MLmodel"
        artifact.write_text("flavors: {}\n")
        for index in range(count):
            run = mlflow.create_run(exp_id, tags={**LINEAGE, "mlci.seed": str(index),
                                                  **(tags or {})})
            mlflow.log_artifact(run.info.run_id, str(artifact), "model")
            mlflow.set_terminated(run.info.run_id)
            ids.append(run.info.run_id)
    return ids


def register(url: str, model: str, run_ids: list[str]) -> list[str]:
    mlflow = client(url)
    with contextlib.suppress(Exception):  # exists
        mlflow.create_registered_model(model)
    return [str(mlflow.create_model_version(model, f"runs:/{rid}/model", run_id=rid,
                                            await_creation_for=0).version) for rid in run_ids]


def alias(url: str, model: str, name: str = "champion") -> str | None:
    try:
        return str(client(url).get_model_version_by_alias(model, name).version)
    except Exception:  # noqa: BLE001 - not set
        return None


def gate_report(directory: Path, verdict: str, *, baseline: str | None, run_id: str | None,
                name: str = "gate.json") -> str:
    path = directory / name
    path.write_text(json.dumps({"verdict": verdict,
                                "baseline": {"model_version": baseline},
                                "candidate": {"run_id": run_id}}))
    return str(path)


def mlci_env(url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "GITLAB_", "CI_", "MLCI_")) and k != "CI"}
    env.update({"MLFLOW_TRACKING_URI": url, **QUIET})
    env.update(extra or {})
    return env


def mlci_process(url: str, *args: str, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mlci", *args], env=mlci_env(url, env),
                            cwd=cwd, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def mlci_run(url: str, *args: str, env: Mapping[str, str] | None = None,
             cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = mlci_process(url, *args, env=env, cwd=cwd)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# -- GitHub's review history of a run (who approved a deployment) -------------------------

TOKEN = "ghs_APPROVALStoken789"
ALICE = {"state": "approved", "comment": "ok", "user": {"login": "alice"},
         "environments": [{"id": 1, "name": "production"}]}


class ApprovalsApi(ThreadingHTTPServer):
    """Answers GET /repos/acme/churn/actions/runs/77/approvals as GitHub's Actions API does
    (a review history), for the bearer token TOKEN only."""

    status = 200
    history: Any = []  # noqa: RUF012 - set per test, before the server starts
    seen: list[tuple[str, str | None]]


class _ApprovalsHandler(BaseHTTPRequestHandler):
    server: ApprovalsApi

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        ok = self.path == "/repos/acme/churn/actions/runs/77/approvals" and \
            self.headers.get("Authorization") == f"Bearer {TOKEN}"
        status = self.server.status if ok else 404
        body = json.dumps(self.server.history if status == 200
                          else {"message": "Resource not accessible by integration"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def approvals_api() -> Iterator[ApprovalsApi]:
    server = ApprovalsApi(("127.0.0.1", 0), _ApprovalsHandler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
