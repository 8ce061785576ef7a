"""`mlci train --backend sagemaker`: the same run as a SageMaker training job, the same record.

- the image is `--image` (an ECR reference the job can pull; pin it by digest,
  `...@sha256:...`, to record a registry digest — a tag is recorded as given);
- each `--data s3://bucket/prefix/` is an S3 input channel (one channel is named `training`;
  several are named after their last path segment); the data fingerprint is the one
  `mlci data-change --s3` computes from the listing (ETags);
- the command runs as the job's entrypoint `/bin/sh -c COMMAND`; the contract's environment
  is the job's `Environment`: MLCI_DATA_DIR=/opt/ml/input/data[/training],
  MLCI_OUTPUT_DIR=/opt/ml/model (SageMaker uploads it as model.tar.gz), MLCI_SEED, ...;
- `--network none` becomes EnableNetworkIsolation; `--timeout` the job's MaxRuntimeInSeconds
  (and mlci stops the job if it outlives that);
- mlci waits for the job, downloads model.tar.gz from the job's S3 output, and logs it with
  `outputs.py` exactly like a container run (metrics, params, artifacts, lineage, tags).

Settings: `--sagemaker-role` ($MLCI_SAGEMAKER_ROLE), `--sagemaker-output`
($MLCI_SAGEMAKER_OUTPUT), `--sagemaker-instance-type` (default ml.m5.large),
$MLCI_SAGEMAKER_POLL (seconds between status checks, default 30). The SageMaker endpoint is
$AWS_ENDPOINT_URL_SAGEMAKER / $AWS_ENDPOINT_URL when set, else AWS.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from mlci import names
from mlci.errors import InputError, MlciError, ServiceError
from mlci.train import MODEL_ARTIFACT, lineage
from mlci.train.engine import Image
from mlci.train.record import create_run, finish_run, run_tags
from mlci.train.runner import (
    DataSnapshot,
    Settings,
    TrainFailed,
    TrainResult,
    check_env,
    now_iso,
)

DEFAULT_INSTANCE = "ml.m5.large"
TERMINAL = ("Completed", "Failed", "Stopped")
_CHANNEL = re.compile(r"[^A-Za-z0-9.\-_]")


def _client(service: str) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise InputError("--backend sagemaker needs boto3: pip install 'mlci[s3]'",
                         key="--backend") from None
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or \
        os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client(service, endpoint_url=endpoint,
                        config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def channels(uris: list[str]) -> list[tuple[str, str]]:
    """(channel name, s3 uri) for each data prefix."""
    if len(uris) == 1:
        return [("training", uris[0])]
    out: list[tuple[str, str]] = []
    for uri in uris:
        name = _CHANNEL.sub("-", uri.rstrip("/").rsplit("/", 1)[-1])[:64] or "data"
        if name in {n for n, _ in out}:
            raise InputError(f"two data prefixes would both be channel {name!r}", key="--data")
        out.append((name, uri))
    return out


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _extract(archive: Path, dest: Path) -> None:
    """Unpack model.tar.gz; members that would leave `dest` are refused."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if not target.is_relative_to(dest.resolve()) or member.issym() or member.islnk() \
                    or member.isdev():
                raise TrainFailed(f"model.tar.gz holds an unsafe member {member.name!r}")
        tar.extractall(dest)  # noqa: S202 - every member checked above


