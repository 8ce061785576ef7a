"""`mlci gate` and `mlci evaluate` against a real `mlflow server`: runs, registered models,
aliases, the first-model path, and an unreachable registry (which must never promote)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from tests.services import MlflowServer, refused_url

pytestmark = pytest.mark.integration

SPEC = """\
primary: {metric: f1, min_improvement: 0.01}
metrics:
  accuracy: {min: 0.70, max_regression: 0.02}
  f1: {min: 0.60}
"""


@pytest.fixture(autouse=True)
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as in a terminal: no outer CI's outputs or summary files are touched."""
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLFLOW_TRACKING_URI", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(mlflow_server: MlflowServer) -> Iterator[Any]:
    import mlflow
    from mlflow.tracking import MlflowClient

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server.url)
    yield MlflowClient(tracking_uri=mlflow_server.url)
    mlflow.set_tracking_uri(previous)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def log_run(client: Any, experiment: str, metrics: dict[str, float]) -> str:
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else client.create_experiment(experiment)
    run = client.create_run(exp_id)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value * 0.5, step=0)  # an earlier value
        client.log_metric(run.info.run_id, key, value, step=1)        # the latest one counts
    client.set_terminated(run.info.run_id)
    return str(run.info.run_id)


def register(client: Any, name: str, run_id: str, alias: str | None = "champion") -> str:
    with contextlib.suppress(Exception):  # already there
        client.create_registered_model(name)
    version = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id,
                                          await_creation_for=0)
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return str(version.version)


def gate(tmp_path: Path, server_url: str, *args: str, spec: str = SPEC) -> tuple[int, dict[str, Any]]:
    spec_file = tmp_path / "gate.yml"
    spec_file.write_text(spec)
    report = tmp_path / f"report-{uuid.uuid4().hex[:6]}.json"
    code = main(["gate", "--spec", str(spec_file), "--tracking-uri", server_url,
                 "--report-json", str(report), *args])
    data = json.loads(report.read_text()) if report.exists() else {}
    return code, data


# -- metrics from runs and registered models ---------------------------------------------------------

def test_candidate_run_beats_champion_promote(client: Any, mlflow_server: MlflowServer,
                                              tmp_path: Path) -> None:
    name, experiment = unique("churn"), unique("exp")
    champion = log_run(client, experiment, {"accuracy": 0.80, "f1": 0.70})
    register(client, name, champion)
    candidate = log_run(client, experiment, {"accuracy": 0.81, "f1": 0.75})
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", f"runs:/{candidate}",
                        "--baseline", f"models:/{name}@champion")
    assert code == 0 and report["verdict"] == "promote"
    text = json.dumps(report)
    assert candidate in text and champion in text  # lineage of both sides is in the report


def test_candidate_run_worse_than_champion_reject(client: Any, mlflow_server: MlflowServer,
                                                  tmp_path: Path) -> None:
    name, experiment = unique("churn"), unique("exp")
    register(client, name, log_run(client, experiment, {"accuracy": 0.85, "f1": 0.75}))
    candidate = log_run(client, experiment, {"accuracy": 0.80, "f1": 0.80})  # accuracy -0.05
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", f"runs:/{candidate}",
                        "--baseline", f"models:/{name}@champion")
    assert code == 1 and report["verdict"] == "reject"


def test_pinned_version_and_registered_candidate(client: Any, mlflow_server: MlflowServer,
                                                 tmp_path: Path) -> None:
    from mlci.gate.sources import load_metrics

    name, experiment = unique("churn"), unique("exp")
    v1 = register(client, name, log_run(client, experiment, {"accuracy": 0.8, "f1": 0.7}))
    cand_run = log_run(client, experiment, {"accuracy": 0.8, "f1": 0.72})
    v2 = register(client, name, cand_run, alias="challenger")
    source = load_metrics(f"models:/{name}@challenger", tracking_uri=mlflow_server.url,
                          role="candidate")
    assert source.model_version == v2 and source.run_id == cand_run
    assert source.metrics == {"accuracy": 0.8, "f1": 0.72}  # the latest values
    pinned = load_metrics(f"models:/{name}/{v1}", tracking_uri=mlflow_server.url,
                          role="baseline")
    assert pinned.model_version == v1 and pinned.metrics["f1"] == 0.7
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", f"models:/{name}@challenger",
                        "--baseline", f"models:/{name}/{v1}")
    assert code == 0 and report["verdict"] == "promote"  # f1 +0.02 >= 0.01, accuracy held


