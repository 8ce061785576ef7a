"""Reading a snapshot (CSV and/or Parquet files read as one table) column by column.

Parquet: one column of one file at a time. CSV: one streaming pass in chunks of rows that
turns every column the contract names into compact arrays (`columns.ColumnBuilder`), so the
memory is a few bytes a cell, never a Python object per cell. With pyarrow installed (the
`parquet` extra) its multi-threaded CSV reader does the pass; if it refuses a file (a cell
it cannot convert, an encoding), the pure reader reads that file, so the verdict and the
messages are the same either way. `MLCI_CSV_READER=pure` forces the pure reader.
"""

from __future__ import annotations

import csv
import os
from itertools import islice
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlci.data.contract import Contract
from mlci.data.validate.columns import ColumnBuilder, ColumnData, Piece
from mlci.errors import InputError

CHUNK = 65_536
SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
_NAN_SPELLINGS = ["nan", "NaN", "NAN", "+nan", "-nan", "+NaN", "-NaN", "+NAN", "-NAN"]


@dataclass
class Source:
    path: Path
    fmt: str
    names: list[str]
    rows: int = 0
    csv_pieces: dict[str, list[Piece]] = field(default_factory=dict)
    csv_codes: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Table:
    """The files of a snapshot; `column(name)` reads (or hands over) one column."""

    sources: list[Source]
    contract: Contract
    rows: int = 0
    names: list[str] = field(default_factory=list)
    _done: dict[str, ColumnData] = field(default_factory=dict)

    def column(self, name: str, declared: str | None, keep: bool = False) -> ColumnData:
        if name in self._done:
            return self._done[name] if keep else self._done.pop(name)
        builder = ColumnBuilder(name, declared, set(self.contract.csv.null_values))
        for source in self.sources:
            if source.fmt == "csv":
                builder.codes = _merge_codes(builder, source, name)
            else:
                _read_parquet_column(source, name, builder)
        data = builder.finish()
        if keep:
            self._done[name] = data
        return data


def _merge_codes(builder: ColumnBuilder, source: Source, name: str) -> dict[str, int]:
    """Hand a CSV file's pieces of one column to the builder (re-coding its text)."""
    own = source.csv_codes.get(name, {})
    if not builder.codes:
        codes = dict(own)
        remap = None
    else:
        codes = builder.codes
        remap = np.array([codes.setdefault(t, len(codes)) for t in own] or [0], dtype=np.int32)
    for piece in source.csv_pieces.pop(name, []):
        if piece.kind == "codes" and remap is not None:
            piece = Piece("codes", remap[piece.values], piece.null, piece.source)
        builder.pieces.append(piece)
    return codes


def files_of(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file()
                            and p.suffix.lower() in SUFFIXES)
            if not inside:
                raise InputError("directory holds no .csv or .parquet file", file=str(path))
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("data file not found", file=str(path), key="--data")
    return files


def _format(path: Path, contract: Contract) -> str:
    if contract.format:
        return contract.format
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError("cannot tell the format from the extension (.csv or .parquet); set "
                     "format: in the contract", file=str(path), key="format")


def read_table(paths: list[Path], contract: Contract,
               wanted: dict[str, str | None] | None = None, every: bool = False) -> Table:
    """Open the files; CSV files are scanned now for the `wanted` columns (name -> declared
    type; default: the contract's columns; `every`: all columns, untyped)."""
    if every:
        wanted = _Every()
    elif wanted is None:
        wanted = {name: spec.type for name, spec in contract.columns.items()}
    sources: list[Source] = []
    for path in files_of(paths):
        fmt = _format(path, contract)
        source = _scan_csv(path, contract, wanted) if fmt == "csv" else _open_parquet(path)
        sources.append(source)
    first = sources[0]
    for other in sources[1:]:
        if sorted(other.names) != sorted(first.names):
            raise InputError(f"columns {other.names} differ from {first.path}'s "
                             f"{first.names}", file=str(other.path))
    return Table(sources, contract, sum(s.rows for s in sources), list(first.names))


