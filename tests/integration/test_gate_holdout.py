"""`mlci gate --holdout` against a real `mlflow server`: the gate scores the candidate and,
when production has a model, the production model on the holdout itself (mlci evaluate's
scoring, on this host: the runs recorded no image), then gates on both prediction files.

The models are real MLflow pyfunc models (a `loader_module`, as docs/promote.md describes):
class 1 when x >= 0.5, except that a model may flip its answers in one region, which hurts
that slice only while the average stays above its minimum."""

from __future__ import annotations

import contextlib
import csv
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from tests.services import MlflowServer

pytestmark = pytest.mark.integration

MODEL_CODE = '''\
import json


class Flip:
    def __init__(self, params):
        self.threshold, self.flip = params["threshold"], params.get("flip")

    def predict(self, model_input, params=None):
        rows = model_input.to_dict("records")
        return [1 - int(r["x"] >= self.threshold) if r["region"] == self.flip
                else int(r["x"] >= self.threshold) for r in rows]


def _load_pyfunc(path):
    with open(path, encoding="utf-8") as handle:
        return Flip(json.load(handle))
'''
MLMODEL = ("flavors:\n  python_function:\n    loader_module: flipmodel\n    code: code\n"
           "    data: params.json\n")
GATE = """\
  metrics:
    accuracy: {min: 0.6, max_regression: 0.5}
  slices:
    column: region
    min_slice_size: 50
    metrics:
      accuracy: {min: 0.6, max_regression: 0.05}
  fairness: {column: gender, metric: recall, max_difference: 0.9}
  on_missing_baseline: promote
  predictions: {id: cid, label: churned, prediction: predicted}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            mlflow_server: MlflowServer) -> Path:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLFLOW_TRACKING_URI", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "step-outputs"))
    monkeypatch.chdir(tmp_path)
    # the holdout: 3 regions of 100 rows, label = x >= 0.5 except every 10th row (noise)
    with open(tmp_path / "holdout.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["cid", "churned", "x", "region", "gender"])
        for i in range(300):
            x = (i * 37 % 100) / 100
            label = int(x >= 0.5) ^ int(i % 10 == 0)
            writer.writerow([f"c{i}", label, x, ("north", "south", "east")[i % 3],
                             ("f", "m")[i // 3 % 2]])
    return tmp_path


def config(model: str, url: str) -> str:
    path = Path(f"mlci-{uuid.uuid4().hex[:6]}.yml")
    path.write_text(f"model: {model}\nregistry: {{tracking_uri: '{url}'}}\ngate:\n{GATE}",
                    encoding="utf-8")
    return str(path)


def client(url: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def model_run(url: str, *, flip: str | None = None, with_model: bool = True) -> str:
    """A finished run holding a pyfunc model under model/ (and a logged accuracy)."""
    mlflow = client(url)
    found = mlflow.get_experiment_by_name("mlci-gate-holdout")
    exp_id = found.experiment_id if found else mlflow.create_experiment("mlci-gate-holdout")
    run_id = str(mlflow.create_run(exp_id).info.run_id)
    mlflow.log_metric(run_id, "accuracy", 0.9)
    if with_model:
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(tmp) / "model"
            (model / "code").mkdir(parents=True)
            (model / "MLmodel").write_text(MLMODEL, encoding="utf-8")
            (model / "code" / "flipmodel.py").write_text(MODEL_CODE, encoding="utf-8")
            (model / "params.json").write_text(json.dumps({"threshold": 0.5, "flip": flip}),
                                               encoding="utf-8")
            mlflow.log_artifacts(run_id, str(model), "model")
    mlflow.set_terminated(run_id)
    return run_id


def champion(url: str, name: str, run_id: str) -> str:
    mlflow = client(url)
    with contextlib.suppress(Exception):  # exists
        mlflow.create_registered_model(name)
    version = mlflow.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id,
                                          await_creation_for=0)
    mlflow.set_registered_model_alias(name, "champion", version.version)
    return str(version.version)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_first_model_only_the_candidate_is_scored(
        workdir: Path, mlflow_server: MlflowServer, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"holdout-{uuid.uuid4().hex[:8]}"
    run_id = model_run(mlflow_server.url)
    code = main(["gate", "--config", config(name, mlflow_server.url), "--candidate",
                 f"runs:/{run_id}", "--holdout", "holdout.csv", "--report-dir", "rep"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "mlci gate: promote" in out and "no baseline yet" in err
    scored = rows(workdir / "rep" / "candidate-predictions.csv")
    assert list(scored[0]) == ["cid", "churned", "predicted", "region", "gender"]
    assert len(scored) == 300 and scored[0]["predicted"] == "0"
    assert not (workdir / "rep" / "baseline-predictions.csv").exists()
    report = json.loads((workdir / "rep" / "report.json").read_text(encoding="utf-8"))
    assert report["verdict"] == "promote"


def test_production_model_both_scored_and_the_hurt_slice_rejects(
        workdir: Path, mlflow_server: MlflowServer, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"holdout-{uuid.uuid4().hex[:8]}"
    version = champion(mlflow_server.url, name, model_run(mlflow_server.url))
    harmful = model_run(mlflow_server.url, flip="south")
    mlci_yml = config(name, mlflow_server.url)
    code = main(["gate", "--config", mlci_yml, "--candidate", f"runs:/{harmful}",
                 "--holdout", "holdout.csv", "--report-dir", "rep", "--json"])
    out, err = capsys.readouterr()
    assert code == 1, err
    report = json.loads(out)
    assert report["verdict"] == "reject"
    baseline = rows(workdir / "rep" / "baseline-predictions.csv")
    candidate = rows(workdir / "rep" / "candidate-predictions.csv")
    assert [r["cid"] for r in baseline] == [r["cid"] for r in candidate]
    south = [i for i, r in enumerate(candidate) if r["region"] == "south"]
    assert all(candidate[i]["predicted"] != baseline[i]["predicted"] for i in south)
    text = json.dumps(report)
    assert "south" in text and f"models:/{name}@champion" in text
    assert any("south" in reason for reason in report["reasons"]), report["reasons"]
    assert version in text

    # without --report-dir the prediction files live in a temporary directory, removed after
    scratch = workdir / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    good = model_run(mlflow_server.url)
    code = main(["gate", "--config", mlci_yml, "--candidate", f"runs:/{good}",
                 "--holdout", "holdout.csv"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "mlci gate: promote" in out
    # (MLflow leaves its own download directories there; ours is gone)
    assert not list(scratch.glob("mlci-gate-*")) and not list(scratch.rglob("*predictions*"))


def test_scoring_failures_are_exit_2_naming_the_model_and_the_file(
        workdir: Path, mlflow_server: MlflowServer, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"holdout-{uuid.uuid4().hex[:8]}"
    mlci_yml = config(name, mlflow_server.url)
    no_model = model_run(mlflow_server.url, with_model=False)
    code = main(["gate", "--config", mlci_yml, "--candidate", f"runs:/{no_model}",
                 "--holdout", "holdout.csv", "--report-dir", "rep"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"runs:/{no_model}/model" in err and "holdout.csv" in err
    assert not (workdir / "rep" / "report.json").exists()        # never a verdict

    # a production model that cannot be scored: exit 2, not a first model
    champion(mlflow_server.url, name, model_run(mlflow_server.url, with_model=False))
    good = model_run(mlflow_server.url)
    code = main(["gate", "--config", mlci_yml, "--candidate", f"runs:/{good}",
                 "--holdout", "holdout.csv"])
    err = capsys.readouterr().err
    assert code == 2
    assert "scoring the baseline model" in err and f"models:/{name}/1" in err

    # a holdout without the spec's label column
    Path("bad.csv").write_text("cid,x,region,gender\nc1,0.5,north,f\n", encoding="utf-8")
    code = main(["gate", "--config", mlci_yml, "--candidate", f"runs:/{good}",
                 "--holdout", "bad.csv"])
    err = capsys.readouterr().err
    assert code == 2 and "churned" in err and "bad.csv" in err

    # a metrics file is no model; and the flags do not mix
    Path("m.json").write_text('{"accuracy": 0.9}', encoding="utf-8")
    assert main(["gate", "--config", mlci_yml, "--candidate", "m.json",
                 "--holdout", "holdout.csv"]) == 2
    assert "metrics file" in capsys.readouterr().err
    assert main(["gate", "--config", mlci_yml, "--candidate", f"runs:/{good}",
                 "--holdout", "holdout.csv", "--candidate-predictions", "holdout.csv"]) == 2
    assert "not both" in capsys.readouterr().err
