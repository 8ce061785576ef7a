"""One column of a snapshot, compact: numpy arrays, never a Python object per cell.

A column is built from pieces (a chunk of CSV cells, a Parquet column of one file) and
finished into one `ColumnData` of a single kind:

- number: float64; integer: int64; boolean: bool; datetime: int64 microseconds since the
  epoch, UTC (naive values are read as UTC); text: int32 codes into `categories`.
- `null`: the missing cells: the contract's null spellings, any spelling of NaN (`nan`,
  `NAN`, `+nan`, `-nan`), Parquet nulls and floating NaN.
- `bad`/`bad_example`: non-null cells that are not of the declared type; they count as
  neither null nor value.

CSV text is interpreted once per distinct value, not once per cell.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlci.data.contract import to_datetime

_INT = re.compile(r"^[+-]?\d+$")
_NAN = {"nan", "+nan", "-nan"}
BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
         "t": True, "f": False, "y": True, "n": False}
KINDS = {"integer": "integer", "float": "number", "number": "number", "boolean": "boolean",
         "datetime": "datetime", "string": "text", "category": "text", None: "auto"}
_EPOCH_US = 10 ** 6


@dataclass
class ColumnData:
    name: str
    kind: str
    values: np.ndarray
    null: np.ndarray
    categories: list[str] = field(default_factory=list)
    bad: int = 0
    bad_example: str = ""
    mixed: str = ""

    @property
    def rows(self) -> int:
        return int(self.null.size)

    def valid(self) -> np.ndarray:
        """The non-null values (codes for text)."""
        valid: np.ndarray = self.values[~self.null]
        return valid


def parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_cell(text: str, kind: str) -> Any:
    """The value of one CSV cell in a kind, or None when it is not of that kind."""
    if kind == "number":
        return parse_number(text)
    if kind == "integer":
        return int(text) if _INT.match(text) and -2 ** 63 <= int(text) < 2 ** 63 else None
    if kind == "boolean":
        return BOOLS.get(text.strip().lower())
    if kind == "datetime":
        try:
            moment = to_datetime(text)
        except (ValueError, OverflowError):
            return None
        return round(moment.timestamp() * _EPOCH_US)
    return text


def is_null_text(text: str, nulls: set[str]) -> bool:
    return text in nulls or text.strip().lower() in _NAN


@dataclass
class Piece:
    kind: str                 # a kind above, or "codes" (CSV text, codes into the builder)
    values: np.ndarray
    null: np.ndarray
    source: str = ""


class ColumnBuilder:
    """Collects the pieces of one column, then `finish()`es them into one kind."""

    def __init__(self, name: str, declared: str | None, nulls: set[str]) -> None:
        self.name = name
        self.declared = declared
        self.want = KINDS[declared]
        self.nulls = nulls
        self.codes: dict[str, int] = {}
        self.pieces: list[Piece] = []
        self.bad = 0
        self.bad_example = ""
        # A null spelling that reads as a number (say "-999") rules out the fast path.
        self.numeric_nulls = any(
            parse_number(n) is not None and not math.isnan(parse_number(n) or 0.0)
            for n in nulls)

    # -- pieces -------------------------------------------------------------------------
    def add_text(self, cells: Any, source: str) -> None:
        """A chunk of CSV cells (strings)."""
        if self.want in ("number", "integer"):
            dtype = np.float64 if self.want == "number" else np.int64
            if not self.numeric_nulls:
                # Fast path: every cell a number or a null spelling, parsed by numpy in C.
                nulls = self.nulls
                flags: list[bool] | None = None
                if nulls.isdisjoint(cells):
                    cleaned = cells
                else:
                    flags = [c in nulls for c in cells]
                    filler = "nan" if self.want == "number" else "0"
                    cleaned = [filler if f else c for c, f in zip(cells, flags, strict=True)]
                try:
                    values = np.array(cleaned, dtype=dtype)
                except (ValueError, OverflowError):
                    pass
                else:
                    null = np.array(flags, dtype=bool) if flags is not None else \
                        np.zeros(values.size, dtype=bool)
                    if self.want == "number":
                        null |= np.isnan(values)
                    self.pieces.append(Piece(self.want, values, null, source))
                    return
        codes = self.codes
        for text in dict.fromkeys(cells):  # each distinct text once, then a lookup in C
            if text not in codes:
                codes[text] = len(codes)
        arr = np.fromiter(map(codes.__getitem__, cells), dtype=np.int32, count=len(cells))
        self.pieces.append(Piece("codes", arr, np.zeros(arr.size, dtype=bool), source))

    def add_values(self, kind: str, values: np.ndarray, null: np.ndarray, source: str) -> None:
        self.pieces.append(Piece(kind, values, null, source))

    def add_strings(self, strings: list[Any], indices: np.ndarray, null: np.ndarray,
                    source: str) -> None:
        """Dictionary-encoded text (a Parquet string column): codes into the builder's own."""
        codes = self.codes
        mapping = np.array([codes.setdefault(str(s), len(codes)) for s in strings] or [0],
                           dtype=np.int32)
        safe = np.where(null, 0, indices)
        self.pieces.append(Piece("text", mapping[safe] if strings else
                                 np.zeros(indices.size, dtype=np.int32), null, source))

    def add_bad(self, rows: int, count: int, example: str) -> None:
        """A piece of the wrong type (a Parquet column's own type): no values, `count` bad."""
        self.bad += count
        self.bad_example = self.bad_example or example
        self.pieces.append(Piece("null", np.zeros(rows), np.ones(rows, dtype=bool)))

    # -- finishing ----------------------------------------------------------------------
    def _decide(self) -> str:
        if self.want != "auto":
            return self.want
        kinds = {p.kind for p in self.pieces} - {"null"}
        if not kinds:
            return "text"
        if kinds <= {"codes", "number", "integer"}:
            if "codes" not in kinds or all(
                    parse_number(t) is not None or is_null_text(t, self.nulls)
                    for t in self.codes):
                return "integer" if kinds == {"integer"} else "number"
            return "text" if kinds == {"codes"} else "mixed"
        if kinds <= {"codes", "text"}:
            return "text"
        if len(kinds) == 1:
            return kinds.pop()
        return "mixed"

    def finish(self) -> ColumnData:
        kind = self._decide()
        mixed = ""
        if kind == "mixed":
            mixed = "; ".join(sorted({f"{'text' if p.kind == 'codes' else p.kind} in "
                                      f"{p.source}" for p in self.pieces if p.kind != "null"}))
            kind = "text"
        text = list(self.codes)
        # Each distinct CSV text once: null, value, or not of this kind.
        is_null = np.array([is_null_text(t, self.nulls) for t in text] or [False])
        parsed: list[Any] = [None if n else parse_cell(t, kind)
                             for t, n in zip(text, is_null, strict=False)]
        values_list, nulls_list = [], []
        dtype = {"number": np.float64, "integer": np.int64, "boolean": np.bool_,
                 "datetime": np.int64, "text": np.int32}[kind]
        for piece in self.pieces:
            values, null = self._convert(piece, kind, text, is_null, parsed, dtype)
            values_list.append(values)
            nulls_list.append(null)
        values = np.concatenate(values_list) if values_list else np.array([], dtype=dtype)
        null = np.concatenate(nulls_list) if nulls_list else np.array([], dtype=bool)
        if kind == "number":
            null |= np.isnan(values)
        categories = list(self.codes) if kind == "text" else []
        return ColumnData(self.name, kind, values, null, categories, self.bad,
                          self.bad_example, mixed)

    def _convert(self, piece: Piece, kind: str, text: list[str], is_null: np.ndarray,
                 parsed: list[Any], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        size = piece.values.size
        if piece.kind == "null":
            return np.zeros(size, dtype=dtype), piece.null
        if piece.kind == "codes":
            null = is_null[piece.values] | piece.null
            if kind == "text":
                return piece.values, null
            bad = np.array([p is None for p in parsed] or [False]) & ~is_null
            lookup = np.array([0 if p is None else p for p in parsed] or [0], dtype=dtype)
            bad_rows = bad[piece.values] & ~piece.null
            count = int(bad_rows.sum())
            if count:
                self.bad += count
                self.bad_example = self.bad_example or repr(text[int(
                    piece.values[np.argmax(bad_rows)])])
            return lookup[piece.values], null | bad_rows
        if piece.kind == kind or (kind == "number" and piece.kind == "integer"):
            return piece.values.astype(dtype, copy=False), piece.null
        if kind == "text":
            # A typed piece read as text (a Parquet integer column declared category).
            strings = [_text_of(v) for v in piece.values[~piece.null]]
            codes = self.codes
            out = np.zeros(size, dtype=np.int32)
            out[~piece.null] = [codes.setdefault(s, len(codes)) for s in strings]
            return out, piece.null
        self.bad += int((~piece.null).sum())
        self.bad_example = self.bad_example or f"{piece.kind} in {piece.source}"
        return np.zeros(size, dtype=dtype), np.ones(size, dtype=bool)


def _text_of(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and \
            float(value).is_integer():
        return str(int(value))
    return str(value.item() if hasattr(value, "item") else value)
