"""Reading the columns of a prediction file (CSV, or Parquet with pyarrow) into numpy arrays.

What a value means is decided here, the same way by both readers (pyarrow's when installed,
else the csv module's):

- ids are strings as written: `007` and `7` are different examples. Ids that are all
  canonical integers are held as int64 (a lossless and much faster encoding of the same
  strings); an empty id is an input error.
- in a categorical (slice or group) column only an empty field is missing: `NA` is a value
  (North America), never a null.
- numeric columns are int64 or float64 where every field parses, else an object array the
  caller refuses with the ids at fault; an empty field is NaN (missing).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from mlci.errors import InputError

Category = tuple[np.ndarray, list[str]]  # (int32 codes, -1 where missing; names)

# A canonical integer: no sign on 0, no leading zeros, at most 18 digits (fits int64).
CANONICAL_INT = r"^(0|-?[1-9][0-9]{0,17})$"
_CANONICAL = re.compile(CANONICAL_INT)
_BOOLEANS = {"true": 1, "True": 1, "TRUE": 1, "false": 0, "False": 0, "FALSE": 0}


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    rows = np.flatnonzero(mask) + 1
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _empty_ids(mask: np.ndarray, path: str, key: str) -> InputError:
    return InputError(f"empty id in row(s) {_rows(mask)} (counting data rows from 1): every "
                      "example needs an id to be paired", file=path, key=key)


def _header(path: Path, columns: list[str]) -> list[str]:
    """The wanted columns the header has; a wanted name twice in the header is ambiguous."""
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    for name in columns:
        if header.count(name) > 1:
            raise InputError(f"column {name!r} appears {header.count(name)} times in the header",
                             file=str(path), key=name)
    return [c for c in columns if c in header]


def _arrow_ids(col: Any, path: str, key: str) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(col.type) and col.null_count == 0:  # Parquet integers
        return np.asarray(col.to_numpy(), dtype=np.int64)
    text = col.cast(pa.string())
    empty = pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)
    if empty.any():
        raise _empty_ids(empty, path, key)
    if len(text) and pc.all(pc.match_substring_regex(text, CANONICAL_INT)).as_py():
        return np.asarray(text.cast(pa.int64()).to_numpy(), dtype=np.int64)
    return np.asarray(text.to_numpy(zero_copy_only=False), dtype=str)


def _read_arrow(path: Path, columns: list[str], categorical: set[str],
                id_column: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = categorical | {id_column}
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        names = set(pq.read_schema(path).names)
        table = pq.read_table(path, columns=[c for c in columns if c in names])
    else:
        import pyarrow.csv as pacsv

        present = _header(path, columns)
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=present, strings_can_be_null=True, null_values=[""],
            column_types={c: pa.string() for c in text if c in present}))
    out: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if name == id_column:
            out[name] = _arrow_ids(col, str(path), name)
        elif name in categorical:
            values = col.cast(pa.string())
            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
            encoded = pc.dictionary_encode(values)
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


def _numbers(raw: list[str]) -> np.ndarray:
    try:
        return np.asarray(raw, dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    if raw and all(v in _BOOLEANS for v in raw):
        return np.asarray([_BOOLEANS[v] for v in raw], dtype=np.int8)
    try:
        return np.asarray([v or "nan" for v in raw], dtype=np.float64)
    except ValueError:
        return np.asarray([v or None for v in raw], dtype=object)


def _read_csv(path: Path, columns: list[str], categorical: set[str],
              id_column: str) -> dict[str, Any]:
    present = _header(path, columns)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        keep = [(c, header.index(c)) for c in present]
        values: dict[str, list[str]] = {c: [] for c, _ in keep}
        for row in reader:
            for name, i in keep:
                values[name].append(row[i] if i < len(row) else "")
    out: dict[str, Any] = {}
    for name, raw in values.items():
        if name == id_column:
            empty = np.asarray([v == "" for v in raw], dtype=bool)
            if empty.any():
                raise _empty_ids(empty, str(path), name)
            canonical = bool(raw) and all(_CANONICAL.match(v) for v in raw)
            out[name] = np.asarray(raw, dtype=np.int64 if canonical else str)
        elif name in categorical:
            lookup: dict[str, int] = {}
            codes = np.fromiter((-1 if v == "" else lookup.setdefault(v, len(lookup))
                                 for v in raw), dtype=np.int32, count=len(raw))
            out[name] = (codes, list(lookup))
        else:
            out[name] = _numbers(raw)
    return out


def read_table(path: str, columns: list[str], categorical: set[str],
               id_column: str) -> dict[str, Any]:
    """The columns of `columns` the file has; categorical ones as `Category`."""
    file = Path(path)
    if not file.is_file():
        raise InputError("prediction file is not a regular file" if file.exists()
                         else "prediction file not found", file=path)
    columns = list(dict.fromkeys(columns))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        if file.suffix.lower() in (".parquet", ".pq"):
            raise InputError("reading Parquet needs pyarrow: pip install 'mlci[parquet]'",
                             file=path) from None
        reader = _read_csv
    else:
        reader = _read_arrow
    try:
        return reader(file, columns, categorical, id_column)
    except (OSError, ValueError, csv.Error) as error:  # ArrowInvalid, UnicodeDecodeError too
        raise InputError(f"cannot read predictions: {error}", file=path) from None
