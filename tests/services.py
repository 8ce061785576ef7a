"""Real services for integration and e2e tests: an `mlflow server` and moto's S3 server.

Each runs as its own process on 127.0.0.1 with a free port, with its data in a directory
the test owns; `kill()` and `start()` let a test crash and restart one mid-operation.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A URL whose connections are refused for as long as the context lasts: the port is
    bound (so no server started meanwhile can take it) but never listened on. A free port
    alone is not that: on a busy run another test's server may bind it in between."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"{url}: not up after {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass
class Service:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    health_path = "/"
    startup_timeout = 180.0  # generous: CI machines have 2 cores and other tests running

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "server.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
                start_new_session=True, env=self.environment())
        wait_http(self.url + self.health_path, self.startup_timeout, self.process, log)

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, not a clean shutdown."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class MlflowServer(Service):
    """`mlflow server` with a SQLite backend and proxied artifacts (mlflow-artifacts:/)."""

    health_path = "/health"

    def command(self) -> list[str]:
        return [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.port),
                "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                "--artifacts-destination", (self.root / "artifacts").as_uri(),
                "--workers", "1"]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        # MLflow's job runner (seven huey consumers of ~230 MB, each importing MLflow as the
        # server starts) serves features mlci never calls: off, so a 2-core CI runner spends
        # its CPU and memory on the tests.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        return env


@dataclass
class MotoServer(Service):
    """moto's S3 (and SageMaker) server, spoken to through boto3 as a real endpoint."""

    health_path = "/moto-api/"

    def command(self) -> list[str]:
        return [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]

    def client_env(self) -> dict[str, str]:
        """What a process needs to reach this server through boto3 and MLflow."""
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.url,
                "MLFLOW_S3_ENDPOINT_URL": self.url}


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
