"""Metrics from predictions, cross-checked against scikit-learn on random data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mlci.gate import metrics as M
from mlci.gate.predictions import Predictions

pytestmark = pytest.mark.unit


def classification(n: int, seed: int, ties: bool = False) -> Predictions:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int8)
    score = np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1)
    if ties:
        score = np.round(score, 1)  # many tied scores
    return Predictions("p.csv", np.arange(n), y, (score > 0.5).astype(np.int8), score,
                       "classification")


def regression(n: int, seed: int) -> Predictions:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    return Predictions("p.csv", np.arange(n), y, y + rng.normal(0, 1, n), None, "regression")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_classification_matches_sklearn(seed: int, ties: bool) -> None:
    p = classification(2000, seed, ties)
    got = M.compute(p)
    y, pred, s = p.label, p.prediction, p.score
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, s), abs=1e-9)
    assert set(got) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}


def test_regression_matches_sklearn() -> None:
    p = regression(3000, 4)
    got = M.compute(p)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(p.label, p.prediction))
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(p.label, p.prediction)))
    assert set(got) == {"mae", "rmse"}


def test_without_score_no_auc_or_log_loss() -> None:
    p = classification(100, 0)
    p.score = None
    assert "roc_auc" not in M.compute(p) and "log_loss" not in M.compute(p)


def test_undefined_metrics_are_nan_not_zero() -> None:
    y = np.array([0, 0, 0, 0], dtype=np.int8)
    p = Predictions("p", np.arange(4), y, np.zeros(4, dtype=np.int8), np.full(4, 0.2),
                    "classification")
    got = M.compute(p)
    assert got["accuracy"] == 1.0
    assert np.isnan(got["precision"]) and np.isnan(got["recall"]) and np.isnan(got["f1"])
    assert np.isnan(got["roc_auc"])


def test_per_category_matches_sklearn_on_each_subset() -> None:
    p = classification(5000, 7)
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 4, len(p)).astype(np.int32)  # -1: no value, not counted
    names = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
    sizes, rows = M.by_category(p, codes, 4, names)
    for k in range(4):
        mask = codes == k
        assert sizes[k] == mask.sum()
        y, pred, s = p.label[mask], p.prediction[mask], p.score[mask]  # type: ignore[index]
        assert rows[k]["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
        assert rows[k]["precision"] == pytest.approx(skm.precision_score(y, pred))
        assert rows[k]["recall"] == pytest.approx(skm.recall_score(y, pred))
        assert rows[k]["f1"] == pytest.approx(skm.f1_score(y, pred))
        assert rows[k]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
        assert rows[k]["log_loss"] == pytest.approx(skm.log_loss(y, s, labels=[0, 1]))


def test_per_category_regression_and_empty_category() -> None:
    p = regression(1000, 1)
    codes = (np.arange(1000) % 2).astype(np.int32)  # category 2 is empty
    sizes, rows = M.by_category(p, codes, 3, ("mae", "rmse"))
    mask = codes == 1
    assert rows[1]["mae"] == pytest.approx(skm.mean_absolute_error(p.label[mask],
                                                                   p.prediction[mask]))
    assert sizes[2] == 0 and np.isnan(rows[2]["mae"]) and np.isnan(rows[2]["rmse"])


def test_midranks_match_average_ranking() -> None:
    from scipy.stats import rankdata

    values = np.random.default_rng(0).integers(0, 20, 500).astype(float)
    assert np.allclose(M.midranks(values), rankdata(values, method="average"))
