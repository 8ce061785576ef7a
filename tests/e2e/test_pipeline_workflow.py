"""The reusable workflow `.github/workflows/ml-pipeline.yml` under real `act`, called by a
caller workflow as a team would: a real `mlflow server`, podman training from the Debian
base image, the gate scoring both models on the holdout (`mlci gate --holdout`), and the
canary job rolling out with the `local` target (MLflow's scoring server + nginx) while the
example's bounded traffic generator sends requests. Snapshots: the first model, an improving
one (canaried to champion), a harmful one (rejected on its slice, production unchanged).
After each run: the registry's aliases and the audit trail."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci.canary.targets.config import LocalTarget as LocalConfig
from tests.e2e import clients
from tests.e2e.pipeline_fixtures import EXAMPLE, Example, alias, example, history, serving, traffic
from tests.registry_support import unique
from tests.services import MlflowServer

pytestmark = pytest.mark.e2e
__all__ = ["example", "serving", "traffic"]      # the fixtures this module uses


def caller(model: str) -> str:
    return f"""on: push
permissions: {{}}
jobs:
  ml:
    permissions: {{contents: read, actions: read}}
    uses: ./.github/workflows/ml-pipeline.yml
    with:
      model: {model}
      config: {EXAMPLE}/mlci.yml
      holdout: {EXAMPLE}/data/holdout.csv
    secrets:
      tracking-uri: ${{{{ secrets.MLFLOW_TRACKING_URI }}}}
"""


def test_reusable_workflow_first_improving_harmful(
        tmp_path: Path, make_repo: Callable[..., Path], mlflow_server: MlflowServer,
        act: Callable[..., clients.ActResult], example: Example, serving: LocalConfig,
        traffic: None) -> None:
    model = unique("pipeline")
    repo = make_repo({**example.files, **example.data(1),
                      ".github/workflows/ml.yml": caller(model)},
                     extra_paths=(".github/workflows/ml-pipeline.yml",))
    env = {"MLCI_MODEL": model, "MLCI_DEPLOY__LOCAL__LISTEN": serving.listen,
           "MLCI_DEPLOY__LOCAL__WORKDIR": serving.workdir,
           "MLCI_DEPLOY__STATE": str(tmp_path / "rollout.json")}
    secrets = {"MLFLOW_TRACKING_URI": mlflow_server.url}

    def run(version: int) -> clients.ActResult:
        if version > 1:
            for rel, source in example.data(version).items():
                shutil.copy(str(source), repo / rel)
            clients.commit_all(repo, f"data v{version}")
        return act(repo, ".github/workflows/ml.yml", env=env, secrets=secrets, timeout=1500)

    def aliases() -> tuple[str | None, str | None]:
        return (alias(mlflow_server.url, model, "champion"),
                alias(mlflow_server.url, model, "canary"))

    first = run(1)
    assert first.ok, first.log[-6000:]
    assert aliases() == ("1", None)
    improved = run(2)
    assert improved.ok, improved.log[-6000:]
    assert aliases() == ("2", None)
    harmful = run(3)
    assert not harmful.ok
    assert "slices.region=south.accuracy" in harmful.log
    assert aliases() == ("2", None)     # production unchanged
    trail = history(mlflow_server.url, model)
    for event in ("canary.start", "canary.weight", "canary.check", "canary.promoted",
                  "promote"):
        assert f'"{event}"' in trail, event
