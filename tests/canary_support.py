"""Helpers of the canary tests and benchmarks (targets, sources, controller).

- `register_pyfunc(url, model, **behaviour)`: a real MLflow pyfunc model version (models from
  code) whose `predict` can fail on part of the inputs or be slow, registered on a real
  `mlflow server`, servable by `mlflow models serve --env-manager local`.
- `Backend`: a small HTTP model server on 127.0.0.1 (answers /ping and /invocations with a
  given status and delay) for tests of the router itself.
- `UserNginx`: an nginx run as the user runs theirs: its own nginx.conf including the file the
  `nginx` target writes.
- `send(url, n)`: a bounded load generator; returns the statuses and the variant headers.
- `serving`: a pytest fixture, the `local` target's settings under `tmp_path` (a free router
  port); whatever the target started is stopped afterwards.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlci.canary.targets.config import LocalTarget as LocalConfig
from mlci.canary.targets.local import LocalTarget
from tests.registry_support import client
from tests.services import Service, free_port

MODEL_CODE = '''
import time

import mlflow
from mlflow.pyfunc import PythonModel


class Model(PythonModel):
    """Answers `answer` per row; raises when a row's x >= fail_at; sleeps delay_ms."""

    def predict(self, context, model_input, params=None):
        config = context.model_config or {}
        delay = float(config.get("delay_ms", 0)) / 1000.0
        if delay:
            time.sleep(delay)
        fail_at = config.get("fail_at")
        values = list(model_input["x"])
        if fail_at is not None and any(float(v) >= float(fail_at) for v in values):
            raise ValueError("x out of range")
        return [config.get("answer", 0)] * len(values)


