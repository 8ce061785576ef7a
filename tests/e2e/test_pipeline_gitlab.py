"""`gitlab-templates/pipeline.yml` under real `gitlab-ci-local`: the stage templates
assembled into one pipeline, run on the churn example against a real `mlflow server`, with
podman training, the gate scoring both models (`mlci gate --holdout`), and the canary job rolling
out with the `local` target while the example's traffic generator sends requests.
Snapshots: the first model, an improving one (canaried to champion), a harmful one (the gate
job fails on its slice; production unchanged). After each: aliases and the audit trail."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci import __version__
from mlci.canary.targets.config import LocalTarget as LocalConfig
from tests.e2e import clients
from tests.e2e.pipeline_fixtures import EXAMPLE, Example, alias, example, history, serving, traffic
from tests.registry_support import unique
from tests.services import MlflowServer

pytestmark = pytest.mark.e2e
__all__ = ["example", "serving", "traffic"]      # the fixtures this module uses
STAGES = ["mlci-data-change", "mlci-validate-data", "mlci-train", "mlci-gate", "mlci-promote",
          "mlci-canary-deploy"]


def pipeline(install: str, model: str) -> str:
    return f"""include:
  - local: gitlab-templates/pipeline.yml
    inputs:
      mlci-install: "{install}"
      model: {model}
      config: {EXAMPLE}/mlci.yml
      holdout: {EXAMPLE}/data/holdout.csv
"""


def test_gitlab_pipeline_first_improving_harmful(
        tmp_path: Path, make_repo: Callable[..., Path], mlflow_server: MlflowServer,
        gitlab: Callable[..., clients.GitLabResult], example: Example,
        serving: LocalConfig, traffic: None) -> None:
    model = unique("gcl-pipeline")

    # The jobs run as in the mlci image: mlci (this checkout, with the extra the pipeline asks
    # for) is on PATH and MLCI_IMAGE_VERSION/EXTRAS say so, so base.yml installs nothing. 18
    # jobs x a pip install of the full MLflow stack is what this saves; the install path itself
    # is covered by test_gitlab_base.py and the stage templates' tests, which install a wheel.
    bin_dir = tmp_path / "image-bin"
    bin_dir.mkdir()
    (bin_dir / "mlci").symlink_to(Path(sys.executable).parent / "mlci")
    repo = make_repo({**example.files, **example.data(1),
                      ".gitlab-ci.yml": pipeline(f"mlci[serve]=={__version__}", model)})
    job_path = f"{bin_dir}:{clients._clean_env()['PATH']}"
    variables = {"MLCI_FORCE": "true", "MLFLOW_TRACKING_URI": mlflow_server.url,
                 "MLCI_IMAGE_VERSION": __version__, "MLCI_IMAGE_EXTRAS": "serve",
                 "PATH": job_path,
                 "MLCI_MODEL": model, "MLCI_DEPLOY__LOCAL__LISTEN": serving.listen,
                 "MLCI_DEPLOY__LOCAL__WORKDIR": serving.workdir,
                 "MLCI_DEPLOY__STATE": str(tmp_path / "rollout.json")}
    def run(version: int) -> clients.GitLabResult:
        if version > 1:
            # a runner starts each pipeline from a clean checkout (git clean): so does this
            # one, without the last pipeline's builds and the artifacts copied into the repo
            shutil.rmtree(repo / ".gitlab-ci-local", ignore_errors=True)
            shutil.rmtree(repo / "mlci-outputs", ignore_errors=True)
            for rel, source in example.data(version).items():
                shutil.copy(str(source), repo / rel)
            clients.commit_all(repo, f"data v{version}")
        # every job but the manual review path (and what needs it), as a push would run them
        return gitlab(repo, variables=variables, job=STAGES, timeout=1500)

    def aliases() -> tuple[str | None, str | None]:
        return (alias(mlflow_server.url, model, "champion"),
                alias(mlflow_server.url, model, "canary"))

    first = run(1)
    assert first.ok, first.log[-6000:]
    assert "nothing to install" in first.job_log("mlci-gate")
    assert all(first.jobs.get(job) == "PASS" for job in STAGES), first.jobs
    assert aliases() == ("1", None)
    improved = run(2)
    assert improved.ok, improved.log[-6000:]
    assert aliases() == ("2", None)
    harmful = run(3)
    assert harmful.jobs.get("mlci-gate") == "FAIL", harmful.jobs
    assert "slices.region=south.accuracy" in harmful.job_log("mlci-gate")
    assert aliases() == ("2", None)     # production unchanged
    trail = history(mlflow_server.url, model)
    for event in ("canary.start", "canary.promoted", "promote"):
        assert f'"{event}"' in trail, event
