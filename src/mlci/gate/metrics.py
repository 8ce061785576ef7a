"""Metrics computed from per-example predictions: overall, per slice and per group.

Classification metrics are functions of the confusion counts, computed here from counts
arrays of any shape, so the same code serves one value, one value per slice (a bincount
over slice codes) and one value per bootstrap resample (stats.py). An undefined metric
(precision with no predicted positive, AUC with one class) is NaN, which the decision then
treats as a failure: the gate never invents a 0 to fill a hole.
"""

from __future__ import annotations

import numpy as np

from mlci.gate.predictions import Predictions

CLASSIFICATION = ("accuracy", "precision", "recall", "f1")
WITH_SCORE = ("roc_auc", "log_loss")
REGRESSION = ("mae", "rmse")
_EPS = float(np.finfo(np.float64).eps)


def applicable(pred: Predictions) -> tuple[str, ...]:
    """The metrics these predictions define."""
    if pred.task == "regression":
        return REGRESSION
    return CLASSIFICATION + (WITH_SCORE if pred.score is not None else ())


def confusion(y: np.ndarray, p: np.ndarray, codes: np.ndarray | None = None,
              k: int = 1) -> np.ndarray:
    """Counts [tn, fp, fn, tp] per category: shape (k, 4). Rows with code -1 are not counted."""
    cell = 2 * y.astype(np.int64) + p
    if codes is None:
        return np.bincount(cell, minlength=4).reshape(1, 4).astype(np.float64)
    keep = codes >= 0
    flat = np.bincount(codes[keep].astype(np.int64) * 4 + cell[keep], minlength=4 * k)
    return flat.reshape(k, 4).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def from_confusion(name: str, counts: np.ndarray) -> np.ndarray:
    """A metric from counts [..., 4] = (tn, fp, fn, tp); vectorised over leading axes."""
    tn, fp, fn, tp = (counts[..., i] for i in range(4))
    if name == "accuracy":
        return _ratio(tp + tn, tn + fp + fn + tp)
    if name == "precision":
        return _ratio(tp, tp + fp)
    if name == "recall":
        return _ratio(tp, tp + fn)
    if name == "f1":
        return _ratio(2 * tp, 2 * tp + fp + fn)
    raise KeyError(name)


def midranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties sharing their average rank (what Mann-Whitney and DeLong need)."""
    order = np.argsort(values)  # ties are grouped below, so no stable sort is needed
    ranked = values[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ends = np.r_[starts[1:], len(ranked)]
    average = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    out = np.empty(len(values), dtype=np.float64)
    out[order] = np.repeat(average, ends - starts)
    return out


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = midranks(score)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def per_example_loss(name: str, pred: Predictions) -> np.ndarray:
    """The per-example quantity whose mean is the metric (rmse: squared error)."""
    if name == "log_loss":
        assert pred.score is not None
        s = np.clip(pred.score, _EPS, 1 - _EPS)
        loss: np.ndarray = -np.where(pred.label == 1, np.log(s), np.log1p(-s))
        return loss
    error: np.ndarray = pred.prediction - pred.label
    return np.asarray(np.abs(error) if name == "mae" else error * error)


def finish(name: str, mean_loss: np.ndarray | float) -> np.ndarray | float:
    return np.sqrt(mean_loss) if name == "rmse" else mean_loss


def compute(pred: Predictions, names: tuple[str, ...] | None = None) -> dict[str, float]:
    """Every applicable metric (or those of `names` that apply) over all rows."""
    wanted = [m for m in applicable(pred) if names is None or m in names]
    out: dict[str, float] = {}
    counts = confusion(pred.label, pred.prediction)[0] if pred.task == "classification" else None
    for name in wanted:
        if name in CLASSIFICATION:
            assert counts is not None
            out[name] = float(from_confusion(name, counts))
        elif name == "roc_auc":
            assert pred.score is not None
            out[name] = roc_auc(pred.label, pred.score)
        else:
            loss = per_example_loss(name, pred)
            out[name] = float(finish(name, loss.mean())) if len(loss) else float("nan")
    return out


def by_category(pred: Predictions, codes: np.ndarray, k: int,
                names: tuple[str, ...]) -> tuple[np.ndarray, list[dict[str, float]]]:
    """(row count per category, metrics per category) for categories 0..k-1."""
    sizes = np.bincount(codes[codes >= 0], minlength=k)
    wanted = [m for m in applicable(pred) if m in names]
    rows: list[dict[str, float]] = [{} for _ in range(k)]
    if pred.task == "classification":
        counts = confusion(pred.label, pred.prediction, codes, k)
        for name in (m for m in wanted if m in CLASSIFICATION):
            for i, value in enumerate(from_confusion(name, counts)):
                rows[i][name] = float(value)
    for name in (m for m in wanted if m not in CLASSIFICATION):
        if name == "roc_auc":
            assert pred.score is not None
            for i in range(k):
                mask = codes == i
                rows[i][name] = roc_auc(pred.label[mask], pred.score[mask])
            continue
        keep = codes >= 0
        sums = np.bincount(codes[keep], weights=per_example_loss(name, pred)[keep], minlength=k)
        means = _ratio(sums, sizes.astype(np.float64))
        for i, value in enumerate(finish(name, means)):  # type: ignore[arg-type]
            rows[i][name] = float(value)
    return sizes, rows
