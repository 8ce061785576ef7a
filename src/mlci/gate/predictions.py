"""Per-example prediction files, read (tables.py), checked, and joined on an id column.

Paired statistics are only honest when both models are scored on exactly the same
examples, so a row present on one side only, a duplicate id, or a label that differs
between the two files is an input error naming the ids, never something dropped silently.

The task is declared (`predictions.task`) or inferred strictly: labels all 0/1 (or a
`positive_label`) are classification, labels with a fractional value are regression, and
anything else (whole numbers beyond 0/1, such as one stray `-1`) is an input error asking
for the task, because a wrong guess would silently change which metrics exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlci.errors import InputError
from mlci.gate.spec import PredictionColumns
from mlci.gate.tables import Category, read_table

__all__ = ["Category", "Predictions", "align", "load_predictions", "read_table", "subset"]


@dataclass
class Predictions:
    path: str
    ids: np.ndarray              # int64 (canonical integer ids) or str
    label: np.ndarray            # int8 0/1 (classification) or float64 (regression)
    prediction: np.ndarray
    score: np.ndarray | None     # float64 probability of the positive class
    task: str                    # "classification" | "regression"
    categories: dict[str, Category] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def _some(values: Any, limit: int = 5) -> str:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in list(values)[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _floats(values: np.ndarray, ids: np.ndarray, path: str, key: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        bad = [i for i, v in zip(ids, values, strict=False) if not _is_number(v)]
        raise InputError(f"expected numbers; not a number for ids {_some(bad)}",
                         file=path, key=key) from None
    bad_mask = ~np.isfinite(out)
    if bad_mask.any():
        raise InputError(f"missing or non-finite values for ids {_some(ids[bad_mask])}",
                         file=path, key=key)
    return out


def _infer_task(label: np.ndarray, ids: np.ndarray, path: str, cols: PredictionColumns) -> str:
    if cols.positive_label is not None:
        return "classification"
    if label.dtype == object:
        bad = [i for i, v in zip(ids, label, strict=True) if not _is_number(v)]
        raise InputError(f"labels are not all numbers (ids {_some(bad)}): text labels are "
                         "classification with predictions.positive_label set to the positive "
                         "class", file=path, key=cols.label)
    numbers = label.astype(np.float64)
    finite = np.isfinite(numbers)
    binary = np.isin(numbers, (0.0, 1.0)) | ~finite  # missing labels are refused later
    if binary.all():
        return "classification"
    if (numbers[finite] != np.round(numbers[finite])).any():
        return "regression"
    raise InputError(f"cannot tell classification from regression: labels are whole numbers "
                     f"but not all 0/1 (ids {_some(ids[~binary])} have "
                     f"{_some(np.unique(label[~binary]))}); set predictions.task "
                     "(classification: labels 0/1 or predictions.positive_label; regression: "
                     "any numbers)", file=path, key=cols.label)


def _binary(values: np.ndarray, ids: np.ndarray, path: str, key: str) -> np.ndarray:
    numbers = _floats(values, ids, path, key)
    bad = (numbers != 0) & (numbers != 1)
    if bad.any():
        raise InputError(f"expected binary labels 0/1 (or set predictions.positive_label); "
                         f"ids {_some(ids[bad])} have {_some(np.unique(values[bad]))}",
                         file=path, key=key)
    return numbers.astype(np.int8)


def _text(values: np.ndarray, ids: np.ndarray, path: str, key: str) -> np.ndarray:
    if values.dtype == object:
        missing = np.asarray([v is None for v in values], dtype=bool)
    elif values.dtype.kind == "f":
        missing = np.isnan(values)
    else:
        missing = np.zeros(len(values), dtype=bool)
    if missing.any():
        raise InputError(f"missing values for ids {_some(ids[missing])}", file=path, key=key)
    return np.asarray([str(v) for v in values]) if values.dtype == object else \
        values.astype(str)


def _with_positive(label: np.ndarray, prediction: np.ndarray, ids: np.ndarray, path: str,
                   cols: PredictionColumns) -> tuple[np.ndarray, np.ndarray]:
    """0/1 from a named positive class; the other class must be one value, never several."""
    positive = cols.positive_label
    y = _text(label, ids, path, cols.label)
    p = _text(prediction, ids, path, cols.prediction)
    values = set(np.unique(y).tolist()) | set(np.unique(p).tolist())
    if positive not in values:
        raise InputError(f"predictions.positive_label {positive!r} is neither a label nor a "
                         f"prediction in this file (values: {_some(sorted(values))})",
                         file=path, key=cols.label)
    others = sorted(values - {positive})
    if len(others) > 1:
        raise InputError(f"binary classification with positive_label {positive!r} takes one "
                         f"other class, but labels and predictions have {len(others)}: "
                         f"{_some(others)}", file=path, key=cols.label)
    return (y == positive).astype(np.int8), (p == positive).astype(np.int8)


def _encode(values: np.ndarray) -> Category:
    """Categories of a column that is also the id, label, prediction or score column."""
    names, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int32).reshape(-1), [str(v) for v in names.tolist()]


def load_predictions(path: str, cols: PredictionColumns, extra: list[str],
                     task: str | None = None) -> Predictions:
    """Read one prediction file; `extra` are categorical columns (slices, sensitive groups),
    which may also be the id, label, prediction or score column."""
    core = list(dict.fromkeys([cols.id, cols.label, cols.prediction]
                              + ([cols.score] if cols.score else [])))
    extra = list(dict.fromkeys(extra))
    only_extra = [c for c in extra if c not in core]
    table = read_table(path, core + only_extra, set(only_extra), cols.id)
    for name in core:
        if name not in table:
            raise InputError(f"column {name!r} not found", file=path, key=name)
    ids = table[cols.id]
    if len(ids) == 0:
        raise InputError("no rows: a prediction file needs at least one example", file=path)
    label, prediction = table[cols.label], table[cols.prediction]
    task = task or cols.task
    if task == "auto":
        task = _infer_task(label, ids, path, cols)
    if task == "classification" and cols.positive_label is not None:
        y, p = _with_positive(label, prediction, ids, path, cols)
    elif task == "classification":
        y, p = _binary(label, ids, path, cols.label), _binary(prediction, ids, path,
                                                              cols.prediction)
    else:
        y, p = _floats(label, ids, path, cols.label), _floats(prediction, ids, path,
                                                              cols.prediction)
    score = _floats(table[cols.score], ids, path, cols.score) if cols.score else None
    if score is not None and ((score < 0) | (score > 1)).any() and task == "classification":
        raise InputError("scores must be probabilities in [0, 1]", file=path, key=cols.score)
    categories = {c: table[c] for c in only_extra if c in table}
    categories.update({c: _encode(table[c]) for c in extra if c in core})
    return Predictions(path, ids, y, p, score, task, categories)


def subset(pred: Predictions, mask: np.ndarray) -> Predictions:
    """The rows where `mask` holds (categories dropped: a subset is already one category)."""
    return Predictions(pred.path, pred.ids[mask], pred.label[mask], pred.prediction[mask],
                       None if pred.score is None else pred.score[mask], pred.task)


def _sorted_unique(ids: np.ndarray, path: str, key: str) -> np.ndarray:
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]
    dup = ranked[1:] == ranked[:-1]
    if dup.any():
        raise InputError(f"duplicate ids {_some(np.unique(ranked[1:][dup]))}", file=path, key=key)
    return order


def align(candidate: Predictions, baseline: Predictions, id_column: str) -> Predictions:
    """The baseline's rows in the candidate's order; every id on both sides, labels equal."""
    c_ids, b_ids = candidate.ids, baseline.ids
    if (c_ids.dtype.kind in "iu") != (b_ids.dtype.kind in "iu"):
        # one side has a non-integer id: compare the strings as written (7 is "7")
        c_ids, b_ids = c_ids.astype(str), b_ids.astype(str)
    c_order = _sorted_unique(c_ids, candidate.path, id_column)
    b_order = _sorted_unique(b_ids, baseline.path, id_column)
    if len(c_ids) != len(b_ids) or not np.array_equal(c_ids[c_order], b_ids[b_order]):
        only_c = np.setdiff1d(c_ids, b_ids)
        only_b = np.setdiff1d(b_ids, c_ids)
        parts = []
        if len(only_b):
            parts.append(f"ids in the baseline's file but not the candidate's: {_some(only_b)}")
        if len(only_c):
            parts.append(f"ids in the candidate's file but not the baseline's: {_some(only_c)}")
        raise InputError("; ".join(parts) + " (both models must be scored on the same examples)",
                         file=baseline.path, key=id_column)
    take = np.empty_like(c_order)
    take[c_order] = b_order
    label = baseline.label[take]
    differ = label != candidate.label
    if differ.any():
        raise InputError(f"labels differ from the candidate's file for ids "
                         f"{_some(candidate.ids[differ])}", file=baseline.path, key="label")
    categories = {k: (codes[take], names) for k, (codes, names) in baseline.categories.items()}
    return Predictions(baseline.path, candidate.ids, label, baseline.prediction[take],
                       None if baseline.score is None else baseline.score[take],
                       baseline.task, categories)
