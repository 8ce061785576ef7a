"""Which tracking client a URI gets, and the REST client's authentication (no server here;
the REST path runs against a real `mlflow server` in tests/integration/test_train.py)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlci.registry.client import Refused, Unreachable
from mlci.train.tracking import MlflowTracker, RestTracker, tracker

pytestmark = pytest.mark.unit


def test_http_uses_rest_anything_else_mlflow(tmp_path: Path) -> None:
    assert isinstance(tracker("http://mlflow:5000"), RestTracker)
    assert isinstance(tracker("https://mlflow.example.com/prefix"), RestTracker)
    assert isinstance(tracker(f"sqlite:///{tmp_path / 'm.db'}"), MlflowTracker)


def test_rest_credentials_never_in_the_base_url() -> None:
    rest = RestTracker("https://alice:s%40cret@mlflow.example.com:8443/ml/", env={})
    assert rest.base == "https://mlflow.example.com:8443/ml"
    assert rest.where == "https://mlflow.example.com:8443/ml/"
    assert rest.headers["Authorization"] == "Basic " + base64.b64encode(
        b"alice:s@cret").decode()
    token = RestTracker("http://h:5000", env={"MLFLOW_TRACKING_TOKEN": "t0k"})
    assert token.headers["Authorization"] == "Bearer t0k"
    env = {"MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p"}
    assert RestTracker("http://h", env=env).headers["Authorization"] == \
        "Basic " + base64.b64encode(b"u:p").decode()
    assert "Authorization" not in RestTracker("http://h", env={}).headers


def test_proxied_artifact_paths() -> None:
    rest = RestTracker("http://h:5000", env={})
    rest.artifact_roots["r1"] = "mlflow-artifacts:/3/r1/artifacts"
    rest.artifact_roots["r2"] = "mlflow-artifacts://h:5000/3/r2/artifacts"
    rest.artifact_roots["r3"] = "s3://bucket/3/r3/artifacts"
    assert rest._proxied_path("r1") == "3/r1/artifacts"
    assert rest._proxied_path("r2") == "3/r2/artifacts"
    assert rest._proxied_path("r3") is None            # MLflow's client writes to S3 itself


# -- the REST path goes through the registry layer's policy -------------------------------------

class Answers(ThreadingHTTPServer):
    """Answers each request with the next (status, JSON body) of `script`."""

    script: list[tuple[int, dict[str, object]]]
    hits: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: Answers

    def _answer(self) -> None:
        self.server.hits += 1
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body = self.server.script.pop(0) if self.server.script else (503, {})
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's names

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answers() -> Iterator[Answers]:
    server = Answers(("127.0.0.1", 0), _Handler)
    server.script = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def rest(server: Answers, timeout: str = "5") -> RestTracker:
    return RestTracker(f"http://127.0.0.1:{server.server_address[1]}",
                       env={"MLCI_REGISTRY_TIMEOUT": timeout})


def test_a_5xx_is_retried_then_the_answer_counts(answers: Answers) -> None:
    answers.script = [(503, {"error_code": "TEMPORARILY_UNAVAILABLE"}),
                      (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no exp"}),
                      (200, {"experiment_id": "7"})]
    assert rest(answers).experiment_id("churn") == "7"   # missing -> created
    assert answers.hits == 3


def test_a_4xx_is_refused_at_once_without_retrying(answers: Answers) -> None:
    answers.script = [(403, {"error_code": "PERMISSION_DENIED", "message": "read only"})]
    with pytest.raises(Refused, match="read only"):
        rest(answers).experiment_id("churn")
    assert answers.hits == 1


def test_a_registry_that_keeps_failing_is_unreachable_within_the_budget(
        answers: Answers) -> None:
    with pytest.raises(Unreachable, match="MLCI_REGISTRY_TIMEOUT") as caught:
        rest(answers, timeout="1").experiment_id("churn")
    assert caught.value.exit_code == 2 and answers.hits >= 2
