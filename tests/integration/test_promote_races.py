"""Delayed and retried alias writes racing promotions and rollbacks, against a real `mlflow server`.

MLflow has no conditional alias write, so a write that is slow to land (a 503 and its backoff, a
slow proxy) can land after a later move. A small proxy on 127.0.0.1 sits in front of the
session's `mlflow server` and holds (or fails with 503) alias writes of the pipeline under
test until the test releases them; the other pipelines talk to the server directly. After
every scenario the alias and the newest move of the trail agree, the undone write is recorded
as a `repair` event, and every message tells what the run did.
"""

from __future__ import annotations

import http.client
import json
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mlci.cli import main
from tests.registry_support import alias, candidate_runs, mlci_process, register, unique
from tests.services import MlflowServer

pytestmark = pytest.mark.integration

ALIAS_WRITE = "/registered-models/alias"


class Proxy(ThreadingHTTPServer):
    """Forwards everything to `upstream`; alias writes (POST .../registered-models/alias) can be
    failed with 503 (`fail`), held until `release` is set (`hold`), or delayed at random."""

    daemon_threads = True
    upstream: tuple[str, int]
    fail = 0                      # the next N alias writes answer 503 without reaching MLflow
    hold = False                  # hold alias writes until `release` is set
    max_delay = 0.0               # delay each alias write by up to this many seconds (stress)
    holding: threading.Event
    release: threading.Event
    landed: list[str]             # versions of the alias writes that reached MLflow, in order
    rng: random.Random


class ProxyHandler(BaseHTTPRequestHandler):
    server: Proxy
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: object) -> None:
        pass

    def _any(self, method: str) -> None:
        proxy = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if method == "POST" and urlsplit(self.path).path.endswith(ALIAS_WRITE):
            if proxy.fail > 0:
                proxy.fail -= 1
                self._reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                                  "message": "proxy: try again"}, {})
                return
            if proxy.hold:
                proxy.holding.set()
                proxy.release.wait()
            if proxy.max_delay:
                threading.Event().wait(proxy.rng.uniform(0, proxy.max_delay))  # fault, not sync
            proxy.landed.append(str(json.loads(body or b"{}").get("version")))
        conn = http.client.HTTPConnection(*proxy.upstream, timeout=120)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "content-length")}
        conn.request(method, self.path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        self._reply(response.status, data, dict(response.getheaders()))

    def _reply(self, status: int, data: Any, headers: dict[str, str]) -> None:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        try:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection", "transfer-encoding",
                                       "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            pass   # the client gave up on this request (killed, or timed out and retried)

    def do_GET(self) -> None:
        self._any("GET")

    def do_POST(self) -> None:
        self._any("POST")

    def do_PATCH(self) -> None:
        self._any("PATCH")

    def do_DELETE(self) -> None:
        self._any("DELETE")


@pytest.fixture
def proxy(mlflow_server: MlflowServer) -> Iterator[Proxy]:
    server = Proxy(("127.0.0.1", 0), ProxyHandler)
    server.upstream = ("127.0.0.1", mlflow_server.port)
    server.holding, server.release = threading.Event(), threading.Event()
    server.landed, server.rng = [], random.Random(12)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def proxy_url(proxy: Proxy) -> str:
    return f"http://127.0.0.1:{proxy.server_address[1]}"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLCI_CONFIG", "MLCI_APPROVER", "MLCI_FAULT",
                 "MLFLOW_TRACKING_URI", "MLCI_MODEL", "MLCI_PROMOTE_LEASE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
                        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "30"),
                        ("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLCI_OUTPUT_FILE", str(tmp_path / "outputs.txt"))
    monkeypatch.setenv("USER", "tester")
    monkeypatch.chdir(tmp_path)


def cli(server: MlflowServer, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main([args[0], "--tracking-uri", server.url, *args[1:]])
    return code, capsys.readouterr().err


def trail(server: MlflowServer, model: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["history", "--tracking-uri", server.url, "--model", model, "--json",
                 "--limit", "200"]) == 0
    return json.loads(capsys.readouterr().out)


def moves(history: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(e["event"], e["from_version"], e["to_version"]) for e in history["events"]
            if e["outcome"] == "moved"]


def repairs(history: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in history["events"] if e["event"] == "repair"]


def assert_agrees(server: MlflowServer, model: str, history: dict[str, Any]) -> None:
    """The alias holds the target of the newest move, and every move starts where the one
    before it ended."""
    chain = list(reversed(moves(history)))
    assert alias(server.url, model) == chain[-1][2], history
    assert all(chain[i][2] == chain[i + 1][1] for i in range(len(chain) - 1)), chain


def wait_for(condition: Callable[[], bool], what: str, procs: list[Any]) -> None:
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"{what}: a process exited with {proc.returncode}\n"
                                     f"{out}\n{err}")
        time.sleep(0.05)