mlflow.models.set_model(Model())
'''


def register_pyfunc(url: str, model: str, *, answer: int = 0, fail_at: float | None = None,
                    delay_ms: float = 0.0, experiment: str = "mlci-test-canary") -> str:
    """Log and register one model version; returns its version number. MLflow's fluent API
    is aimed at `url` for this call only (mlci's own `Registry.fluent_uris`)."""
    from mlci.registry.client import Registry

    with Registry(url).fluent_uris():
        return _register_pyfunc(url, model, answer=answer, fail_at=fail_at,
                                delay_ms=delay_ms, experiment=experiment)


def _register_pyfunc(url: str, model: str, *, answer: int, fail_at: float | None,
                     delay_ms: float, experiment: str) -> str:
    import mlflow

    mlflow.set_experiment(experiment)
    config: dict[str, Any] = {"answer": answer, "delay_ms": delay_ms}
    if fail_at is not None:
        config["fail_at"] = fail_at
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "model.py"
        code.write_text(MODEL_CODE)
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=str(code),
                                           model_config=config, registered_model_name=model,
                                           pip_requirements=["mlflow"])
    version = info.registered_model_version
    if version is None:
        versions = client(url).search_model_versions(f"name='{model}'")
        version = max(int(v.version) for v in versions)
    return str(version)


def payload(x: float = 0.0) -> bytes:
    return json.dumps({"dataframe_records": [{"x": x}]}).encode()


@dataclass
class Reply:
    status: int
    variant: str | None
    body: str


def call(url: str, data: bytes | None = None, headers: Mapping[str, str] | None = None,
         timeout: float = 30.0) -> Reply:
    request = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Reply(answer.status, answer.headers.get("X-Mlci-Variant"),
                         answer.read().decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers.get("X-Mlci-Variant"),
                     error.read().decode(errors="replace"))


def send(url: str, count: int, *, x: float = 0.0,
         headers: Mapping[str, str] | None = None) -> list[Reply]:
    """`count` sequential predictions: a bounded load, no threads left behind."""
    return [call(url, payload(x), headers) for _ in range(count)]


# -- a tiny model server for the router's tests ----------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    server: Backend.Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(200, b"\n")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        backend = self.server.backend
        backend.hits += 1
        if backend.delay:
            time.sleep(backend.delay)
        self._answer(backend.status, json.dumps({"predictions": [backend.name]}).encode())


@dataclass
class Backend:
    """An HTTP model server in a thread: /ping, and POST answering `status` after `delay`."""

    name: str
    status: int = 200
    delay: float = 0.0
    hits: int = 0
    port: int = field(default_factory=free_port)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        backend: Backend

    def __post_init__(self) -> None:
        self._server: Backend.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = Backend.Server(("127.0.0.1", self.port), _Handler)
        self._server.backend = self
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Close the socket: connections are refused from now on."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextlib.contextmanager
def backends(*names: str) -> Iterator[list[Backend]]:
    started = [Backend(name) for name in names]
    for backend in started:
        backend.start()
    try:
        yield started
    finally:
        for backend in started:
            backend.stop()


# -- an nginx as a user runs it ---------------------------------------------------------------

class UserNginx:
    """nginx with its own prefix whose nginx.conf includes `include` inside http {}; the
    `nginx` target's test/reload commands for it are `test_argv` / `reload_argv`."""

    def __init__(self, root: Path, include: Path) -> None:
        self.root = root
        self.include = include
        for sub in ("logs", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.conf = root / "nginx.conf"
        temp = root / "tmp"
        self.conf.write_text(
            f'pid "{root}/nginx.pid";\nerror_log "{root}/logs/error.log" warn;\n'
            "worker_processes 1;\nevents { worker_connections 256; }\n"
            f'http {{\n  client_body_temp_path "{temp}";\n'
            f'  proxy_temp_path "{temp}";\n  include "{include}";\n}}\n')
        self.base = ["nginx", "-p", f"{root}/", "-e", f"{root}/logs/error.log", "-c",
                     str(self.conf)]

    @property
    def test_argv(self) -> list[str]:
        return [*self.base, "-t", "-q"]

    @property
    def reload_argv(self) -> list[str]:
        return [*self.base, "-s", "reload"]

    def start(self) -> None:
        subprocess.run(self.base, check=True, capture_output=True, timeout=60)

    def pid(self) -> int | None:
        try:
            return int((self.root / "nginx.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if self.pid() is not None:
            subprocess.run([*self.base, "-s", "quit"], capture_output=True, timeout=60,
                           check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (self.root / "nginx.pid").exists():
                time.sleep(0.05)


def wait_for_lines(log: Path, count: int, timeout: float = 30.0) -> None:
    """nginx writes a request's log line after answering it: wait for `count` lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{log} has fewer than {count} lines after {timeout}s")


# -- Prometheus and a small exporter ----------------------------------------------------------

@dataclass
class Exporter:
    """/metrics in Prometheus' text format: per-variant request counters, a latency histogram
    and a gauge, changed by the test between scrapes."""

    requests: dict[tuple[str, str], int] = field(default_factory=dict)  # (variant, code)
    latency_buckets: dict[str, dict[str, int]] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)   # variant -> conversion
    port: int = field(default_factory=free_port)

    def text(self) -> str:
        lines = ["# TYPE model_requests_total counter"]
        lines += [f'model_requests_total{{variant="{v}",code="{c}"}} {n}'
                  for (v, c), n in sorted(self.requests.items())]
        lines.append("# TYPE model_latency_seconds histogram")
        for variant, buckets in sorted(self.latency_buckets.items()):
            lines += [f'model_latency_seconds_bucket{{variant="{variant}",le="{le}"}} {n}'
                      for le, n in buckets.items()]
            lines.append(f'model_latency_seconds_count{{variant="{variant}"}} '
                         f'{buckets["+Inf"]}')
        lines.append("# TYPE model_conversion gauge")
        lines += [f'model_conversion{{variant="{v}"}} {g}' for v, g in sorted(self.gauges.items())]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = exporter.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class PrometheusServer(Service):
    """Debian's `prometheus`, scraping `target` (host:port) every second."""

    target: str = ""
    exporter: Exporter | None = None
    health_path = "/-/ready"

    def command(self) -> list[str]:
        config = self.root / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          "scrape_configs:\n  - job_name: model\n    static_configs:\n"
                          f"      - targets: ['{self.target}']\n")
        return ["prometheus", f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.path={self.root / 'data'}"]


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[LocalConfig]:
    config = LocalConfig(workdir=str(tmp_path / "serve"), listen=f"127.0.0.1:{free_port()}",
                         startup_timeout=240)
    yield config
    LocalTarget(config, base_dir=tmp_path, tracking_uri=None).stop_all()
