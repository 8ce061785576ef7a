"""The default tracking store: a local SQLite file with full MLflow, a clear error without it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mlci.errors import ConfigError
from mlci.tracking import registry_uri, resolve_tracking_uri, strip_credentials

pytestmark = pytest.mark.unit


def test_a_configured_uri_is_kept() -> None:
    assert resolve_tracking_uri("http://mlflow:5000") == "http://mlflow:5000"


def test_default_is_an_absolute_local_sqlite_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path.resolve() / 'mlruns.db'}"


def test_without_sqlalchemy_an_unset_uri_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sqlalchemy" else real(name, *a))
    with pytest.raises(ConfigError, match="pip install mlflow") as caught:
        resolve_tracking_uri("")
    assert caught.value.key == "registry.tracking_uri"


@pytest.mark.parametrize(("uri", "shown"), [
    ("https://user:s3cret@mlflow.example:8443/x", "https://mlflow.example:8443/x"),
    ("https://token@mlflow.example", "https://mlflow.example"),
    ("https://user:p@ss@mlflow.example/a@b?c=@d", "https://mlflow.example/a@b?c=@d"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("sqlite:///tmp/mlruns.db", "sqlite:///tmp/mlruns.db"),
    ("databricks", "databricks"),
])
def test_credentials_are_stripped_from_shown_uris(uri: str, shown: str) -> None:
    assert strip_credentials(uri) == shown


def test_an_unset_uri_is_shown_as_the_default() -> None:
    assert "default" in strip_credentials(None) and "default" in strip_credentials("")


def test_registry_is_mlflow_registry_uri_else_the_tracking_server() -> None:
    assert registry_uri("http://track", {}) == "http://track"
    assert registry_uri("http://track", {"MLFLOW_REGISTRY_URI": "http://reg"}) == "http://reg"
    assert registry_uri("http://track", {"MLFLOW_REGISTRY_URI": ""}) == "http://track"
