"""Chunks of a large CSV file parsed by worker processes (the pure reader, on Linux).

numpy's text reader holds the GIL, so threads would not help: the chunks of a file go, in
order, to a small pool of forked processes, each returning the chunk's column pieces; the
reading process merges them in the file's order, so the result is the serial read's. At most
`2 x workers` chunks are in flight, which bounds the memory. `MLCI_CSV_WORKERS=1` reads
serially; a file under `MIN_BYTES` is always read serially (forking costs more than it saves).
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

import numpy as np

from mlci.data.validate.columns import ColumnBuilder, Piece
from mlci.errors import InputError

MIN_BYTES = 16 << 20
MAX_WORKERS = 2  # CI runners have 2 to 4 cores; more workers mostly add transfer

# (rows, {column: (pieces, its text codes in order)}) or the error to raise in the parent
Parsed = tuple[int, dict[str, tuple[list[Piece], list[str]]]]
Outcome = tuple[str, Any, Any, Any]
ChunkParser = Callable[[str, int, dict[str, ColumnBuilder]], int]

_parse: ChunkParser | None = None
_columns: list[tuple[str, str | None, set[str]]] = []


def workers(path: Path) -> int:
    """How many processes parse this file (1: serially, in this process)."""
    setting = os.environ.get("MLCI_CSV_WORKERS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise InputError(f"MLCI_CSV_WORKERS must be a whole number >= 1, not {setting!r}")
        wanted = int(setting)
    else:
        wanted = min(MAX_WORKERS, len(os.sched_getaffinity(0))) \
            if hasattr(os, "sched_getaffinity") else 1
        if path.stat().st_size < MIN_BYTES:
            return 1
    # fork only where it is the platform's safe default (not macOS, not Windows)
    if wanted < 2 or not sys.platform.startswith("linux") or \
            "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return wanted


def _init(parse: ChunkParser, columns: list[tuple[str, str | None, set[str]]]) -> None:
    global _parse, _columns
    _parse, _columns = parse, columns


def _work(text: str, line: int) -> Outcome:
    """In a worker: one chunk into fresh builders."""
    assert _parse is not None
    builders = {name: ColumnBuilder(name, declared, nulls) for name, declared, nulls in _columns}
    try:
        rows = _parse(text, line, builders)
    except InputError as exc:  # sent back as data: its keyword fields do not pickle
        return ("error", exc.message, exc.file, exc.line)
    except csv.Error as exc:
        return ("csv", str(exc), None, None)
    return ("ok", rows, {n: (b.pieces, list(b.codes)) for n, b in builders.items()}, None)


class ChunkPool:
    """Submits chunks in order and merges the parsed ones into the file's builders."""

    def __init__(self, count: int, parse: ChunkParser, builders: dict[str, ColumnBuilder]):
        columns = [(n, b.declared, b.nulls) for n, b in builders.items()]
        context = multiprocessing.get_context("fork")
        self.pool: Pool = context.Pool(count, _init, (parse, columns))
        self.builders = builders
        self.limit = 2 * count
        self.pending: deque[AsyncResult[Outcome]] = deque()
        self.rows = 0

    def __enter__(self) -> ChunkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.terminate()
        self.pool.join()

    def submit(self, text: str, line: int) -> None:
        if len(self.pending) >= self.limit:
            self._merge(self.pending.popleft().get())
        self.pending.append(self.pool.apply_async(_work, (text, line)))

    def drain(self) -> int:
        """Merge every chunk in flight; the rows parsed so far."""
        while self.pending:
            self._merge(self.pending.popleft().get())
        return self.rows

    def _merge(self, outcome: Outcome) -> None:
        status, first, second, line = outcome
        if status == "error":
            raise InputError(first, file=second, line=line)
        if status == "csv":
            raise csv.Error(first)
        self.rows += first
        for name, (pieces, texts) in second.items():
            builder = self.builders[name]
            codes = builder.codes
            remap = np.array([codes.setdefault(t, len(codes)) for t in texts] or [0],
                             dtype=np.int32)
            for piece in pieces:
                if piece.kind == "codes":
                    piece = Piece("codes", remap[piece.values], piece.null, piece.source)
                builder.pieces.append(piece)
