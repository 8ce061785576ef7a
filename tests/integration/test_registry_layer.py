"""The one way to the registry, against a real `mlflow server` (issue 12.5 and 12.8): every
command that reads MLflow fails fast on an unreachable registry, within `MLCI_REGISTRY_TIMEOUT`,
and never prints the credentials of its tracking URI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.registry_support import candidate_runs, mlci_run, register, unique
from tests.services import MlflowServer, free_port

pytestmark = pytest.mark.integration

SECRET = "S3CRETPW"


def with_credentials(url: str) -> str:
    return url.replace("://", f"://mlci-user:{SECRET}@")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.csv").write_text("id,x,label\n1,0.5,1\n2,0.1,0\n")
    return tmp_path


def commands(project: Path) -> dict[str, list[str]]:
    return {
        "data-change": ["data-change", "--paths", "data", "--against", "models:/churn@champion"],
        "reproduce": ["reproduce", "0123456789abcdef0123456789abcdef"],
        "evaluate": ["evaluate", "--model", "models:/churn@champion", "--data",
                     str(project / "data/a.csv"), "--out", str(project / "preds.csv")],
    }


@pytest.mark.parametrize("command", ["data-change", "reproduce"])
def test_an_unreachable_registry_fails_within_the_timeout(project: Path, command: str) -> None:
    """254 s before (MLflow's own retries): now the registry layer's budget, then exit 2."""
    dead = with_credentials(f"http://127.0.0.1:{free_port()}")
    result = mlci_run(dead, *commands(project)[command], cwd=project,
                      env={"MLCI_REGISTRY_TIMEOUT": "3"}, timeout=120)
    text = result.stdout + result.stderr
    assert result.returncode == 2, text
    assert "unavailable" in text and "MLCI_REGISTRY_TIMEOUT" in text, text
    waited = re.search(r"over (\d+\.\d)s \(limit 3s", text)
    assert waited and float(waited[1]) <= 3.0, text
    assert SECRET not in text and "mlci-user" not in text, text


@pytest.mark.parametrize("command", ["data-change", "reproduce", "evaluate"])
def test_credentials_are_never_printed(mlflow_server: MlflowServer, project: Path,
                                       command: str) -> None:
    """The server is up and answers; every message that names it is stripped."""
    url = with_credentials(mlflow_server.url)
    result = mlci_run(url, *commands(project)[command], "--tracking-uri", url, cwd=project,
                      env={"MLCI_REGISTRY_TIMEOUT": "10"}, timeout=300)
    text = result.stdout + result.stderr
    assert SECRET not in text and "mlci-user" not in text, text
    if command != "data-change":   # its "no baseline yet" note needs no address
        assert mlflow_server.url.split("://")[1] in text, text   # the registry is named


def test_config_prints_the_tracking_uri_without_credentials(mlflow_server: MlflowServer,
                                                            project: Path) -> None:
    url = with_credentials(mlflow_server.url)
    for extra in ([], ["--json"]):
        result = mlci_run(url, "config", "--tracking-uri", url, *extra, cwd=project)
        text = result.stdout + result.stderr
        assert result.returncode == 0, text
        assert SECRET not in text and "mlci-user" not in text, text
        assert mlflow_server.url in text, text


def test_a_baseline_alias_that_does_not_exist_yet_reads_as_no_baseline(
        mlflow_server: MlflowServer, project: Path) -> None:
    """Through the same layer, a registry's "not found" is the first-model path (exit 0)."""
    model = unique("layer")
    register(mlflow_server.url, model, candidate_runs(mlflow_server.url, 1))
    result = mlci_run(mlflow_server.url, "data-change", "--paths", "data", "--against",
                      f"models:/{model}@champion", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "no baseline" in result.stdout + result.stderr