def test_first_model_no_alias_and_no_model(client: Any, mlflow_server: MlflowServer,
                                           tmp_path: Path) -> None:
    from mlci.gate.sources import NoBaseline, load_metrics

    name, experiment = unique("churn"), unique("exp")
    candidate = log_run(client, experiment, {"accuracy": 0.9, "f1": 0.8})
    register(client, name, candidate, alias=None)  # registered, but no champion yet
    with pytest.raises(NoBaseline):
        load_metrics(f"models:/{name}@champion", tracking_uri=mlflow_server.url, role="baseline")
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", f"runs:/{candidate}",
                        "--baseline", f"models:/{name}@champion")
    assert code == 0 and report["verdict"] == "promote"
    # on_missing_baseline decides the first model's verdict
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", f"runs:/{candidate}",
                        "--baseline", f"models:/{unique('never-registered')}@champion",
                        spec=SPEC + "on_missing_baseline: review\n")
    assert code == 3 and report["verdict"] == "review"
    # absolute rules still apply to a first model
    weak = log_run(client, experiment, {"accuracy": 0.5, "f1": 0.8})
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", f"runs:/{weak}",
                        "--baseline", f"models:/{name}@champion")
    assert code == 1 and report["verdict"] == "reject"


def test_missing_candidate_is_an_input_error(client: Any, mlflow_server: MlflowServer,
                                             tmp_path: Path) -> None:
    code, report = gate(tmp_path, mlflow_server.url,
                        "--candidate", f"models:/{unique('nothing')}@champion")
    assert code == 2 and report == {}
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", "runs:/0123456789abcdef")
    assert code == 2 and report == {}


