"""The router's JSON access log as a metric source, read incrementally.

The cursor is the byte offset after the last line consumed and the file's inode: a tick reads
only what was appended since. A rotated log (new inode) is finished from the rotated file when
it is still next to the log (`access.log.1`, ...), then the new file is read from its start;
a truncated log (same inode, but smaller than the offset or starting with other bytes than
when the cursor was saved) is read from its start. Without a cursor
the first line of the window is found by bisection on the timestamps, not by a full read.

Each line is attributed to the variant the router chose and to the FIRST upstream attempt:
`upstream_status` "502, 200" is a canary failure even if a retry succeeded. Every status
outside 2xx is an error (`mlflow models serve` answers 400 when predict raises), and a
refused connection (502/504 with no upstream answer) counts against the variant it was for.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import IO, Any

from mlci.canary.interfaces import CANARY, STABLE, SourceError, VariantSample, Window

CHUNK = 1 << 20
HEAD = 64   # the log's first bytes, kept in the cursor: a rewritten log starts differently
_SPLIT = re.compile(r"\s*[,:]\s*")


def _first(value: object) -> str:
    """The first attempt of nginx's per-upstream list ("502, 200" or "502 : 200")."""
    text = str(value or "").strip()
    return _SPLIT.split(text, maxsplit=1)[0] if text else ""


def parse(line: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
        float(entry["time"])
    except (ValueError, KeyError, TypeError):
        return None
    return entry if isinstance(entry, dict) else None


def attribute(entry: dict[str, Any], samples: dict[str, VariantSample]) -> None:
    sample = samples.get(str(entry.get("variant", "")))
    if sample is None:
        return  # not a request the split routed (e.g. a health probe)
    first_status = _first(entry.get("upstream_status"))
    status = int(first_status) if first_status.isdigit() else int(entry.get("status", 0))
    sample.requests += 1
    if not 200 <= status < 300:
        sample.errors += 1
    first_time = _first(entry.get("upstream_response_time"))
    try:
        seconds = float(first_time)
    except ValueError:
        seconds = float(entry.get("request_time", 0.0))
    sample.latencies_ms.append(seconds * 1000.0)


class NginxLogSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.bytes_read = 0     # of the last read(), for the tick-cost benchmark

    def read(self, cursor: dict[str, Any], start: float,
             end: float) -> tuple[Window, dict[str, Any]]:
        self.bytes_read = 0
        samples = {STABLE: VariantSample(), CANARY: VariantSample()}
        try:
            status = os.stat(self.path)
            offset = int(cursor.get("offset", -1))
            inode = cursor.get("inode")
            if inode is not None and inode != status.st_ino:
                rotated = self._rotated(int(inode))
                if rotated is not None:
                    with open(rotated, "rb") as old:
                        self._scan(old, offset, start, end, samples)
                offset = 0
            with open(self.path, "rb") as log:
                head = log.read(HEAD)
                self.bytes_read += len(head)
                if offset > status.st_size or not head.startswith(
                        bytes.fromhex(str(cursor.get("head", "")))):
                    offset = 0  # truncated in place (copytruncate), perhaps grown again
                if offset < 0:
                    offset = self._bisect(log, status.st_size, start)
                offset = self._scan(log, offset, start, end, samples)
        except OSError as error:
            raise SourceError(f"cannot read the access log {self.path}: "
                              f"{error.strerror or error}") from None
        window = Window(start=start, end=end, stable=samples[STABLE], canary=samples[CANARY])
        return window, {"offset": offset, "inode": status.st_ino,
                        "head": head[:min(offset, HEAD)].hex()}

    def _scan(self, log: IO[bytes], offset: int, start: float, end: float,
              samples: dict[str, VariantSample]) -> int:
        """Attribute the lines from `offset` with start <= time < end; return the offset of
        the first line not consumed (one at or after `end`, or an incomplete last line)."""
        log.seek(offset)
        pending = b""
        while True:
            chunk = log.read(CHUNK)
            self.bytes_read += len(chunk)
            if not chunk:
                return offset
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                entry = parse(line)
                if entry is not None:
                    moment = float(entry["time"])
                    if moment >= end:
                        return offset
                    if moment >= start:
                        attribute(entry, samples)
                offset += len(line) + 1

    def _line_at(self, log: IO[bytes], position: int) -> tuple[int, float] | None:
        """The first parseable line starting at or after `position`: (offset, time)."""
        if position > 0:
            log.seek(position - 1)
            skipped = log.readline()
            self.bytes_read += len(skipped)
            position += len(skipped) - 1
        else:
            log.seek(0)
        while True:
            line = log.readline()
            self.bytes_read += len(line)
            if not line.endswith(b"\n"):
                return None
            entry = parse(line)
            if entry is not None:
                return position, float(entry["time"])
            position += len(line)

    def _bisect(self, log: IO[bytes], size: int, start: float) -> int:
        """The offset of the first line with time >= start (timestamps grow down the file)."""
        low, high = 0, size
        while low < high:
            middle = (low + high) // 2
            found = self._line_at(log, middle)
            if found is None or found[1] >= start:
                high = middle
            else:
                low = middle + 1
        found = self._line_at(log, low)
        return found[0] if found else size

    def _rotated(self, inode: int) -> Path | None:
        """The rotated file that still has the inode the cursor was reading."""
        folder = self.path.parent
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return None
        for name in names:
            if name != self.path.name and name.startswith(self.path.name):
                candidate = folder / name
                try:
                    if candidate.stat().st_ino == inode:
                        return candidate
                except OSError:
                    continue
        return None
