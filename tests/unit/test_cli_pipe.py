"""A reader that closes mlci's stdout early (`| head`) is not a bug in mlci."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def test_a_closed_stdout_is_not_an_internal_error(tmp_path: Path) -> None:
    for i in range(3000):   # enough JSON that it does not fit the pipe's buffer
        (tmp_path / f"file-{i}.csv").write_text(f"{i}\n")
    mlci = subprocess.Popen([sys.executable, "-m", "mlci", "data-change", "--paths", ".",
                             "--write", str(tmp_path.parent / "base.json"), "--json"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert mlci.stdout is not None and mlci.stderr is not None
    assert mlci.stdout.readline() == b"{\n"
    mlci.stdout.close()               # as `head -1` does
    stderr = mlci.stderr.read().decode()
    assert mlci.wait(timeout=120) == 141, stderr     # as if killed by SIGPIPE: 128 + 13
    assert "internal error" not in stderr and "Traceback" not in stderr
