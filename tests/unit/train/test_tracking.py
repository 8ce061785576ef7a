"""Which tracking client a URI gets, and the REST client's authentication (no server here;
the REST path runs against a real `mlflow server` in tests/integration/test_train.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

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
