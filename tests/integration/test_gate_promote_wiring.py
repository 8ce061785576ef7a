"""Stages wired by the registry, not by files (issue 11.8), against a real `mlflow server`: the
gate records its report and verdict on the candidate's run; `mlci promote` without
--gate-report finds the latest one there; --gate-report FILE still wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci import names
from tests.registry_support import (
    alias,
    candidate_runs,
    client,
    gate_report,
    mlci_run,
    register,
    unique,
)
from tests.services import MlflowServer

pytestmark = pytest.mark.integration

SPEC = "metrics:\n  accuracy: {min: 0.70, max_regression: 0.02}\n"


def with_accuracy(url: str, run_id: str, value: float) -> None:
    client(url).log_metric(run_id, "accuracy", value)


def gate(url: str, tmp_path: Path, candidate: str, model: str) -> tuple[int, str]:
    """Run the gate as a GitHub step; (exit code, the step's output file as written)."""
    spec = tmp_path / "gate.yml"
    spec.write_text(SPEC)
    out = tmp_path / f"out-{unique('g')}.env"
    result = mlci_run(url, "gate", "--spec", str(spec), "--candidate", f"runs:/{candidate}",
                      "--baseline", f"models:/{model}@champion", cwd=tmp_path,
                      env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out)})
    return result.returncode, (out.read_text() if out.exists() else "") + result.stderr


@pytest.fixture
def champion(mlflow_server: MlflowServer) -> tuple[str, str]:
    """A model whose champion (version 1) has accuracy 0.80."""
    url, model = mlflow_server.url, unique("wired")
    (first,) = candidate_runs(url, 1)
    with_accuracy(url, first, 0.80)
    (version,) = register(url, model, [first])
    client(url).set_registered_model_alias(model, "champion", version)
    return model, version


def test_the_gate_records_its_report_and_promote_finds_it(
        mlflow_server: MlflowServer, champion: tuple[str, str], tmp_path: Path) -> None:
    url, (model, v1) = mlflow_server.url, champion
    (run_id,) = candidate_runs(url, 1)
    with_accuracy(url, run_id, 0.85)
    code, outputs = gate(url, tmp_path, run_id, model)
    assert code == 0, outputs
    tags = client(url).get_run(run_id).data.tags
    assert tags[names.GATE_VERDICT] == "promote"
    path = tags[names.GATE_REPORT]
    assert path.startswith(names.GATE_REPORT_DIR + "/") and path.endswith("/report.json")
    assert "report-uri" in outputs and f"runs:/{run_id}/{path}" in outputs
    recorded = json.loads(Path(client(url).download_artifacts(run_id, path, str(tmp_path)))
                          .read_text())
    assert recorded["verdict"] == "promote" and recorded["baseline"]["model_version"] == v1

    # another job, another workspace: no report file, only the registry
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = mlci_run(url, "promote", "--model", model, "--candidate", f"runs:/{run_id}/model",
                      cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert alias(url, model) == "2"
    assert "no --expect-current" not in result.stderr   # the report's baseline was the check


def test_a_recorded_reject_is_refused_and_a_later_gate_run_wins(
        mlflow_server: MlflowServer, champion: tuple[str, str], tmp_path: Path) -> None:
    url, (model, _) = mlflow_server.url, champion
    (run_id,) = candidate_runs(url, 1)
    with_accuracy(url, run_id, 0.60)
    assert gate(url, tmp_path, run_id, model)[0] == 1
    refused = mlci_run(url, "promote", "--model", model, "--candidate", f"runs:/{run_id}/model",
                       cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "reject" in refused.stderr and alias(url, model) == "1"

    # --gate-report FILE wins over the recorded report
    report = gate_report(tmp_path, "promote", baseline="1", run_id=run_id)
    won = mlci_run(url, "promote", "--model", model, "--candidate", f"runs:/{run_id}/model",
                   "--gate-report", report, cwd=tmp_path)
    assert won.returncode == 0, won.stderr
    assert alias(url, model) == "2"


def test_a_run_never_gated_is_a_manual_promotion(mlflow_server: MlflowServer,
                                                 champion: tuple[str, str],
                                                 tmp_path: Path) -> None:
    url, (model, _) = mlflow_server.url, champion
    (run_id,) = candidate_runs(url, 1)
    result = mlci_run(url, "promote", "--model", model, "--candidate", f"runs:/{run_id}/model",
                      cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--approved" in result.stderr and alias(url, model) == "1"


def test_a_tag_naming_a_malformed_report_is_an_input_error(
        mlflow_server: MlflowServer, champion: tuple[str, str], tmp_path: Path) -> None:
    url, (model, _) = mlflow_server.url, champion
    (run_id,) = candidate_runs(url, 1)
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps({"verdict": "promote", "baseline": "version three"}))
    client(url).log_artifact(run_id, str(bad), "mlci/gate/x")
    client(url).set_tag(run_id, names.GATE_REPORT, "mlci/gate/x/report.json")
    result = mlci_run(url, "promote", "--model", model, "--candidate", f"runs:/{run_id}/model",
                      cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "baseline" in result.stderr and alias(url, model) == "1"
