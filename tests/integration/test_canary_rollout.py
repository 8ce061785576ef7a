"""Whole rollouts with real parts: a real `mlflow server` holding real model versions, each
served by `mlflow models serve` behind Debian's nginx (the `local` target), a bounded load
generator on 127.0.0.1, and `mlci canary` run as a user runs it (a subprocess).

The tests share one model and one serving directory: each registers its own candidate and
rolls it out against whatever is champion now, so the stable server started by the first test
is reused by the next (as the `local` target does between real rollouts).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlci.canary.targets.config import LocalTarget as LocalConfig
from mlci.canary.targets.local import LocalTarget
from tests.canary_support import call, payload, register_pyfunc
from tests.registry_support import alias, client, mlci_process, mlci_run, unique
from tests.services import MlflowServer, free_port

pytestmark = pytest.mark.integration

PROTOCOL: dict[str, Any] = {
    "interval": "2s", "min_requests": 10, "failure_limit": 0, "inconclusive_limit": 2,
    "max_duration": "10m",
    "steps": [{"weight": 20, "pause": "2s"}, {"weight": 50}, {"weight": 100}],
    "checks": {"error_rate": {"max": 0.05, "max_regression": 0.02},
               "latency_p99_ms": {"max": 1000}},
}


@dataclass
class Load:
    """Sequential requests to the router until stopped (at most `limit`), x cycling 0..0.99
    so a candidate failing at x >= 0.9 fails on a tenth of them."""

    url: str
    pace: float = 0.003          # seconds between requests: a bounded load
    limit: int = 20_000
    statuses: list[tuple[float, int, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        index = 0
        while not self._stop.is_set() and index < self.limit:
            try:
                reply = call(self.url, payload((index % 100) / 100), timeout=10)
                self.statuses.append((time.time(), reply.status, reply.variant))
            except OSError:     # the router is not up yet (the first rollout starts it)
                self.statuses.append((time.time(), 0, None))
            index += 1
            self._stop.wait(self.pace)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@dataclass
class Site:
    server: MlflowServer
    model: str
    root: Path
    listen: str

    def config(self, name: str, protocol: dict[str, Any] | None = None,
               metrics: dict[str, Any] | None = None) -> Path:
        deploy: dict[str, Any] = {
            "target": "local", "state": str(self.root / f"{name}.state.json"),
            "local": {"workdir": str(self.root / "serve"), "listen": self.listen,
                      "startup_timeout": "240s"},
            "protocol": protocol or PROTOCOL}
        if metrics:
            deploy["metrics"] = metrics
        path = self.root / f"{name}.mlci.yml"
        path.write_text(yaml.safe_dump({"model": self.model, "deploy": deploy}))
        return path

    def candidate(self, **behaviour: Any) -> str:
        version = register_pyfunc(self.server.url, self.model, **behaviour)
        client(self.server.url).set_registered_model_alias(self.model, "canary", version)
        return version

    def mlci(self, config: Path, *args: str, timeout: float = 600) -> Any:
        return mlci_run(self.server.url, "canary", *args, "--config", str(config), "--json",
                        cwd=self.root, timeout=timeout)

    def state(self, config: Path) -> dict[str, Any]:
        data = yaml.safe_load(config.read_text())
        return json.loads(Path(data["deploy"]["state"]).read_text())

    @property
    def url(self) -> str:
        return f"http://{self.listen}/invocations"


@pytest.fixture(scope="module")
def site(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("canary-site")
    model = unique("canary")
    first = register_pyfunc(mlflow_server.url, model, answer=1)
    client(mlflow_server.url).set_registered_model_alias(model, "champion", first)
    site = Site(mlflow_server, model, root, f"127.0.0.1:{free_port()}")
    yield site
    LocalTarget(LocalConfig(workdir=str(root / "serve"), listen=site.listen),
                base_dir=root, tracking_uri=None).stop_all()


def outcome(result: Any) -> str:
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return str(json.loads(result.stdout)["outcome"])


def step_until(site: Site, config: Path, wanted: set[str], *extra: str,
               deadline: float = 300) -> Any:
    """`mlci canary step` as a schedule would run it, until the outcome is one of `wanted`."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = site.mlci(config, "step", *extra)
        if outcome(result) in wanted:
            return result
    raise AssertionError(f"no outcome in {wanted} after {deadline}s: {result.stdout[-2000:]}")


