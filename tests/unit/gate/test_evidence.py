"""The gate never promotes on bad evidence (issue 11 items 3-7 and 15, issue 12 items 4, 11).

Each test runs `mlci gate` through `mlci.cli.main` (or the engine) on real files and checks
the exit code and the message the user reads: bad evidence is exit 2 or `review`, never a
promotion and never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from tests.unit.gate.gate_helpers import gate, rule, write_json, write_predictions

pytestmark = pytest.mark.unit

N = 200


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLCI_CONFIG", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "outputs.txt"))
    monkeypatch.setenv("MLCI_SUMMARY_FILE", str(tmp_path / "summary.md"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(params=["pyarrow", "csv module"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both CSV readers: pyarrow's, and the plain one used when pyarrow is not installed."""
    if request.param == "csv module":
        import builtins

        real = builtins.__import__

        def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == "pyarrow" or name.startswith("pyarrow."):
                raise ImportError(name)
            return real(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    yield str(request.param)


def run(env: Path, spec: str, *args: str) -> int:
    (env / "gate.yml").write_text(spec, encoding="utf-8")
    return main(["gate", "--spec", "gate.yml", *args])


def pair_files(env: Path, labels: list[Any], cand: list[Any], base: list[Any],
               **columns: list[Any]) -> list[str]:
    ids = list(range(len(labels)))
    write_predictions(env / "c.csv", ids, labels, cand, **columns)
    write_predictions(env / "b.csv", ids, labels, base, **columns)
    return ["--candidate-predictions", "c.csv", "--baseline-predictions", "b.csv"]


def binary(n: int = N, wrong_every: int = 10) -> tuple[list[int], list[int]]:
    labels = [i % 2 for i in range(n)]
    return labels, [lab if i % wrong_every else 1 - lab for i, lab in enumerate(labels)]


# -- 11.3: the task is declared or inferred strictly; computable metrics come from predictions --

def test_a_stray_label_is_an_input_error_not_a_regression(env: Path, reader: str,
                                                          capsys: pytest.CaptureFixture[str],
                                                          ) -> None:
    labels, preds = binary()
    labels[7] = -1  # one stray label among 0/1
    args = pair_files(env, labels, preds, preds)
    write_json(env / "m.json", {"accuracy": 0.95})
    code = run(env, "metrics: {accuracy: {min: 0.9}}\n", "--candidate", "m.json", *args)
    assert code == 2
    err = capsys.readouterr().err
    assert "predictions.task" in err and "-1" in err and "c.csv" in err


def test_a_label_outside_the_declared_classes_is_an_input_error(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels, preds = binary()
    labels[3] = 2
    args = pair_files(env, labels, preds, preds)
    spec = "metrics: {accuracy: {min: 0.5}}\npredictions: {task: classification}\n"
    assert run(env, spec, *args) == 2
    assert "expected binary labels 0/1" in capsys.readouterr().err


def test_positive_label_with_a_third_class_is_an_input_error(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = ["yes", "no"] * 50
    labels[10] = "maybe"
    args = pair_files(env, labels, labels, labels)
    spec = "metrics: {accuracy: {min: 0.5}}\npredictions: {positive_label: 'yes'}\n"
    assert run(env, spec, *args) == 2
    assert "'maybe'" in capsys.readouterr().err


def test_positive_label_that_never_occurs_is_an_input_error(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = ["1.0", "2.0"] * 50
    args = pair_files(env, labels, labels, labels)
    spec = "metrics: {accuracy: {min: 0.5}}\npredictions: {positive_label: '2'}\n"
    assert run(env, spec, *args) == 2
    assert "positive_label" in capsys.readouterr().err


@pytest.mark.parametrize(("task", "metric", "words"), [
    ("regression", "accuracy", "classification"),
    ("classification", "mae", "regression"),
    ("classification", "roc_auc", "predictions.score"),
])
def test_a_computable_metric_never_falls_back_to_the_metric_source(
        env: Path, capsys: pytest.CaptureFixture[str], task: str, metric: str,
        words: str) -> None:
    labels, preds = binary()
    args = pair_files(env, labels, preds, preds)
    write_json(env / "m.json", {metric: 0.99})
    spec = f"metrics: {{{metric}: {{min: 0.1}}}}\npredictions: {{task: {task}}}\n"
    assert run(env, spec, "--candidate", "m.json", *args) == 2
    err = capsys.readouterr().err
    assert metric in err and words in err


def test_task_inference(env: Path) -> None:
    from mlci.errors import InputError
    from mlci.gate.predictions import load_predictions
    from mlci.gate.spec import PredictionColumns

    cols = PredictionColumns()
    path = write_predictions(env / "r.csv", [1, 2, 3], [0.5, 2.0, 3.0], [1.0, 2.0, 2.5])
    assert load_predictions(str(path), cols, []).task == "regression"
    path = write_predictions(env / "i.csv", [1, 2, 3], [0, 1, 2], [0, 1, 2])
    with pytest.raises(InputError, match=r"predictions\.task"):
        load_predictions(str(path), cols, [])
    declared = PredictionColumns(task="regression")
    assert load_predictions(str(path), declared, []).task == "regression"
    path = write_predictions(env / "s.csv", [1, 2], ["a", "b"], ["a", "b"])
    with pytest.raises(InputError, match="positive_label"):
        load_predictions(str(path), cols, [])


# -- 11.4: a spec that checks nothing; a slice rule that gates no slice -------------------------

@pytest.mark.parametrize("text", ["", "# nothing yet\n", "{}\n", "metrics: {accuracy: {}}\n",
                                  "slices: {column: region}\n",
                                  "predictions: {id: key}\nsignificance: {seed: 1}\n"])
def test_a_spec_that_checks_nothing_is_an_input_error(env: Path, text: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    write_json(env / "m.json", {"accuracy": 0.10})
    write_json(env / "b.json", {"accuracy": 0.95})
    labels, preds = binary()
    write_predictions(env / "c.csv", list(range(N)), labels, preds, region=["n"] * N)
    code = run(env, text, "--candidate", "m.json", "--baseline", "b.json",
               "--candidate-predictions", "c.csv")
    assert code == 2
    assert "checks nothing" in capsys.readouterr().err
    assert not (env / "outputs.txt").exists()


def test_a_slice_rule_that_gates_no_slice_is_review(tmp_path: Path) -> None:
    labels, preds = binary()
    region = ["n" if i % 2 else "s" for i in range(N)]
    cand = write_predictions(tmp_path / "c.csv", list(range(N)), labels, preds, region=region)
    spec = {"slices": {"column": "region", "min_slice_size": 500,
                       "metrics": {"accuracy": {"min": 0.5}},
                       "worst": {"metric": "accuracy", "min": 0.5}}}
    report = gate(spec, {}, None, cand_pred=str(cand))
    assert report["verdict"] == "review"
    found = rule(report, "slices.region.all.accuracy.min")
    assert found["outcome"] == "review" and "no slice" in found["message"]
    assert rule(report, "slices.worst.accuracy.min")["outcome"] == "review"
    assert any("no slice" in reason and "500" in reason for reason in report["reasons"])


# -- 11.5: minimum evidence for significance ---------------------------------------------------

def significance_case(tmp_path: Path, labels: list[int], cand: list[int], base: list[int],
                      metric: str, scores: tuple[list[float], list[float]] | None = None,
                      ) -> dict[str, Any]:
    ids = list(range(len(labels)))
    c = write_predictions(tmp_path / "c.csv", ids, labels, cand, scores[0] if scores else None)
    b = write_predictions(tmp_path / "b.csv", ids, labels, base, scores[1] if scores else None)
    spec: dict[str, Any] = {"primary": {"metric": metric, "min_improvement": 0.0},
                            "significance": {"resamples": 1000, "seed": 0}}
    if scores:
        spec["predictions"] = {"score": "score"}
    return gate(spec, {}, {}, cand_pred=str(c), base_pred=str(b))


def test_four_examples_are_not_significant_by_delong(tmp_path: Path) -> None:
    labels = [0, 0, 1, 1]
    report = significance_case(tmp_path, labels, labels, labels, "roc_auc",
                               ([0.1, 0.2, 0.8, 0.9], [0.1, 0.6, 0.4, 0.9]))
    found = rule(report, "primary.roc_auc.significance")
    assert found["outcome"] == "review" and "insufficient evidence" in found["message"]
    assert report["verdict"] == "review"


def test_five_examples_are_not_significant_by_bootstrap(tmp_path: Path) -> None:
    labels = [0, 1, 0, 1, 1]
    report = significance_case(tmp_path, labels, labels, [1 - y for y in labels], "accuracy")
    found = rule(report, "primary.accuracy.significance")
    assert found["outcome"] == "review" and "insufficient evidence" in found["message"]
    assert "5 paired examples" in found["message"]


def test_few_discordant_pairs_are_not_significant(tmp_path: Path) -> None:
    labels = [i % 2 for i in range(400)]
    base = list(labels)
    for i in range(5):  # the candidate is right where the baseline is wrong, 5 times
        base[i] = 1 - base[i]
    report = significance_case(tmp_path, labels, labels, base, "accuracy")
    found = rule(report, "primary.accuracy.significance")
    assert found["outcome"] == "review" and "differ on 5 examples" in found["message"]


def test_one_class_is_not_significant(tmp_path: Path) -> None:
    labels = [1] * 300
    cand = [1] * 300
    base = [0 if i < 60 else 1 for i in range(300)]
    report = significance_case(tmp_path, labels, cand, base, "accuracy")
    found = rule(report, "primary.accuracy.significance")
    assert found["outcome"] == "review" and "class" in found["message"]


def test_enough_evidence_is_still_significant(tmp_path: Path) -> None:
    labels = [i % 2 for i in range(400)]
    base = [1 - y if i % 10 == 0 else y for i, y in enumerate(labels)]  # 40 discordant
    report = significance_case(tmp_path, labels, labels, base, "accuracy")
    assert rule(report, "primary.accuracy.significance")["outcome"] == "pass"
    assert report["verdict"] == "promote"


# -- 11.6: ids are strings as written; only empty fields are missing --------------------------

def test_ids_are_strings_as_written(env: Path, reader: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    labels, preds = binary(40)
    ids = [str(i) for i in range(100, 140)]
    write_predictions(env / "c.csv", ["007", *ids[1:]], labels, preds)
    write_predictions(env / "b.csv", ["7", *ids[1:]], labels, preds)
    spec = "metrics: {accuracy: {min: 0.5}}\n"
    assert run(env, spec, "--candidate-predictions", "c.csv",
               "--baseline-predictions", "b.csv") == 2
    err = capsys.readouterr().err
    assert "'007'" in err and "'7'" in err


def test_an_empty_id_is_an_input_error(env: Path, reader: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    labels, preds = binary(40)
    ids: list[Any] = list(range(40))
    ids[5] = ""
    write_predictions(env / "c.csv", ids, labels, preds)
    write_predictions(env / "b.csv", ids, labels, preds)
    assert run(env, "metrics: {accuracy: {min: 0.5}}\n", "--candidate-predictions", "c.csv",
               "--baseline-predictions", "b.csv") == 2
    err = capsys.readouterr().err
    assert "empty id" in err and "c.csv" in err


def test_na_is_a_slice_value_not_missing(tmp_path: Path, reader: str) -> None:
    labels, preds = binary(90)
    region = (["NA"] * 30) + (["EU"] * 30) + ([""] * 30)
    cand = write_predictions(tmp_path / "c.csv", list(range(90)), labels, preds, region=region)
    spec = {"slices": {"column": "region", "min_slice_size": 10,
                       "metrics": {"accuracy": {"min": 0.5}}}}
    report = gate(spec, {}, None, cand_pred=str(cand))
    slices = {s["value"]: s for s in report["slices"]["slices"]}
    assert set(slices) == {"NA", "EU", "(missing)"}
    assert slices["NA"]["n"] == 30 and slices["(missing)"]["n"] == 30


# -- 11.7: one column for slices and fairness, slices on the label, fairness on the prediction --

@pytest.mark.parametrize(("slice_column", "fair_column"), [
    ("group", "group"), ("label", "group"), ("group", "prediction"), ("label", "label")])
def test_shared_and_core_columns_as_slices_and_groups(env: Path, reader: str, slice_column: str,
                                                      fair_column: str) -> None:
    labels, preds = binary()
    args = pair_files(env, labels, preds, preds, group=["a" if i < N // 2 else "b"
                                                        for i in range(N)])
    spec = (f"slices: {{column: {slice_column}, min_slice_size: 10, "
            "metrics: {accuracy: {min: 0.5}}}\n"
            f"fairness: {{column: {fair_column}, metric: accuracy, max_difference: 0.5, "
            "min_group_size: 10}\n")
    assert run(env, spec, "--report-json", "r.json", *args) == 0
    report = json.loads((env / "r.json").read_text())
    values = {s["value"] for s in report["slices"]["slices"]}
    assert values == ({"a", "b"} if slice_column == "group" else {"0", "1"})
    groups = {g["value"] for g in report["fairness"]["groups"]}
    assert groups == ({"a", "b"} if fair_column == "group" else {"0", "1"})


# -- 11.15: --candidate is optional when prediction files give every metric ------------------

def test_no_candidate_ref_when_predictions_give_every_metric(env: Path) -> None:
    labels, preds = binary()
    args = pair_files(env, labels, preds, preds)
    assert run(env, "metrics: {accuracy: {min: 0.8, max_regression: 0.01}}\n", *args) == 0


def test_no_candidate_ref_for_a_metric_predictions_cannot_give(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels, preds = binary()
    args = pair_files(env, labels, preds, preds)
    assert run(env, "metrics: {latency_ms: {max: 50}}\n", *args) == 2
    err = capsys.readouterr().err
    assert "latency_ms" in err and "--candidate" in err


def test_neither_candidate_nor_predictions(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(env, "metrics: {accuracy: {min: 0.8}}\n") == 2
    err = capsys.readouterr().err
    assert "--candidate" in err and "Traceback" not in err


# -- 12.4: non-finite thresholds -------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    "metrics: {f1: {min: .inf}}\n", "metrics: {f1: {min: inf}}\n", "metrics: {f1: {max: .nan}}\n",
    "metrics: {f1: {max: -.inf}}\n",
    "slices: {column: r, worst: {metric: f1, min: .inf}}\n",
    "fairness: {column: g, metric: f1, max_difference: .inf}\n",
])
def test_a_non_finite_threshold_is_an_input_error(env: Path, spec: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    write_json(env / "m.json", {"f1": 0.5})
    assert run(env, spec, "--candidate", "m.json") == 2
    assert "gate.yml" in capsys.readouterr().err


# -- 12.11: zero rows, FIFOs, lone surrogates --------------------------------------------------

def test_a_zero_row_predictions_file_is_an_input_error(env: Path, reader: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (env / "c.csv").write_text("id,label,prediction\n")
    labels, preds = binary()
    write_predictions(env / "b.csv", list(range(N)), labels, preds)
    assert run(env, "metrics: {accuracy: {min: 0.5}}\n", "--candidate-predictions", "c.csv",
               "--baseline-predictions", "b.csv") == 2
    err = capsys.readouterr().err
    assert "no rows" in err and "c.csv" in err


def mlci(env: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mlci gate` in its own process: a hang is a timeout, not a stuck test session."""
    cmd = [sys.executable, "-m", "mlci", "gate", *args]
    clean = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITLAB_CI")}
    return subprocess.run(cmd, cwd=env, capture_output=True, text=True, timeout=60, env=clean,
                          check=False)


@pytest.mark.parametrize("role", ["--candidate", "--spec", "--candidate-predictions"])
def test_a_fifo_is_refused_not_read(env: Path, role: str) -> None:
    os.mkfifo(env / "fifo")
    (env / "gate.yml").write_text("metrics: {accuracy: {min: 0.5}}\n")
    write_json(env / "m.json", {"accuracy": 0.9})
    labels, preds = binary()
    write_predictions(env / "c.csv", list(range(N)), labels, preds)
    given = {"--spec": "gate.yml", "--candidate": "m.json"}
    given[role] = "fifo"
    args = [a for k, v in given.items() for a in (k, v)]
    done = mlci(env, *args)
    assert done.returncode == 2, done.stderr
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr


def surrogate_json(path: Path) -> None:
    path.write_text('{"acc\\ud800": 0.9, "accuracy": 0.9}', encoding="utf-8")


def test_a_lone_surrogate_in_mlci_yml_gate_is_an_input_error(env: Path) -> None:
    (env / "mlci.yml").write_text('gate:\n  metrics: {"acc\\ud800": {min: 0.5}}\n')
    write_json(env / "m.json", {"accuracy": 0.9})
    done = mlci(env, "--candidate", "m.json", "--report-md", "r.md")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "mlci.yml" in done.stderr


@pytest.mark.parametrize("where", ["candidate", "baseline", "spec"])
def test_a_lone_surrogate_in_a_metric_name_is_an_input_error(env: Path, where: str) -> None:
    write_json(env / "m.json", {"accuracy": 0.9})
    spec = "metrics: {accuracy: {min: 0.5}}\n"
    if where == "spec":
        spec = 'metrics: {"acc\\ud800": {min: 0.5}}\n'
    else:
        surrogate_json(env / "bad.json")
    (env / "gate.yml").write_text(spec, encoding="utf-8")
    args = ["--spec", "gate.yml", "--candidate", "bad.json" if where == "candidate" else "m.json",
            "--baseline", "bad.json" if where == "baseline" else "m.json", "--report-md", "r.md",
            "--report-json", "r.json"]
    done = mlci(env, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "surrogate" in done.stderr
    expected = {"candidate": "bad.json", "baseline": "bad.json", "spec": "gate.yml"}[where]
    assert expected in done.stderr
