"""`mlci gate --holdout`: the argument rules (checked before any registry call) and which
model a metrics reference names (mlci.gate.holdout)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mlci.cli import main
from mlci.errors import InputError
from mlci.gate.holdout import baseline_model, check_flags, columns, model_uri
from mlci.gate.spec import validate_gate_spec

pytestmark = pytest.mark.unit


def args(tmp_path: Path, **given: str | None) -> argparse.Namespace:
    holdout = tmp_path / "holdout.csv"
    holdout.write_text("id,label,x\na,1,0.5\n", encoding="utf-8")
    values: dict[str, str | None] = {"holdout": str(holdout), "candidate": "runs:/abc",
                                     "baseline": None, "candidate_predictions": None,
                                     "baseline_predictions": None}
    values.update(given)
    return argparse.Namespace(**values)


def test_a_run_names_the_model_train_logs_and_models_stay_as_they_are() -> None:
    assert model_uri("runs:/abc", role="candidate") == "runs:/abc/model"
    assert model_uri("runs:/abc/", role="candidate") == "runs:/abc/model"
    assert model_uri("runs:/abc/other", role="candidate") == "runs:/abc/other"
    assert model_uri("models:/churn@champion", role="baseline") == "models:/churn@champion"
    assert model_uri("models:/churn/3", role="baseline") == "models:/churn/3"
    # an alias is pinned to the version whose metrics the gate read
    assert baseline_model("models:/churn@champion", "4") == "models:/churn/4"
    assert baseline_model("models:/churn/3", "3") == "models:/churn/3"
    assert baseline_model("runs:/r1", None) == "runs:/r1/model"


def test_valid_flags_pass(tmp_path: Path) -> None:
    check_flags(args(tmp_path))
    check_flags(args(tmp_path, baseline="models:/churn@champion"))
    check_flags(args(tmp_path, holdout=None, candidate=None, candidate_predictions="c.csv"))


@pytest.mark.parametrize(("given", "expected"), [
    ({"candidate_predictions": "c.csv"}, "not both"),
    ({"baseline_predictions": "b.csv"}, "not both"),
    ({"candidate": None}, "--holdout needs --candidate"),
    ({"candidate": "metrics.json"}, "metrics file"),
    ({"baseline": "baseline.json"}, "metrics file"),
    ({"candidate": "s3://bucket/x"}, "unsupported scheme"),
])
def test_bad_combinations_are_input_errors(tmp_path: Path, given: dict[str, str | None],
                                           expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        check_flags(args(tmp_path, **given))


def test_a_missing_holdout_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holdout file not found") as raised:
        check_flags(args(tmp_path, holdout=str(tmp_path / "nope.csv")))
    assert raised.value.file == str(tmp_path / "nope.csv")


def test_columns_come_from_the_spec() -> None:
    spec = validate_gate_spec({
        "metrics": {"accuracy": {"min": 0.5}},
        "slices": {"column": "region", "metrics": {"accuracy": {"min": 0.5}}},
        "fairness": {"column": "gender", "metric": "recall", "max_difference": 0.1},
        "predictions": {"id": "cid", "label": "churned", "prediction": "p"}}, file="gate.yml")
    names, keep, score = columns(spec)
    assert names == {"id": "cid", "label": "churned", "prediction": "p", "score": "score"}
    assert keep == ["region", "gender"]
    assert score is False
    spec = validate_gate_spec({"metrics": {"roc_auc": {"min": 0.5}},
                               "slices": {"column": "g", "metrics": {}},
                               "fairness": {"column": "g", "metric": "recall",
                                            "max_difference": 0.1},
                               "predictions": {"score": "proba"}}, file="gate.yml")
    names, keep, score = columns(spec)
    assert (names["score"], keep, score) == ("proba", ["g"], True)


def test_the_command_refuses_before_asking_any_registry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLFLOW_TRACKING_URI", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yml").write_text("metrics: {accuracy: {min: 0.5}}\n", encoding="utf-8")
    (tmp_path / "holdout.csv").write_text("id,label\na,1\n", encoding="utf-8")
    (tmp_path / "m.json").write_text('{"accuracy": 0.9}', encoding="utf-8")
    # an address nothing listens on: reaching the registry would be a different error
    base = ["gate", "--spec", "spec.yml", "--holdout", "holdout.csv",
            "--tracking-uri", "http://127.0.0.1:9"]
    for extra, expected in ((["--candidate", "m.json"], "metrics file"),
                            (["--candidate", "runs:/x", "--candidate-predictions", "c.csv"],
                             "not both"),
                            (["--candidate", "runs:/x", "--baseline-predictions", "b.csv"],
                             "not both")):
        assert main([*base, *extra]) == 2
        assert expected in capsys.readouterr().err
