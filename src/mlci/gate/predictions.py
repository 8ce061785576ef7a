"""Per-example prediction files (CSV, or Parquet with pyarrow), joined on an id column.

Paired statistics are only honest when both models are scored on exactly the same
examples, so a row present on one side only, a duplicate id, or a label that differs
between the two files is an input error naming the ids, never something dropped silently.
pyarrow is used when installed (fast CSV, Parquet); plain CSV works without it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlci.errors import InputError
from mlci.gate.spec import PredictionColumns

# Values read as "missing" (pyarrow's CSV defaults, used by the plain-CSV reader too).
NULLS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                   "1.#IND", "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"})
Category = tuple[np.ndarray, list[str]]  # (int32 codes, -1 where missing; names)


@dataclass
class Predictions:
    path: str
    ids: np.ndarray
    label: np.ndarray            # int8 0/1 (classification) or float64 (regression)
    prediction: np.ndarray
    score: np.ndarray | None     # float64 probability of the positive class
    task: str                    # "classification" | "regression"
    categories: dict[str, Category] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def _some(ids: Any, limit: int = 5) -> str:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in list(ids)[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _read_arrow(path: Path, columns: list[str], categorical: set[str]) -> dict[str, Any]:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

        names = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[c for c in columns if c in names])
    else:
        import pyarrow.csv as pacsv  # type: ignore[import-untyped,unused-ignore]

        with open(path, newline="", encoding="utf-8") as handle:
            names = set(next(csv.reader(handle), []))
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=[c for c in columns if c in names], strings_can_be_null=True,
            column_types={c: pa.string() for c in categorical}))
    out: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if name in categorical:
            encoded = pc.dictionary_encode(col.cast(pa.string()))
            codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            out[name] = (codes.astype(np.int32), [str(v) for v in encoded.dictionary.to_pylist()])
        elif pa.types.is_boolean(col.type) and col.null_count == 0:
            out[name] = col.to_numpy(zero_copy_only=False).astype(np.int8)
        elif pa.types.is_integer(col.type) and col.null_count == 0:
            out[name] = col.to_numpy()
        elif pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            out[name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        else:
            out[name] = np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)
    return out


def _read_csv(path: Path, columns: list[str], categorical: set[str]) -> dict[str, Any]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        index = {name: i for i, name in enumerate(header)}
        keep = [(c, index[c]) for c in columns if c in index]
        values: dict[str, list[str]] = {c: [] for c, _ in keep}
        for row in reader:
            for name, i in keep:
                values[name].append(row[i] if i < len(row) else "")
    out: dict[str, Any] = {}
    for name, raw in values.items():
        if name in categorical:
            lookup: dict[str, int] = {}
            codes = np.fromiter((-1 if v in NULLS else lookup.setdefault(v, len(lookup))
                                 for v in raw), dtype=np.int32, count=len(raw))
            out[name] = (codes, list(lookup))
        else:
            array = np.asarray(raw, dtype=object)
            try:
                out[name] = np.asarray(raw, dtype=np.int64)
            except ValueError:
                try:
                    out[name] = np.asarray([v if v not in NULLS else "nan" for v in raw],
                                           dtype=np.float64)
                except ValueError:
                    out[name] = array
    return out


def read_table(path: str, columns: list[str], categorical: set[str]) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise InputError("prediction file not found", file=path)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        if file.suffix.lower() in (".parquet", ".pq"):
            raise InputError("reading Parquet needs pyarrow: pip install 'mlci[parquet]'",
                             file=path) from None
        return _read_csv(file, columns, categorical)
    try:
        return _read_arrow(file, columns, categorical)
    except (OSError, ValueError) as error:  # pyarrow.ArrowInvalid is a ValueError
        raise InputError(f"cannot read predictions: {error}", file=path) from None


def _floats(values: np.ndarray, ids: np.ndarray, path: str, key: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        bad = [i for i, v in zip(ids, values) if not _is_number(v)]
        raise InputError(f"expected numbers; not a number for ids {_some(bad)}",
                         file=path, key=key) from None
    bad_mask = ~np.isfinite(out)
    if bad_mask.any():
        raise InputError(f"missing or non-finite values for ids {_some(ids[bad_mask])}",
                         file=path, key=key)
    return out


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _binary(values: np.ndarray, ids: np.ndarray, path: str, key: str,
            positive: str | None) -> np.ndarray:
    if positive is not None:
        text = np.asarray([str(v) for v in values]) if values.dtype == object else \
            values.astype(str)
        return np.asarray(text == positive, dtype=np.int8)
    numbers = _floats(values, ids, path, key)
    bad = (numbers != 0) & (numbers != 1)
    if bad.any():
        raise InputError(f"expected binary labels 0/1 (or set predictions.positive_label); "
                         f"ids {_some(ids[bad])} have {_some(np.unique(numbers[bad]))}",
                         file=path, key=key)
    return numbers.astype(np.int8)


def load_predictions(path: str, cols: PredictionColumns, extra: list[str],
                     task: str | None = None) -> Predictions:
    """Read one prediction file; `extra` are categorical columns (slices, sensitive groups)."""
    wanted = [cols.id, cols.label, cols.prediction] + ([cols.score] if cols.score else [])
    table = read_table(path, wanted + [c for c in extra if c not in wanted], set(extra))
    for name in wanted:
        if name not in table:
            raise InputError(f"column {name!r} not found", file=path, key=name)
    ids = table[cols.id]
    if ids.dtype == object or ids.dtype.kind == "f":
        ids = np.asarray([str(v) for v in ids])
    label, prediction = table[cols.label], table[cols.prediction]
    if task is None:
        task = cols.task
    if task == "auto":
        numbers = np.asarray(label, dtype=np.float64) if label.dtype != object and \
            label.dtype.kind in "iufb" else None
        binary = numbers is not None and bool(np.isin(numbers, (0.0, 1.0)).all())
        task = "classification" if cols.positive_label is not None or binary else "regression"
    if task == "classification":
        y = _binary(label, ids, path, cols.label, cols.positive_label)
        p = _binary(prediction, ids, path, cols.prediction, cols.positive_label)
    else:
        y = _floats(label, ids, path, cols.label)
        p = _floats(prediction, ids, path, cols.prediction)
    score = _floats(table[cols.score], ids, path, cols.score) if cols.score else None
    if score is not None and ((score < 0) | (score > 1)).any() and task == "classification":
        raise InputError("scores must be probabilities in [0, 1]", file=path, key=cols.score)
    categories = {c: table[c] for c in extra if c in table}
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
