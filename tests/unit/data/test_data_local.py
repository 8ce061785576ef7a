"""Local paths: walking, symlinks, the root boundary, unreadable files, parallel hashing,
and the stat cache."""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from mlci.data import hashing, local
from mlci.data.diff import diff
from mlci.data.local import fingerprint_paths
from mlci.data.manifest import Manifest
from mlci.errors import InputError

pytestmark = pytest.mark.unit


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write(tmp_path / "data/train/a.csv", "x,y\n1,2\n")
    write(tmp_path / "data/train/b.csv", "x,y\n3,4\n")
    write(tmp_path / "data/holdout/c.parquet", b"\x00PAR1")
    return tmp_path


def manifest(root: Path, patterns: Sequence[str] = ("data",), **kw: object) -> Manifest:
    return Manifest(fingerprint_paths(list(patterns), root, show_progress=False,
                                      **kw).entries)  # type: ignore[arg-type]


def test_files_are_listed_relative_to_the_root_with_sha256(tree: Path) -> None:
    m = manifest(tree)
    assert [e.path for e in m.entries] == ["data/holdout/c.parquet", "data/train/a.csv",
                                           "data/train/b.csv"]
    a = m.by_path()["data/train/a.csv"]
    assert a.size == 8
    assert a.hash == "sha256:" + hashlib.sha256(b"x,y\n1,2\n").hexdigest()


def test_globs_and_overlapping_patterns(tree: Path) -> None:
    m = manifest(tree, ["data/**/*.csv", "data/train"])
    assert [e.path for e in m.entries] == ["data/train/a.csv", "data/train/b.csv"]


