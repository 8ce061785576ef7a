"""`--against git:REF` without a path: the `--write` file, resolved as `--write` is (relative
to the working directory); and the plain output counts "1 entry" (issue 11.17)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mlci.cli import main

pytestmark = pytest.mark.unit


def git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "-c",
                    "commit.gpgsign=false", *args], cwd=project, check=True,
                   capture_output=True)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "GITLAB", "CI_", "MLCI_", "MLFLOW_")):
            monkeypatch.delenv(name)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    (tmp_path / "mlci.yml").write_text("data: {paths: [data]}\n")
    git(tmp_path, "init", "-q")
    return tmp_path


def test_the_write_file_is_the_default_from_any_directory(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Run from data/: --write is relative to here, the project root is mlci.yml's directory.
    monkeypatch.chdir(project / "data")
    argv = ["data-change", "--config", "../mlci.yml", "--write", "manifest.json"]
    assert main(argv) == 0
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "baseline")
    capsys.readouterr()
    assert main([*argv, "--against", "git:HEAD", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["baseline"]["origin"] == "HEAD:data/manifest.json", report["baseline"]
    assert report["changed"] is False


def test_no_path_and_no_write_is_a_clear_input_error(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project)
    git(project, "commit", "-q", "--allow-empty", "-m", "empty")
    assert main(["data-change", "--against", "git:HEAD"]) == 2
    err = capsys.readouterr().err
    assert "git:HEAD names no manifest and there is no --write file to default to" in err


def test_one_entry_is_singular(project: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project)
    assert main(["data-change"]) == 0
    out = capsys.readouterr().out
    assert "(1 entry)" in out, out
