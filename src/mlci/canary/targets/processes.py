"""Processes the local target starts and must find again from another mlci process: model
servers (`mlflow models serve`) recorded by pid and port, each in its own session so a
whole process group stops together and outlives the mlci that started it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


def start_model_server(ref: ModelRef, *, workdir: Path, label: str,
                       tracking_uri: str | None, timeout: float) -> dict[str, Any]:
    """Start `mlflow models serve` for `ref` on a free port; return its record once /ping
    answers. The venv's bin comes first on PATH: the server needs its `uvicorn`."""
    bin_dir = Path(sys.executable).parent
    mlflow = bin_dir / "mlflow"
    port = free_port()
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    log = workdir / f"{label}-{ref.version}.log"
    argv = [str(mlflow) if mlflow.exists() else "mlflow", "models", "serve", "-m", ref.uri,
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    with open(log, "ab") as out:
        try:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env, cwd=workdir,
                                       start_new_session=True)
        except OSError as error:
            raise TargetError(f"cannot start mlflow models serve: {error}") from None
    record = {"model": ref.model, "version": ref.version, "uri": ref.uri,
              "pid": process.pid, "port": port, "log": str(log)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TargetError(f"the model server for {ref.uri} exited with "
                              f"{process.returncode}; its log ({log}):\n{_tail(log)}")
        if answers(port):
            return record
        time.sleep(0.2)
    stop(record)
    raise TargetError(f"the model server for {ref.uri} did not answer /ping within "
                      f"{timeout:.0f}s; its log ({log}):\n{_tail(log)}")


def running(record: dict[str, Any] | None, uri: str) -> bool:
    """The recorded server still runs this model and answers."""
    return bool(record) and record is not None and record.get("uri") == uri and \
        alive(int(record["pid"]), "models") and answers(int(record["port"]))


def stop(record: dict[str, Any] | None, marker: str = "models", grace: float = 10.0) -> None:
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
