"""The stat cache: path -> (size, mtime_ns, ctime_ns, inode) and hash, kept in `--cache DIR`.

A file whose stat facts all match its cached row is not read again, so an unchanged tree
costs one stat call per file. The file is plain text, three tab-separated fields a row,
never pickle: a CI cache can be written by another job and must not be able to run code.
A file modified within two seconds before the scan started is not cached: its mtime could
still change within the timestamp's granularity ("racily clean" in git's words), so it is
hashed again next time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

CACHE_NAME = "mlci-data-cache-v1.tsv"
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
        self.rows = dict(zip(fields[0::3], zip(fields[1::3], fields[2::3])))

    def update(self, found: Mapping[str, tuple[str, int, str]], hashes: Mapping[str, str]) -> None:
        """Replace the rows by this scan's files (dropping files no longer there)."""
        racy_after = self.started_ns - RACY_NS
        rows = self.rows
        new: dict[str, tuple[str, str]] = {}
        changed = len(found) != len(rows)
        for key, (_, _, st) in found.items():
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

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(HEADER + self.root + "\n")
            out.writelines(f"{p}\t{s}\t{d}\n" for p, (s, d) in self.rows.items())
        os.replace(tmp, self.path)
        self.dirty = False