def setup_model(server: MlflowServer, capsys: pytest.CaptureFixture[str], name: str,
                versions: int) -> str:
    model = unique(name)
    register(server.url, model, candidate_runs(server.url, versions))
    assert cli(server, capsys, "promote", "--model", model, "--candidate", "1",
               "--approved")[0] == 0
    return model


# -- the case: the writer is alive when its delayed write lands ----------------------
def test_a_delayed_promote_write_does_not_undo_a_later_rollback(
        mlflow_server: MlflowServer, proxy: Proxy, capsys: pytest.CaptureFixture[str]) -> None:
    model = setup_model(mlflow_server, capsys, "late-write", 2)
    # The promotion's first alias write gets a 503; its retry (after backoff) is held.
    proxy.fail, proxy.hold = 1, True
    slow = mlci_process(proxy_url(proxy), "promote", "--model", model, "--candidate", "2",
                        "--approved", "--expect-current", "1",
                        env={"MLCI_REGISTRY_TIMEOUT": "600"})
    wait_for(proxy.holding.is_set, "the promotion's retried alias write is held", [slow])

    # Meanwhile a rollback: it finishes the decided promotion on its behalf, then moves 2 -> 1.
    code, err = cli(mlflow_server, capsys, "rollback", "--model", model, "--reason", "p99")
    assert code == 0, err
    assert alias(mlflow_server.url, model) == "1"

    proxy.release.set()          # the promotion's write of version 2 lands now
    _out, err = slow.communicate(timeout=600)
    assert "2" in proxy.landed, proxy.landed
    assert slow.returncode == 0, err
    assert "delayed alias write" in err and "later move already followed it" in err
    history = trail(mlflow_server, model, capsys)
    assert moves(history) == [("rollback", "2", "1"), ("promote", "1", "2"),
                              ("promote", None, "1")]
    assert_agrees(mlflow_server, model, history)
    (repair,) = repairs(history)
    promote_event = next(e for e in history["events"] if e["event"] == "promote"
                         and e["to_version"] == "2")
    assert (repair["from_version"], repair["to_version"]) == ("2", "1")
    assert repair["details"]["undone_event"] == promote_event["id"]
    assert "finished by a later run" in promote_event["note"]


# -- the write lands after its writer died: the next run repairs it and says so --------------
def test_a_write_landing_after_its_writer_died_is_repaired_by_the_next_run(
        mlflow_server: MlflowServer, proxy: Proxy, capsys: pytest.CaptureFixture[str]) -> None:
    model = setup_model(mlflow_server, capsys, "orphan-write", 3)
    proxy.hold = True
    doomed = mlci_process(proxy_url(proxy), "promote", "--model", model, "--candidate", "2",
                          "--approved", "--expect-current", "1",
                          env={"MLCI_REGISTRY_TIMEOUT": "600"})
    wait_for(proxy.holding.is_set, "the promotion's alias write is held", [doomed])
    doomed.send_signal(signal.SIGKILL)     # the runner dies with its write in flight
    doomed.communicate(timeout=60)
    assert cli(mlflow_server, capsys, "rollback", "--model", model)[0] == 0
    landed = len(proxy.landed)
    proxy.release.set()
    wait_for(lambda: len(proxy.landed) > landed, "the orphaned write reached MLflow", [])
    wait_for(lambda: alias(mlflow_server.url, model) == "2", "the stale write applied", [])
    # The trail says 1, the alias says 2: exactly the state the next run must repair.
    assert moves(trail(mlflow_server, model, capsys))[0] == ("rollback", "2", "1")

    code, err = cli(mlflow_server, capsys, "promote", "--model", model, "--candidate", "3",
                    "--approved", "--expect-current", "1")
    assert code == 0, err
    assert "delayed alias write" in err and "restored" in err
    history = trail(mlflow_server, model, capsys)
    assert moves(history)[:2] == [("promote", "1", "3"), ("rollback", "2", "1")]
    assert_agrees(mlflow_server, model, history)
    (repair,) = repairs(history)
    assert (repair["from_version"], repair["to_version"]) == ("2", "1")