def predictions_csv(path: Path, wrong_every: int, stray: bool = False) -> Path:
    """200 examples, labels 0/1, predicted wrong on every `wrong_every`-th one."""
    lines = ["id,label,prediction"]
    for i in range(200):
        label = i % 2
        pred = 1 - label if i % wrong_every == 0 else label
        lines.append(f"ex-{i},{-1 if stray and i == 7 else label},{pred}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_predictions_beat_the_runs_logged_metrics(client: Any, mlflow_server: MlflowServer,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11.3: the run logged accuracy 0.95, its predictions say 0.70. One stray label
    once made the files read as regression and the logged 0.95 promoted; now the stray label
    is exit 2, and without it accuracy comes from the predictions and rejects."""
    name, experiment = unique("churn"), unique("exp")
    register(client, name, log_run(client, experiment, {"accuracy": 0.80, "f1": 0.70}))
    flattering = log_run(client, experiment, {"accuracy": 0.95, "f1": 0.90})
    args = ["--candidate", f"runs:/{flattering}", "--baseline", f"models:/{name}@champion"]
    stray = predictions_csv(tmp_path / "stray.csv", 3, stray=True)  # about 2 in 3 right
    code, report = gate(tmp_path, mlflow_server.url, *args, "--candidate-predictions", str(stray))
    assert code == 2 and report == {}
    assert "predictions.task" in capsys.readouterr().err
    clean = predictions_csv(tmp_path / "clean.csv", 3)
    code, report = gate(tmp_path, mlflow_server.url, *args, "--candidate-predictions", str(clean))
    assert code == 1 and report["verdict"] == "reject"
    accuracy = {m["name"]: m for m in report["metrics"]}["accuracy"]
    assert accuracy["source"] == "predictions" and accuracy["candidate"] < 0.7


def test_no_candidate_ref_when_predictions_give_every_metric(
        client: Any, mlflow_server: MlflowServer, tmp_path: Path) -> None:
    """Issue 11.15: prediction files alone for the candidate, the champion from the registry."""
    name, experiment = unique("churn"), unique("exp")
    champion = log_run(client, experiment, {"accuracy": 0.80, "f1": 0.70})
    register(client, name, champion)
    good = predictions_csv(tmp_path / "good.csv", 10)  # 90% right
    code, report = gate(tmp_path, mlflow_server.url, "--baseline", f"models:/{name}@champion",
                        "--candidate-predictions", str(good))
    assert code == 0 and report["verdict"] == "promote"
    assert report["candidate"]["ref"] is None and report["baseline"]["run_id"] == champion
    code, report = gate(tmp_path, mlflow_server.url, "--baseline", f"models:/{name}@champion",
                        "--candidate-predictions", str(good),
                        spec=SPEC + "  latency_ms: {max: 50}\n")
    assert code == 2 and report == {}  # latency_ms needs --candidate


def test_unreachable_registry_exits_2_never_promotes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cand = tmp_path / "cand.json"
    cand.write_text('{"accuracy": 0.99, "f1": 0.99}')
    with refused_url() as closed:
        code, report = gate(tmp_path, closed, "--candidate", str(cand),
                            "--baseline", "models:/churn@champion",
                            spec=SPEC + "on_missing_baseline: promote\n")
    assert code == 2
    assert report.get("verdict") != "promote"
    err = capsys.readouterr().err
    assert "MLflow registry" in err and "Connection refused" in err


# -- mlci evaluate ----------------------------------------------------------------------------------

def make_data(rows: int, seed: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    label = ((x1 + 0.5 * x2 + rng.normal(scale=0.7, size=rows)) > 0).astype(int)
    return pd.DataFrame({"id": [f"ex-{i}" for i in range(rows)], "x1": x1, "x2": x2,
                         "region": rng.choice(["north", "south"], size=rows), "label": label})


def log_sklearn(name: str, features: list[str], train: Any, c: float) -> str:
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c).fit(train[features], train["label"])
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", float(model.score(train[features], train["label"])))
        mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                 signature=infer_signature(train[features],
                                                           model.predict(train[features])),
                                 pip_requirements=["scikit-learn"], await_registration_for=0)
    return str(run.info.run_id)


def test_evaluate_writes_predictions_the_gate_accepts(client: Any, mlflow_server: MlflowServer,
                                                      tmp_path: Path) -> None:
    import mlflow
    import pandas as pd
    from sklearn.metrics import accuracy_score, roc_auc_score

    name = unique("scored")
    mlflow.set_experiment(unique("exp"))
    train, holdout = make_data(400, seed=1), make_data(300, seed=2)
    log_sklearn(name, ["x1"], train, c=1.0)                        # version 1: one feature
    client.set_registered_model_alias(name, "champion", "1")
    cand_run = log_sklearn(name, ["x1", "x2"], train, c=1.0)       # version 2: both
    data = tmp_path / "holdout.csv"
    holdout.to_csv(data, index=False)

    base_out, cand_out = tmp_path / "base.csv", tmp_path / "cand.parquet"
    assert main(["evaluate", "--tracking-uri", mlflow_server.url, "--model",
                 f"models:/{name}@champion", "--data", str(data), "--out", str(base_out),
                 "--score", "--keep", "region"]) == 0
    assert main(["evaluate", "--tracking-uri", mlflow_server.url, "--model",
                 f"runs:/{cand_run}/model", "--data", str(data), "--out", str(cand_out),
                 "--score", "--keep", "region"]) == 0

    base = pd.read_csv(base_out)
    assert list(base.columns) == ["id", "label", "prediction", "score", "region"]
    assert list(base["id"]) == list(holdout["id"]) and len(base) == 300
    model = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert accuracy_score(holdout["label"], model.predict(holdout[["x1"]])) == \
        accuracy_score(base["label"], base["prediction"])
    assert roc_auc_score(base["label"], base["score"]) == pytest.approx(
        roc_auc_score(holdout["label"], model.predict_proba(holdout[["x1"]])[:, 1]))
    cand = pd.read_parquet(cand_out)
    assert cand["score"].between(0, 1).all()

    spec = """\
primary: {metric: roc_auc, min_improvement: 0.0}
metrics:
  accuracy: {min: 0.5, max_regression: 0.05}
  roc_auc: {min: 0.5}
slices: {column: region, min_slice_size: 20, metrics: {accuracy: {min: 0.4}}}
significance: {confidence: 0.9, resamples: 200, seed: 0}
predictions: {id: id, label: label, prediction: prediction, score: score}
"""
    cand_metrics, base_metrics = tmp_path / "cm.json", tmp_path / "bm.json"
    cand_metrics.write_text("{}")
    base_metrics.write_text("{}")
    code, report = gate(tmp_path, mlflow_server.url, "--candidate", str(cand_metrics),
                        "--baseline", str(base_metrics),
                        "--candidate-predictions", str(cand_out),
                        "--baseline-predictions", str(base_out), spec=spec)
    assert code in (0, 3), report          # accepted: a verdict, not an input error
    assert report["verdict"] in ("promote", "review")
    assert "roc_auc" in json.dumps(report) and "north" in json.dumps(report)


def test_evaluate_errors_are_clear(client: Any, mlflow_server: MlflowServer, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import mlflow
    from sklearn.linear_model import LinearRegression

    train = make_data(50, seed=3)
    data = tmp_path / "d.csv"
    train.to_csv(data, index=False)
    mlflow.set_experiment(unique("exp"))
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LinearRegression().fit(train[["x1", "x2"]], train["label"]),
                                 name="model", pip_requirements=["scikit-learn"])
    uri = f"runs:/{run.info.run_id}/model"
    out = tmp_path / "o.csv"
    base = ["evaluate", "--tracking-uri", mlflow_server.url, "--data", str(data),
            "--out", str(out), "--exclude", "region"]
    assert main([*base, "--model", uri, "--score"]) == 2       # a regressor has no predict_proba
    assert "predict_proba" in capsys.readouterr().err
    assert main([*base, "--model", uri, "--label-column", "y"]) == 2
    assert "no label column 'y'" in capsys.readouterr().err
    assert main([*base, "--model", f"models:/{unique('nope')}@champion"]) == 2
    assert not out.exists()
    assert main([*base, "--model", uri]) == 0                  # no signature: all but id/label
    assert list(__import__("pandas").read_csv(out).columns) == ["id", "label", "prediction"]


def test_omitted_baseline_is_the_configured_champion(client: Any, mlflow_server: MlflowServer,
                                                     tmp_path: Path) -> None:
    """What the action and template rely on when their `baseline` input is empty: mlci
    compares with models:/<model>@<registry.alias> from mlci.yml, never "no baseline"."""
    name, experiment = unique("churn"), unique("exp")
    register(client, name, log_run(client, experiment, {"accuracy": 0.90, "f1": 0.85}),
             alias="production")
    config = tmp_path / "mlci.yml"
    config.write_text(f"model: {name}\nregistry: {{alias: production}}\n")
    cand = tmp_path / "cand.json"
    cand.write_text('{"accuracy": 0.90, "f1": 0.80}')  # worse than the champion
    code, report = gate(tmp_path, mlflow_server.url, "--config", str(config),
                        "--candidate", str(cand))
    assert code == 1 and report["verdict"] == "reject"
    # and with the registry down, it is an error, not a first-model promote
    with refused_url() as closed:
        code, report = gate(tmp_path, closed, "--config", str(config), "--candidate", str(cand))
    assert code == 2 and report.get("verdict") != "promote"
