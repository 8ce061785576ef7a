"""A file rewritten while it is hashed never yields a torn fingerprint."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mlci.data import hashing, local
from mlci.errors import InputError

pytestmark = pytest.mark.unit


def rewrite_during_hashing(monkeypatch: pytest.MonkeyPatch, path: Path, times: int) -> list[int]:
    """Rewrite `path` in place (same size, new bytes) right after each of the first `times`
    hash calls, as a writer racing the hasher would."""
    real = local.hash_files
    calls: list[int] = []

    def racing(jobs: Sequence[hashing.HashJob],
               progress: Callable[[int, int], None] | None = None) -> dict[str, str]:
        result = real(jobs, progress)
        calls.append(len(jobs))
        if len(calls) <= times:
            data = bytearray(path.read_bytes())
            data[0] = (data[0] + 1) % 256
            with open(path, "r+b") as handle:   # in place: same inode, same size
                handle.write(bytes(data))
            os.utime(path, ns=(len(calls), len(calls) * 1_000_000_007))
        return result

    monkeypatch.setattr(local, "hash_files", racing)
    return calls


def test_a_file_rewritten_while_hashed_is_hashed_again(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.csv").write_bytes(b"0,1,2\n" * 1000)
    (tmp_path / "b.csv").write_bytes(b"steady\n")
    calls = rewrite_during_hashing(monkeypatch, tmp_path / "a.csv", times=1)
    result = local.fingerprint_paths(["."], tmp_path, show_progress=False)
    hashes = {e.path: e.hash for e in result.manifest.entries}
    final = hashlib.sha256((tmp_path / "a.csv").read_bytes()).hexdigest()
    assert hashes["a.csv"] == "sha256:" + final          # the content that is there now
    assert len(calls) == 2                               # the whole tree once, a.csv again


def test_a_file_that_never_settles_is_refused(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.csv").write_bytes(b"0,1,2\n" * 1000)
    rewrite_during_hashing(monkeypatch, tmp_path / "a.csv", times=100)
    with pytest.raises(InputError, match="changed while it was being hashed"):
        local.fingerprint_paths(["."], tmp_path, show_progress=False)
