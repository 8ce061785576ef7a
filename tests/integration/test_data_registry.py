"""`mlci data-change --against models:/NAME@ALIAS` against a real `mlflow server`: the data
fingerprint recorded on the production model version (tag `mlci.data_fingerprint`, artifact
`mlci/data-manifest.json`)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from mlci.data import FINGERPRINT_TAG, MANIFEST_ARTIFACT
from mlci.data.local import fingerprint_paths
from mlci.data.manifest import Manifest
from tests.services import MlflowServer

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            mlflow_server: MlflowServer) -> Path:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB", "CI_", "MLCI_", "MLFLOW_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.csv").write_text("a\n1\n")
    (tmp_path / "data/b.csv").write_text("b\n2\n")
    return tmp_path


def record(client: Any, run_id: str, manifest: Manifest, *, model: str,
           version: str) -> None:
    """What `mlci train` and promote leave behind: the tag and the manifest artifact on the run,
    the tag on the model version."""
    import tempfile

    client.set_tag(run_id, FINGERPRINT_TAG, manifest.fingerprint)
    with tempfile.TemporaryDirectory(prefix="mlci-manifest-") as tmp:
        path = Path(tmp) / Path(MANIFEST_ARTIFACT).name
        manifest.write(path)
        client.log_artifact(run_id, str(path), str(Path(MANIFEST_ARTIFACT).parent))
    client.set_model_version_tag(model, version, FINGERPRINT_TAG, manifest.fingerprint)


def register(uri: str, name: str, manifest: Manifest | None, *, artifact: bool = True) -> Any:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment(f"exp-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment)
    client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/model",
                                          run_id=run.info.run_id)
    if manifest is not None:
        if artifact:
            record(client, run.info.run_id, manifest, model=name, version=version.version)
        else:
            client.set_model_version_tag(name, version.version, FINGERPRINT_TAG,
                                         manifest.fingerprint)
    client.set_registered_model_alias(name, "champion", version.version)
    return client


def data_change(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["data-change", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def current(project: Path) -> Manifest:
    return Manifest(fingerprint_paths(["data"], project, show_progress=False).entries)


def test_against_the_champion_model_version(project: Path, mlflow_server: MlflowServer,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    name = f"churn-{uuid.uuid4().hex[:8]}"
    register(mlflow_server.url, name, current(project))
    ref = f"models:/{name}@champion"
    report = data_change(capsys, "--paths", "data", "--against", ref)
    assert report["changed"] is False
    assert report["baseline"]["version"] == "1"
    (project / "data/c.csv").write_text("c\n")
    (project / "data/a.csv").write_text("a\n7\n")
    report = data_change(capsys, "--paths", "data", "--against", ref)
    assert report["changed"] is True
    assert report["added"] == ["data/c.csv"]
    assert [m["path"] for m in report["modified"]] == ["data/a.csv"]


def test_the_default_baseline_comes_from_mlci_yml(project: Path, mlflow_server: MlflowServer,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    name = f"churn-{uuid.uuid4().hex[:8]}"
    register(mlflow_server.url, name, current(project))
    (project / "mlci.yml").write_text(f"model: {name}\ndata:\n  paths: [data]\n")
    report = data_change(capsys)
    assert report["changed"] is False
    assert report["baseline"]["ref"] == f"models:/{name}@champion"


def test_a_fingerprint_tag_without_a_manifest(project: Path, mlflow_server: MlflowServer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    name = f"churn-{uuid.uuid4().hex[:8]}"
    register(mlflow_server.url, name, current(project), artifact=False)
    ref = f"models:/{name}@champion"
    assert data_change(capsys, "--paths", "data", "--against", ref)["changed"] is False
    (project / "data/c.csv").write_text("c\n")
    report = data_change(capsys, "--paths", "data", "--against", ref)
    assert report["changed"] is True and report["counts"] is None
    assert "no mlci/data-manifest.json" in report["baseline"]["note"]


def test_no_champion_yet_means_changed(project: Path, mlflow_server: MlflowServer,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    report = data_change(capsys, "--paths", "data", "--against",
                         f"models:/never-{uuid.uuid4().hex[:8]}@champion")
    assert report["changed"] is True
    assert "does not exist yet" in report["baseline"]["note"]


def test_a_version_without_a_recorded_fingerprint_means_changed(
        project: Path, mlflow_server: MlflowServer, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"churn-{uuid.uuid4().hex[:8]}"
    register(mlflow_server.url, name, None)
    report = data_change(capsys, "--paths", "data", "--against", f"models:/{name}/1")
    assert report["changed"] is True and FINGERPRINT_TAG in report["baseline"]["note"]


def test_an_unreachable_registry_is_exit_2(project: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MLCI_REGISTRY_TIMEOUT", "2")   # the registry layer's one budget
    assert main(["data-change", "--paths", "data", "--tracking-uri", "http://127.0.0.1:9",
                 "--against", "models:/m@champion"]) == 2
    err = capsys.readouterr().err
    assert "registry http://127.0.0.1:9 unavailable" in err and "Connection refused" in err
