"""One training run, end to end.

1. check the inputs (Containerfile, context, data, env) and choose the engine — an input
   error here creates no MLflow run;
2. fingerprint the data (the same manifest and fingerprint as `mlci data-change`);
3. build the image, or resolve `--image` to its digest (the image ID that runs is pinned);
4. create the MLflow run (status RUNNING, lineage tags already set);
5. run the command with the in-container contract, streaming its log live; on timeout the
   container is killed by the name mlci gave it;
6. read the outputs (`outputs.py`) and log them, the lineage statement, the data manifest
   and the log into the run; end the run FINISHED — or FAILED when the command failed,
   timed out, or broke the output contract (exit 1).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import CheckFailed, InputError
from mlci.tracking import strip_credentials
from mlci.train import (
    CONTAINER_DATA_DIR,
    CONTAINER_OUTPUT_DIR,
    MODEL_ARTIFACT,
    lineage,
)
from mlci.train.engine import Engine, Image, Mount, RunResult, RunSpec, choose
from mlci.train.outputs import sha256_file
from mlci.train.record import finish_run, run_tags

if TYPE_CHECKING:
    from mlci.train.tracking import Tracker

DEFAULT_EXPERIMENT = "mlci"
RESERVED_ENV = frozenset({"MLCI_DATA_DIR", "MLCI_OUTPUT_DIR", "MLCI_SEED", "MLCI_DATA_FINGERPRINT",
                          "MLCI_GIT_COMMIT", "MLFLOW_RUN_ID"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Addresses that mean "this host" (compared, never bound).
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]")  # noqa: S104


class TrainFailed(CheckFailed):
    """The training command failed, timed out or broke the output contract (exit 1).

    The MLflow run exists and is marked FAILED; its id travels with the error."""

    def __init__(self, message: str, *, run_id: str = "", image_digest: str = "") -> None:
        super().__init__(message)
        self.run_id = run_id
        self.image_digest = image_digest


@dataclass
class Settings:
    """Everything a run needs, after flags override mlci.yml."""

    command: str
    base_dir: Path
    tracking_uri: str  # resolved: mlci.tracking.resolve_tracking_uri
    containerfile: Path | None = None
    context: Path | None = None
    image: str | None = None
    data: list[str] = field(default_factory=list)
    seed: int = 0
    experiment: str = DEFAULT_EXPERIMENT
    engine: str = "auto"
    gpus: str | None = None
    timeout: float | None = None
    network: str = "default"
    env: dict[str, str] = field(default_factory=dict)
    cpus: str | None = None
    memory: str | None = None
    outputs: Path | None = None
    run_name: str | None = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    pull: bool = True


@dataclass
class TrainResult:
    run_id: str
    experiment_id: str
    status: str                      # FINISHED | FAILED
    image: Image | None
    model_uri: str
    metrics: dict[str, float]
    digests: dict[str, str]
    statement: dict[str, Any]
    message: str = ""

    @property
    def image_digest(self) -> str:
        return self.image.digest if self.image else ""

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "experiment_id": self.experiment_id,
                "status": self.status, "image_digest": self.image_digest,
                "image": self.image.to_json() if self.image else None,
                "model_uri": self.model_uri, "metrics": self.metrics,
                "artifacts": self.digests, "message": self.message,
                "lineage": self.statement}


# -- helpers ---------------------------------------------------------------------------------
def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_env(items: Sequence[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`K=V` sets a value; a bare `K` passes the current environment's value through."""
    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not _ENV_NAME.match(name):
            raise InputError(f"expected NAME=VALUE (or NAME to pass it through), got {item!r}",
                             key="--env")
        if not sep:
            if name not in environ:
                raise InputError(f"{name} is not set in the environment to pass through",
                                 key="--env")
            value = environ[name]
        out[name] = value
    return out


def check_env(env: Mapping[str, str]) -> None:
    for name in env:
        if not _ENV_NAME.match(name):
            raise InputError(f"not a valid environment variable name: {name!r}", key="train.env")
        if name in RESERVED_ENV:
            raise InputError(f"{name} is set by mlci (the in-container contract); it cannot be "
                             "overridden", key="--env")


@dataclass
class DataSnapshot:
    paths: list[str]
    fingerprint: str | None
    manifest_text: str | None
    mounts: list[Mount]
    host_dirs: list[tuple[Path, str]]   # (host path, name under the data dir)


