"""Recording a training run in MLflow, the same for every backend (container, local,
SageMaker): create the run with its lineage tags, then log the outputs, the lineage
statement, the data manifest and the logs, and end it. The backends differ only in how the
command runs (`runner` for container engines, `sagemaker` for a training job)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import names
from mlci.errors import MlciError, ServiceError
from mlci.tracking import strip_credentials
from mlci.train import lineage

if TYPE_CHECKING:
    from mlci.train.runner import DataSnapshot, Settings


def _service(what: str, uri: str, error: Exception) -> ServiceError:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return ServiceError(f"MLflow tracking server {strip_credentials(uri)}: {what} failed: "
                        f"{text[:500]}")


def create_run(client: Any, uri: str, experiment: str, tags: Mapping[str, str],
               run_name: str | None) -> tuple[str, str]:
    """Create the run with a `tracking.Tracker`: (experiment id, run id)."""
    experiment_id = client.experiment_id(experiment)
    return experiment_id, client.create_run(experiment_id, tags, run_name)


def finish_run(client: Any, settings: Settings, run_id: str, status: str, message: str,
            statement: dict[str, Any], snapshot: DataSnapshot, outputs: Any, work: Path,
            build_log: Path, run_log: Path) -> None:
    """Log everything into the run and end it. A failure here marks the run FAILED."""
    from mlci.train import outputs as outputs_mod

    try:
        meta = work / names.META_DIR
        meta.mkdir(exist_ok=True)
        (meta / Path(names.LINEAGE_ARTIFACT).name).write_text(lineage.dumps(statement),
                                                              encoding="utf-8")
        if snapshot.manifest_text:
            (meta / Path(names.MANIFEST_ARTIFACT).name).write_text(snapshot.manifest_text,
                                                                   encoding="utf-8")
        shutil.copyfile(run_log, meta / Path(names.TRAIN_LOG_ARTIFACT).name)
        if build_log.exists():
            shutil.copyfile(build_log, meta / Path(names.BUILD_LOG_ARTIFACT).name)
        uploads: list[tuple[Path, str | None]] = [(meta, names.META_DIR)]
        if outputs is not None:
            uploads += outputs_mod.uploads(outputs.directory)
        upload_all(client, run_id, uploads)
        tags = lineage.tags(statement["predicate"])
        if message:
            tags[names.FAILURE] = message[:4000]
        client.log_batch(run_id, metrics=outputs.metrics if outputs else None,
                         params=outputs.params if outputs else None, tags=tags)
        client.terminate(run_id, status)
    except BaseException as error:
        with contextlib.suppress(Exception):  # the first error is the one to report
            client.terminate(run_id, "FAILED")
        if isinstance(error, MlciError) or not isinstance(error, Exception):
            raise
        raise _service(f"logging run {run_id}", settings.tracking_uri, error) from None


def upload_all(client: Any, run_id: str, uploads: list[tuple[Path, str | None]]) -> None:
    """Upload files and directories (path, artifact dir), a few at a time over REST."""
    from concurrent.futures import ThreadPoolExecutor

    from mlci.train.tracking import RestTracker

    files: list[tuple[Path, str | None]] = []
    for path, target in uploads:
        if path.is_dir() and not isinstance(client, RestTracker):
            client.log_dir(run_id, path, target)
        elif path.is_dir():
            for current, dirs, names in os.walk(path):
                dirs.sort()
                rel = Path(current).relative_to(path).as_posix()
                where = "/".join(p for p in (target, "" if rel == "." else rel) if p) or None
                files += [(Path(current) / name, where) for name in sorted(names)]
        else:
            files.append((path, target))
    if not files:
        return
    if not isinstance(client, RestTracker):
        for path, target in files:
            client.log_file(run_id, path, target)
        return
    with ThreadPoolExecutor(min(4, len(files))) as pool:
        for future in [pool.submit(client.log_file, run_id, p, t) for p, t in files]:
            future.result()




def run_tags(predicate: Mapping[str, Any], extra: Mapping[str, str]) -> dict[str, str]:
    """The tags a run starts with: the lineage summary, the caller's, MLflow's source."""
    return {**lineage.tags(dict(predicate)), **extra, "mlflow.source.name": "mlci train",
            "mlflow.source.type": "JOB"}
