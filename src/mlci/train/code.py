"""Is the working tree's code the code a run recorded? (`mlci reproduce`)

A reproduction that runs code from the working tree (a rebuild from the Containerfile and
its context, or `--engine local`) proves something only when that code is the recorded
commit's. The comparison is `git diff --name-only <commit> -- <project>`: the tracked files
under the project directory (the directory of mlci.yml) as they are now, edits not yet
committed included, against the recorded commit. A later commit that leaves the project's
files as they were is the same code.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.errors import InputError

SHOWN = 10  # files named in the refusal; the rest are counted


@dataclass(frozen=True)
class CodeCheck:
    """The outcome when the code could not be compared and reproduce goes on (a note)."""

    note: str | None = None


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        return subprocess.run([git, *args], cwd=directory, capture_output=True, text=True,
                              timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def check_code(recorded: dict[str, Any], base_dir: Path, run_id: str) -> CodeCheck:
    """Refuse (InputError, exit 2) when the project's code differs from the recorded commit.

    `recorded` is the lineage's `code` block ({"commit", "dirty", ...})."""
    commit = recorded.get("commit")
    if not commit:
        return CodeCheck(f"run {run_id} recorded no code commit (it was not trained in a git "
                         "work tree): the code was not compared")
    if recorded.get("dirty"):
        return CodeCheck(f"run {run_id} was trained from uncommitted changes on {commit}: "
                         "the code cannot be compared with what ran")
    where = f"run {run_id} was trained at commit {commit}"
    inside = _git(base_dir, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.returncode != 0 or inside.stdout.strip() != "true":
        raise InputError(f"refused: {where}, but {base_dir} is not a git work tree, so its "
                         "code cannot be compared with the recorded commit", key="RUN_ID")
    known = _git(base_dir, "cat-file", "-e", f"{commit}^{{commit}}")
    if known is None or known.returncode != 0:
        raise InputError(f"refused: {where}, which is not in this clone (a shallow "
                         f"checkout? fetch it: git fetch origin {commit}); the code cannot be "
                         "compared", key="RUN_ID")
    diff = _git(base_dir, "diff", "--name-only", "--relative", commit, "--", ".")
    if diff is None or diff.returncode != 0:
        detail = (diff.stderr.strip() if diff is not None else "git did not run")[:300]
        raise InputError(f"refused: {where}; comparing the code with it failed: {detail}",
                         key="RUN_ID")
    changed = [line for line in diff.stdout.splitlines() if line]
    if changed:
        shown = ", ".join(changed[:SHOWN])
        more = f" and {len(changed) - SHOWN} more" if len(changed) > SHOWN else ""
        count = f"{len(changed)} file" + ("" if len(changed) == 1 else "s")
        raise InputError(
            f"refused: {where}, but the code in {base_dir} differs from it ({count}: "
            f"{shown}{more}); a reproduction of other code proves nothing. Run it again in "
            f"a clean checkout of {commit}", key="RUN_ID")
    return CodeCheck()
