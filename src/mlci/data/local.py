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
import hashlib
import os
import re
import stat as stat_mod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from mlci.data import forked, hashing
from mlci.data.cache import StatCache, TreeSummary, drop_summary, read_summary, write_summary
from mlci.data.manifest import Entry, Manifest, normalize_path
from mlci.errors import InputError

SKIP_DIRS = frozenset({".git", ".dvc"})
GLOB_CHARS = frozenset("*?[")

# A directory still to scan: (path, manifest path, real paths of the directories above it).
Pending = tuple[str, str, set[str]]


class Walker:
    """Finds the files that patterns name. `found` maps each manifest path (relative to the
    root, POSIX) to its stat facts "size:mtime_ns:ctime_ns:inode", in walk order; `paths`
    holds the path to open only where it is not root/<manifest path> (symbolic links,
    names spelled otherwise on disk). Plain strings: a warm check makes 100,000."""

    def __init__(self, root: Path, exclude: Iterable[Path] = ()) -> None:
        self.root = Path(os.path.realpath(root))
        self.root_str = str(self.root)
        self.root_prefix = self.root_str.rstrip(os.sep) + os.sep
        self.exclude = {os.path.realpath(p) for p in exclude}
        self.exclude_names = {os.path.basename(p) for p in self.exclude}
        self.found: dict[str, str] = {}
        self.paths: dict[str, str] = {}

    def path_of(self, key: str) -> str:
        return self.paths.get(key) or self.root_prefix + key

    def size_of(self, key: str) -> int:
        return int(self.found[key].split(":", 1)[0])

    def _listing(self) -> str:
        """The files and the paths kept, as NUL-separated pairs, the two parts separated by
        an empty field (no name holds a NUL, none is empty). Joined in C: no per-file work."""
        return "\0\0".join("\0".join(chain.from_iterable(d.items()))
                            for d in (self.found, self.paths))

    def digest(self) -> str:
        """What the walk saw (every file with its stat facts, in walk order): equal digests
        mean no file was added, removed, renamed or modified since."""
        return hashlib.sha256(f"{self.root_str}\n{self._listing()}".encode(
            "utf-8", "surrogateescape")).hexdigest()

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
        self.found[key] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
        if real != self.root_prefix + key:
            self.paths[key] = real

    def _walk(self, abspath: str, real_dir: str, ancestors: set[str]) -> None:
        """Walk a directory tree. The first levels are scanned here until there are two or
        more subdirectories; those are then split in two halves (alternate ones), the
        second walked by a forked child when that is available (see mlci.data.forked).
        Either way files are recorded in the same order: the listing digest must not
        depend on the machine's CPU count. (A thread pool was measured slower than one
        thread: the per-file Python work holds the GIL.)"""
        frontier: list[Pending] = [(abspath, self._key(abspath), ancestors)]
        while len(frontier) == 1:
            subdirs: list[Pending] = []
            self._scan(*frontier[0], subdirs)
            frontier = subdirs
        first, second = frontier[0::2], frontier[1::2]
        child = forked.Child(lambda: self._walk_apart(second)) \
            if len(second) >= 1 and forked.available() else None
        try:
            self._walk_all(first)
        except BaseException:
            if child is not None:
                child.abandon()
            raise
        data = child.result() if child is not None else None
        if data is None:
            self._walk_all(second)
            return
        found, _, paths = data.decode("utf-8", "surrogateescape").partition("\0\0")
        for target, text in ((self.found, found), (self.paths, paths)):
            fields = text.split("\0") if text else []
            target.update(zip(fields[0::2], fields[1::2], strict=False))

    def _walk_all(self, pending: list[Pending]) -> None:
        for item in pending:
            stack = [item]
            while stack:
                self._scan(*stack.pop(), stack)

    def _walk_apart(self, pending: list[Pending]) -> bytes:
        """In the child: walk `pending` alone and return its listing."""
        self.found, self.paths = {}, {}
        self._walk_all(pending)
        return self._listing().encode("utf-8", "surrogateescape")

    def _scan(self, dirpath: str, prefix: str, seen: set[str], stack: list[Pending]) -> None:
        """One directory: record its regular files, push its subdirectories. The hot loop
        of a warm check, so kept lean: one lstat and one string per regular file."""
        found = self.found
        exclude_names = self.exclude_names
        prefix = prefix + "/" if prefix else ""
        # Where the directory is root/<prefix>, a file's path need not be kept.
        direct = dirpath + os.sep == self.root_prefix + prefix.replace("/", os.sep) \
            if prefix else dirpath == self.root_str
        try:
            with os.scandir(dirpath) as it:
                entries = list(it)
        except OSError as exc:
            raise InputError(f"{prefix or '.'!r}: cannot list directory: {exc.strerror}",
                             key="data.paths") from None
        try:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):  # a regular file (from d_type)
                    name = entry.name
                    if name in exclude_names and entry.path in self.exclude:
                        continue
                    st = entry.stat(follow_symlinks=False)
                    facts = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
                    if direct and name.isascii():
                        found[prefix + name] = facts
                    else:
                        key = prefix + normalize_path(name)
                        found[key] = facts
                        if entry.path != self.root_prefix + key:
                            self.paths[key] = entry.path
                else:
                    self._other(entry, prefix, seen, stack)
        except OSError as exc:
            raise InputError(f"{prefix + entry.name!r}: {exc.strerror}",
                             key="data.paths") from None

    def _other(self, entry: os.DirEntry[str], prefix: str, seen: set[str],
               stack: list[Pending]) -> None:
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
    """The files found, as a manifest, and how their hashes were had. When the stat cache's
    tree summary vouched for the whole tree, the manifest is deferred: its fingerprint and
    totals are known, its entries built (from the cache, hashing nothing) only if asked for."""

    manifest: Manifest
    hashed_files: int
    hashed_bytes: int
    cached_files: int

    @property
    def entries(self) -> list[Entry]:
        return self.manifest.entries