def snapshot_data(paths: Sequence[str], root: Path) -> DataSnapshot:
    """Fingerprint the data as `mlci data-change` does, and plan its mounts.

    One directory is mounted as /data itself; otherwise each path (globs expanded) is
    mounted as /data/<its name>. Two paths with the same name are an input error.
    """
    if not paths:
        return DataSnapshot([], None, None, [], [])
    import glob as glob_mod

    from mlci.data.local import fingerprint_paths

    manifest = fingerprint_paths(list(paths), root, show_progress=False).manifest
    manifest.sources = list(paths)
    found: list[Path] = []
    for pattern in paths:
        full = os.path.join(root, os.path.expanduser(pattern))
        if set("*?[") & set(pattern):
            found += [Path(p) for p in sorted(glob_mod.glob(full, recursive=True))]
        else:
            found.append(Path(full))
    found = [p.resolve() for p in found]
    if len(found) == 1 and found[0].is_dir():
        mounts = [Mount(found[0], CONTAINER_DATA_DIR)]
        host_dirs = [(found[0], "")]
    else:
        names: dict[str, Path] = {}
        for path in found:
            if path.name in names and names[path.name] != path:
                raise InputError(f"two data paths are both named {path.name!r} ({names[path.name]}"
                                 f" and {path}); each is mounted as {CONTAINER_DATA_DIR}/<name>",
                                 key="--data")
            names[path.name] = path
        mounts = [Mount(p, f"{CONTAINER_DATA_DIR}/{name}") for name, p in names.items()]
        host_dirs = [(p, name) for name, p in names.items()]
    return DataSnapshot(list(paths), manifest.fingerprint, manifest.dumps(), mounts, host_dirs)


def container_tracking_uri(uri: str, engine: Engine, network: str) -> str | None:
    """MLFLOW_TRACKING_URI for the training command, when it can reach the server."""
    from urllib.parse import urlsplit

    if not engine.containerized:
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            return "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
        return uri
    if network == "none":
        return None
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https", "databricks"):
        return None  # a file or database on this host: not inside the container
    if parts.scheme != "databricks" and (parts.hostname or "") in _LOOPBACK:
        return None  # the container's loopback is not this host's
    return uri