def train_sagemaker(settings: Settings, *, role: str | None, output: str | None,
                    instance_type: str | None, job_name: str | None = None) -> TrainResult:
    from botocore.exceptions import BotoCoreError, ClientError

    from mlci import ci
    from mlci.train import outputs as outputs_mod

    role = role or os.environ.get("MLCI_SAGEMAKER_ROLE")
    output = (output or os.environ.get("MLCI_SAGEMAKER_OUTPUT") or "").rstrip("/")
    if not settings.command.strip():
        raise InputError("no training command: give --command", key="--command")
    if settings.containerfile or not settings.image:
        raise InputError("--backend sagemaker runs a pushed image: give --image (an ECR "
                         "reference, ideally pinned @sha256:...), not --containerfile",
                         key="--image")
    if not role:
        raise InputError("--backend sagemaker needs an execution role: --sagemaker-role ARN "
                         "or $MLCI_SAGEMAKER_ROLE", key="--sagemaker-role")
    if not output.startswith("s3://") or len(output) <= 5:
        raise InputError("--backend sagemaker needs an S3 output prefix: --sagemaker-output "
                         "s3://bucket/prefix or $MLCI_SAGEMAKER_OUTPUT", key="--sagemaker-output")
    bad = [p for p in settings.data if not p.startswith("s3://")]
    if bad:
        raise InputError(f"--backend sagemaker reads data from S3: {bad[0]!r} is not an "
                         "s3:// prefix", key="--data")
    if settings.gpus:
        raise InputError("--gpus does not apply to SageMaker: choose a GPU instance type with "
                         "--sagemaker-instance-type", key="--gpus")
    check_env(settings.env)
    instance_type = instance_type or DEFAULT_INSTANCE
    poll = float(os.environ.get("MLCI_SAGEMAKER_POLL", "30"))

    # -- data fingerprint (as data-change --s3 computes it) -------------------------------
    fingerprint, manifest_text = None, None
    if settings.data:
        from mlci.data.manifest import Manifest
        from mlci.data.s3 import s3_entries

        manifest = Manifest(s3_entries(list(settings.data)), sources=list(settings.data))
        fingerprint, manifest_text = manifest.fingerprint, manifest.dumps()
    snapshot = DataSnapshot(list(settings.data), fingerprint, manifest_text, [], [])
    chans = channels(list(settings.data))
    data_dir = "/opt/ml/input/data" + ("/training" if len(chans) == 1 else "")

    platform = ci.current()
    code = lineage.git_facts(settings.base_dir, platform.commit)
    pinned = "@sha256:" in settings.image
    digest = settings.image.rpartition("@")[2] if pinned else ""
    image = Image(ref=settings.image, id="", digest=digest,
                  digest_kind="repo-digest" if pinned else "tag (not pinned)",
                  repo_digest=settings.image if pinned else None)
    run_facts: dict[str, Any] = {
        "backend": "sagemaker", "command": settings.command, "seed": settings.seed,
        "env": lineage.recorded_env(settings.env), "network": settings.network,
        "cpus": None, "memory": None, "gpus": None, "timeout_seconds": settings.timeout,
        "isolation": "sagemaker training job", "started_at": None, "finished_at": None,
        "duration_seconds": None, "exit_code": None, "timed_out": False, "status": "RUNNING",
        "sagemaker": {"instance_type": instance_type, "role": role, "output": output,
                      "channels": dict(chans), "job_name": None, "job_arn": None},
    }
    predicate = lineage.predicate(
        code=code, data_paths=list(settings.data), fingerprint=fingerprint,
        has_manifest=bool(manifest_text),
        mounts={f"/opt/ml/input/data/{n}": u for n, u in chans},
        image={**image.to_json(), "containerfile": None, "containerfile_sha256": None,
               "context": None, "built": False},
        engine={"name": "sagemaker", "version": None, "containerized": True},
        run=run_facts, host={"kind": "sagemaker", "instance_type": instance_type},
        platform=platform, tracking_uri=settings.tracking_uri)
    sm, s3 = _client("sagemaker"), _client("s3")
    from mlci.train.tracking import tracker

    client = tracker(settings.tracking_uri)
    experiment_id, run_id = create_run(
        client, settings.tracking_uri, settings.experiment,
        run_tags(predicate, settings.extra_tags), settings.run_name)
    predicate["mlflow"].update(experiment_id=experiment_id, run_id=run_id)
    name = job_name or f"mlci-{run_id[:16]}-{secrets.token_hex(3)}"
    run_facts["sagemaker"]["job_name"] = name
    env = {"PYTHONHASHSEED": str(settings.seed), **settings.env,
           "MLCI_DATA_DIR": data_dir, "MLCI_OUTPUT_DIR": "/opt/ml/model",
           "MLCI_SEED": str(settings.seed), "MLCI_DATA_FINGERPRINT": fingerprint or "",
           "MLCI_GIT_COMMIT": code.get("commit") or "", "MLFLOW_RUN_ID": run_id}
    if settings.network != "none" and settings.tracking_uri.startswith(("http://", "https://")):
        env["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    request = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": settings.image, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": ["/bin/sh", "-c"],
                                   "ContainerArguments": [settings.command]},
        "RoleArn": role,
        "InputDataConfig": [{"ChannelName": n, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": u, "S3DataDistributionType": "FullyReplicated"}}}
            for n, u in chans],
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1,
                           "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": int(settings.timeout or 86400)},
        "Environment": env,
        "EnableNetworkIsolation": settings.network == "none",
        "Tags": [{"Key": names.SAGEMAKER_RUN_ID, "Value": run_id}],
    }
    status, message = "FAILED", ""
    result_outputs = None
    work = Path(tempfile.mkdtemp(prefix="mlci-sagemaker-"))
    run_log = work / "train.log"
    build_log = work / "no-build.log"
    try:
        run_facts["started_at"] = now_iso()
        started = time.monotonic()
        with platform.group(f"mlci train: SageMaker training job {name}"):
            try:
                created = sm.create_training_job(**request)
                run_facts["sagemaker"]["job_arn"] = created.get("TrainingJobArn")
                job = _wait(sm, name, settings.timeout, poll, run_log)
            except (ClientError, BotoCoreError) as error:
                message = f"SageMaker: {error}"
                job = None
        run_facts["finished_at"] = now_iso()
        run_facts["duration_seconds"] = round(time.monotonic() - started, 3)
        if job is not None:
            job_status = job.get("TrainingJobStatus")
            run_facts["sagemaker"]["status"] = job_status
            if job_status == "Completed":
                artifact = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts", "")
                run_facts["sagemaker"]["model_artifacts"] = artifact
                out_dir = work / "outputs"
                out_dir.mkdir()
                try:
                    bucket, key = _split_s3(artifact)
                    s3.download_file(bucket, key, str(work / "model.tar.gz"))
                except (ClientError, BotoCoreError, ValueError) as error:
                    message = (f"SageMaker reported job {name} Completed, but its model "
                               f"artifacts {artifact or '(none)'} cannot be read: {error}")
                else:
                    _extract(work / "model.tar.gz", out_dir)
                    try:
                        result_outputs = outputs_mod.read_outputs(out_dir)
                        status = "FINISHED"
                    except outputs_mod.OutputError as error:
                        message = f"the outputs break the contract: {error}"
            else:
                run_facts["timed_out"] = job.get("_mlci_timed_out", False)
                message = (f"SageMaker training job {name} ended {job_status}: "
                           f"{job.get('FailureReason') or 'no reason given'}")
    except MlciError as error:
        message = str(error)
    finally:
        run_facts["status"] = status
        if message:
            with open(run_log, "a", encoding="utf-8") as out:
                out.write(f"mlci: error: {message}\n")
        digests = result_outputs.digests if result_outputs else {}
        if result_outputs:
            predicate["outputs"] = result_outputs.summary()
        statement = lineage.statement(digests, predicate)
        has_model = bool(result_outputs and result_outputs.has_model)
        try:
            finish_run(client, settings, run_id, status, message, statement, snapshot,
                    result_outputs, work, build_log, run_log)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    if status != "FINISHED" or result_outputs is None:
        raise TrainFailed(f"{message}; MLflow run {run_id} marked FAILED", run_id=run_id,
                          image_digest=image.digest)
    model_uri = f"runs:/{run_id}/{MODEL_ARTIFACT}" if has_model else ""
    return TrainResult(run_id, experiment_id, status, image, model_uri, result_outputs.metrics,
                       digests, statement)


def _wait(sm: Any, name: str, timeout: float | None, poll: float, log: Path) -> dict[str, Any]:
    """Poll until the job ends; stop it when it outlives the timeout."""
    deadline = time.monotonic() + timeout if timeout else None
    last = None
    while True:
        job = sm.describe_training_job(TrainingJobName=name)
        state = (job.get("TrainingJobStatus"), job.get("SecondaryStatus"))
        if state != last:
            line = f"mlci: SageMaker job {name}: {state[0]} ({state[1]})\n"
            import sys

            sys.stderr.write(line)
            with open(log, "a", encoding="utf-8") as out:
                out.write(line)
            last = state
        if job.get("TrainingJobStatus") in TERMINAL:
            return dict(job)
        if deadline is not None and time.monotonic() > deadline:
            try:
                sm.stop_training_job(TrainingJobName=name)
            except Exception as error:  # noqa: BLE001 - still report the timeout
                raise ServiceError(f"SageMaker job {name} timed out and could not be "
                                   f"stopped: {error}") from None
            job = dict(job, TrainingJobStatus="Stopped", _mlci_timed_out=True,
                       FailureReason=f"timed out after {timeout:g}s; stopped by mlci")
            return job
        time.sleep(poll)