def history(site: Site) -> list[dict[str, Any]]:
    result = mlci_run(site.server.url, "history", "--model", site.model, "--json",
                      "--limit", "500")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["events"])


def test_a_healthy_candidate_reaches_100_percent_and_becomes_champion(site: Site) -> None:
    before = alias(site.server.url, site.model)
    version = site.candidate(answer=2)
    config = site.config("healthy")
    with Load(site.url) as load:
        result = site.mlci(config, "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["outcome"] == "promoted"
    assert alias(site.server.url, site.model) == version
    assert alias(site.server.url, site.model, "canary") is None
    state = site.state(config)
    assert [w["to"] for w in state["weights"]] == [20, 50, 100]
    assert state["stable_version"] == before
    answered = [status for _, status, _ in load.statuses]
    first = answered.index(200)
    assert set(answered[first:]) == {200} and set(answered[:first]) <= {0}
    events = history(site)
    kinds = [e["event"] for e in events]
    assert kinds.count("canary.weight") >= 3 and "canary.promoted" in kinds
    check = next(e for e in events if e["event"] == "canary.check")
    assert "error_rate" in json.dumps(check["details"])
    promote = next(e for e in events if e["event"] == "promote")
    assert (promote["from_version"], promote["to_version"]) == (before, version)


def test_a_candidate_failing_on_some_inputs_is_rolled_back_within_one_interval(
        site: Site) -> None:
    champion = alias(site.server.url, site.model)
    version = site.candidate(answer=3, fail_at=0.9)
    config = site.config("faulty")
    with Load(site.url) as load:
        result = site.mlci(config, "run")
        state = site.state(config)
    assert result.returncode == 1 and json.loads(result.stdout)["outcome"] == "rolled-back"
    assert alias(site.server.url, site.model) == champion
    assert alias(site.server.url, site.model, "canary") is None
    tags = client(site.server.url).get_model_version(site.model, version).tags
    assert tags["mlci.rollout"] == "rolled-back"
    # The first window in which the canary's errors break a limit rolls back. The router
    # sends the canary a random fifth of the requests, a tenth of whose inputs fail, so a
    # window before it may have held (under min_requests) or passed on a sample without
    # failing inputs (0.9^n for n canary requests: likely when a busy machine serves few),
    # but never passed with the error rate over the limit.
    windows = state["windows"]
    assert windows[-1]["status"] == "fail", windows
    assert windows[-1]["canary_error_rate"] > 0, windows[-1]
    assert [c["status"] for c in windows[-1]["checks"] if c["name"] == "error_rate"] == \
        ["fail"], windows[-1]
    for window in windows[:-1]:
        assert window["status"] in ("inconclusive", "pass"), windows
        if window["status"] == "pass":
            assert window["canary_requests"] >= PROTOCOL["min_requests"], window
            assert window["canary_error_rate"] <= 0.05, window
    assert state["step"] == windows[-1]["step"] - 1 and "error_rate" in state["reason"]
    # before the first answer the router may not be up yet (when this test runs first)
    first = next(i for i, s in enumerate(load.statuses) if s[1] == 200)
    assert {s[1] for s in load.statuses[:first]} <= {0}
    failed = [s for s in load.statuses[first:] if s[1] != 200]
    assert failed and all(variant == "canary" for _, _, variant in failed), failed[:5]
    judged = state["windows"][-1]
    rolled_back = state["weights"][-1]["t"]
    assert rolled_back - judged["end"] < 10     # the split is reset in the same tick
    # (the time from the fault to all traffic on stable: scripts/bench/canary_rollback_bench.py)


def test_a_slow_candidate_fails_its_latency_check(site: Site) -> None:
    champion = alias(site.server.url, site.model)
    site.candidate(answer=4, delay_ms=300)
    # requests are sequential: a slow canary slows the load, so longer windows
    protocol = dict(PROTOCOL, interval="4s", min_requests=8,
                    checks={"latency_p99_ms": {"max": 200, "max_regression": "50%"}})
    config = site.config("slow", protocol)
    with Load(site.url):
        result = site.mlci(config, "run")
    assert outcome(result) == "rolled-back"
    state = site.state(config)
    assert "latency_p99_ms" in state["reason"] and "above the limit 200" in state["reason"]
    assert alias(site.server.url, site.model) == champion


def test_too_little_traffic_holds_then_rolls_back_at_the_inconclusive_limit(
        site: Site) -> None:
    champion = alias(site.server.url, site.model)
    site.candidate(answer=5)
    config = site.config("quiet")
    with Load(site.url, pace=0.5):      # ~4 requests a window, 20% of them to the canary
        result = site.mlci(config, "run")
    assert outcome(result) == "rolled-back"
    state = site.state(config)
    assert [w["status"] for w in state["windows"]] == ["inconclusive"] * 3
    assert [w["to"] for w in state["weights"]] == [20, 0]          # held, never advanced
    assert "inconclusive_limit 2" in state["reason"]
    assert alias(site.server.url, site.model) == champion


def test_an_unreadable_metric_source_fails_the_check(site: Site, tmp_path: Path) -> None:
    champion = alias(site.server.url, site.model)
    site.candidate(answer=6)
    config = site.config("blind", metrics={"source": "nginx-log",
                                           "path": str(tmp_path / "missing" / "log.json")})
    with Load(site.url):
        result = site.mlci(config, "run")
    assert outcome(result) == "rolled-back"
    assert "metric source unreadable" in site.state(config)["reason"]
    assert alias(site.server.url, site.model) == champion


def test_manual_pause_waits_and_step_approve_continues(site: Site) -> None:
    version = site.candidate(answer=7)
    protocol = dict(PROTOCOL, steps=[{"weight": 30, "pause": "manual"}, {"weight": 100}])
    config = site.config("manual", protocol)
    with Load(site.url):
        step_until(site, config, {"waiting-approval"})
        again = site.mlci(config, "step")          # still waiting: never advances alone
        assert outcome(again) == "waiting-approval" and site.state(config)["weight"] == 30
        approved = site.mlci(config, "step", "--approve")
        assert outcome(approved) in ("in-progress", "promoted")
        assert site.state(config)["weight"] == 100
        step_until(site, config, {"promoted"})
    assert alias(site.server.url, site.model) == version
    assert any(e["event"] == "canary.approved" for e in history(site))


def test_a_controller_killed_mid_rollout_is_resumed_by_step(site: Site) -> None:
    version = site.candidate(answer=8)
    protocol = dict(PROTOCOL, steps=[{"weight": 20, "pause": "4s"}, {"weight": 60, "pause": "4s"},
                                     {"weight": 100}])
    config = site.config("killed", protocol)
    state_file = Path(yaml.safe_load(config.read_text())["deploy"]["state"])
    with Load(site.url):
        process = mlci_process(site.server.url, "canary", "run", "--config", str(config),
                               cwd=site.root)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if state_file.exists() and json.loads(state_file.read_text()).get("weight") == 20 \
                    and json.loads(state_file.read_text()).get("windows"):
                break
            time.sleep(0.1)
        assert process.poll() is None, process.communicate()
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        killed = json.loads(state_file.read_text())
        assert killed["phase"] == "running"
        result = step_until(site, config, {"promoted"})
    assert outcome(result) == "promoted"
    assert alias(site.server.url, site.model) == version
    assert [w["to"] for w in site.state(config)["weights"]] == [20, 60, 100]


def test_two_racing_steps_advance_the_rollout_once(site: Site) -> None:
    site.candidate(answer=9)
    protocol = dict(PROTOCOL, interval="3s",
                    steps=[{"weight": 20}, {"weight": 40}, {"weight": 100}])
    config = site.config("race", protocol)
    with Load(site.url):
        step_until(site, config, {"in-progress"})        # started at 20%
        state = site.state(config)
        due = state["last_window_end"] + 3.0
        while time.time() < due:
            time.sleep(0.05)
        racers = [mlci_process(site.server.url, "canary", "step", "--config", str(config),
                               "--json", cwd=site.root) for _ in range(2)]
        outputs = [p.communicate(timeout=300) for p in racers]
    results = [json.loads(out)["outcome"] for out, _ in outputs]
    after = site.state(config)
    assert len(after["windows"]) == len(state["windows"]) + 1, results
    assert [w["to"] for w in after["weights"]] == [20, 40]
    messages = " ".join(json.loads(out)["message"] for out, _ in outputs)
    assert "busy" in results or "step 2/3" in messages
    mlci_run(site.server.url, "canary", "abort", "--config", str(config))