class _Every(dict[str, "str | None"]):
    """Every column, untyped."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> None:
        return None


# -- CSV ----------------------------------------------------------------------------------
def _delimiter(path: Path, contract: Contract) -> str:
    if path.suffix.lower() == ".tsv" and contract.csv.delimiter == ",":
        return "\t"
    return contract.csv.delimiter


def _encoding(contract: Contract) -> str:
    # A UTF-8 BOM is not part of the first column's name.
    enc = contract.csv.encoding
    return "utf-8-sig" if enc.lower().replace("_", "-") in ("utf-8", "utf8") else enc


def _check_header(path: Path, header: list[str] | None) -> list[str]:
    if header is None:
        raise InputError("empty CSV file: no header row", file=str(path))
    if len(set(header)) != len(header):
        dup = [h for h, n in Counter(header).items() if n > 1]
        raise InputError(f"duplicate column names in the header: {dup}", file=str(path),
                         line=1)
    return header


def _scan_csv(path: Path, contract: Contract, wanted: dict[str, str | None]) -> Source:
    if os.environ.get("MLCI_CSV_READER", "") != "pure":
        fast = _scan_csv_arrow(path, contract, wanted)
        if fast is not None:
            return fast
    return _scan_csv_pure(path, contract, wanted)


def _rows(reader: Any, width: int, path: Path) -> Iterator[list[list[str]]]:
    """Chunks of rows; the widths are checked a chunk at a time (in C), and an empty line
    is skipped."""
    while True:
        start = reader.line_num
        chunk = list(islice(reader, CHUNK))
        if not chunk:
            return
        if set(map(len, chunk)) != {width}:
            for offset, row in enumerate(chunk):
                if row and len(row) != width:
                    # The line is exact unless a quoted field of the chunk spans lines.
                    raise InputError(f"row has {len(row)} fields, the header {width}",
                                     file=str(path), line=start + offset + 1)
            chunk = [row for row in chunk if row]
        if chunk:
            yield chunk


def _scan_csv_pure(path: Path, contract: Contract, wanted: dict[str, str | None]) -> Source:
    nulls = set(contract.csv.null_values)
    try:
        with open(path, newline="", encoding=_encoding(contract)) as handle:
            reader = csv.reader(handle, delimiter=_delimiter(path, contract))
            header = _check_header(path, next(reader, None))
            keep = [(i, name) for i, name in enumerate(header) if name in wanted]
            builders = {name: ColumnBuilder(name, wanted[name], nulls) for _, name in keep}
            rows = 0
            for chunk in _rows(reader, len(header), path):
                rows += len(chunk)
                columns = list(zip(*chunk, strict=True))
                for i, name in keep:
                    builders[name].add_text(columns[i], str(path))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=str(path)) from None
    return Source(path, "csv", header, rows, {n: b.pieces for n, b in builders.items()},
                  {n: b.codes for n, b in builders.items()})


def _scan_csv_arrow(path: Path, contract: Contract,
                    wanted: dict[str, str | None]) -> Source | None:
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        return None
    if _encoding(contract) != "utf-8-sig" or isinstance(wanted, _Every):
        return None
    kinds = {n: ColumnBuilder(n, t, set()).want for n, t in wanted.items()}
    types = {n: pa.float64() if k == "number" else pa.int64() if k == "integer"
             else pa.dictionary(pa.int32(), pa.string()) for n, k in kinds.items()}
    nulls = list(dict.fromkeys([*contract.csv.null_values, *_NAN_SPELLINGS]))
    try:
        reader = pcsv.open_csv(
            str(path), read_options=pcsv.ReadOptions(block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=_delimiter(path, contract),
                                            newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=types, null_values=nulls, strings_can_be_null=True,
                quoted_strings_can_be_null=False, include_columns=None))
        header = _check_header(path, reader.schema.names)
        builders = {n: ColumnBuilder(n, wanted[n], set(contract.csv.null_values))
                    for n in header if n in wanted}
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            for name, builder in builders.items():
                _add_arrow(builder, batch.column(name), str(path), from_csv=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, InputError):
        return None  # the pure reader gives the exact message or the cell's type violation
    return Source(path, "csv", header, rows, {n: b.pieces for n, b in builders.items()},
                  {n: b.codes for n, b in builders.items()})


# -- Parquet ------------------------------------------------------------------------------
def _open_parquet(path: Path) -> Source:
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


def _read_parquet_column(source: Source, name: str, builder: ColumnBuilder) -> None:
    import pyarrow.parquet as pq

    try:
        column = pq.read_table(source.path, columns=[name]).column(0)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read Parquet column {name!r}: {exc}",
                         file=str(source.path)) from None
    _add_arrow(builder, column, str(source.path), from_csv=False)


def _add_arrow(builder: ColumnBuilder, column: Any, source: str, from_csv: bool) -> None:
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
