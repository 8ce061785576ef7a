"""A reader that closes mlci's stdout early (`| head`) is not a bug in mlci."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def test_a_closed_stdout_is_not_an_internal_error(tmp_path: Path) -> None:
    base = tmp_path.parent / f"{tmp_path.name}-base.json"
    (tmp_path / "seed.csv").write_text("0\n")
    subprocess.run([sys.executable, "-m", "mlci", "data-change", "--paths", ".", "--write",
                    str(base)], cwd=tmp_path, check=True, capture_output=True)
    # 3,000 added files: a JSON report of ~150 kB, more than a pipe holds (64 kB), so mlci is
    # still writing when the reader goes away, whatever the machine's load.
    for i in range(3000):
        (tmp_path / f"a-file-with-a-long-name-{i:05d}.csv").write_text(f"{i}\n")
    mlci = subprocess.Popen([sys.executable, "-m", "mlci", "data-change", "--paths", ".",
                             "--against", str(base), "--json"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert mlci.stdout is not None and mlci.stderr is not None
    assert mlci.stdout.readline() == b"{\n"
    mlci.stdout.close()               # as `head -1` does
    stderr = mlci.stderr.read().decode()
    assert mlci.wait(timeout=120) == 141, stderr     # as if killed by SIGPIPE: 128 + 13
    assert "internal error" not in stderr and "Traceback" not in stderr
