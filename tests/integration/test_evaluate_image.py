"""`mlci evaluate` scores a model in its training run's own image by default (issue 11.14):
real podman, the debootstrapped base image (python3 only: no MLflow, no pandas) and a real
`mlflow server`. The model is the minimal pyfunc model docs/promote.md describes
(tests/fixtures/train/pyfunc): its predictions say what it was given, a list of rows in the
image or a DataFrame on this host, so the test sees where it ran."""

from __future__ import annotations

import csv
import shutil
import uuid
from pathlib import Path

import pytest

from mlci.cli import main
from tests.services import MlflowServer
from tests.train_support import BASE_IMAGE, ROOT, ensure_base_image

pytestmark = pytest.mark.integration

MODEL_SOURCES = ROOT / "tests" / "fixtures" / "train" / "pyfunc"
# The training command writes model/ as the docs say: MLmodel, code/, the data file.
COMMAND = ("mkdir -p /outputs/model/code && cp /data/MLmodel /outputs/model/ && "
           "cp /data/toy_model.py /outputs/model/code/ && "
           "echo '{\"threshold\": 0.5}' > /outputs/model/params.json && "
           "echo '{\"accuracy\": 1}' > /outputs/metrics.json")


@pytest.fixture
def trained_run(mlflow_server: MlflowServer, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    ensure_base_image()
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLFLOW_TRACKING_URI", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "step-outputs"))
    monkeypatch.chdir(tmp_path)
    shutil.copytree(MODEL_SOURCES, tmp_path / "src")
    with open(tmp_path / "holdout.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "label", "x", "region"])
        writer.writerows([["a", 1, 0.9, "north"], ["b", 0, 0.2, "south"], ["c", 1, 0.6, "east"]])
    capsys.readouterr()
    code = main(["train", "--image", BASE_IMAGE, "--engine", "podman", "--data", "src",
                 "--command", COMMAND, "--experiment", f"evalimg-{uuid.uuid4().hex[:8]}",
                 "--tracking-uri", mlflow_server.url, "--json"])
    import json

    out, err = capsys.readouterr()
    assert code == 0, err
    return str(json.loads(out)["run_id"])


def predictions(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_scores_in_the_run_image_by_default_and_on_the_host_when_asked(
        trained_run: str, mlflow_server: MlflowServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    base = ["evaluate", "--tracking-uri", mlflow_server.url, "--model",
            f"runs:/{trained_run}/model", "--data", "holdout.csv", "--keep", "region"]
    assert main([*base, "--out", "image.csv", "--score"]) == 0, capsys.readouterr().err
    rows = predictions(tmp_path / "image.csv")
    assert [r["prediction"] for r in rows] == ["1:list", "0:list", "1:list"]   # in the image
    assert [float(r["score"]) for r in rows] == [0.9, 0.2, 0.6]
    assert [r["region"] for r in rows] == ["north", "south", "east"]
    assert list(rows[0]) == ["id", "label", "prediction", "score", "region"]

    assert main([*base, "--out", "host.csv", "--score", "--engine", "local"]) == 0, \
        capsys.readouterr().err
    rows = predictions(tmp_path / "host.csv")
    assert [r["prediction"] for r in rows] == ["1:DataFrame", "0:DataFrame", "1:DataFrame"]
    assert [float(r["score"]) for r in rows] == [0.9, 0.2, 0.6]                # on this host

    Path("one.csv").write_text("id,label,x,region\na,1,0.9,north\n", encoding="utf-8")
    capsys.readouterr()
    assert main([*base[:-4], "--data", "one.csv", "--out", "one-out.csv", "--engine",
                 "local"]) == 0
    assert "mlci evaluate: 1 prediction of" in capsys.readouterr().out


def test_a_model_the_image_cannot_load_is_exit_2(trained_run: str, mlflow_server: MlflowServer,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The column the model reads is missing: the model's own error, exit 2, and where."""
    Path("bad.csv").write_text("id,label,y\na,1,0.5\n", encoding="utf-8")
    code = main(["evaluate", "--tracking-uri", mlflow_server.url, "--model",
                 f"runs:/{trained_run}/model", "--data", "bad.csv", "--out", "o.csv"])
    err = capsys.readouterr().err
    assert code == 2
    assert "in its training image" in err and "KeyError: 'x'" in err, err
    assert "--engine local" in err


def test_a_recorded_image_that_is_not_here_is_exit_2(mlflow_server: MlflowServer, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Trained on another machine (an image ID podman does not have, no registry digest):
    never silently scored with this host's libraries; --engine local is the way out."""
    import json

    from mlflow.tracking import MlflowClient

    from mlci.train import lineage

    missing = "sha256:" + "0" * 64
    client = MlflowClient(mlflow_server.url)
    experiment = client.create_experiment(f"elsewhere-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(experiment).info.run_id
    statement = {"_type": lineage.STATEMENT_TYPE, "predicateType": lineage.PREDICATE_TYPE,
                 "subject": [], "predicate": {
                     "image": {"ref": "mlci-train:abc", "id": missing, "digest": missing,
                               "repo_digest": None},
                     "engine": {"name": "podman", "containerized": True}}}
    (tmp_path / "mlci").mkdir()
    (tmp_path / "mlci" / "lineage.json").write_text(json.dumps(statement))
    client.log_artifact(run_id, str(tmp_path / "mlci" / "lineage.json"), "mlci")
    (tmp_path / "d.csv").write_text("id,label,x\na,1,0.5\n")
    code = main(["evaluate", "--tracking-uri", mlflow_server.url, "--model",
                 f"runs:/{run_id}/model", "--data", str(tmp_path / "d.csv"), "--out",
                 str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"run {run_id} was trained in the image mlci-train:abc {missing}" in err, err
    assert "--engine local" in err
    assert not (tmp_path / "o.csv").exists()
