"""The files of a snapshot and the Arrow side of reading them: a Parquet file's metadata and
its columns one at a time, and the conversion of any Arrow column (Parquet's, or a batch of
pyarrow's CSV reader) into the pieces of a `ColumnBuilder`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlci.data.validate.columns import ColumnBuilder, Piece
from mlci.errors import InputError


@dataclass
class Source:
    path: Path
    fmt: str
    names: list[str]
    rows: int = 0
    csv_pieces: dict[str, list[Piece]] = field(default_factory=dict)
    csv_codes: dict[str, dict[str, int]] = field(default_factory=dict)
    pending: Any = None  # the scan still running in a child process (csvchild.Pending)

    def ready(self) -> Source:
        """The source with its CSV columns (waiting for a child's scan)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.fill(self)
        return self


class EveryColumn(dict[str, "str | None"]):
    """Every column, untyped."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> None:
        return None


def open_parquet(path: Path) -> Source:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("Parquet files need pyarrow: pip install 'mlci[parquet]'",
                         file=str(path)) from None
    try:
        meta = pq.ParquetFile(path)
        return Source(path, "parquet", list(meta.schema_arrow.names), meta.metadata.num_rows)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None


def read_parquet_column(source: Source, name: str, builder: ColumnBuilder) -> None:
    import pyarrow.parquet as pq

    try:
        column = pq.read_table(source.path, columns=[name]).column(0)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read Parquet column {name!r}: {exc}",
                         file=str(source.path)) from None
    add_arrow(builder, column, str(source.path), from_csv=False)


def add_arrow(builder: ColumnBuilder, column: Any, source: str, from_csv: bool) -> None:
    """One Arrow column (Parquet: the column's own type decides; CSV: text is parsed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind_of = column.type
    null = column.is_null().to_numpy(zero_copy_only=False)
    size = len(column)
    if pa.types.is_null(kind_of):
        builder.add_values("null", np.zeros(size), np.ones(size, dtype=bool), source)
        return
    if pa.types.is_dictionary(kind_of) or pa.types.is_string(kind_of) or \
            pa.types.is_large_string(kind_of):
        if not pa.types.is_dictionary(kind_of):
            column = pc.dictionary_encode(column)
        elif not (pa.types.is_string(kind_of.value_type) or
                  pa.types.is_large_string(kind_of.value_type)):
            column = pc.dictionary_encode(column.cast(kind_of.value_type).cast(pa.string()))
        indices = column.indices.fill_null(0).to_numpy(zero_copy_only=False)
        strings = column.dictionary.to_pylist()
        if from_csv:
            codes = builder.codes
            mapping = np.array([codes.setdefault(s, len(codes)) for s in strings] or [0],
                               dtype=np.int32)
            values = mapping[indices] if strings else np.zeros(size, dtype=np.int32)
            # Arrow's nulls are the contract's null spellings (the piece's null mask).
            builder.pieces.append(Piece("codes", values, null, source))
        elif builder.want in ("text", "auto"):
            builder.add_strings(strings, indices, null, source)
        else:
            builder.add_bad(size, int((~null).sum()), f"{kind_of} in {source}")
        return
    if pa.types.is_integer(kind_of):
        values = column.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        builder.add_values("integer", values, null, source)
    elif pa.types.is_floating(kind_of) or pa.types.is_decimal(kind_of):
        values = column.cast(pa.float64()).fill_null(float("nan")).to_numpy(
            zero_copy_only=False)
        builder.add_values("number", values, null | np.isnan(values), source)
    elif pa.types.is_boolean(kind_of):
        builder.add_values("boolean", column.fill_null(False).to_numpy(zero_copy_only=False),
                           null, source)
    elif pa.types.is_timestamp(kind_of) or pa.types.is_date(kind_of):
        target = pa.timestamp("us", tz="UTC") if not pa.types.is_timestamp(kind_of) or \
            kind_of.tz else pa.timestamp("us")
        micros = column.cast(target).cast(pa.int64()).fill_null(0).to_numpy(
            zero_copy_only=False)
        builder.add_values("datetime", micros, null, source)
    else:
        builder.add_bad(size, int((~null).sum()), f"{kind_of} in {source}")
