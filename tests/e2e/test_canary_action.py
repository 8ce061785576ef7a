"""actions/canary-deploy under real `act`, in `mode: step` as a scheduled workflow drives it
(one tick per step here), against the session's real `mlflow server`; the split is set by the
`command` target (the rollouts with real model servers and nginx are in
tests/integration/test_canary_rollout.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.canary_fixtures import files, queued
from tests.registry_support import alias, client, unique
from tests.services import MlflowServer

pytestmark = pytest.mark.e2e

CHECKOUT = """      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
"""


def tick(step_id: str, url: str, config: str) -> str:
    return f"""      - id: {step_id}
        uses: ./actions/canary-deploy
        with:
          mode: step
          config: {config}
          tracking-uri: {url}
"""


def workflow(url: str) -> str:
    return f"""on: push
permissions: {{}}
jobs:
  healthy:
    runs-on: ubuntu-latest
    environment: production
    steps:
{CHECKOUT}{tick("t1", url, "healthy/mlci.yml")}{tick("t2", url, "healthy/mlci.yml")}{tick("t3", url, "healthy/mlci.yml")}  faulty:
    needs: healthy
    if: always()
    runs-on: ubuntu-latest
    environment: production
    steps:
{CHECKOUT}{tick("t1", url, "faulty/mlci.yml")}{tick("t2", url, "faulty/mlci.yml")}"""


def test_canary_action_in_step_mode(mlflow_server: MlflowServer,
                                    make_repo: Callable[..., Path],
                                    act: Callable[..., object]) -> None:
    url = mlflow_server.url
    healthy, faulty = unique("act-canary-ok"), unique("act-canary-bad")
    queued(url, healthy)
    queued(url, faulty)
    repo_files = {f"healthy/{k}": v for k, v in files(healthy, "healthy").items()}
    repo_files.update({f"faulty/{k}": v for k, v in files(faulty, "faulty").items()})
    repo = make_repo(repo_files)
    result = act(repo, workflow(url))
    assert result.job_results == {"healthy": "success", "faulty": "failure"}, result.log

    outputs = [result.step_outputs(f"t{i}", job="healthy") for i in (1, 2, 3)]
    assert outputs == [{"outcome": "in-progress", "weight": "10"},
                       {"outcome": "in-progress", "weight": "100"},
                       {"outcome": "promoted", "weight": "100"}]
    assert alias(url, healthy) == "2" and alias(url, healthy, "canary") is None
    summary = result.summary("healthy")
    assert "mlci canary" in summary and "```mermaid" in summary and "error\\_rate" in summary

    assert result.step_outputs("t1", job="faulty") == {"outcome": "in-progress",
                                                       "weight": "10"}
    assert result.step_outputs("t2", job="faulty") == {"outcome": "rolled-back",
                                                       "weight": "0"}
    assert alias(url, faulty) == "1" and alias(url, faulty, "canary") is None
    assert client(url).get_model_version(faulty, "2").tags["mlci.rollout"] == "rolled-back"