class _Log:
    """Where the run's log goes: our stderr (live) and a file logged as an artifact."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, text: str, *, echo: bool = True) -> None:
        line = f"mlci: {text}\n"
        if echo:
            sys.stderr.write(line)
            sys.stderr.flush()
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(line)


# -- the run ---------------------------------------------------------------------------------
def prepare(settings: Settings) -> tuple[Engine, DataSnapshot, dict[str, str]]:
    """Every check that needs no MLflow run: fails before anything is recorded."""
    if not settings.command or not settings.command.strip():
        raise InputError("no training command: give --command (or train.command in mlci.yml)",
                         key="--command")
    if settings.engine != "local" and bool(settings.containerfile) == bool(settings.image):
        raise InputError("give exactly one of --containerfile FILE or --image REF "
                         "(or train.containerfile / train.image in mlci.yml)",
                         key="--containerfile")
    if settings.network not in ("none", "default"):
        raise InputError(f"expected none or default, got {settings.network!r}", key="--network")
    if settings.timeout is not None and settings.timeout <= 0:
        raise InputError(f"expected a positive number of seconds, got {settings.timeout}",
                         key="--timeout")
    check_env(settings.env)
    if settings.engine == "local" and settings.containerfile:
        raise InputError("--engine local runs the command on this host without a container; "
                         "it cannot use --containerfile (give --image to record which image "
                         "the host stands for, or choose docker/podman)", key="--engine")
    if settings.containerfile:
        if not settings.containerfile.is_file():
            raise InputError("Containerfile not found", file=str(settings.containerfile),
                             key="--containerfile")
        context = settings.context or settings.containerfile.parent
        if not context.is_dir():
            raise InputError("build context directory not found", file=str(context),
                             key="--context")
    if settings.outputs is not None and settings.outputs.exists() and \
            any(settings.outputs.iterdir()):
        raise InputError("the output directory must be empty (stale files would be logged as "
                         "this run's outputs)", file=str(settings.outputs), key="--outputs")
    from concurrent.futures import ThreadPoolExecutor

    # The engine probe is a subprocess: let it overlap with fingerprinting the data.
    with ThreadPoolExecutor(1) as pool:
        probing = pool.submit(choose, settings.engine)
        try:
            snapshot = snapshot_data(settings.data, settings.base_dir)
        finally:
            engine = probing.result()
    extra_env = dict(settings.env)
    return engine, snapshot, extra_env


def resolve_image(settings: Settings, engine: Engine,
                  build_log: Path) -> tuple[Image, dict[str, Any]]:
    from mlci import ci

    facts: dict[str, Any] = {"containerfile": None, "containerfile_sha256": None,
                             "context": None, "built": False}
    if settings.containerfile:
        cf = settings.containerfile
        context = settings.context or cf.parent
        cf_sha = sha256_file(cf)
        tag = f"mlci-train:{cf_sha.split(':')[1][:12]}"
        with ci.current().group(f"mlci train: {engine.name} build -f {cf} {context}"):
            image = engine.build(cf, context, tag, log=build_log)
        facts.update(containerfile=_relative(cf, settings.base_dir),
                     containerfile_sha256=cf_sha, context=_relative(context, settings.base_dir),
                     built=True)
        return image, facts
    if not engine.containerized:
        # `local` with --image: the host stands for the image; nothing is pulled or run.
        return Image(ref=settings.image or "", id="", digest="", digest_kind="none"), facts
    assert settings.image
    return engine.resolve(settings.image, pull=settings.pull), facts


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def train(settings: Settings) -> TrainResult:
    """Run training once. Raises InputError/ServiceError (exit 2) before a run exists, and
    TrainFailed (exit 1) after marking the run FAILED; returns the finished run otherwise."""
    from mlci import ci
    from mlci.train.tracking import tracker

    platform = ci.current()
    engine, snapshot, extra_env = prepare(settings)
    # The registry before the expensive work: an unreachable tracking server fails in
    # seconds, not after the image is built.
    client = tracker(settings.tracking_uri)
    experiment_id = client.experiment_id(settings.experiment)
    work = Path(tempfile.mkdtemp(prefix="mlci-train-"))
    previous = _on_sigterm()
    try:
        return _train(settings, engine, snapshot, extra_env, platform, work, client,
                      experiment_id)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(work, ignore_errors=True)


def _on_sigterm() -> Any:
    """A cancelled CI job gets SIGTERM: treat it like Ctrl-C, so the container is killed and
    the run is ended KILLED instead of left running."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _train(settings: Settings, engine: Engine, snapshot: DataSnapshot, extra_env: dict[str, str],
           platform: Any, work: Path, client: Tracker, experiment_id: str) -> TrainResult:
    from mlci.train import outputs as outputs_mod

    build_log = work / "build.log"
    run_log = work / "train.log"
    run_log.touch()
    log = _Log(run_log)
    from concurrent.futures import ThreadPoolExecutor

    # git and host facts overlap with the build / image resolution.
    with ThreadPoolExecutor(2) as pool:
        git_future = pool.submit(lineage.git_facts, settings.base_dir, platform.commit)
        host_future = pool.submit(lineage.host_facts)
        try:
            image, image_facts = resolve_image(settings, engine, build_log)
        finally:
            code = git_future.result()
            host = host_future.result()
    # Absolute: a relative `-v path:/outputs` would name a volume, not a directory.
    out_dir = (settings.outputs or work / "outputs").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o777)  # noqa: S103 - the image's user may not be ours
    empty_data = work / "no-data"

    run_facts: dict[str, Any] = {
        "backend": "container" if engine.containerized else "local",
        "command": settings.command, "seed": settings.seed,
        "env": lineage.recorded_env(extra_env), "network": settings.network,
        "cpus": settings.cpus, "memory": settings.memory, "gpus": settings.gpus,
        "timeout_seconds": settings.timeout, "isolation": "container" if engine.containerized
        else "none (--engine local: the command ran on the host)",
        "started_at": None, "finished_at": None, "duration_seconds": None,
        "exit_code": None, "timed_out": False, "status": "RUNNING",
    }
    predicate = lineage.predicate(
        code=code, data_paths=snapshot.paths, fingerprint=snapshot.fingerprint,
        has_manifest=bool(snapshot.manifest_text),
        mounts={m.container: _relative(m.host, settings.base_dir) for m in snapshot.mounts},
        image={**image.to_json(), **image_facts},
        engine={"name": engine.name, "version": engine.version,
                "containerized": engine.containerized},
        run=run_facts, host=host, platform=platform, tracking_uri=settings.tracking_uri)
    run_id = client.create_run(experiment_id, run_tags(predicate, settings.extra_tags),
                               settings.run_name)
    predicate["mlflow"].update(experiment_id=experiment_id, run_id=run_id)
    log.note(f"MLflow run {run_id} (experiment {settings.experiment!r})")

    # -- the in-container contract ---------------------------------------------------------
    if engine.containerized:
        if not snapshot.mounts:
            empty_data.mkdir()
            mounts = [Mount(empty_data, CONTAINER_DATA_DIR)]
        else:
            mounts = list(snapshot.mounts)
        mounts.append(Mount(out_dir, CONTAINER_OUTPUT_DIR, read_only=False))
        data_dir, output_dir = CONTAINER_DATA_DIR, CONTAINER_OUTPUT_DIR
    else:
        mounts = []
        data_dir = _local_data_dir(snapshot, work)
        output_dir = str(out_dir)
    contract = {
        "MLCI_DATA_DIR": data_dir,
        "MLCI_OUTPUT_DIR": output_dir,
        "MLCI_SEED": str(settings.seed),
        "MLCI_DATA_FINGERPRINT": snapshot.fingerprint or "",
        "MLCI_GIT_COMMIT": code.get("commit") or "",
        "MLFLOW_RUN_ID": run_id,
    }
    env = {"PYTHONHASHSEED": str(settings.seed), **extra_env, **contract}
    inner_uri = container_tracking_uri(settings.tracking_uri, engine, settings.network)
    if inner_uri:
        env["MLFLOW_TRACKING_URI"] = inner_uri
    else:
        log.note("MLFLOW_TRACKING_URI is not passed to the container: "
                 f"{strip_credentials(settings.tracking_uri)} is not reachable from it "
                 f"(network {settings.network}); mlci logs the outputs itself")
    spec = RunSpec(image=image.id or None, command=settings.command,
                   name=f"mlci-{run_id[:12]}-{secrets.token_hex(3)}", mounts=mounts, env=env,
                   network=settings.network, cpus=settings.cpus, memory=settings.memory,
                   gpus=settings.gpus, timeout=settings.timeout, workdir=settings.base_dir)

    status = "FAILED"
    message = ""
    result_outputs = None
    result: RunResult | None = None
    try:
        run_facts["started_at"] = now_iso()
        started = time.monotonic()
        with platform.group(f"mlci train: {settings.command}"):
            result = engine.run(spec, log=run_log)
        run_facts["finished_at"] = now_iso()
        run_facts["duration_seconds"] = round(time.monotonic() - started, 3)
        run_facts["exit_code"] = result.returncode
        run_facts["timed_out"] = result.timed_out
        if result.timed_out:
            message = (f"the training command timed out after {settings.timeout:g}s; the "
                       f"container {spec.name} was killed" if engine.containerized else
                       f"the training command timed out after {settings.timeout:g}s and was "
                       "killed")
        elif result.returncode != 0:
            message = f"the training command failed with exit code {result.returncode}"
            if engine.containerized and result.returncode == 125:
                message = (f"{engine.name} could not run the container (exit code 125; its "
                           "message is in the log above)")
            elif result.returncode == 127:
                message += " (command not found in the image)"
            elif result.returncode == 126:
                message += " (command found but not executable)"
        else:
            try:
                result_outputs = outputs_mod.read_outputs(out_dir)
                status = "FINISHED"
            except outputs_mod.OutputError as error:
                message = f"the outputs break the contract: {error}"
    except KeyboardInterrupt:
        status = "KILLED"
        message = "interrupted"
        raise
    finally:
        run_facts["status"] = status
        if run_facts["finished_at"] is None:
            run_facts["finished_at"] = now_iso()
        if message:
            # Kept in the run's log only: the CLI prints the error itself (once).
            log.note("error: " + message, echo=False)
        digests = result_outputs.digests if result_outputs else {}
        if result_outputs:
            predicate["outputs"] = result_outputs.summary()
        statement = lineage.statement(digests, predicate)
        finish_run(client, settings, run_id, status, message, statement, snapshot, result_outputs,
                work, build_log, run_log)
    model_uri = f"runs:/{run_id}/{MODEL_ARTIFACT}" if result_outputs and \
        result_outputs.has_model else ""
    if status != "FINISHED":
        raise TrainFailed(f"{message}; MLflow run {run_id} marked FAILED", run_id=run_id,
                          image_digest=image.digest)
    assert result_outputs is not None
    return TrainResult(run_id, experiment_id, status, image if image.id else None, model_uri,
                       result_outputs.metrics, digests, statement)


