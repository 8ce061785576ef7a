"""Paired intervals: the multinomial bootstrap against a plain index bootstrap, DeLong
against a direct O(m*n) computation, a bootstrap, and known properties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from mlci.gate import stats
from mlci.gate.predictions import Predictions
from mlci.gate.spec import Significance

pytestmark = pytest.mark.unit


def pair(n: int, seed: int, gap: float = 0.05) -> tuple[Predictions, Predictions]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int8)
    noise = rng.random(n)
    sc = np.clip(y * (0.3 + gap) + noise * (0.7 - gap), 0, 1)
    sb = np.clip(y * 0.3 + (0.5 * noise + 0.5 * rng.random(n)) * 0.7, 0, 1)
    ids = np.arange(n)
    return (Predictions("c", ids, y, (sc > 0.5).astype(np.int8), sc, "classification"),
            Predictions("b", ids, y, (sb > 0.5).astype(np.int8), sb, "classification"))


FORMULAS = {  # textbook definitions on 0/1 arrays, rows = resamples
    "accuracy": lambda y, p: (y == p).mean(axis=1),
    "precision": lambda y, p: (y * p).sum(axis=1) / p.sum(axis=1),
    "recall": lambda y, p: (y * p).sum(axis=1) / y.sum(axis=1),
    "f1": lambda y, p: 2 * (y * p).sum(axis=1) / (y.sum(axis=1) + p.sum(axis=1)),
}


def naive_bootstrap(c: Predictions, b: Predictions, name: str, resamples: int,
                    seed: int) -> np.ndarray:
    """The textbook paired bootstrap: resample row indices, recompute both metrics."""
    index = np.random.default_rng(seed).integers(0, len(c), (resamples, len(c)))
    fn = FORMULAS[name]
    return fn(c.label[index], c.prediction[index]) - fn(b.label[index], b.prediction[index])


@pytest.mark.parametrize(("name", "fn"), [("accuracy", skm.accuracy_score),
                                          ("f1", skm.f1_score), ("recall", skm.recall_score),
                                          ("precision", skm.precision_score)])
def test_multinomial_bootstrap_matches_index_bootstrap(name: str, fn: object) -> None:
    c, b = pair(3000, 0)
    sig = Significance(confidence=0.9, resamples=2000, seed=1)
    ours = stats.confusion_bootstrap(c, b, [name], sig)[name]
    assert ours is not None and ours.method == "bootstrap"
    diffs = naive_bootstrap(c, b, name, 2000, 2)
    low, high = np.quantile(diffs, [0.05, 0.95])
    width = high - low
    # same distribution, different random draws: endpoints agree to a small part of the width
    assert abs(ours.low - low) < 0.15 * width and abs(ours.high - high) < 0.15 * width
    point = fn(c.label, c.prediction) - fn(b.label, b.prediction)  # type: ignore[operator]
    assert ours.low < point < ours.high


def test_bootstrap_is_deterministic_per_seed_and_independent_of_other_metrics() -> None:
    c, b = pair(1000, 3)
    sig = Significance(resamples=500, seed=7)
    one = stats.paired_intervals(c, b, ["f1"], sig)["f1"]
    both = stats.paired_intervals(c, b, ["accuracy", "f1", "roc_auc"], sig)["f1"]
    assert one == both
    other = stats.paired_intervals(c, b, ["f1"], Significance(resamples=500, seed=8))["f1"]
    assert other != one


def delong_direct(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[float, float]:
    """DeLong (1988) from its definition: kernel psi over all positive/negative pairs."""
    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        x, z = s[y == 1][:, None], s[y == 0][None, :]
        psi = (x > z) + 0.5 * (x == z)
        return psi.mean(axis=1), psi.mean(axis=0), float(psi.mean())
    v10a, v01a, a = components(s1)
    v10b, v01b, b = components(s2)
    m, n = len(v10a), len(v01a)
    s10, s01 = np.cov(v10a, v10b), np.cov(v01a, v01b)
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return a - b, float(var)


@pytest.mark.parametrize("ties", [False, True])
def test_delong_matches_direct_definition(ties: bool) -> None:
    c, b = pair(600, 5)
    if ties:
        c.score, b.score = np.round(c.score, 1), np.round(b.score, 1)  # type: ignore[arg-type]
    diff, var = delong_direct(c.label, c.score, b.score)  # type: ignore[arg-type]
    interval = stats.delong(c, b, 0.95)
    assert interval is not None and interval.method == "delong"
    assert (interval.low + interval.high) / 2 == pytest.approx(diff, abs=1e-12)
    assert (interval.high - interval.low) / 2 == pytest.approx(1.959964 * np.sqrt(var), rel=1e-5)
    assert diff == pytest.approx(skm.roc_auc_score(c.label, c.score)
                                 - skm.roc_auc_score(b.label, b.score))


def test_delong_agrees_with_a_bootstrap() -> None:
    c, b = pair(2000, 11)
    interval = stats.delong(c, b, 0.95)
    assert interval is not None
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(300):
        i = rng.integers(0, 2000, 2000)
        diffs.append(skm.roc_auc_score(c.label[i], c.score[i])  # type: ignore[index]
                     - skm.roc_auc_score(b.label[i], b.score[i]))  # type: ignore[index]
    boot_sd = float(np.std(diffs))
    delong_sd = (interval.high - interval.low) / 2 / 1.959964
    assert delong_sd == pytest.approx(boot_sd, rel=0.15)


def test_delong_same_model_has_zero_width() -> None:
    c, _ = pair(300, 1)
    interval = stats.delong(c, c, 0.95)
    assert interval is not None and interval.low == pytest.approx(0) and \
        interval.high == pytest.approx(0)


def test_delong_needs_both_classes() -> None:
    c, b = pair(50, 2)
    c.label = b.label = np.ones(50, dtype=np.int8)
    assert stats.delong(c, b, 0.95) is None


def test_mean_bootstrap_regression_and_log_loss() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0, 1, 2000)
    c = Predictions("c", np.arange(2000), y, y + rng.normal(0, 0.5, 2000), None, "regression")
    b = Predictions("b", np.arange(2000), y, y + rng.normal(0, 0.8, 2000), None, "regression")
    sig = Significance(resamples=300, seed=0)
    got = stats.paired_intervals(c, b, ["mae", "rmse", "accuracy"], sig)
    assert set(got) == {"mae", "rmse"}
    for name, fn in (("mae", skm.mean_absolute_error),
                     ("rmse", lambda a, p: np.sqrt(skm.mean_squared_error(a, p)))):
        interval = got[name]
        point = fn(y, c.prediction) - fn(y, b.prediction)
        assert interval is not None and interval.low < point < interval.high < 0
    cc, bb = pair(1000, 4)
    loss = stats.paired_intervals(cc, bb, ["log_loss"], sig)["log_loss"]
    assert loss is not None and loss.low < loss.high


def test_undefined_resamples_make_interval_unknown() -> None:
    # two positives in 200 rows: some resamples have none, so recall is undefined there
    y = np.zeros(200, dtype=np.int8)
    y[:2] = 1
    c = Predictions("c", np.arange(200), y, y.copy(), None, "classification")
    got = stats.confusion_bootstrap(c, c, ["recall"], Significance(resamples=1000))
    assert got["recall"] is None
