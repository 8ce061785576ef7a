"""`gitlab-templates/pipeline.yml` under real `gitlab-ci-local`: the stage templates
assembled into one pipeline, run on the churn example against a real `mlflow server`, with
podman training, the gate scoring both models (`mlci evaluate`), and the canary job rolling
out with the `local` target while the example's traffic generator sends requests.
Snapshots: the first model, an improving one (canaried to champion), a harmful one (the gate
job fails on its slice; production unchanged). After each: aliases and the audit trail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci import __version__
from mlci.canary.targets.config import LocalTarget as LocalConfig
from tests.e2e import clients
from tests.e2e.test_pipeline_workflow import EXAMPLE, ROOT, example_files, serving, traffic
from tests.registry_support import unique
from tests.services import MlflowServer

pytestmark = pytest.mark.e2e
__all__ = ["serving", "traffic"]      # fixtures shared with the act test
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
        gitlab: Callable[..., clients.GitLabResult],
        serving: LocalConfig, traffic: None) -> None:
    from mlflow import MlflowClient

    built = subprocess.run([str(ROOT / "scripts" / "build-base-image.sh")],
                           capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    snapshots = tmp_path / "snapshots"
    files: dict[str, object] = dict(example_files(snapshots))
    model = unique("gcl-pipeline")

    def with_data(version: int) -> dict[str, object]:
        return {f"{EXAMPLE}/data/{p}.csv": snapshots / f"v{version}" / f"{p}.csv"
                for p in ("train", "holdout")}

    # The jobs run as in the mlci image: mlci (this checkout, with the extra the pipeline asks
    # for) is on PATH and MLCI_IMAGE_VERSION/EXTRAS say so, so base.yml installs nothing. 18
    # jobs x a pip install of the full MLflow stack is what this saves; the install path itself
    # is covered by test_gitlab_base.py and the stage templates' tests, which install a wheel.
    bin_dir = tmp_path / "image-bin"
    bin_dir.mkdir()
    (bin_dir / "mlci").symlink_to(Path(sys.executable).parent / "mlci")
    repo = make_repo({**files, **with_data(1),
                      ".gitlab-ci.yml": pipeline(f"mlci[serve]=={__version__}", model)})
    job_path = f"{bin_dir}:{clients._clean_env()['PATH']}"
    variables = {"MLCI_FORCE": "true", "MLFLOW_TRACKING_URI": mlflow_server.url,
                 "MLCI_IMAGE_VERSION": __version__, "MLCI_IMAGE_EXTRAS": "serve",
                 "PATH": job_path,
                 "MLCI_MODEL": model, "MLCI_DEPLOY__LOCAL__LISTEN": serving.listen,
                 "MLCI_DEPLOY__LOCAL__WORKDIR": serving.workdir,
                 "MLCI_DEPLOY__STATE": str(tmp_path / "rollout.json")}
    registry = MlflowClient(tracking_uri=mlflow_server.url)

    def run(version: int) -> clients.GitLabResult:
        if version > 1:
            # a runner starts each pipeline from a clean checkout (git clean): so does this
            # one, without the last pipeline's builds and the artifacts copied into the repo
            shutil.rmtree(repo / ".gitlab-ci-local", ignore_errors=True)
            shutil.rmtree(repo / "mlci-outputs", ignore_errors=True)
            for rel, source in with_data(version).items():
                shutil.copy(str(source), repo / rel)
            clients.commit_all(repo, f"data v{version}")
        # every job but the manual review path (and what needs it), as a push would run them
        return gitlab(repo, variables=variables, job=STAGES, timeout=1500)

    def alias(name: str) -> str | None:
        try:
            return str(registry.get_model_version_by_alias(model, name).version)
        except Exception:  # noqa: BLE001 - the alias is not set
            return None

    first = run(1)
    assert first.ok, first.log[-6000:]
    assert "nothing to install" in first.job_log("mlci-gate")
    assert all(first.jobs.get(job) == "PASS" for job in STAGES), first.jobs
    assert alias("champion") == "1" and alias("canary") is None
    improved = run(2)
    assert improved.ok, improved.log[-6000:]
    assert alias("champion") == "2" and alias("canary") is None
    harmful = run(3)
    assert harmful.jobs.get("mlci-gate") == "FAIL", harmful.jobs
    assert "slices.region=south.accuracy" in harmful.job_log("mlci-gate")
    assert alias("champion") == "2" and alias("canary") is None     # production unchanged
    history = subprocess.run([str(Path(sys.executable).parent / "mlci"), "history", "--model",
                              model, "--tracking-uri", mlflow_server.url, "--json"],
                             capture_output=True, text=True, check=True).stdout
    for event in ("canary.start", "canary.promoted", "promote"):
        assert f'"{event}"' in history, event
