"""`mlci train --backend sagemaker` against moto's server (S3 + SageMaker) and a real MLflow server.

What moto supports, and so what this tests: `CreateTrainingJob` stores the request and
`DescribeTrainingJob` reports the job `Completed` at once, with `ModelArtifacts` pointing at
`<S3OutputPath>/<job>/output/model.tar.gz`. moto runs no container and writes no
model.tar.gz (nor does it keep the job's `Environment`, or implement `StopTrainingJob`).
So the first test stages, at that S3 key, the model.tar.gz SageMaker would upload — the
outputs of the same toy trainer run on this host — and checks everything mlci does around
the job: the request (image, entrypoint, command, channels, output, isolation), the wait,
the download, and the MLflow run with the same record as a container run. The second
checks the honest failure when a completed job left no artifacts.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlci.cli import main
from tests.services import MlflowServer
from tests.train_support import PROJECT

pytestmark = pytest.mark.integration

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/toy@sha256:" + "ab" * 32
ROLE = "arn:aws:iam::123456789012:role/mlci-training"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str], tmp_path: Path) -> None:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLFLOW_TRACKING_URI", "MLCI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLCI_SAGEMAKER_POLL", "0.2")
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "step-outputs"))
    monkeypatch.chdir(tmp_path)


def boto(service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def bucket_with_data() -> str:
    bucket = f"sm-{uuid.uuid4().hex[:10]}"
    s3 = boto("s3")
    s3.create_bucket(Bucket=bucket)
    for name in ("train.csv", "holdout.csv"):
        s3.upload_file(str(PROJECT / "data" / name), bucket, f"data/{name}")
    return bucket


def trainer_outputs(tmp_path: Path) -> bytes:
    """model.tar.gz as SageMaker would upload it: the toy trainer's outputs, run on the host."""
    out = tmp_path / "sm-model"
    env = {**os.environ, "MLCI_DATA_DIR": str(PROJECT / "data"), "MLCI_OUTPUT_DIR": str(out),
           "MLCI_SEED": "3"}
    subprocess.run([sys.executable, str(PROJECT / "train.py")], env=env, check=True,
                   capture_output=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(out.rglob("*")):
            tar.add(path, arcname=path.relative_to(out).as_posix(), recursive=False)
    return buffer.getvalue()


def train(capsys: pytest.CaptureFixture[str], server: MlflowServer, bucket: str, job: str,
          experiment: str) -> tuple[int, dict[str, Any] | None, str]:
    capsys.readouterr()
    code = main(["train", "--backend", "sagemaker", "--image", IMAGE,
                 "--command", "python3 /app/train.py", "--data", f"s3://{bucket}/data/",
                 "--seed", "3", "--network", "none", "--timeout", "1h",
                 "--sagemaker-role", ROLE, "--sagemaker-output", f"s3://{bucket}/out",
                 "--sagemaker-job-name", job, "--experiment", experiment,
                 "--tracking-uri", server.url, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_sagemaker_job_is_created_awaited_and_logged(mlflow_server: MlflowServer,
                                                     capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from mlci.data.manifest import Manifest
    from mlci.data.s3 import s3_entries

    bucket = bucket_with_data()
    job = f"mlci-test-{uuid.uuid4().hex[:8]}"
    boto("s3").put_object(Bucket=bucket, Key=f"out/{job}/output/model.tar.gz",
                          Body=trainer_outputs(tmp_path))
    code, data, err = train(capsys, mlflow_server, bucket, job, f"sm-{job}")
    assert code == 0, err
    assert data is not None

    described = boto("sagemaker").describe_training_job(TrainingJobName=job)
    spec = described["AlgorithmSpecification"]
    assert spec["TrainingImage"] == IMAGE
    assert spec["ContainerEntrypoint"] == ["/bin/sh", "-c"]
    assert spec["ContainerArguments"] == ["python3 /app/train.py"]
    assert described["RoleArn"] == ROLE
    (channel,) = described["InputDataConfig"]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{bucket}/data/"
    assert described["OutputDataConfig"]["S3OutputPath"] == f"s3://{bucket}/out"
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600
    assert described["EnableNetworkIsolation"] is True

    run = MlflowClient(mlflow_server.url).get_run(data["run_id"])
    assert run.info.status == "FINISHED"
    assert set(run.data.metrics) == {"accuracy", "log_loss"}
    assert run.data.params["seed"] == "3"
    tags = run.data.tags
    assert tags["mlci.engine"] == "sagemaker"
    assert tags["mlci.image_digest"] == "sha256:" + "ab" * 32
    expected_fp = Manifest(s3_entries([f"s3://{bucket}/data/"])).fingerprint
    assert tags["mlci.data_fingerprint"] == expected_fp
    pred = data["lineage"]["predicate"]
    assert pred["run"]["backend"] == "sagemaker"
    assert pred["run"]["sagemaker"]["job_name"] == job
    assert pred["run"]["sagemaker"]["model_artifacts"] == \
        f"s3://{bucket}/out/{job}/output/model.tar.gz"
    assert pred["image"]["digest_kind"] == "repo-digest"
    assert {s["name"] for s in data["lineage"]["subject"]} == \
        {"metrics.json", "params.json", "predictions.csv", "model/weights.json"}
    assert data["model_uri"] == f"runs:/{data['run_id']}/model"


def test_sagemaker_job_without_artifacts_fails_the_run(mlflow_server: MlflowServer,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from mlflow.tracking import MlflowClient

    bucket = bucket_with_data()
    job = f"mlci-test-{uuid.uuid4().hex[:8]}"
    code, data, err = train(capsys, mlflow_server, bucket, job, f"sm-{job}")
    assert code == 1
    assert f"SageMaker reported job {job} Completed, but its model artifacts" in err
    assert data is not None and data["status"] == "FAILED"
    run = MlflowClient(mlflow_server.url).get_run(data["run_id"])
    assert run.info.status == "FAILED"
    assert "cannot be read" in run.data.tags["mlci.failure"]


def test_sagemaker_input_errors(capsys: pytest.CaptureFixture[str],
                                mlflow_server: MlflowServer) -> None:
    code = main(["train", "--backend", "sagemaker", "--image", IMAGE, "--command", "true",
                 "--data", "data/", "--sagemaker-role", ROLE, "--sagemaker-output",
                 "s3://b/out", "--tracking-uri", mlflow_server.url])
    assert code == 2
    assert "is not an s3:// prefix" in capsys.readouterr().err
    code = main(["train", "--backend", "sagemaker", "--image", IMAGE, "--command", "true",
                 "--sagemaker-output", "s3://b/out", "--tracking-uri", mlflow_server.url])
    assert code == 2
    assert "needs an execution role" in capsys.readouterr().err