# -- three pipelines: a repairer's own write is the late one ------------------------------------
def test_a_repairers_delayed_write_is_undone_and_its_refusal_says_what_it_did(
        mlflow_server: MlflowServer, proxy: Proxy, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.registry_support import mlci_run

    model = setup_model(mlflow_server, capsys, "three", 4)
    # Pipeline 1 decides to move 1 -> 2 and dies before moving.
    died = mlci_run(mlflow_server.url, "promote", "--model", model, "--candidate", "2",
                    "--approved", "--expect-current", "1",
                    env={"MLCI_FAULT": "after-decision:exit"})
    assert died.returncode == 75, died.stderr
    # Pipeline 2 repairs it (writes 2) through the slow proxy: its write is held.
    proxy.hold = True
    second = mlci_process(proxy_url(proxy), "promote", "--model", model, "--candidate", "3",
                          "--approved", "--expect-current", "2",
                          env={"MLCI_REGISTRY_TIMEOUT": "600"})
    wait_for(proxy.holding.is_set, "the repairer's alias write is held", [second])
    # Pipeline 3 repairs it too and promotes 2 -> 4.
    code, err = cli(mlflow_server, capsys, "promote", "--model", model, "--candidate", "4",
                    "--approved", "--expect-current", "2")
    assert code == 0, err
    assert alias(mlflow_server.url, model) == "4"
    proxy.release.set()          # pipeline 2's write of version 2 lands: 4 -> 2
    _out, err = second.communicate(timeout=600)
    # Pipeline 2 puts 4 back, then refuses its own move (it expected 2) and says what it did.
    assert second.returncode == 1, err
    assert "points to version 4, not version 2" in err
    assert "Nothing was changed" not in err and "restored champion after a delayed write" in err
    history = trail(mlflow_server, model, capsys)
    assert moves(history) == [("promote", "2", "4"), ("promote", "1", "2"),
                              ("promote", None, "1")]
    assert_agrees(mlflow_server, model, history)
    (repair,) = repairs(history)
    assert (repair["from_version"], repair["to_version"]) == ("2", "4")


# -- many pipelines, random delays and 503s ------------------------------------------------------
def test_racing_moves_through_delays_and_503s_leave_alias_and_trail_in_agreement(
        mlflow_server: MlflowServer, proxy: Proxy, capsys: pytest.CaptureFixture[str]) -> None:
    model = setup_model(mlflow_server, capsys, "storm", 4)
    assert cli(mlflow_server, capsys, "promote", "--model", model, "--candidate", "2",
               "--approved")[0] == 0
    proxy.fail, proxy.max_delay = 2, 3.0
    slow = proxy_url(proxy)
    jobs = [(slow, "promote", "--candidate", "3", "--approved"),
            (slow, "rollback", "--reason", "storm"),
            (mlflow_server.url, "promote", "--candidate", "4", "--approved"),
            (slow, "rollback", "--to", "1", "--reason", "storm"),
            (mlflow_server.url, "promote", "--candidate", "3", "--approved")]
    procs = [mlci_process(url, command, "--model", model, *rest,
                          env={"MLCI_REGISTRY_TIMEOUT": "600"})
             for url, command, *rest in jobs]
    results = [(proc, *proc.communicate(timeout=900)) for proc in procs]
    for proc, _out, err in results:
        assert proc.returncode in (0, 1, 2), err       # a verdict or a refusal, never a crash
        if proc.returncode == 1:
            assert "lost the race" in err or "has not finished" in err \
                or "not version" in err, err
        if proc.returncode == 2:   # a rollback with nothing recorded to go back to
            assert "give --to" in err or "already points to" in err, err
    # One more run settles whatever a write that outlived its writer left behind.
    code, err = cli(mlflow_server, capsys, "promote", "--model", model, "--candidate", "4",
                    "--approved")
    assert code == 0, err
    history = trail(mlflow_server, model, capsys)
    assert_agrees(mlflow_server, model, history)
    assert not [e for e in history["events"] if e["outcome"] == "pending"]
