"""gitlab-templates/train.yml under real `gitlab-ci-local`, with podman as the engine and a
real `mlflow server`: the run id reaches a later job through dotenv, the outputs are a job
artifact, and a failing command fails the job with the run marked FAILED."""

from __future__ import annotations

import pytest

from tests.e2e.test_train_action import DATA_GLOB, cli_fingerprint, project_files
from tests.services import MlflowServer
from tests.train_support import ensure_base_image

pytestmark = pytest.mark.e2e


def pipeline(wheel: str) -> str:
    return f"""stages: [train, after]
include:
  - local: gitlab-templates/train.yml
    inputs:
      stage: train
      mlci-install: {wheel}
      engine: podman
      data: data/**/*.csv
      seed: "11"
      env: |
        EPOCHS=8
  - local: gitlab-templates/train.yml
    inputs:
      job-prefix: broken
      stage: train
      mlci-install: {wheel}
      engine: podman
      train-image: localhost/mlci-test-base
      command: echo "going down, outputs in $MLCI_OUTPUT_DIR"; exit 3
      experiment: e2e-gitlab-fails
      outputs: broken-outputs
# A later job sees the run through the train job's dotenv report.
use-model:
  stage: after
  needs: [mlci-train]
  script:
    - echo "model seen downstream=$MLCI_MODEL_URI run=$MLCI_RUN_ID"
"""


def test_train_template_under_gitlab_ci_local(make_repo, gitlab, mlci_wheel,
                                              mlflow_server: MlflowServer) -> None:
    from mlflow.tracking import MlflowClient

    ensure_base_image()
    repo = make_repo({**project_files(), ".gitlab-ci.yml": pipeline(str(mlci_wheel))})
    result = gitlab(repo, variables={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.jobs.get("mlci-train") == "PASS", (result.jobs, result.log[-6000:])
    assert result.jobs.get("use-model") == "PASS", result.log[-4000:]
    env = result.dotenv["mlci-train"]
    run_id = env["MLCI_RUN_ID"]
    assert env["MLCI_IMAGE_DIGEST"].startswith("sha256:")
    assert env["MLCI_MODEL_URI"] == f"runs:/{run_id}/model"
    assert f"model seen downstream=runs:/{run_id}/model run={run_id}" in \
        result.job_log("use-model")
    artifacts = result.artifacts_dir("mlci-train")
    assert (artifacts / "mlci-outputs" / "model" / "weights.json").is_file()
    assert "mlci train" in (artifacts / "mlci-summary.md").read_text()
    assert "epoch 8/8" in result.job_log("mlci-train")

    client = MlflowClient(mlflow_server.url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlci.seed"] == "11" and run.data.tags["mlci.engine"] == "podman"
    # the same glob, the same three files, the same fingerprint as the CLI (and the action)
    assert run.data.tags["mlci.data_fingerprint"] == cli_fingerprint(repo, DATA_GLOB)
    assert run.data.params["epochs"] == "8"

    assert result.jobs.get("broken-train") == "FAIL", result.jobs
    failed_id = result.dotenv["broken-train"]["MLCI_RUN_ID"]
    assert client.get_run(failed_id).info.status == "FAILED"
    assert "the training command failed with exit code 3" in result.job_log("broken-train")
    # inputs arrive literally (expand: false): the container's shell expanded the variable
    assert "going down, outputs in /outputs" in result.job_log("broken-train")
