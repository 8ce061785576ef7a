"""A large CSV file scanned by a forked child process while this one goes on (Linux).

`read_table` for the data and then for the reference each start one: the two files are
parsed at the same time on two cores, and this process only waits when the check needs a
column. The child sends the finished columns back one at a time over a pipe (so neither
process holds a second copy of a whole table), or the error it met, which is raised here
with the same message; a child that dies is an error too (exit 2), never an empty table.
"""

from __future__ import annotations

import multiprocessing
import os
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from mlci.data.validate.sources import Source
from mlci.errors import InputError

MIN_BYTES = 16 << 20  # below, forking and sending back cost more than they save


def wanted(size: int) -> bool:
    """Whether a file of `size` bytes is scanned in a child (`MLCI_CSV_WORKERS=1`: never)."""
    setting = os.environ.get("MLCI_CSV_WORKERS", "").strip()
    if setting and (not setting.isdigit() or int(setting) < 1):
        raise InputError(f"MLCI_CSV_WORKERS must be a whole number >= 1, not {setting!r}")
    if setting:
        return int(setting) > 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    # fork only where it is the platform's default and safe (not macOS, not Windows)
    return size >= MIN_BYTES and cores > 1 and \
        "fork" in multiprocessing.get_all_start_methods() and os.name == "posix" and \
        os.uname().sysname == "Linux"


def _child(scan: Callable[[], Source], send: Connection, path: str) -> None:
    try:
        source = scan()
    except InputError as exc:
        send.send(("error", exc.message, exc.file, exc.line))
        return
    except Exception as exc:  # noqa: BLE001 - a bug: reported, never an empty table
        send.send(("error", f"cannot read CSV: {type(exc).__name__}: {exc}", path, None))
        return
    send.send(("ok", source.rows, list(source.csv_pieces), None))
    for name in list(source.csv_pieces):
        send.send((source.csv_pieces.pop(name), source.csv_codes.pop(name, {})))
    send.close()


class Pending:
    """One file's scan in a child; `fill(source)` waits for it and fills the source."""

    def __init__(self, path: Path, scan: Callable[[], Source]) -> None:
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process: BaseProcess = context.Process(target=_child, args=(scan, send, str(path)),
                                                     daemon=True)
        self._process.start()
        send.close()
        weakref.finalize(self, _stop, self._process)

    def fill(self, source: Source) -> None:
        try:
            status, first, second, line = self._receive.recv()
            if status == "error":
                raise InputError(first, file=second, line=line)
            pieces: dict[str, Any] = {}
            codes: dict[str, Any] = {}
            for name in second:
                pieces[name], codes[name] = self._receive.recv()
        except (EOFError, OSError):
            self._process.join(5)
            raise InputError(f"cannot read CSV: the reading process ended (exit code "
                             f"{self._process.exitcode})", file=str(source.path)) from None
        finally:
            self._receive.close()
        self._process.join()
        source.rows, source.csv_pieces, source.csv_codes = first, pieces, codes


def _stop(process: BaseProcess) -> None:
    if process.is_alive():
        process.terminate()
        process.join(5)
