"""Paired confidence intervals for `candidate - baseline` on the same examples.

Why these methods:

- Confusion-count metrics (accuracy, precision, recall, F1): each example falls in one of 8
  cells (label, candidate's prediction, baseline's prediction). Resampling n rows with
  replacement draws the 8 cell counts from Multinomial(n, observed cell shares), exactly,
  so 1,000 paired bootstrap resamples of 1M rows cost 1,000 draws of 8 numbers, not 10^9
  index draws. Percentile intervals.
- ROC AUC: DeLong's variance of the difference of two correlated AUCs (Sun & Xu's fast
  midrank algorithm), a normal interval. It is not decomposable, and DeLong is the standard.
- Means of per-example losses (log loss, MAE, RMSE): an ordinary paired bootstrap over
  index draws, chunked to bound memory (cost O(resamples x n)).

Each metric gets its own generator derived from (seed, metric), so an interval does not
change when other metrics are added to the spec. An undefined resample (NaN) makes the
interval unknown (None), which the decision treats as inconclusive, never as a pass.

Minimum evidence: with a handful of examples these intervals collapse (4 examples give a
DeLong interval [0.5, 0.5], 5 a bootstrap interval [1, 1]) and would read as significant.
Below MIN_EXAMPLES paired examples, MIN_PER_CLASS examples of each class (classification),
or `min_differing` examples on which the two models differ, the result is `Insufficient`
(why, in words): never significant, at best review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from mlci.gate import metrics as M
from mlci.gate.predictions import Predictions
from mlci.gate.spec import COMPUTABLE, Significance

_CHUNK_ELEMENTS = 4_000_000  # index draws held at once by the chunked bootstrap (32 MB)
MIN_EXAMPLES = 30   # paired examples
MIN_PER_CLASS = 5   # examples of each label class (classification)
MIN_DIFFERING = 10  # examples on which the models differ (discordant pairs, for accuracy)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    method: str  # "bootstrap" | "delong"


@dataclass(frozen=True)
class Insufficient:
    """Too little evidence for an interval; `reason` says which minimum was not met."""

    reason: str


def min_differing(confidence: float) -> int:
    """Examples on which the models must differ: at least MIN_DIFFERING, and enough that an
    exact sign (McNemar) test with every one of them in one direction could reach the
    confidence level (2 * 0.5**d < 1 - confidence)."""
    exact = math.floor(math.log2(2.0 / (1.0 - confidence))) + 1
    return max(MIN_DIFFERING, exact)


def evidence(cand: Predictions, base: Predictions, name: str, confidence: float) -> str | None:
    """Why the paired evidence is too thin for an interval of `name`, or None when it is not."""
    n = len(cand)
    if n < MIN_EXAMPLES:
        return f"{n} paired examples (< {MIN_EXAMPLES})"
    if cand.task == "classification":
        positives = int(cand.label.sum())
        if min(positives, n - positives) < MIN_PER_CLASS:
            return (f"{positives} positive and {n - positives} negative examples (each class "
                    f"needs >= {MIN_PER_CLASS})")
    if name in ("roc_auc", "log_loss"):
        assert cand.score is not None and base.score is not None
        differ = int((cand.score != base.score).sum())
    else:
        differ = int((cand.prediction != base.prediction).sum())
    need = min_differing(confidence)
    if differ < need:
        return f"the models differ on {differ} examples (< {need})"
    return None


def _rng(sig: Significance, metric: str) -> np.random.Generator:
    tag = COMPUTABLE.index(metric) if metric in COMPUTABLE else len(COMPUTABLE)
    return np.random.default_rng([sig.seed, tag])


def _percentile(diffs: np.ndarray, confidence: float) -> Interval | None:
    if diffs.size == 0 or not np.isfinite(diffs).all():
        return None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return Interval(float(low), float(high), "bootstrap")


def confusion_bootstrap(cand: Predictions, base: Predictions, names: list[str],
                        sig: Significance) -> dict[str, Interval | None]:
    """Exact paired bootstrap of confusion-count metrics via multinomial cell counts."""
    n = len(cand)
    if n == 0 or not names:
        return dict.fromkeys(names)
    cell = 4 * cand.label.astype(np.int64) + 2 * cand.prediction + base.prediction
    shares = np.bincount(cell, minlength=8) / n
    out: dict[str, Interval | None] = {}
    for name in names:
        draws = _rng(sig, name).multinomial(n, shares, size=sig.resamples).astype(np.float64)
        # cells (y, pc, pb) -> candidate confusion index 2y+pc, baseline 2y+pb
        c_conf = draws.reshape(-1, 2, 2, 2).sum(axis=3).reshape(-1, 4)
        b_conf = draws.reshape(-1, 2, 2, 2).sum(axis=2).reshape(-1, 4)
        diffs = M.from_confusion(name, c_conf) - M.from_confusion(name, b_conf)
        out[name] = _percentile(diffs, sig.confidence)
    return out


def _delong_components(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    pos, neg = score[y == 1], score[y == 0]
    m, n = len(pos), len(neg)
    tz = M.midranks(np.concatenate([pos, neg]))
    tx, ty = M.midranks(pos), M.midranks(neg)
    auc = (tz[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    return float(auc), v10, v01


def delong(cand: Predictions, base: Predictions, confidence: float) -> Interval | None:
    """DeLong interval for AUC(candidate) - AUC(baseline), paired on the same examples."""
    assert cand.score is not None and base.score is not None
    y = cand.label
    m = int(y.sum())
    n = len(y) - m
    if m < 2 or n < 2:
        return None
    auc_c, v10_c, v01_c = _delong_components(y, cand.score)
    auc_b, v10_b, v01_b = _delong_components(y, base.score)
    s10 = np.cov(np.vstack([v10_c, v10_b]))
    s01 = np.cov(np.vstack([v01_c, v01_b]))
    cov = s10 / m + s01 / n
    variance = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    diff = auc_c - auc_b
    if not np.isfinite(variance):
        return None
    half = NormalDist().inv_cdf(0.5 + confidence / 2.0) * float(np.sqrt(max(variance, 0.0)))
    return Interval(diff - half, diff + half, "delong")


def mean_bootstrap(cand: Predictions, base: Predictions, name: str,
                   sig: Significance) -> Interval | None:
    """Paired bootstrap of a mean-of-losses metric by index resampling, in chunks."""
    lc, lb = M.per_example_loss(name, cand), M.per_example_loss(name, base)
    n = len(lc)
    if n == 0:
        return None
    rng = _rng(sig, name)
    per_chunk = max(1, _CHUNK_ELEMENTS // n)
    diffs = np.empty(sig.resamples)
    for start in range(0, sig.resamples, per_chunk):
        rows = min(per_chunk, sig.resamples - start)
        index = rng.integers(0, n, size=(rows, n), dtype=np.int64 if n > 2**31 - 1 else np.int32)
        mc, mb = lc[index].mean(axis=1), lb[index].mean(axis=1)
        diffs[start:start + rows] = np.asarray(M.finish(name, mc)) - np.asarray(M.finish(name, mb))
    return _percentile(diffs, sig.confidence)


def paired_intervals(cand: Predictions, base: Predictions, names: list[str],
                     sig: Significance) -> dict[str, Interval | Insufficient | None]:
    """Intervals of candidate - baseline for each of `names` the predictions define."""
    available = set(M.applicable(cand)) & set(M.applicable(base))
    out: dict[str, Interval | Insufficient | None] = {}
    wanted = []
    for name in (m for m in names if m in available):
        reason = evidence(cand, base, name, sig.confidence)
        if reason is None:
            wanted.append(name)
        else:
            out[name] = Insufficient(reason)
    out.update(confusion_bootstrap(cand, base, [m for m in wanted if m in M.CLASSIFICATION],
                                   sig))
    for name in wanted:
        if name == "roc_auc":
            out[name] = delong(cand, base, sig.confidence)
        elif name not in M.CLASSIFICATION:
            out[name] = mean_bootstrap(cand, base, name, sig)
    return out
