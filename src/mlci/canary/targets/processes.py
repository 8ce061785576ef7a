"""Processes the local target starts and must find again from another mlci process: model
servers recorded by pid and port, each in its own session so a whole process group stops
together and outlives the mlci that started it.

A model server is MLflow's scoring server, the process `mlflow models serve --env-manager
local` ends up running (uvicorn with `mlflow.pyfunc.scoring_server.app:app`, the model
directory in `__pyfunc_model_path__`), started directly: the model is downloaded here, and the
`mlflow` command line, which imports most of MLflow before it does anything, is skipped. That
cuts a server's start-up from about 5.7 s to 2 s on a 2-core machine, paid once per rollout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.canary.interfaces import ModelRef, TargetError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(pid: int, marker: str) -> bool:
    """`pid` runs and its command line holds `marker` (a reused pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and marker.encode() in cmdline


def answers(port: int, paths: tuple[str, ...] = ("/ping", "/health")) -> bool:
    for path in paths:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            continue
    return False


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


# What MLflow's scoring-server app reads to find the model (`mlflow.pyfunc.scoring_server`);
# the local target's tests start real servers, so a change in MLflow fails them.
MODEL_PATH_VARIABLE = "__pyfunc_model_path__"
SCORING_APP = "mlflow.pyfunc.scoring_server.app:app"
MARKER = "mlflow"   # in the command line of a server this module starts (and of older ones)


def download_model(ref: ModelRef, workdir: Path, tracking_uri: str | None) -> Path:
    """The model's directory under `workdir/models/`, downloaded once per version."""
    target = workdir / "models" / f"{ref.model}-{ref.version}"
    if (target / "MLmodel").is_file():
        return target
    from mlci.registry.client import NotFound, Refused, Registry

    # Downloaded beside and renamed in: a server never starts on a half-copied model.
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        found = Path(Registry(tracking_uri).download(ref.uri, str(staging)))
        if not (found / "MLmodel").is_file():
            raise TargetError(f"{ref.uri} is not an MLflow model (no MLmodel file)")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(found, target)
    except (NotFound, Refused) as error:
        raise TargetError(f"cannot download {ref.uri}: {error.message}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def prune_models(workdir: Path, serving: list[dict[str, Any] | None]) -> None:
    """Remove the downloaded models no recorded server serves (after a rollout finishes)."""
    keep = {f"{r['model']}-{r['version']}" for r in serving if r}
    for path in sorted((workdir / "models").glob("*")):
        if path.name not in keep and not path.name.endswith(".tmp"):
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class Launch:
    """A model server started by this process and not yet known to answer."""
    record: dict[str, Any]
    process: subprocess.Popen[bytes]


def launch_model_server(ref: ModelRef, *, workdir: Path, label: str,
                        tracking_uri: str | None, avoid: frozenset[int] = frozenset()) -> Launch:
    """Start MLflow's scoring server for `ref` on a free port (`wait_ready` waits for it).
    It runs with this interpreter, so it finds the venv's MLflow and uvicorn. `avoid`: the
    ports of servers launched just before, which may not listen yet (a port the kernel just
    gave out and got back can be given out again)."""
    model_dir = download_model(ref, workdir, tracking_uri)
    port = free_port()
    while port in avoid:
        port = free_port()
    env = dict(os.environ)
    env[MODEL_PATH_VARIABLE] = str(model_dir)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    log = workdir / f"{label}-{ref.version}.log"
    argv = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", SCORING_APP]
    with open(log, "ab") as out:
        try:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env, cwd=workdir,
                                       start_new_session=True)
        except OSError as error:
            raise TargetError(f"cannot start the model server: {error}") from None
    return Launch({"model": ref.model, "version": ref.version, "uri": ref.uri,
                   "pid": process.pid, "port": port, "log": str(log)}, process)


def wait_ready(launches: list[Launch], timeout: float) -> None:
    """Wait until every launched server answers /ping. Servers start at once (their start-up
    is mostly importing MLflow: two of them take little longer than one on two cores). When
    one exits or times out, all of `launches` are stopped: none is left running unrecorded."""
    pending = list(launches)
    deadline = time.monotonic() + timeout
    try:
        while pending:
            for launch in list(pending):
                record, process = launch.record, launch.process
                if process.poll() is not None:
                    raise TargetError(f"the model server for {record['uri']} exited with "
                                      f"{process.returncode}; its log ({record['log']}):\n"
                                      f"{_tail(Path(record['log']))}")
                if answers(int(record["port"])):
                    pending.remove(launch)
            if pending and time.monotonic() >= deadline:
                late = pending[0].record
                raise TargetError(f"the model server for {late['uri']} did not answer /ping "
                                  f"within {timeout:.0f}s; its log ({late['log']}):\n"
                                  f"{_tail(Path(late['log']))}")
            if pending:
                time.sleep(0.2)
    except BaseException:
        for launch in launches:
            stop(launch.record)
        raise


def running(record: dict[str, Any] | None, uri: str) -> bool:
    """The recorded server still runs this model and answers."""
    return bool(record) and record is not None and record.get("uri") == uri and \
        alive(int(record["pid"]), MARKER) and answers(int(record["port"]))


def stop(record: dict[str, Any] | None, marker: str = MARKER, grace: float = 10.0) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after `grace` seconds."""
    if not record:
        return
    pid = int(record["pid"])
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not alive(pid, marker):
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError as error:
            raise TargetError(f"cannot stop process {pid}: {error}") from None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and alive(pid, marker):
            _reap(pid)
            time.sleep(0.05)


def _reap(pid: int) -> None:
    """Collect our own child so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
