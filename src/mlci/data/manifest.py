"""The manifest of a data snapshot and its fingerprint.

An entry is (path, size, hash). `path` is a POSIX path relative to the project root for
local files and DVC outputs, or `s3://bucket/key` for objects; `hash` names its algorithm
(`sha256:`, `sha256-c32m:` for files hashed in 32 MiB chunks, `md5:` for DVC 3 hashes,
`md5-dos2unix:` for DVC 2 hashes, `etag:` for S3 objects). The fingerprint is the SHA-256 of
the entries sorted by path, one `path NUL size NUL hash LF` record each, so it depends on
neither the order files were found in, nor the path separator, nor the machine.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from mlci.errors import InputError

MANIFEST_VERSION = 1
FINGERPRINT_PREFIX = "sha256:"


def normalize_path(path: str) -> str:
    """One spelling per path: `/` separators, no `./`, NFC Unicode (macOS writes NFD)."""
    if path.startswith("s3://"):
        return unicodedata.normalize("NFC", path)
    if os.sep != "/":
        path = path.replace(os.sep, "/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return unicodedata.normalize("NFC", "/".join(parts))


class Entry(NamedTuple):
    path: str
    size: int
    hash: str
    # Extra facts kept in the manifest but not in the fingerprint (S3 version ids, DVC
    # nfiles, where an entry came from).
    extra: Mapping[str, Any] | None = None

    def record(self) -> bytes:
        return f"{self.path}\0{self.size}\0{self.hash}\n".encode()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "size": self.size, "hash": self.hash}
        if self.extra:
            out.update(self.extra)
        return out


def fingerprint(entries: Iterable[Entry]) -> str:
    digest = hashlib.sha256()
    ordered = sorted(entries, key=itemgetter(0))
    digest.update(b"".join(f"{e.path}\0{e.size}\0{e.hash}\n".encode() for e in ordered))
    return FINGERPRINT_PREFIX + digest.hexdigest()


def _source(entry: Entry) -> str:
    return str((entry.extra or {}).get("source", "local files"))


def _sorted_unique(entries: Iterable[Entry]) -> list[Entry]:
    ordered = sorted(entries, key=itemgetter(0))
    paths = [e[0] for e in ordered]
    if len(set(paths)) != len(paths):
        for first, entry in itertools.pairwise(ordered):
            if first.path == entry.path:
                raise InputError(
                    f"{entry.path!r} is listed twice in the data snapshot "
                    f"(from {_source(first)} and {_source(entry)}); list each file once, "
                    "e.g. do not give a DVC output also under --paths", key="data")
    return ordered


class Manifest:
    """A snapshot's entries, sorted by path (each path once), and its fingerprint."""

    def __init__(self, entries: Iterable[Entry], sources: Iterable[str] = ()) -> None:
        self._entries: list[Entry] | None = _sorted_unique(entries)
        self._load: Callable[[], Iterable[Entry]] | None = None
        self.sources = list(sources)
        self._fingerprint: str | None = None
        self._files = len(self._entries)
        self._bytes: int | None = None

    @classmethod
    def deferred(cls, fingerprint: str, files: int, total_size: int, *,
                 load: Callable[[], Iterable[Entry]], sources: Iterable[str] = ()) -> Manifest:
        """A manifest known by its fingerprint and totals, its entries built by `load` only
        if they are asked for (a warm check of an unchanged tree never asks)."""
        manifest = cls([], sources)
        manifest._entries, manifest._load = None, load
        manifest._fingerprint, manifest._files, manifest._bytes = fingerprint, files, total_size
        return manifest

    @property
    def entries(self) -> list[Entry]:
        if self._entries is None:
            assert self._load is not None
            entries = _sorted_unique(self._load())
            actual = fingerprint(entries)
            if actual != self._fingerprint:
                raise InputError(f"the stat cache recorded fingerprint {self._fingerprint} "
                                 f"for this tree, its rows give {actual}: the cache is "
                                 "damaged; delete the --cache directory", key="--cache")
            self._entries = entries
        return self._entries

    @property
    def files(self) -> int:
        return self._files

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.entries)
        return self._fingerprint

    @property
    def total_size(self) -> int:
        if self._bytes is None:
            self._bytes = sum(e.size for e in self.entries)
        return self._bytes

    def by_path(self) -> dict[str, Entry]:
        return {e.path: e for e in self.entries}

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "fingerprint": self.fingerprint,
            "files": len(self.entries),
            "bytes": self.total_size,
            "sources": self.sources,
            "entries": [e.to_json() for e in self.entries],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n"

    def write(self, path: Path) -> None:
        from mlci.fileio import write_atomic

        write_atomic(path, self.dumps(), what="the manifest", key="--write")

    @classmethod
    def from_json(cls, data: Any, *, origin: str) -> Manifest:
        """Parse a manifest written by `--write` (or recorded on a model version)."""
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise InputError("not an mlci data manifest: expected a JSON object with "
                             "an 'entries' list", file=origin)
        version = data.get("version")
        if version != MANIFEST_VERSION:
            raise InputError(f"unsupported manifest version {version!r} "
                             f"(this mlci reads version {MANIFEST_VERSION})",
                             file=origin, key="version")
        entries = []
        for i, raw in enumerate(data["entries"]):
            try:
                path, size, digest = raw["path"], raw["size"], raw["hash"]
                if not (isinstance(path, str) and isinstance(size, int)
                        and isinstance(digest, str)):
                    raise TypeError
            except (KeyError, TypeError):
                raise InputError("expected {path: string, size: integer, hash: string}",
                                 file=origin, key=f"entries[{i}]") from None
            extra = ({k: v for k, v in raw.items() if k not in ("path", "size", "hash")}
                     if len(raw) > 3 else None)
            if not path.isascii() or "//" in path or "./" in path or "\\" in path \
                    or path.startswith("/"):
                path = normalize_path(path)
            entries.append(Entry(path, size, digest, extra or None))
        manifest = cls(entries, list(data.get("sources") or []))
        recorded = data.get("fingerprint")
        if recorded is not None and recorded != manifest.fingerprint:
            raise InputError(f"recorded fingerprint {recorded} does not match its entries "
                             f"({manifest.fingerprint}); the file was edited or is corrupt",
                             file=origin, key="fingerprint")
        return manifest

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("manifest file not found (write one with "
                             "`mlci data-change --write FILE`)", file=str(path)) from None
        except OSError as exc:
            raise InputError(f"cannot read manifest: {exc.strerror}", file=str(path)) from None
        except UnicodeDecodeError:
            raise InputError("not an mlci data manifest: the file is not UTF-8 text (binary?)",
                             file=str(path)) from None
        return cls.loads(text, origin=str(path))

    @classmethod
    def loads(cls, text: str, *, origin: str) -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=origin, line=exc.lineno) from None
        return cls.from_json(data, origin=origin)
