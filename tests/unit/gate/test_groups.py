"""Slices and fairness end to end through the engine, on prediction files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlci.errors import InputError
from tests.unit.gate.gate_helpers import gate, rule, write_predictions

pytestmark = pytest.mark.unit


def files(tmp_path: Path, rows: list[tuple[Any, ...]],
          base_preds: list[int] | None = None) -> tuple[str, str]:
    """rows: (label, candidate prediction, region, group); baseline predicts the label."""
    ids = list(range(len(rows)))
    labels = [r[0] for r in rows]
    cand = write_predictions(tmp_path / "c.csv", ids, labels, [r[1] for r in rows],
                             region=[r[2] for r in rows], group=[r[3] for r in rows])
    base = write_predictions(tmp_path / "b.csv", ids, labels,
                             base_preds if base_preds is not None else labels)
    return str(cand), str(base)


def dataset() -> list[tuple[Any, ...]]:
    """Region n: 100 rows, all right. Region s: 100 rows, 20 wrong. Region t: 5 rows, all wrong."""
    rows = [(i % 2, i % 2, "n", "a" if i < 50 else "b") for i in range(100)]
    rows += [(i % 2, (i % 2) if i >= 20 else 1 - i % 2, "s", "a" if i < 50 else "b")
             for i in range(100)]
    rows += [(1, 0, "t", "a") for _ in range(5)]
    return rows


def test_slice_rules_and_small_slice_not_gated(tmp_path: Path) -> None:
    cand, base = files(tmp_path, dataset())
    spec = {"slices": {"column": "region", "min_slice_size": 50,
                       "metrics": {"accuracy": {"min": 0.7, "max_regression": 0.1}}},
            "significance": {"resamples": 200}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    low, high = rule(report, "slices.region=s.accuracy.max_regression")["interval"]
    assert low < -0.2 < high < 0  # paired interval of the slice's change (-0.2)
    assert rule(report, "slices.region=t.accuracy.min")["interval"] is None
    assert rule(report, "slices.region=n.accuracy.min")["outcome"] == "pass"
    assert rule(report, "slices.region=s.accuracy.min")["outcome"] == "pass"
    s_reg = rule(report, "slices.region=s.accuracy.max_regression")
    assert s_reg["outcome"] == "fail" and s_reg["baseline"] == 1.0 and s_reg["candidate"] == 0.8
    small = rule(report, "slices.region=t.accuracy.min")
    assert small["outcome"] == "not_gated" and small["n"] == 5 and small["candidate"] == 0.0
    assert report["verdict"] == "reject"
    slices = {s["value"]: s for s in report["slices"]["slices"]}
    assert slices["t"]["gated"] is False and slices["n"]["candidate"]["accuracy"] == 1.0


def test_better_average_cannot_hide_worse_slice(tmp_path: Path) -> None:
    rows = dataset()
    # the baseline is wrong on all of region n and right elsewhere: worse overall, better on s
    base_preds = [1 - r[0] if r[2] == "n" else r[0] for r in rows]
    cand, base = files(tmp_path, rows, base_preds=base_preds)
    spec = {"metrics": {"accuracy": {"max_regression": 0.0}},
            "slices": {"column": "region", "min_slice_size": 50,
                       "metrics": {"accuracy": {"max_regression": 0.05}}}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    assert rule(report, "metrics.accuracy.max_regression")["outcome"] == "pass"
    assert rule(report, "slices.region=n.accuracy.max_regression")["outcome"] == "pass"
    assert rule(report, "slices.region=s.accuracy.max_regression")["outcome"] == "fail"
    assert report["verdict"] == "reject"


def test_empty_listed_slice_is_reported_not_gated(tmp_path: Path) -> None:
    cand, base = files(tmp_path, dataset())
    spec = {"slices": {"column": "region", "min_slice_size": 1, "values": ["n", "w"],
                       "metrics": {"accuracy": {"min": 0.5}}}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    empty = rule(report, "slices.region=w.accuracy.min")
    assert empty["outcome"] == "not_gated" and empty["n"] == 0
    assert report["verdict"] == "reject"  # slice t (5 rows, all wrong) is gated at size 1


def test_slice_metric_undefined_fails(tmp_path: Path) -> None:
    rows = [(0, 0, "x", "a")] * 60 + [(1, 1, "y", "a")] * 60
    cand, base = files(tmp_path, rows)
    spec = {"slices": {"column": "region", "min_slice_size": 10,
                       "metrics": {"recall": {"min": 0.5}}}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    found = rule(report, "slices.region=x.recall.min")
    assert found["outcome"] == "fail" and "NaN" in found["message"]


def test_slice_regression_without_baseline_predictions_is_review(tmp_path: Path) -> None:
    cand, _ = files(tmp_path, dataset())
    spec = {"slices": {"column": "region", "min_slice_size": 50,
                       "metrics": {"accuracy": {"max_regression": 0.5}}}}
    report = gate(spec, {}, {}, cand_pred=cand)
    assert rule(report, "slices.region=n.accuracy.max_regression")["outcome"] == "review"
    assert report["verdict"] == "review"
    first = gate(spec, {}, None, cand_pred=cand)
    assert rule(first, "slices.region=n.accuracy.max_regression")["outcome"] == "skip"
    assert first["verdict"] == "promote"


@pytest.mark.parametrize(("worst", "outcome"), [({"min": 0.75}, "pass"), ({"min": 0.85}, "fail"),
                                                ({"max_gap": 0.15}, "pass"),
                                                ({"max_gap": 0.05}, "fail")])
def test_worst_slice(tmp_path: Path, worst: dict[str, float], outcome: str) -> None:
    cand, base = files(tmp_path, dataset())
    spec = {"slices": {"column": "region", "min_slice_size": 50,
                       "worst": {"metric": "accuracy", **worst}}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    check = next(iter(worst))
    found = rule(report, f"slices.worst.accuracy.{check}")
    assert found["outcome"] == outcome and found["slice"] == "s" and found["candidate"] == 0.8
    if check == "max_gap":  # overall accuracy 180/205 includes the small slice t
        assert found["change"] == pytest.approx(180 / 205 - 0.8)


def test_missing_slice_value_is_its_own_slice(tmp_path: Path) -> None:
    rows = [(1, 1, "", "a")] * 60 + [(1, 1, "n", "a")] * 60
    cand, base = files(tmp_path, rows)
    spec = {"slices": {"column": "region", "min_slice_size": 10,
                       "metrics": {"accuracy": {"min": 0.5}}}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    assert rule(report, "slices.region=(missing).accuracy.min")["n"] == 60


def fairness_rows(recall_b: float, missing: int = 0, n: int = 100) -> list[tuple[Any, ...]]:
    rows = [(1, 1, "n", "a") for _ in range(n)]
    hits = int(recall_b * n)
    rows += [(1, 1 if i < hits else 0, "n", "b") for i in range(n)]
    rows += [(1, 1, "n", "") for _ in range(missing)]
    return rows


@pytest.mark.parametrize(("limit", "recall_b", "outcome"), [
    ({"max_difference": 0.05}, 0.96, "pass"), ({"max_difference": 0.05}, 0.9, "fail"),
    ({"max_ratio": 0.8}, 0.85, "pass"), ({"max_ratio": 0.8}, 0.75, "fail"),
    ({"max_ratio": 1.25}, 0.85, "pass"), ({"max_ratio": 1.25}, 0.75, "fail"),
])
def test_fairness_limits(tmp_path: Path, limit: dict[str, float], recall_b: float,
                         outcome: str) -> None:
    cand, base = files(tmp_path, fairness_rows(recall_b))
    spec = {"fairness": {"column": "group", "metric": "recall", "min_group_size": 10, **limit}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    found = rule(report, f"fairness.group.recall.{next(iter(limit))}")
    assert found["outcome"] == outcome
    assert report["fairness"]["difference"] == pytest.approx(1 - recall_b)
    assert report["fairness"]["ratio"] == pytest.approx(recall_b)


def test_fairness_missing_group_value_fails_whatever_its_size(tmp_path: Path) -> None:
    cand, base = files(tmp_path, fairness_rows(1.0, missing=1))
    spec = {"fairness": {"column": "group", "metric": "recall", "max_difference": 0.5,
                         "min_group_size": 10}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    assert rule(report, "fairness.group.recall.max_difference")["outcome"] == "fail"
    assert report["verdict"] == "reject" and report["fairness"]["missing"] == 1
    groups = {g["value"]: g for g in report["fairness"]["groups"]}
    assert groups["(missing)"]["missing"] is True


def test_fairness_nan_group_metric_fails(tmp_path: Path) -> None:
    rows = [(1, 1, "n", "a")] * 50 + [(0, 0, "n", "b")] * 50  # no positives in b: recall NaN
    cand, base = files(tmp_path, rows)
    spec = {"fairness": {"column": "group", "metric": "recall", "max_difference": 0.5,
                         "min_group_size": 10}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    found = rule(report, "fairness.group.recall.max_difference")
    assert found["outcome"] == "fail" and "'b'" in found["message"]


def test_fairness_small_groups_reported_not_gated(tmp_path: Path) -> None:
    rows = fairness_rows(1.0) + [(1, 0, "n", "c")] * 3
    cand, base = files(tmp_path, rows)
    spec = {"fairness": {"column": "group", "metric": "recall", "max_difference": 0.05,
                         "min_group_size": 10}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    assert rule(report, "fairness.group.recall.max_difference")["outcome"] == "pass"
    groups = {g["value"]: g for g in report["fairness"]["groups"]}
    assert groups["c"]["gated"] is False and groups["c"]["candidate"]["recall"] == 0.0
    only_small = gate({"fairness": {**spec["fairness"], "min_group_size": 1000}}, {}, {},
                      cand_pred=cand, base_pred=base)
    # fewer than two groups big enough: the rule compared nothing, which is not a pass
    found = rule(only_small, "fairness.group.recall.max_difference")
    assert found["outcome"] == "review" and "fewer than 2 groups" in found["message"]
    assert only_small["verdict"] == "review"


def test_slices_without_predictions_is_input_error() -> None:
    with pytest.raises(InputError, match="--candidate-predictions"):
        gate({"slices": {"column": "region", "metrics": {"accuracy": {"min": 0.5}}}}, {}, {})


def test_unknown_slice_column_is_input_error(tmp_path: Path) -> None:
    cand, base = files(tmp_path, dataset())
    with pytest.raises(InputError, match="column 'zone' not found"):
        gate({"slices": {"column": "zone", "metrics": {"accuracy": {"min": 0.5}}}}, {}, {},
             cand_pred=cand, base_pred=base)


def test_predictions_override_sources_and_give_intervals(tmp_path: Path) -> None:
    cand, base = files(tmp_path, dataset(), base_preds=[0] * 205)
    spec = {"primary": {"metric": "accuracy", "min_improvement": 0.01},
            "metrics": {"latency_ms": {"max": 100}}, "significance": {"resamples": 200}}
    report = gate(spec, {"accuracy": 0.1, "latency_ms": 10}, {"accuracy": 0.99},
                  cand_pred=cand, base_pred=base)
    metrics = {m["name"]: m for m in report["metrics"]}
    assert metrics["accuracy"]["candidate"] == pytest.approx(180 / 205)
    assert metrics["accuracy"]["source"] == "predictions"
    assert metrics["latency_ms"]["source"] == "metrics"
    assert metrics["accuracy"]["interval"]["method"] == "bootstrap"
    assert report["verdict"] == "promote"
    assert rule(report, "primary.accuracy.significance")["outcome"] == "pass"


def test_primary_interval_including_zero_is_review(tmp_path: Path) -> None:
    # candidate and baseline differ on 20 of 400 rows, 11 in the candidate's favour
    rows = [(i % 2, i % 2, "n", "a") for i in range(400)]
    base_preds = [r[0] for r in rows]
    for i in range(11):
        base_preds[i] = 1 - base_preds[i]
    for i in range(11, 20):
        rows[i] = (rows[i][0], 1 - rows[i][0], "n", "a")
    cand, base = files(tmp_path, rows, base_preds)
    spec = {"primary": {"metric": "accuracy", "min_improvement": 0.001},
            "significance": {"resamples": 1000, "seed": 0}}
    report = gate(spec, {}, {}, cand_pred=cand, base_pred=base)
    assert rule(report, "primary.accuracy.min_improvement")["outcome"] == "pass"
    found = rule(report, "primary.accuracy.significance")
    assert found["outcome"] == "review" and found["interval"][0] <= 0 < found["interval"][1]
    assert report["verdict"] == "review"
