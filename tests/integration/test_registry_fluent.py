"""MLflow's process-wide URIs are never left changed by mlci (a real `mlflow server`).

Loading a `models:/` model needs MLflow's global tracking and registry URIs, and
`mlflow.set_tracking_uri` also exports MLFLOW_TRACKING_URI; left set, every later MLflow call
of the process (the next stage of `mlci pipeline run`) and its children would use them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlci.registry.client import Registry
from tests.canary_support import register_pyfunc
from tests.registry_support import unique
from tests.services import MlflowServer, refused_url

pytestmark = pytest.mark.integration


def test_loading_a_registered_model_restores_the_global_uris(
        mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    import pandas as pd

    from mlci.gate.scoring import load_model

    model = unique("fluent")
    version = register_pyfunc(mlflow_server.url, model, answer=7)
    with refused_url() as elsewhere:   # what the process used before: must stay so
        monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        before = mlflow.get_tracking_uri()

        loaded = load_model(mlflow, f"models:/{model}/{version}", mlflow_server.url)

        assert list(loaded.predict(pd.DataFrame({"x": [1.0]}))) == [7]
        assert os.environ["MLFLOW_TRACKING_URI"] == elsewhere
        assert "MLFLOW_REGISTRY_URI" not in os.environ
        assert mlflow.get_tracking_uri() == before


def test_a_model_version_downloads_and_restores_the_global_uris(
        mlflow_server: MlflowServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = unique("download")
    version = register_pyfunc(mlflow_server.url, model, answer=3)
    with refused_url() as elsewhere:   # a global URI here would fail the download
        monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
        monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        found = Path(Registry(mlflow_server.url).download(
            f"models:/{model}/{version}", str(tmp_path / "m")))
    assert (found / "MLmodel").is_file()
    assert os.environ["MLFLOW_TRACKING_URI"] == elsewhere
