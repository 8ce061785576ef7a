"""The release workflow under act: it builds and checks the distributions as a real release
would, and skips (saying so) the jobs that publish, which need GitHub, PyPI and a registry."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci import __version__
from tests.e2e import clients

pytestmark = pytest.mark.e2e

RELEASE_FILES = (".github/workflows/release.yml", "CHANGELOG.md", "docker", "LICENSE")


@pytest.fixture(scope="session")
def release_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build + twine, installed once per session (scripts/release.sh creates it)."""
    return tmp_path_factory.mktemp("release") / "venv"


def test_release_builds_checks_and_skips_publishing_under_act(
        make_repo: Callable[..., Path], act: Callable[..., clients.ActResult],
        release_venv: Path) -> None:
    repo = make_repo(extra_paths=[p for p in RELEASE_FILES if (clients.PROJECT_ROOT / p).exists()])
    result = act(repo, ".github/workflows/release.yml",
                 event_payload={"act": True, "ref": f"refs/tags/v{__version__}"},
                 env={"MLCI_RELEASE_VENV": str(release_venv)})
    assert result.ok, result.log
    assert result.job_results.get("build") == "success", result.job_results
    assert result.step_outputs("check", job="build")["version"] == __version__
    assert "twine check passed" in result.step_log("check", job="build")
    for job in ("pypi", "image", "release-notes"):
        assert job not in result.job_results     # skipped: never started under act
    assert "PyPI upload, image push, release notes" in result.log


def test_a_tag_that_is_not_the_package_version_fails_the_check(
        make_repo: Callable[..., Path], release_venv: Path) -> None:
    repo = make_repo(extra_paths=["CHANGELOG.md"])
    env = {**os.environ, "MLCI_RELEASE_VENV": str(release_venv), "MLCI_RELEASE_TAG": "v9.9.9"}
    built = subprocess.run(["scripts/release.sh", "build"], cwd=repo, env=env,
                           capture_output=True, text=True, check=False, timeout=600)
    assert built.returncode == 0, built.stderr
    checked = subprocess.run(["scripts/release.sh", "check"], cwd=repo, env=env,
                             capture_output=True, text=True, check=False, timeout=600)
    assert checked.returncode == 2
    assert f"tag 'v9.9.9' does not match the package version {__version__}" in checked.stderr