def test_same_fingerprint_in_another_checkout_and_another_order(tree: Path,
                                                                tmp_path_factory:
                                                                pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("clone")
    # Written in another order, to another directory: another inode, mtime and dirent order.
    write(other / "data/holdout/c.parquet", b"\x00PAR1")
    write(other / "data/train/b.csv", "x,y\n3,4\n")
    write(other / "data/train/a.csv", "x,y\n1,2\n")
    assert manifest(other, ["./data/train/", "data//holdout"]).fingerprint == \
        manifest(tree).fingerprint


def test_a_rename_is_reported_as_a_rename(tree: Path) -> None:
    before = manifest(tree)
    (tree / "data/train/b.csv").rename(tree / "data/holdout/b.csv")
    d = diff(before, manifest(tree))
    assert d.renamed == [{"from": "data/train/b.csv", "to": "data/holdout/b.csv"}]
    assert not (d.added or d.removed or d.modified)


def test_empty_directories_do_not_count(tree: Path) -> None:
    before = manifest(tree).fingerprint
    (tree / "data/train/empty/deeper").mkdir(parents=True)
    (tree / "data/nothing").mkdir()
    assert manifest(tree).fingerprint == before
    assert manifest(tree, ["data/nothing"]).entries == []


def test_a_pattern_that_matches_nothing_is_an_error(tree: Path) -> None:
    with pytest.raises(InputError, match="matches no file"):
        manifest(tree, ["data/*.tsv"])
    with pytest.raises(InputError, match="matches no file"):
        manifest(tree, ["dta"])


def test_a_symlink_inside_the_root_is_followed(tree: Path) -> None:
    (tree / "data/train/link.csv").symlink_to("a.csv")
    (tree / "data/linked_dir").symlink_to("holdout", target_is_directory=True)
    m = manifest(tree).by_path()
    assert m["data/train/link.csv"].hash == m["data/train/a.csv"].hash
    assert m["data/linked_dir/c.parquet"].hash == m["data/holdout/c.parquet"].hash


def test_a_symlink_escaping_the_root_is_refused(tree: Path,
                                                 tmp_path_factory: pytest.TempPathFactory
                                                 ) -> None:
    outside = write(tmp_path_factory.mktemp("outside") / "secret.csv", "s")
    (tree / "data/train/escape.csv").symlink_to(outside)
    with pytest.raises(InputError, match="outside the project root"):
        manifest(tree)


def test_a_directory_symlink_escaping_the_root_is_refused(
        tree: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside_dir")
    write(outside / "x.csv", "x")
    (tree / "data/ext").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError, match="outside the project root"):
        manifest(tree)
    with pytest.raises(InputError, match="outside the project root"):
        manifest(tree, ["data/ext/x.csv"])


def test_a_path_escaping_the_root_is_refused(tree: Path) -> None:
    with pytest.raises(InputError, match="outside the project root"):
        manifest(tree, ["../"])
    with pytest.raises(InputError, match="outside the project root"):
        manifest(tree, ["data/../../etc/passwd"])
    with pytest.raises(InputError, match="outside the project root"):
        manifest(tree, ["/etc/hostname"])


def test_a_broken_symlink_is_an_error(tree: Path) -> None:
    (tree / "data/train/dangling.csv").symlink_to("missing.csv")
    with pytest.raises(InputError, match="broken symbolic link"):
        manifest(tree)


def test_a_symlink_cycle_is_an_error(tree: Path) -> None:
    (tree / "data/train/loop").symlink_to("..", target_is_directory=True)
    with pytest.raises(InputError, match="cycle"):
        manifest(tree)


def test_a_fifo_is_an_error_not_a_hang(tree: Path) -> None:
    os.mkfifo(tree / "data/train/pipe")
    with pytest.raises(InputError, match="not a regular file"):
        manifest(tree)


def test_a_socket_is_an_error(tree: Path) -> None:
    # AF_UNIX paths are limited to ~107 bytes; bind with a short relative name.
    cwd = os.getcwd()
    os.chdir(tree / "data/train")
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("s.sock")
            with pytest.raises(InputError, match="not a regular file"):
                manifest(tree)
    finally:
        os.chdir(cwd)


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree in a world-traversable directory, for a process that drops to `nobody`."""
    root = Path(tempfile.mkdtemp(prefix="mlci-unreadable-"))
    os.chmod(root, 0o755)
    write(root / "data/ok.csv", "ok")
    secret = write(root / "data/secret.csv", "no")
    for path in (root / "data",):
        os.chmod(path, 0o755)
    os.chmod(root / "data/ok.csv", 0o644)
    os.chmod(secret, 0o000)
    yield root
    os.chmod(secret, 0o600)
    import shutil

    shutil.rmtree(root)


def test_an_unreadable_file_is_an_error(shared_tree: Path) -> None:
    """chmod 000 does not stop root (CAP_DAC_OVERRIDE), so as root the check runs in a
    forked child that first drops to uid/gid 65534 (nobody); as another user it runs
    directly. Either way the real open() fails with EACCES."""

    def attempt() -> str:
        try:
            manifest(shared_tree)
        except InputError as exc:
            return str(exc)
        return "no error"

    if os.geteuid() != 0:
        message = attempt()
    else:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                os.write(write_end, attempt().encode())
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read().decode()
        os.waitpid(pid, 0)
    assert "data/secret.csv" in message
    assert "cannot read" in message and "Permission denied" in message


def test_an_unreadable_file_in_a_batch_is_an_error_from_the_pool(tmp_path: Path) -> None:
    # A file vanishing between the walk and the read fails its read, in a worker thread.
    jobs = [hashing.HashJob(f"f{i}", str(write(tmp_path / f"f{i}", b"x" * 10)), 10)
            for i in range(600)]
    jobs.append(hashing.HashJob("gone", str(tmp_path / "gone"), 10))
    with pytest.raises(InputError, match="gone: cannot read"):
        hashing.hash_files(jobs, workers=4)


def test_parallel_and_serial_hashing_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setattr(hashing, "CHUNK", 1000)      # force chunked hashing of big files
    monkeypatch.setattr(hashing, "BATCH_FILES", 3)
    jobs = []
    for i, size in enumerate([0, 1, 999, 1000, 1001, 4500, 77]):
        path = write(tmp_path / f"f{i}", os.urandom(size))
        jobs.append(hashing.HashJob(f"f{i}", str(path), size))
    serial = hashing.hash_files(jobs, workers=1)
    parallel = hashing.hash_files(jobs, workers=4)
    assert serial == parallel
    assert serial["f2"] == "sha256:" + hashlib.sha256((tmp_path / "f2").read_bytes()).hexdigest()
    big = (tmp_path / "f5").read_bytes()
    chunks = b"".join(hashlib.sha256(big[i:i + 1000]).digest() for i in range(0, 4500, 1000))
    assert serial["f5"] == "sha256-c32m:" + hashlib.sha256(chunks).hexdigest()


class CountingHasher:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real = local.hash_files

        def counting(jobs: Sequence[hashing.HashJob], progress: object = None) -> dict[str, str]:
            self.calls.extend(j.key for j in jobs)
            return real(jobs, progress=progress)  # type: ignore[arg-type]

        monkeypatch.setattr(local, "hash_files", counting)


def _age(root: Path, seconds: int = 60) -> None:
    """Backdate every file, as a tree checked out a while ago (the cache never trusts a
    file modified in the two seconds before a scan)."""
    for path in root.rglob("*"):
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns - seconds * 10**9, st.st_mtime_ns - seconds * 10**9))


def test_a_cache_hit_hashes_nothing(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _age(tree)
    counter = CountingHasher(monkeypatch)
    cache = tree / ".cache"
    first = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert sorted(counter.calls) == ["data/holdout/c.parquet", "data/train/a.csv",
                                     "data/train/b.csv"]
    counter.calls.clear()
    second = fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert counter.calls == []
    assert second.cached_files == 3 and second.hashed_files == 0
    assert Manifest(second.entries).fingerprint == Manifest(first.entries).fingerprint


def test_a_changed_file_is_hashed_again(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _age(tree)
    cache = tree / ".cache"
    first = Manifest(fingerprint_paths(["data"], tree, cache_dir=cache,
                                       show_progress=False).entries)
    counter = CountingHasher(monkeypatch)
    target = tree / "data/train/a.csv"
    st = target.stat()
    target.write_text("x,y\n9,9\n")       # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))   # and the same mtime
    second = Manifest(fingerprint_paths(["data"], tree, cache_dir=cache,
                                        show_progress=False).entries)
    # ctime (and for a rewrite via a new file, the inode) still tell: hashed again.
    assert counter.calls == ["data/train/a.csv"]
    assert second.fingerprint != first.fingerprint


def test_a_racily_recent_file_is_not_trusted_from_the_cache(tree: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    cache = tree / ".cache"
    fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)  # files are new
    counter = CountingHasher(monkeypatch)
    fingerprint_paths(["data"], tree, cache_dir=cache, show_progress=False)
    assert len(counter.calls) == 3


def test_a_corrupt_cache_only_costs_a_rehash(tree: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    _age(tree)
    cache = tree / ".cache"
    expected = Manifest(fingerprint_paths(["data"], tree, cache_dir=cache,
                                          show_progress=False).entries).fingerprint
    (cache / "mlci-data-cache-v1.tsv").write_text("garbage\tonly\n\xff")
    counter = CountingHasher(monkeypatch)
    again = Manifest(fingerprint_paths(["data"], tree, cache_dir=cache,
                                       show_progress=False).entries).fingerprint
    assert again == expected and len(counter.calls) == 3


def test_the_cache_and_excluded_files_are_not_data(tree: Path) -> None:
    before = manifest(tree).fingerprint
    cache = tree / "data/.mlci-cache"
    out = write(tree / "data/manifest.json", "{}")
    after = fingerprint_paths(["data"], tree, cache_dir=cache, exclude=[out],
                              show_progress=False)
    assert Manifest(after.entries).fingerprint == before


def test_progress_prints_plain_lines_off_a_terminal() -> None:
    import io

    stream = io.StringIO()
    bar = hashing.Progress(10, 1000, stream, delay=0, interval=0)
    bar.update(5, 500)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines and all(line.startswith("mlci: hashing: ") for line in lines)
    assert "5/10 files" in lines[0] and "\r" not in stream.getvalue()


def test_a_deep_walk_finds_every_file_once(tree: Path) -> None:
    for i in range(30):
        write(tree / f"data/many/d{i % 7}/sub{i % 3}/f{i}.txt", str(i))
    (tree / "data/many/link").symlink_to("d1", target_is_directory=True)
    walker = local.Walker(tree)
    walker.add_pattern("data")
    assert len(walker.found) == 3 + 30 + 5
    assert "data/many/link/sub1/f1.txt" in walker.found