def fingerprint_paths(patterns: Sequence[str], root: Path, *, cache_dir: Path | None = None,
                      exclude: Iterable[Path] = (), show_progress: bool = True) -> LocalResult:
    walker = Walker(root, exclude=[*exclude, *([cache_dir] if cache_dir else [])])
    for pattern in patterns:
        walker.add_pattern(pattern)
    _refuse_undecodable_names(walker)
    if cache_dir is None:
        return _hash(walker, None, show_progress)
    digest = walker.digest()
    known = read_summary(cache_dir, walker.root_str)
    if known is not None and known.listing == digest and known.files == len(walker.found):
        # Nothing added, removed or modified since the cache recorded this very tree.
        manifest = Manifest.deferred(
            known.fingerprint, known.files, known.bytes,
            load=lambda: _hash(walker, cache_dir, False, digest).entries)
        return LocalResult(manifest, 0, 0, known.files)
    return _hash(walker, cache_dir, show_progress, digest)


def _hash(walker: Walker, cache_dir: Path | None, show_progress: bool,
          digest: str | None = None) -> LocalResult:
    """Hash what the stat cache does not vouch for, then bring the cache up to date."""
    found = walker.found
    cache = StatCache(cache_dir, walker.root)
    hashes: dict[str, str] = {}
    jobs: list[hashing.HashJob] = []
    get = cache.rows.get
    for key, facts in found.items():
        row = get(key)
        if row is not None and row[0] == facts:
            hashes[key] = row[1]
        else:
            jobs.append(hashing.HashJob(key, walker.path_of(key), walker.size_of(key)))
    hashed_bytes = sum(j.size for j in jobs)
    if jobs:
        bar = hashing.Progress(len(jobs), hashed_bytes) if show_progress else None
        try:
            hashes.update(hash_files(jobs, progress=bar.update if bar else None))
        finally:
            if bar:
                bar.close()
    if jobs and _rehash_changed(walker, jobs, hashes):
        digest = None   # the walk's listing is stale: no tree summary from it
    size_of = walker.size_of
    manifest = Manifest([Entry(k, size_of(k), hashes[k]) for k in found])
    if cache_dir is not None:
        drop_summary(cache_dir)  # never left describing a tree the rows no longer match
        complete = cache.update(found, hashes)
        cache.save()
        if complete and digest is not None:
            write_summary(cache_dir, walker.root_str, TreeSummary(
                digest, manifest.fingerprint, manifest.files, manifest.total_size))
    return LocalResult(manifest, len(jobs), hashed_bytes, len(found) - len(jobs))


_UNDECODABLE = re.compile("[\udc80-\udcff]")   # bytes that were not UTF-8 (surrogateescape)


def _refuse_undecodable_names(walker: Walker) -> None:
    """Manifests, reports and fingerprints are UTF-8 text: a file name that is not UTF-8 would
    make each of them fail differently. One regex over the whole listing, in C."""
    if not _UNDECODABLE.search(walker._listing()):
        return
    bad = [key for key in walker.found if _UNDECODABLE.search(key)]
    from mlci.escape import shown

    names = ", ".join(shown(key.encode("utf-8", "surrogateescape")
                            .decode("utf-8", "backslashreplace")) for key in bad[:5])
    raise InputError(f"{len(bad)} data file name(s) are not valid UTF-8 ({names}): rename them; "
                     "mlci's manifests and reports are UTF-8", key="data.paths")


STABLE_TRIES = 3


def _facts(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _rehash_changed(walker: Walker, jobs: Sequence[hashing.HashJob],
                    hashes: dict[str, str]) -> bool:
    """A file written while it was hashed gives a digest of neither its old nor its new
    content. Stat every hashed file again: one that changed since the walk is hashed again
    between two equal stats (a few tries), or the fingerprint is refused. True if any was."""
    changed = [job for job in jobs if _facts(job.path) != walker.found[job.key]]
    for job in changed:
        for _ in range(STABLE_TRIES):
            before = _facts(job.path)
            if before is None:
                break
            size = int(before.split(":", 1)[0])
            digest = hash_files([hashing.HashJob(job.key, job.path, size)])[job.key]
            if _facts(job.path) == before:
                walker.found[job.key], hashes[job.key] = before, digest
                break
        else:
            before = None
        if before is None:
            raise InputError(f"{job.key!r} changed while it was being hashed, "
                             f"{STABLE_TRIES} times: is something still writing the data? "
                             "No fingerprint is recorded for a file in flux",
                             key="data.paths")
    return bool(changed)

