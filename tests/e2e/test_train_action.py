"""actions/train under real `act`, with podman as the engine and a real `mlflow server`.

One workflow, two jobs: a training run that finishes (outputs run-id, image-digest,
model-uri; the run's tags carry the commit act checked out) and one whose command fails
(the step fails, `run-id` is still set and the run is FAILED).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import MlflowServer
from tests.train_support import PROJECT, ensure_base_image

pytestmark = pytest.mark.e2e

CHECKOUT = """      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
"""

WORKFLOW = """on: push
permissions: {}
jobs:
  train:
    runs-on: ubuntu-latest
    steps:
""" + CHECKOUT + """      - id: train
        uses: ./actions/train
        with:
          engine: podman
          seed: "7"
          data: data/**/*.csv
          env: |
            EPOCHS=12
            LEARNING_RATE=0.05
      - id: report
        env:
          RUN_ID: ${{ steps.train.outputs.run-id }}
          DIGEST: ${{ steps.train.outputs.image-digest }}
          MODEL: ${{ steps.train.outputs.model-uri }}
        run: echo "handed on run=$RUN_ID digest=$DIGEST model=$MODEL"
  train-fails:
    runs-on: ubuntu-latest
    steps:
""" + CHECKOUT + """      - id: train
        uses: ./actions/train
        with:
          engine: podman
          command: echo going down; exit 3
          experiment: e2e-train-fails
      - id: after
        if: failure()
        env:
          RUN_ID: ${{ steps.train.outputs.run-id }}
        run: echo "failed run=$RUN_ID"
"""


# A glob over nested directories: mlci expands it, never a shell, so every platform mounts
# and fingerprints the same three files (a POSIX shell would read ** as * and find one).
DATA_GLOB = "data/**/*.csv"


def project_files() -> dict[str, Path | str]:
    files: dict[str, Path | str] = {
        name: PROJECT / name for name in ("mlci.yml", "Containerfile", "train.py", "data")}
    files["data/nested/deeper/extra.csv"] = "id,x1,x2,y\n900,0.5,0.5,1\n"
    return files


def cli_fingerprint(repo: Path, *patterns: str) -> str:
    """The fingerprint `mlci data-change` computes for these paths, run here, on the CLI."""
    out = subprocess.run([sys.executable, "-m", "mlci", "data-change", "--json",
                          "--paths", *patterns], cwd=repo, capture_output=True, text=True,
                         check=True, env={**os.environ, "MLCI_PLATFORM": "terminal"}).stdout
    data = json.loads(out)
    assert data["files"] == 3, data       # train.csv, holdout.csv, nested/deeper/extra.csv
    return str(data["fingerprint"])


def test_train_action_under_act(make_repo, act, mlflow_server: MlflowServer) -> None:
    from mlflow.tracking import MlflowClient

    ensure_base_image()
    repo = make_repo(project_files())
    result = act(repo, WORKFLOW, env={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.job_results.get("train") == "success", result.log[-6000:]
    outputs = result.step_outputs("train", job="train")
    run_id = outputs["run-id"]
    assert outputs["image-digest"].startswith("sha256:")
    assert outputs["model-uri"] == f"runs:/{run_id}/model"
    assert f"handed on run={run_id}" in result.step_log("report", job="train")
    assert "mlci train" in result.summary(job="train")
    assert "epoch 12/12" in result.step_log("train", job="train")      # the log streamed

    client = MlflowClient(mlflow_server.url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["mlci.seed"] == "7" and tags["mlci.engine"] == "podman"
    assert tags["mlci.data_fingerprint"] == cli_fingerprint(repo, DATA_GLOB)
    assert tags["mlci.image_digest"] == outputs["image-digest"]
    head = (repo / ".git" / "refs" / "heads" / "main").read_text().strip()
    assert tags["mlci.git_commit"] == head
    assert tags["mlci.ci_run_url"].startswith("https://github.com/mlci-e2e/project/actions/runs/")
    assert run.data.params["epochs"] == "12" and run.data.params["learning_rate"] == "0.05"

    assert result.job_results.get("train-fails") == "failure", result.log[-6000:]
    assert result.step_result("train", job="train-fails") == "failure"
    failed_id = result.step_outputs("train", job="train-fails")["run-id"]
    assert f"failed run={failed_id}" in result.step_log("after", job="train-fails")
    assert any("the training command failed with exit code 3" in e for e in result.errors())
    failed = client.get_run(failed_id)
    assert failed.info.status == "FAILED"
    assert "going down" in Path(client.download_artifacts(failed_id, "mlci/train.log",
                                                          str(repo.parent))).read_text()
