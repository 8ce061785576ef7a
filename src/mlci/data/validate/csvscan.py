"""CSV in one streaming pass, in blocks of whole lines, into compact column pieces.

With pyarrow installed (the `parquet` extra) its multi-threaded reader does the pass; if it
refuses a file (a cell it cannot convert, a ragged row, an encoding), the pure reader reads
that file, so the verdict and the messages are the same either way. The pure reader (the
default install; `MLCI_CSV_READER=pure` forces it) parses a plain block with whole-array
numpy (csvvec.py), any other with numpy's text reader (csvfast.py) or, where that refuses
it, the `csv` module, which gives the messages; a large file is scanned by a child process
while this one goes on (csvchild.py).
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any

from mlci.data.contract import Contract
from mlci.data.validate import csvchild, csvfast, csvvec
from mlci.data.validate.columns import ColumnBuilder
from mlci.data.validate.sources import EveryColumn, Source, add_arrow
from mlci.errors import InputError

CHUNK = 4 << 20  # characters (of whole lines) the pure reader parses at a time
ROWS = 65_536  # rows the csv module reads at a time
# (text of whole lines, the file's line number before it, the builders) -> rows parsed
ChunkParser = Callable[[str, int, dict[str, ColumnBuilder]], int]
_NAN_SPELLINGS = ["nan", "NaN", "NAN", "+nan", "-nan", "+NaN", "-NaN", "+NAN", "-NAN"]


def _delimiter(path: Path, contract: Contract) -> str:
    if path.suffix.lower() == ".tsv" and contract.csv.delimiter == ",":
        return "\t"
    return contract.csv.delimiter


def _encoding(contract: Contract) -> str:
    # A UTF-8 BOM is not part of the first column's name.
    enc = contract.csv.encoding
    return "utf-8-sig" if enc.lower().replace("_", "-") in ("utf-8", "utf8") else enc


def _header(path: Path, handle: Any, delimiter: str) -> list[str]:
    """The header row, read from the handle's first line."""
    first = handle.readline()
    return _check_header(path, next(csv.reader([first], delimiter=delimiter), None)
                         if first else None)


def _check_header(path: Path, header: list[str] | None) -> list[str]:
    if header is None:
        raise InputError("empty CSV file: no header row", file=str(path))
    if len(set(header)) != len(header):
        dup = [h for h, n in Counter(header).items() if n > 1]
        raise InputError(f"duplicate column names in the header: {dup}", file=str(path),
                         line=1)
    return header


def scan_csv(path: Path, contract: Contract, wanted: dict[str, str | None]) -> Source:
    if os.environ.get("MLCI_CSV_READER", "") not in ("pure", "csv"):
        fast = _scan_csv_arrow(path, contract, wanted)
        if fast is not None:
            return fast
    if os.environ.get("MLCI_CSV_READER", "") != "csv" and \
            csvchild.wanted(path.stat().st_size if path.is_file() else 0):
        # Parsed by a child process while this one goes on (to the reference, say).
        scan = partial(_scan_csv_pure, path, contract, wanted)
        return Source(path, "csv", _read_header(path, contract),
                      pending=csvchild.Pending(path, scan))
    return _scan_csv_pure(path, contract, wanted)


def _read_header(path: Path, contract: Contract) -> list[str]:
    try:
        with open(path, newline="", encoding=_encoding(contract)) as handle:
            return _header(path, handle, _delimiter(path, contract))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=str(path)) from None


def _rows(reader: Any, width: int, path: Path, first: int) -> Iterator[list[list[str]]]:
    """Chunks of rows; the widths are checked a chunk at a time (in C), and an empty line
    is skipped. `first`: the file's line number of the reader's first line, less one."""
    while True:
        start = first + reader.line_num
        chunk = list(islice(reader, ROWS))
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


