"""`mlci evaluate` on a local MLflow model directory (no server): columns, formats, errors.

The registry paths (models:/, runs:/) run against a real `mlflow server` in
tests/integration/test_gate_mlflow.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLCI_PLATFORM", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def data_and_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(200), "a": rng.normal(size=200),
                          "b": rng.normal(size=200), "group": rng.choice(["x", "y"], 200)})
    frame["y"] = np.where(frame["a"] + rng.normal(scale=0.5, size=200) > 0, "churn", "stay")
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    path = tmp_path_factory.mktemp("model") / "m"
    mlflow.sklearn.save_model(model, path, pip_requirements=["scikit-learn"],
                              signature=infer_signature(frame[["a", "b"]],
                                                        model.predict(frame[["a", "b"]])))
    return frame, path


def test_columns_follow_the_gate_spec(data_and_model: tuple[Any, Path], tmp_path: Path) -> None:
    import pandas as pd

    frame, model = data_and_model
    data = tmp_path / "d.parquet"
    frame.to_parquet(data)
    spec = tmp_path / "gate.yml"
    spec.write_text("predictions: {id: id, label: y, prediction: y_pred, score: y_score, "
                    "positive_label: churn}\n")
    out = tmp_path / "p.csv"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(out),
                 "--spec", str(spec), "--score", "--positive-label", "churn",
                 "--keep", "group"]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == ["id", "y", "y_pred", "y_score", "group"]
    assert set(got["y_pred"]) <= {"churn", "stay"}
    # the score is P(churn): high where the prediction is churn
    assert (got.loc[got["y_pred"] == "churn", "y_score"] > 0.5).all()
    assert (got.loc[got["y_pred"] == "stay", "y_score"] < 0.5).all()
    # sklearn's default positive class is the second of classes_ ("stay" here)
    out2 = tmp_path / "p2.parquet"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(out2),
                 "--label-column", "y", "--score"]) == 0
    again = pd.read_parquet(out2)
    assert list(again.columns) == ["id", "y", "prediction", "score"]
    assert (again["score"] + got["y_score"]).round(9).eq(1).all()


@pytest.mark.parametrize("args, message", [
    (["--label-column", "nope"], "no label column 'nope'"),
    (["--label-column", "y", "--id-column", "missing"], "no id column 'missing'"),
    (["--label-column", "y", "--keep", "zzz"], "--keep column(s) not in the dataset: zzz"),
    (["--label-column", "y", "--prediction-column", "y"], "would overwrite"),
    (["--label-column", "y", "--score", "--positive-label", "maybe"], "not one of the model"),
])
def test_bad_arguments_exit_2(data_and_model: tuple[Any, Path], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str], args: list[str],
                              message: str) -> None:
    frame, model = data_and_model
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "o.csv"
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(out),
                 *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_duplicate_ids_and_bad_files(data_and_model: tuple[Any, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    frame, model = data_and_model
    data = tmp_path / "dup.csv"
    pd.concat([frame, frame.head(2)]).to_csv(data, index=False)
    base = ["evaluate", "--model", str(model), "--out", str(tmp_path / "o.csv"),
            "--label-column", "y"]
    assert main([*base, "--data", str(data)]) == 2
    assert "duplicate ids" in capsys.readouterr().err
    assert main([*base, "--data", str(tmp_path / "missing.csv")]) == 2
    assert "dataset not found" in capsys.readouterr().err
    assert main([*base, "--data", str(data), "--model", "not-a-model-uri"]) == 2
