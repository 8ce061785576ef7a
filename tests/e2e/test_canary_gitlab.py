"""gitlab-templates/canary-deploy.yml under real `gitlab-ci-local`, in `mode: step`: each
pipeline run is one tick, as a scheduled pipeline drives it; the state file outlives the
runs (given as the `state` input). The split is set by the `command` target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.canary_fixtures import files, queued
from tests.registry_support import alias, unique
from tests.services import MlflowServer

pytestmark = pytest.mark.e2e


def pipeline(install: str, url: str, state: Path) -> str:
    return f"""stages: [deploy]
include:
  - local: gitlab-templates/canary-deploy.yml
    inputs:
      mlci-install: "{install}"
      mode: step
      state: {state}
      tracking-uri: {url}
"""


def test_canary_template_in_step_mode(mlflow_server: MlflowServer,
                                      make_repo: Callable[..., Path],
                                      gitlab: Callable[..., object], mlci_wheel: Path,
                                      tmp_path: Path) -> None:
    url, model = mlflow_server.url, unique("gcl-canary")
    queued(url, model)
    state = tmp_path / "rollout.json"
    repo = make_repo({**files(model, "healthy", str(state)),
                      ".gitlab-ci.yml": pipeline(str(mlci_wheel), url, state)})
    seen = []
    for _ in range(3):
        run = gitlab(repo, job="mlci-canary-deploy")
        assert run.jobs == {"mlci-canary-deploy": "PASS"}, run.log
        seen.append(run.dotenv["mlci-canary-deploy"])
    assert seen == [{"MLCI_OUTCOME": "in-progress", "MLCI_WEIGHT": "10"},
                    {"MLCI_OUTCOME": "in-progress", "MLCI_WEIGHT": "100"},
                    {"MLCI_OUTCOME": "promoted", "MLCI_WEIGHT": "100"}]
    assert alias(url, model) == "2" and alias(url, model, "canary") is None
    summary = (run.artifacts_dir("mlci-canary-deploy") / "mlci-summary.md").read_text()
    assert "promoted" in summary and "```mermaid" in summary
    # nothing queued any more: the next scheduled run is a no-op that passes
    idle = gitlab(repo, job="mlci-canary-deploy")
    assert idle.dotenv["mlci-canary-deploy"]["MLCI_OUTCOME"] == "idle"
