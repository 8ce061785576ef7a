"""Reading a snapshot (CSV and/or Parquet files read as one table) column by column.

Parquet: one column of one file at a time. CSV: one streaming pass (csvscan.py) that turns
every column the contract names into compact arrays (`columns.ColumnBuilder`), so the memory
is a few bytes a cell, never a Python object per cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlci.data.contract import Contract
from mlci.data.validate.columns import ColumnBuilder, ColumnData, Piece
from mlci.data.validate.csvscan import scan_csv
from mlci.data.validate.sources import EveryColumn, Source, open_parquet, read_parquet_column
from mlci.errors import InputError

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


@dataclass
class Table:
    """The files of a snapshot; `column(name)` reads (or hands over) one column."""

    sources: list[Source]
    contract: Contract
    names: list[str] = field(default_factory=list)
    _done: dict[str, ColumnData] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(source.ready().rows for source in self.sources)

    def column(self, name: str, declared: str | None, keep: bool = False) -> ColumnData:
        if name in self._done:
            return self._done[name] if keep else self._done.pop(name)
        builder = ColumnBuilder(name, declared, set(self.contract.csv.null_values))
        for source in self.sources:
            if source.fmt == "csv":
                builder.codes = _merge_codes(builder, source.ready(), name)
            else:
                read_parquet_column(source, name, builder)
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


def files_of(paths: list[Path], key: str = "--data") -> list[Path]:
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
            raise InputError("data file not found", file=str(path), key=key)
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
               wanted: dict[str, str | None] | None = None, every: bool = False,
               key: str = "--data") -> Table:
    """Open the files; CSV files are scanned now for the `wanted` columns (name -> declared
    type; default: the contract's columns; `every`: all columns, untyped)."""
    if every:
        wanted = EveryColumn()
    elif wanted is None:
        wanted = {name: spec.type for name, spec in contract.columns.items()}
    sources: list[Source] = []
    for path in files_of(paths, key):
        fmt = _format(path, contract)
        source = scan_csv(path, contract, wanted) if fmt == "csv" else open_parquet(path)
        sources.append(source)
    first = sources[0]
    for other in sources[1:]:
        if sorted(other.names) != sorted(first.names):
            raise InputError(f"columns {other.names} differ from {first.path}'s "
                             f"{first.names}", file=str(other.path))
    return Table(sources, contract, list(first.names))
