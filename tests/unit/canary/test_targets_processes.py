"""`wait_ready`: model servers launched together are waited for together, and a failure of one
stops every server of the batch (none is left running unrecorded). Real processes stand in
for the scoring server: one that answers /ping on its port, one that exits at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlci.canary.interfaces import TargetError
from mlci.canary.targets.processes import MARKER, Launch, alive, free_port, stop, wait_ready

# A tiny HTTP server answering 200 to everything; "mlflow" in its command line is the marker
# `stop` and `alive` look for in a model server's.
PING_SERVER = ("import http.server, sys  # mlflow\n"
               "class H(http.server.BaseHTTPRequestHandler):\n"
               "    def do_GET(self):\n"
               "        self.send_response(200); self.end_headers()\n"
               "    def log_message(self, *a): pass\n"
               "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n")


def launch(tmp_path: Path, code: str, name: str) -> Launch:
    port = free_port()
    log = tmp_path / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-c", code, str(port)], stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Launch({"uri": f"models:/m/{name}", "pid": process.pid, "port": port,
                   "log": str(log)}, process)


def test_waits_for_every_server(tmp_path: Path) -> None:
    servers = [launch(tmp_path, PING_SERVER, name) for name in ("1", "2")]
    try:
        wait_ready(servers, timeout=60)
        assert all(alive(s.record["pid"], MARKER) for s in servers)
    finally:
        for server in servers:
            stop(server.record)


def test_one_that_exits_stops_the_other_and_names_its_log(tmp_path: Path) -> None:
    good = launch(tmp_path, PING_SERVER, "good")
    bad = launch(tmp_path, "import sys; print('no model here'); sys.exit(3)  # mlflow", "bad")
    with pytest.raises(TargetError) as caught:
        wait_ready([good, bad], timeout=60)
    message = str(caught.value)
    assert "models:/m/bad exited with 3" in message
    assert "no model here" in message
    good.process.wait(timeout=30)
    assert not alive(good.record["pid"], MARKER)


def test_one_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    silent = launch(tmp_path, "import time; time.sleep(600)  # mlflow", "silent")
    with pytest.raises(TargetError, match=r"models:/m/silent did not answer /ping within 1s"):
        wait_ready([silent], timeout=1)
    silent.process.wait(timeout=30)
    assert not alive(silent.record["pid"], MARKER)


def test_nothing_to_wait_for(tmp_path: Path) -> None:
    wait_ready([], timeout=0)


def test_a_launch_never_reuses_the_port_of_one_launched_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both servers of a rollout are launched before either listens: the kernel may hand the
    first one's port out again, and the second must not take it."""
    import mlci.canary.targets.processes as processes
    from mlci.canary.interfaces import ModelRef

    ports = iter([5001, 5001, 5001, 5002])
    started: list[list[str]] = []

    class FakePopen:
        pid = 4242

        def __init__(self, argv: list[str], **_: object) -> None:
            started.append(argv)

    monkeypatch.setattr(processes, "download_model", lambda *a: tmp_path)
    monkeypatch.setattr(processes, "free_port", lambda: next(ports))
    monkeypatch.setattr(processes.subprocess, "Popen", FakePopen)
    ref = ModelRef("m", "1", "models:/m/1")
    first = processes.launch_model_server(ref, workdir=tmp_path, label="stable",
                                          tracking_uri=None)
    second = processes.launch_model_server(ref, workdir=tmp_path, label="canary",
                                           tracking_uri=None, avoid=frozenset({5001}))
    assert (first.record["port"], second.record["port"]) == (5001, 5002)
    assert [argv[argv.index("--port") + 1] for argv in started] == ["5001", "5002"]
