"""Bad paths and hostile files on the command line are clear input errors (exit 2, the file
and flag named), never tracebacks, and leave no stray temporary files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def mlci(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlci", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "a-file").write_text("not a directory\n")
    (tmp_path / "binary.json").write_bytes(bytes(range(256)))
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


CASES = {
    "non-UTF-8 data file name": ((), "not valid UTF-8"),
    "binary manifest": (("--against", "binary.json"), "not UTF-8 text"),
    "FIFO manifest": (("--against", "fifo"), "not a regular file"),
    "cache is a file": (("--cache", "a-file"), "expected a directory"),
    "write under a file": (("--write", "a-file/m.json"), "cannot write the manifest"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_data_change_bad_input(project: Path, case: str) -> None:
    argv, expected = CASES[case]
    if case.startswith("non-UTF-8"):
        os.close(os.open(os.fsencode(project / "data") + b"/bad\xff\xfe.csv",
                         os.O_CREAT | os.O_WRONLY))
    result = mlci(project, "data-change", "--paths", "data", *argv)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not list(project.rglob("*.tmp"))


def test_schema_output_under_a_file(project: Path) -> None:
    result = mlci(project, "schema", "-o", "a-file/schema.json")
    assert result.returncode == 2
    assert "cannot write the schema" in result.stderr and "--output" in result.stderr
    assert not list(project.rglob("*.tmp"))