def _local_data_dir(snapshot: DataSnapshot, work: Path) -> str:
    """The local engine has no mounts: one directory is the data dir itself; several paths
    are linked into one directory under their names, like the container layout."""
    if not snapshot.host_dirs:
        empty = work / "no-data"
        empty.mkdir(exist_ok=True)
        return str(empty)
    if len(snapshot.host_dirs) == 1 and snapshot.host_dirs[0][1] == "":
        return str(snapshot.host_dirs[0][0])
    data = work / "data"
    data.mkdir()
    for host, name in snapshot.host_dirs:
        (data / name).symlink_to(host)
    return str(data)


def summary_markdown(result: TrainResult) -> str:
    rows = [f"| run | `{result.run_id}` |", f"| image digest | `{result.image_digest or '-'}` |",
            f"| model | `{result.model_uri or '-'}` |"]
    pred = result.statement["predicate"]
    rows.append(f"| data fingerprint | `{pred['data'].get('fingerprint') or '-'}` |")
    rows.append(f"| commit | `{pred['code'].get('commit') or '-'}` |")
    rows.append(f"| engine | {pred['engine']['name']} {pred['engine']['version']} |")
    metrics = "\n".join(f"| {k} | {v:.6g} |" for k, v in sorted(result.metrics.items()))
    return ("### mlci train\n\n| | |\n|---|---|\n" + "\n".join(rows) +
            "\n\n| metric | value |\n|---|---|\n" + metrics + "\n")