def _csv_module(lines: Iterator[str] | io.StringIO, first: int, keep: list[tuple[int, str]],
                builders: dict[str, ColumnBuilder], width: int, path: Path,
                delimiter: str) -> int:
    """Rows read by the `csv` module (quoted fields may span lines)."""
    rows = 0
    reader = csv.reader(lines, delimiter=delimiter)
    for chunk in _rows(reader, width, path, first):
        rows += len(chunk)
        columns = list(zip(*chunk, strict=True))
        for i, name in keep:
            builders[name].add_text(columns[i], str(path))
    return rows


def _parse_text(text: str, line: int, builders: dict[str, ColumnBuilder], *,
                keep: list[tuple[int, str]], width: int, path: Path, delimiter: str,
                rewrite: csvfast.NullRewriter) -> int:
    """One chunk of whole lines (no quoted field runs past its end): numpy's reader, or the
    `csv` module where numpy refuses it. `line`: the file's line number before the chunk."""
    got = csvvec.parse_plain(text, keep, width, builders, delimiter, str(path))
    if got is not None:
        return got
    _, quoted_delimiters, ragged = csvfast.layout(text, delimiter, width)
    got = None if ragged else csvfast.parse_chunk(
        text, quoted_delimiters, keep, width, builders, delimiter, rewrite, str(path))
    if got is None:
        got = _csv_module(io.StringIO(text, newline=""), line, keep, builders, width, path,
                          delimiter)
    return got


def _scan_csv_pure(path: Path, contract: Contract, wanted: dict[str, str | None]) -> Source:
    nulls = set(contract.csv.null_values)
    delimiter = _delimiter(path, contract)
    # MLCI_CSV_READER=csv: the csv module only (the reference the fast path is tested against)
    fast = os.environ.get("MLCI_CSV_READER", "") != "csv"
    try:
        with open(path, newline="", encoding=_encoding(contract)) as handle:
            header = _header(path, handle, delimiter)
            keep = [(i, name) for i, name in enumerate(header) if name in wanted]
            builders = {name: ColumnBuilder(name, wanted[name], nulls) for _, name in keep}
            fast = fast and len(header) > 1 and bool(keep)  # one column: a blank line is a row
            parse = partial(_parse_text, keep=keep, width=len(header), path=path,
                            delimiter=delimiter, rewrite=csvfast.NullRewriter(nulls, delimiter))
            rows = _serial(handle, 1, fast=fast, parse=parse, keep=keep, builders=builders,
                           width=len(header), path=path, delimiter=delimiter)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=str(path)) from None
    return Source(path, "csv", header, rows, {n: b.pieces for n, b in builders.items()},
                  {n: b.codes for n, b in builders.items()})


def _serial(handle: Any, line: int, *, fast: bool, parse: ChunkParser,
            keep: list[tuple[int, str]], builders: dict[str, ColumnBuilder], width: int,
            path: Path, delimiter: str) -> int:
    """Rows from the handle on (`line`: the file's line number before it), in this process,
    in blocks of about CHUNK characters of whole lines."""
    rows = 0
    while True:
        text = handle.read(CHUNK)
        if not text:
            return rows
        text += handle.readline()
        if "\r" in text and text.count("\r") != text.count("\r\n"):  # a lone \r ends a line
            count = len(io.StringIO(text, newline="").readlines())
        else:
            count = text.count("\n") + (not text.endswith("\n"))
        text += "" if text.endswith("\n") else "\n"
        if not fast or text.count('"') % 2:
            # A quoted field runs past the block: the csv module reads the rest.
            return rows + _csv_module(chain(io.StringIO(text, newline=""), handle), line, keep,
                                      builders, width, path, delimiter)
        rows += parse(text, line, builders)
        line += count


def _scan_csv_arrow(path: Path, contract: Contract,
                    wanted: dict[str, str | None]) -> Source | None:
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        return None
    if _encoding(contract) != "utf-8-sig" or isinstance(wanted, EveryColumn):
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
                add_arrow(builder, batch.column(name), str(path), from_csv=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, InputError):
        return None  # the pure reader gives the exact message or the cell's type violation
    return Source(path, "csv", header, rows, {n: b.pieces for n, b in builders.items()},
                  {n: b.codes for n, b in builders.items()})
