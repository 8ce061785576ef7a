"""Fixtures for e2e tests: throwaway repos and the real CI clients (see tests/e2e/clients.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import clients


@pytest.fixture(scope="session")
def mlci_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MLCI_CACHE_DIR shared by every act run of the session: one cold install per extras."""
    keep = os.environ.get("MLCI_TEST_CACHE_DIR")
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("mlci-cache")


@pytest.fixture(scope="session")
def pip_cache_dir() -> str:
    """The developer's/CI's pip cache, shared with nested jobs so they download nothing twice."""
    out = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True,
                         text=True, check=False).stdout.strip()
    return out or os.path.expanduser("~/.cache/pip")


@pytest.fixture(scope="session")
def mlci_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout (no deps), built once: a fast GitLab `mlci-install` value."""
    out = tmp_path_factory.mktemp("mlci-wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "-w", str(out), str(clients.PROJECT_ROOT)],
                   check=True, stdin=subprocess.DEVNULL)
    wheels = list(out.glob("mlci-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """make_repo(files=None, *, extra_paths=(), name=None) -> a committed throwaway repo."""
    count = 0

    def make(files: Mapping[str, Any] | None = None, *, extra_paths: Iterable[str] = (),
             name: str | None = None) -> Path:
        nonlocal count
        count += 1
        return clients.make_repo(tmp_path / (name or f"repo{count}"), files,
                                 extra_paths=extra_paths)

    return make


@pytest.fixture
def act(mlci_cache_dir: Path, pip_cache_dir: str) -> Callable[..., clients.ActResult]:
    """run_act with the session's MLCI_CACHE_DIR and pip cache in every job's env."""

    def run(repo: Path, workflow: Any, *, env: Mapping[str, str] | None = None,
            **kwargs: Any) -> clients.ActResult:
        base = {"MLCI_CACHE_DIR": str(mlci_cache_dir), "PIP_CACHE_DIR": pip_cache_dir}
        return clients.run_act(repo, workflow, env={**base, **(env or {})}, **kwargs)

    return run


@pytest.fixture
def gitlab(pip_cache_dir: str) -> Callable[..., clients.GitLabResult]:
    """run_gitlab_ci_local with the pip cache shared (PIP_CACHE_DIR as a pipeline variable)."""

    def run(repo: Path, *, variables: Mapping[str, str] | None = None,
            **kwargs: Any) -> clients.GitLabResult:
        base = {"PIP_CACHE_DIR": pip_cache_dir}
        return clients.run_gitlab_ci_local(repo, variables={**base, **(variables or {})},
                                           **kwargs)

    return run
