"""A large CSV file scanned by a forked child process while this one goes on (Linux, when
`MLCI_CSV_WORKERS=2`).

`read_table` for the data and then for the reference each start one: the two files are
parsed at the same time on two cores, and this process only waits when the check needs a
column. The child writes the finished columns to a file in memory (/dev/shm; a pipe would
need a context switch every 64 KB, slow on a busy machine) and says so over a pipe, or
sends the error it met, which is raised here with the same message; a child that dies is
an error too (exit 2), never an empty table. The file is removed once read, or when the
scan is abandoned.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import tempfile
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from mlci.data.validate.sources import Source
from mlci.errors import InputError

MIN_BYTES = 16 << 20  # below, forking and sending back cost more than they save


def wanted(size: int) -> bool:
    """Whether a file of `size` bytes is scanned in a child: only when asked for
    (`MLCI_CSV_WORKERS=2`), on Linux, for a file of at least MIN_BYTES. Not the default:
    it saves wall time on an idle multi-core runner, but costs about 20% more CPU (the
    columns go through a file, two scans share caches) and on a busy machine it was no
    faster (see scripts/bench/validate_data_bench.py)."""
    setting = os.environ.get("MLCI_CSV_WORKERS", "").strip() or "1"
    if not setting.isdigit() or int(setting) < 1:
        raise InputError(f"MLCI_CSV_WORKERS must be a whole number >= 1, not {setting!r}")
    # fork only where it is the platform's default and safe (not macOS, not Windows)
    return int(setting) > 1 and size >= MIN_BYTES and os.name == "posix" and \
        os.uname().sysname == "Linux" and "fork" in multiprocessing.get_all_start_methods()


def _child(scan: Callable[[], Source], send: Connection, path: str, out: str) -> None:
    try:
        source = scan()
    except InputError as exc:
        send.send(("error", exc.message, exc.file, exc.line))
        return
    except Exception as exc:  # noqa: BLE001 - a bug: reported, never an empty table
        send.send(("error", f"cannot read CSV: {type(exc).__name__}: {exc}", path, None))
        return
    try:
        with open(out, "wb") as handle:
            pickle.dump((source.rows, source.csv_pieces, source.csv_codes), handle, protocol=5)
    except OSError:  # a full /dev/shm or disk: the parent reads the file itself
        send.send(("again", None, None, None))
        return
    send.send(("ok", None, None, None))


def _scratch(size: int) -> str | None:
    """The shared-memory directory when it has room for twice the file (a container's is
    often 64 MB), else (None) the temporary directory."""
    shm = "/dev/shm"  # noqa: S108 - mkstemp: a new file only we can read, in memory
    try:
        room = os.statvfs(shm)
    except OSError:
        return None
    enough = room.f_bavail * room.f_frsize > 2 * size and os.access(shm, os.W_OK)
    return shm if enough else None


class Pending:
    """One file's scan in a child; `fill(source)` waits for it and fills the source."""

    def __init__(self, path: Path, scan: Callable[[], Source]) -> None:
        self._scan = scan
        fd, self._out = tempfile.mkstemp(prefix="mlci-csv-", suffix=".pickle",
                                         dir=_scratch(path.stat().st_size))
        os.close(fd)
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process: BaseProcess = context.Process(
            target=_child, args=(scan, send, str(path), self._out), daemon=True)
        self._process.start()
        send.close()
        weakref.finalize(self, _stop, self._process, self._out)

    def fill(self, source: Source) -> None:
        try:
            status, message, file, line = self._receive.recv()
            if status == "error":
                raise InputError(message, file=file, line=line)
            if status == "again":
                done = self._scan()
                rows, pieces, codes = done.rows, done.csv_pieces, done.csv_codes
            else:
                with open(self._out, "rb") as handle:
                    rows, pieces, codes = pickle.load(handle)  # noqa: S301 - our child's file
        except (EOFError, OSError):
            self._process.join(5)
            raise InputError(f"cannot read CSV: the reading process ended (exit code "
                             f"{self._process.exitcode})", file=str(source.path)) from None
        finally:
            self._receive.close()
            _remove(self._out)
        self._process.join()
        source.rows, source.csv_pieces, source.csv_codes = rows, pieces, codes


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _stop(process: BaseProcess, out: str) -> None:
    if process.is_alive():
        process.terminate()
        process.join(5)
    _remove(out)
