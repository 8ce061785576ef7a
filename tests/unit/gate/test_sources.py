"""Metric references: JSON files, and how registry answers are classified (fail closed).

The registry branches run against a real `mlflow server` in tests/integration; here a tiny
HTTP server on 127.0.0.1 answers like a broken or misconfigured registry, to show that only an
MLflow "does not exist" answer reads as "no baseline".
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlci.errors import InputError, ServiceError
from mlci.gate.sources import MetricSource, NoBaseline, load_metrics, parse_ref

pytestmark = pytest.mark.unit


def write(tmp_path: Path, text: str, name: str = "m.json") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_json_file_metrics_pass_through_raw(tmp_path: Path) -> None:
    ref = write(tmp_path, '{"accuracy": 0.9, "f1": NaN, "note": "x", "n": null, "k": 3}')
    source = load_metrics(ref, tracking_uri=None, role="candidate")
    assert isinstance(source, MetricSource)
    assert source.ref == ref and source.run_id is None and source.model_version is None
    assert source.metrics["accuracy"] == 0.9 and source.metrics["k"] == 3
    assert math.isnan(source.metrics["f1"])  # type: ignore[arg-type]
    assert source.metrics["note"] == "x" and source.metrics["n"] is None


@pytest.mark.parametrize("text, expected", [
    ("[1, 2]", "an array"), ('"x"', "a string"), ("3", "a number"), ("null", "null"),
])
def test_json_file_that_is_not_an_object(tmp_path: Path, text: str, expected: str) -> None:
    ref = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_metrics(ref, tracking_uri=None, role="candidate")
    assert caught.value.file == ref and expected in caught.value.message
    assert not isinstance(caught.value, NoBaseline)


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    ref = write(tmp_path, '{\n  "a": 1,\n  "b": \n}')
    with pytest.raises(InputError) as caught:
        load_metrics(ref, tracking_uri=None, role="baseline")
    assert caught.value.file == ref and caught.value.line == 4
    assert "not valid JSON" in str(caught.value)


def test_missing_file_is_input_error_not_no_baseline(tmp_path: Path) -> None:
    ref = str(tmp_path / "nope.json")
    with pytest.raises(InputError) as caught:
        load_metrics(ref, tracking_uri=None, role="baseline")
    assert not isinstance(caught.value, NoBaseline)
    assert caught.value.file == ref and "not found" in caught.value.message


def test_unreadable_file(tmp_path: Path) -> None:
    ref = str(tmp_path)  # a directory
    with pytest.raises(InputError) as caught:
        load_metrics(ref, tracking_uri=None, role="candidate")
    assert caught.value.file == ref and "cannot read" in caught.value.message
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(InputError):
        load_metrics(str(binary), tracking_uri=None, role="candidate")


@pytest.mark.parametrize("ref, kind, fields", [
    ("runs:/abc123", "run", {"run_id": "abc123"}),
    ("runs:/abc123/model", "run", {"run_id": "abc123"}),
    ("models:/churn@champion", "alias", {"name": "churn", "alias": "champion"}),
    ("models:/churn/7", "version", {"name": "churn", "version": "7"}),
    ("metrics.json", "file", {}),
    ("./dir/m.json", "file", {}),
])
def test_parse_ref(ref: str, kind: str, fields: dict[str, str]) -> None:
    parsed = parse_ref(ref)
    assert parsed.kind == kind
    for key, value in fields.items():
        assert getattr(parsed, key) == value


@pytest.mark.parametrize("ref", ["", "  ", "models:/churn", "models:/churn@", "models:/a/b/c",
                                 "runs:/", "s3://bucket/m.json", "models:/x/latest"])
def test_bad_refs_are_input_errors(ref: str) -> None:
    with pytest.raises(InputError) as caught:
        load_metrics(ref, tracking_uri=None, role="baseline")
    assert not isinstance(caught.value, NoBaseline)


# -- a registry that answers badly ------------------------------------------------------------------

class FakeRegistry(ThreadingHTTPServer):
    status = 404
    body = b"<html>Not Found</html>"
    content_type = "text/html"
    hits = 0
    routes: dict[str, tuple[int, dict[str, object]]]  # path -> (status, JSON body)


class Handler(BaseHTTPRequestHandler):
    server: FakeRegistry

    def do_GET(self) -> None:
        self.server.hits += 1
        route = self.server.routes.get(self.path.split("?")[0])
        if route is not None:
            raw = json.dumps(route[1]).encode()
            self.send_response(route[0])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        self.send_response(self.server.status)
        self.send_header("Content-Type", self.server.content_type)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRegistry]:
    monkeypatch.setenv("MLCI_REGISTRY_TIMEOUT", "1")   # a 5xx is retried this long, no more
    server = FakeRegistry(("127.0.0.1", 0), Handler)
    server.routes = {}
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url(server: FakeRegistry) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_plain_404_is_a_service_error_never_no_baseline(registry: FakeRegistry) -> None:
    """A wrong URL (a web server, a proxy) must not read as "first model": that fails open."""
    with pytest.raises(ServiceError) as caught:
        load_metrics("models:/churn@champion", tracking_uri=url(registry), role="baseline")
    assert "404" in caught.value.message
    assert caught.value.exit_code == 2


def test_mlflow_does_not_exist_answer_is_no_baseline(registry: FakeRegistry) -> None:
    registry.content_type = "application/json"
    registry.body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST",
                                "message": "Registered model alias champion not found."}).encode()
    with pytest.raises(NoBaseline):
        load_metrics("models:/churn@champion", tracking_uri=url(registry), role="baseline")
    # the same answer for the candidate is an input error, not the first-model path
    with pytest.raises(InputError) as caught:
        load_metrics("models:/churn@champion", tracking_uri=url(registry), role="candidate")
    assert not isinstance(caught.value, NoBaseline)


def test_server_error_is_retried_then_service_error(registry: FakeRegistry,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCI_REGISTRY_TIMEOUT", "2")   # the registry layer's one budget
    registry.status = 503
    registry.content_type = "application/json"
    registry.body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}'
    with pytest.raises(ServiceError) as caught:
        load_metrics("models:/churn@champion", tracking_uri=url(registry), role="baseline")
    assert registry.hits >= 2   # retried, within the budget
    assert "MLCI_REGISTRY_TIMEOUT" in caught.value.message


def test_auth_failure_is_a_service_error(registry: FakeRegistry) -> None:
    registry.status = 401
    registry.content_type = "application/json"
    registry.body = b'{"error_code": "UNAUTHENTICATED", "message": "bad credentials"}'
    with pytest.raises(ServiceError) as caught:
        load_metrics("runs:/abc", tracking_uri=url(registry).replace("://", "://u:pw@"),
                     role="candidate")
    assert "pw" not in str(caught.value)


def test_invalid_alias_is_an_input_error_not_no_baseline(registry: FakeRegistry) -> None:
    registry.status = 400
    registry.content_type = "application/json"
    registry.body = b'{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad alias"}'
    with pytest.raises(InputError) as caught:
        load_metrics("models:/churn@v1", tracking_uri=url(registry), role="baseline")
    assert not isinstance(caught.value, (NoBaseline, ServiceError))
    assert "bad alias" in caught.value.message


ALIAS = "/api/2.0/mlflow/registered-models/alias"
MODEL = "/api/2.0/mlflow/registered-models/get"


def test_missing_alias_is_no_baseline_only_when_the_model_confirms_it(
        registry: FakeRegistry) -> None:
    # MLflow answers a missing alias with INVALID_PARAMETER_VALUE; the model lookup decides
    registry.routes[ALIAS] = (400, {"error_code": "INVALID_PARAMETER_VALUE",
                                    "message": "Registered model alias champion not found."})
    registry.routes[MODEL] = (200, {"registered_model": {
        "name": "churn", "aliases": [{"alias": "challenger", "version": "2"}]}})
    with pytest.raises(NoBaseline) as caught:
        load_metrics("models:/churn@champion", tracking_uri=url(registry), role="baseline")
    assert "has no alias 'champion' yet" in caught.value.message
    # the alias is listed on the model, yet could not be read: an error, never "first model"
    registry.routes[MODEL] = (200, {"registered_model": {
        "name": "churn", "aliases": [{"alias": "champion", "version": "1"}]}})
    with pytest.raises(ServiceError):
        load_metrics("models:/churn@champion", tracking_uri=url(registry), role="baseline")
    # the model lookup itself fails: a service error
    registry.routes[MODEL] = (503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "x"})
    with pytest.raises(ServiceError):
        load_metrics("models:/churn@champion", tracking_uri=url(registry), role="baseline")


def test_run_missing_is_input_error(registry: FakeRegistry) -> None:
    registry.content_type = "application/json"
    registry.body = b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run abc not found"}'
    with pytest.raises(InputError) as caught:
        load_metrics("runs:/abc", tracking_uri=url(registry), role="baseline")
    assert not isinstance(caught.value, (NoBaseline, ServiceError))
