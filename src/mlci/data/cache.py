"""The stat cache: path -> (size, mtime_ns, ctime_ns, inode) and hash, kept in `--cache DIR`,
and the summary of the last tree it saw whole.

A file whose stat facts all match its cached row is not read again, so an unchanged tree
costs one stat call per file. The file is plain text, three tab-separated fields a row,
never pickle: a CI cache can be written by another job and must not be able to run code.
A file modified within two seconds before the scan started is not cached: its mtime could
still change within the timestamp's granularity ("racily clean" in git's words), so it is
hashed again next time.

The summary (a small JSON file) holds the digest of the last walk's listing (every path with
its stat facts) and that tree's fingerprint, file count and size. A walk whose listing has
the same digest is the same tree, so its fingerprint is known without loading the rows,
building entries or sorting: a warm check of an unchanged tree is the walk and little more.
It is written only when every file of the tree got its row (no racily recent file).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

CACHE_NAME = "mlci-data-cache-v1.tsv"
SUMMARY_NAME = "mlci-data-tree-v1.json"
HEADER = "# mlci data-change stat cache v1\t"
RACY_NS = 2_000_000_000


class StatCache:
    def __init__(self, directory: Path | None, root: Path) -> None:
        self.path = directory / CACHE_NAME if directory else None
        self.root = str(root)
        # path -> ("size:mtime_ns:ctime_ns:inode", hash)
        self.rows: dict[str, tuple[str, str]] = {}
        self.dirty = False
        self.started_ns = time.time_ns()
        if self.path is not None:
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.dirty = True
            return
        except (OSError, UnicodeDecodeError):
            self.dirty = True  # a corrupt cache only costs a rehash
            return
        header, _, body = text.partition("\n")
        if header != HEADER + self.root:
            self.dirty = True  # another root or format: start over
            return
        fields = body.replace("\n", "\t").split("\t")
        if fields and fields[-1] == "":
            fields.pop()
        if len(fields) % 3:
            self.dirty = True
            return
        self.rows = dict(zip(fields[0::3], zip(fields[1::3], fields[2::3], strict=True),
                             strict=True))

    def update(self, found: Mapping[str, str], hashes: Mapping[str, str]) -> bool:
        """Replace the rows by this scan's files (dropping files no longer there); True when
        every file got its row (none was too recent to trust)."""
        racy_after = self.started_ns - RACY_NS
        rows = self.rows
        new: dict[str, tuple[str, str]] = {}
        changed = len(found) != len(rows)
        for key, st in found.items():
            row = (st, hashes[key])
            old = rows.get(key)
            if old == row:
                new[key] = row
                continue
            changed = True
            if "\t" in key or "\n" in key or "\r" in key:
                continue
            if int(st.rsplit(":", 3)[1]) >= racy_after:
                continue
            new[key] = row
        if changed:
            self.rows = new
            self.dirty = True
        return len(new) == len(found)

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        from mlci.fileio import write_atomic

        def rows(out: TextIO) -> None:
            out.write(HEADER + self.root + "\n")
            out.writelines(f"{p}\t{s}\t{d}\n" for p, (s, d) in self.rows.items())

        write_atomic(self.path, rows, what="the stat cache", key="--cache")
        self.dirty = False


@dataclass(frozen=True)
class TreeSummary:
    listing: str       # SHA-256 of the walk's listing (Walker.digest)
    fingerprint: str
    files: int
    bytes: int


_HEX64 = re.compile(r"[0-9a-f]{64}")


def read_summary(directory: Path, root: str) -> TreeSummary | None:
    """The summary for `root`, or None when there is none or it is not well-formed (a
    damaged cache only costs the slow path)."""
    try:
        data = json.loads((directory / SUMMARY_NAME).read_text(encoding="utf-8"))
        summary = TreeSummary(data["listing"], data["fingerprint"], data["files"],
                              data["bytes"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if data.get("root") != root or not isinstance(summary.listing, str) \
            or not _HEX64.fullmatch(summary.listing) or not isinstance(summary.fingerprint, str) \
            or not summary.fingerprint.startswith("sha256:") \
            or not _HEX64.fullmatch(summary.fingerprint[7:]) \
            or type(summary.files) is not int or type(summary.bytes) is not int:
        return None
    return summary


def write_summary(directory: Path, root: str, summary: TreeSummary) -> None:
    from mlci.fileio import write_atomic

    write_atomic(directory / SUMMARY_NAME,
                 json.dumps({"root": root, "listing": summary.listing,
                             "fingerprint": summary.fingerprint, "files": summary.files,
                             "bytes": summary.bytes}) + "\n", what="the stat cache", key="--cache")


def drop_summary(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (directory / SUMMARY_NAME).unlink()
