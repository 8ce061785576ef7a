"""Local files: expand paths and globs, walk directories, hash what the stat cache does not know.

Rules (documented in the README):
- every path and glob is relative to the project root (the directory of mlci.yml, else the
  working directory); one that resolves outside the root is refused;
- symbolic links are followed when their target is inside the root (the entry keeps the
  link's path, the hash is the target's content); a link that escapes the root, a broken
  link, or a link cycle is an error;
- directories contribute their files; an empty directory contributes nothing (like git);
  `.git` and `.dvc` directories are skipped;
- a FIFO, socket or device is an error, as is a file that cannot be read: nothing is
  silently left out of a fingerprint.
"""

from __future__ import annotations

import glob
import os
import stat as stat_mod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlci.data import hashing
from mlci.data.cache import StatCache
from mlci.data.manifest import Entry, normalize_path
from mlci.errors import InputError

SKIP_DIRS = frozenset({".git", ".dvc"})
GLOB_CHARS = frozenset("*?[")


# A found file, by its manifest path (relative to the root, POSIX): (path to open, size,
# "size:mtime_ns:ctime_ns:inode"). Plain tuples and strings: a warm check makes 100,000.
Found = tuple[str, int, str]


class Walker:
    def __init__(self, root: Path, exclude: Iterable[Path] = ()) -> None:
        self.root = Path(os.path.realpath(root))
        self.root_str = str(self.root)
        self.exclude = {os.path.realpath(p) for p in exclude}
        self.found: dict[str, Found] = {}

    # -- helpers ---------------------------------------------------------------------------
    def _inside(self, real: str) -> bool:
        return real == self.root_str or real.startswith(self.root_str.rstrip(os.sep) + os.sep)

    def _key(self, abspath: str) -> str:
        return normalize_path(os.path.relpath(abspath, self.root_str))

    def _check_link(self, abspath: str, shown: str) -> str:
        real = os.path.realpath(abspath)
        if not self._inside(real):
            raise InputError(f"{shown!r} is a symbolic link to {real}, outside the project "
                             f"root {self.root_str}; links must stay inside the root",
                             key="data.paths")
        if not os.path.exists(real):
            raise InputError(f"{shown!r} is a broken symbolic link (to {real})",
                             key="data.paths")
        return real

    # -- expansion -------------------------------------------------------------------------
    def add_pattern(self, pattern: str) -> int:
        """Add every file that `pattern` names; returns how many it matched."""
        given = pattern
        pattern = os.path.expanduser(pattern)
        absolute = pattern if os.path.isabs(pattern) else os.path.join(self.root_str, pattern)
        lexical = os.path.normpath(absolute)
        if not self._inside(lexical) and not self._inside(os.path.realpath(lexical)):
            raise InputError(f"{given!r} is outside the project root {self.root_str}",
                             key="data.paths")
        if GLOB_CHARS & set(pattern):
            matches = sorted(glob.glob(lexical, recursive=True))
        else:
            matches = [lexical] if os.path.lexists(lexical) else []
        if not matches:
            raise InputError(f"{given!r} matches no file or directory (relative to "
                             f"{self.root_str})", key="data.paths")
        before = len(self.found)
        for match in matches:
            self._add(match, given)
        return len(self.found) - before

    def _add(self, abspath: str, given: str) -> None:
        abspath = os.path.normpath(abspath)
        # The path as named must not leave the root through a symlinked parent either.
        real = os.path.realpath(abspath)
        if not self._inside(real):
            raise InputError(f"{given!r}: {self._key(abspath)} resolves to {real}, outside "
                             f"the project root {self.root_str}", key="data.paths")
        if real in self.exclude:
            return
        if not os.path.exists(real):
            raise InputError(f"{self._key(abspath)!r} is a broken symbolic link",
                             key="data.paths")
        if os.path.isdir(real):
            self._walk(abspath, real, {real})
        else:
            self._file(abspath, real)

    def _file(self, abspath: str, real: str, key: str | None = None) -> None:
        key = key or self._key(abspath)
        try:
            st = os.stat(real)
        except OSError as exc:
            raise InputError(f"{key!r}: cannot stat: {exc.strerror}", key="data.paths") from None
        if not stat_mod.S_ISREG(st.st_mode):
            raise InputError(f"{key!r} is not a regular file (a FIFO, socket or device "
                             "cannot be fingerprinted)", key="data.paths")
        self.found[key] = (real, st.st_size,
                           f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}")

    def _walk(self, abspath: str, real_dir: str, ancestors: set[str]) -> None:
        """Walk a directory tree on one thread. A thread pool was measured slower on every
        path (100k files: warm check 2.5 s vs 1.3 s, cold 16.9 s vs 12.4 s): the per-file
        Python work holds the GIL, and the lock hand-offs cost more than the stat calls
        they were meant to overlap."""
        stack = [(abspath, self._key(abspath), ancestors)]
        while stack:
            files, subdirs = self._scan(*stack.pop())
            self.found.update(files)
            stack.extend(subdirs)

    def _scan(self, dirpath: str, prefix: str, seen: set[str]
              ) -> tuple[list[tuple[str, Found]], list[tuple[str, str, set[str]]]]:
        """One directory: its regular files, and its subdirectories to scan. The hot loop of
        a warm check, so kept lean: one lstat per regular file, nothing else."""
        exclude = self.exclude
        files: list[tuple[str, Found]] = []
        subdirs: list[tuple[str, str, set[str]]] = []
        prefix = prefix + "/" if prefix else ""
        try:
            with os.scandir(dirpath) as it:
                entries = list(it)
        except OSError as exc:
            raise InputError(f"{prefix or '.'!r}: cannot list directory: {exc.strerror}",
                             key="data.paths") from None
        append = files.append
        try:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):  # a regular file (from d_type)
                    name = entry.name
                    path = entry.path
                    if exclude and path in exclude:
                        continue
                    st = entry.stat(follow_symlinks=False)
                    append((prefix + name if name.isascii() else prefix + normalize_path(name),
                            (path, st.st_size,
                             f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}")))
                else:
                    self._other(entry, prefix, seen, subdirs)
        except OSError as exc:
            raise InputError(f"{prefix + entry.name!r}: {exc.strerror}",
                             key="data.paths") from None
        return files, subdirs

    def _other(self, entry: os.DirEntry[str], prefix: str, seen: set[str],
               stack: list[tuple[str, str, set[str]]]) -> None:
        name = entry.name
        if name in SKIP_DIRS:
            return
        key = prefix + normalize_path(name)
        path = entry.path
        if entry.is_symlink():
            real = self._check_link(path, key)
            if real in self.exclude:
                return
            if os.path.isdir(real):
                if real in seen:
                    raise InputError(f"{key!r} is a symbolic link cycle (to {real})",
                                     key="data.paths")
                stack.append((path, key, seen | {real}))
            else:
                self._file(path, real, key=key)
        elif entry.is_dir(follow_symlinks=False):
            if path not in self.exclude:
                stack.append((path, key, seen | {path}))
        else:
            raise InputError(f"{key!r} is not a regular file (a FIFO, socket or device "
                             "cannot be fingerprinted)", key="data.paths")


# The one place hashing is asked for; tests patch it to count calls.
def hash_files(jobs: Sequence[hashing.HashJob],
               progress: Callable[[int, int], None] | None = None) -> dict[str, str]:
    return hashing.hash_files(jobs, progress=progress)


@dataclass
class LocalResult:
    entries: list[Entry]
    hashed_files: int
    hashed_bytes: int
    cached_files: int


def fingerprint_paths(patterns: Sequence[str], root: Path, *, cache_dir: Path | None = None,
                      exclude: Iterable[Path] = (), show_progress: bool = True) -> LocalResult:
    walker = Walker(root, exclude=[*exclude, *([cache_dir] if cache_dir else [])])
    for pattern in patterns:
        walker.add_pattern(pattern)
    cache = StatCache(cache_dir, walker.root)
    hashes: dict[str, str] = {}
    jobs: list[hashing.HashJob] = []
    rows = cache.rows
    get = rows.get
    for key, (path, size, st) in walker.found.items():
        row = get(key)
        if row is not None and row[0] == st:
            hashes[key] = row[1]
        else:
            jobs.append(hashing.HashJob(key, path, size))
    cached_files = len(walker.found) - len(jobs)
    hashed_bytes = sum(j.size for j in jobs)
    if jobs:
        bar = hashing.Progress(len(jobs), hashed_bytes) if show_progress else None
        try:
            hashes.update(hash_files(jobs, progress=bar.update if bar else None))
        finally:
            if bar:
                bar.close()
    if cache_dir is not None and (jobs or len(walker.found) != len(rows)):
        cache.update(walker.found, hashes)
        cache.save()
    entries = [Entry(k, v[1], hashes[k]) for k, v in walker.found.items()]
    return LocalResult(entries, len(jobs), hashed_bytes, cached_files)
