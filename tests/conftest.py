"""Shared fixtures: real services, started once per session (or per test when a test kills one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.services import MlflowServer, MotoServer


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One `mlflow server` for the session; tests keep apart by unique model/experiment names."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mlflow_server_factory(tmp_path: Path) -> Iterator[Callable[[], MlflowServer]]:
    """Private servers for tests that kill and restart one."""
    started: list[MlflowServer] = []

    def make() -> MlflowServer:
        server = MlflowServer(tmp_path / f"mlflow-{len(started)}")
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 (in this process and in subprocesses) at the moto server."""
    env = moto_server.client_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
