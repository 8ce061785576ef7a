"""`mlci reproduce` compares the project's code with the recorded commit (real git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.train.code import check_code

pytestmark = pytest.mark.unit

GIT = ["git", "-c", "user.name=mlci test", "-c", "user.email=test@mlci.invalid",
       "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository with the project in project/ and something else beside it."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('v1')\n")
    (tmp_path / "README").write_text("hello\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "one")
    return project, git(tmp_path, "rev-parse", "HEAD")


def test_the_same_code_passes(repo: tuple[Path, str]) -> None:
    project, commit = repo
    assert check_code({"commit": commit, "dirty": False}, project, "r1").note is None
    # A later commit outside the project is the same code; untracked files are not code.
    (project.parent / "README").write_text("changed\n")
    git(project.parent, "commit", "-q", "-am", "docs")
    (project / "mlruns").mkdir()
    (project / "mlruns" / "x").write_text("run\n")
    assert check_code({"commit": commit, "dirty": False}, project, "r1").note is None


def test_an_uncommitted_edit_is_refused(repo: tuple[Path, str]) -> None:
    project, commit = repo
    (project / "train.py").write_text("print('v2')\n")
    with pytest.raises(InputError) as caught:
        check_code({"commit": commit, "dirty": False}, project, "r1")
    message = str(caught.value)
    assert f"run r1 was trained at commit {commit}" in message
    assert "differs from it (1 file: train.py)" in message


def test_a_later_commit_changing_the_code_is_refused(repo: tuple[Path, str]) -> None:
    project, commit = repo
    (project / "train.py").write_text("print('v2')\n")
    (project / "extra.py").write_text("x = 1\n")
    git(project.parent, "add", "-A")
    git(project.parent, "commit", "-q", "-m", "two")
    with pytest.raises(InputError, match=r"\(2 files: extra.py, train.py\)"):
        check_code({"commit": commit, "dirty": False}, project, "r1")


def test_no_repository_or_unknown_commit_is_refused(repo: tuple[Path, str],
                                                    tmp_path_factory: pytest.TempPathFactory
                                                    ) -> None:
    project, commit = repo
    elsewhere = tmp_path_factory.mktemp("plain")
    with pytest.raises(InputError, match="is not a git work tree"):
        check_code({"commit": commit, "dirty": False}, elsewhere, "r1")
    with pytest.raises(InputError, match="which is not in this clone"):
        check_code({"commit": "0" * 40, "dirty": False}, project, "r1")


def test_what_cannot_be_compared_is_a_note(repo: tuple[Path, str]) -> None:
    project, commit = repo
    (project / "train.py").write_text("print('v2')\n")
    note = check_code({"commit": None, "dirty": None}, project, "r1").note
    assert note is not None and "recorded no code commit" in note
    note = check_code({"commit": commit, "dirty": True}, project, "r1").note
    assert note is not None and "uncommitted changes" in note
