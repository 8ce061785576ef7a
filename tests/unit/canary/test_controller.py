"""The controller's state machine, with in-test fakes for the target, the source and the
registry (the end-to-end tests drive the real ones), a real local state file and a fake clock."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlci.canary.controller import (
    BUSY,
    IDLE,
    IN_PROGRESS,
    PROMOTED,
    ROLLED_BACK,
    WAITING,
    Controller,
)
from mlci.canary.interfaces import ModelRef, SourceError, TargetError, VariantSample, Window
from mlci.canary.registry import Plan
from mlci.canary.rollout import Lease, me
from mlci.canary.state import LocalStore
from mlci.config.model import Protocol
from mlci.errors import InputError


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeTarget:
    name: str = "fake"
    weights: list[float] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    prepared: list[dict[str, Any]] = field(default_factory=list)
    refuse: bool = False
    crash_on_weight: float | None = None

    def prepare(self, stable: ModelRef, canary: ModelRef, saved: dict[str, Any]) -> dict[str, Any]:
        self.prepared.append(dict(saved))
        return {"ports": [1, 2], "stable": stable.version, "canary": canary.version}

    def set_weight(self, weight: float) -> None:
        if self.refuse:
            raise TargetError("reload failed")
        if weight == self.crash_on_weight:
            raise KeyboardInterrupt   # stands for a kill between the intent and the change
        self.weights.append(weight)

    def health(self) -> str | None:
        return None

    def finish(self, outcome: str) -> None:
        self.finished.append(outcome)


@dataclass
class FakeSource:
    """Traffic per window: `rate` requests/s, the canary's share by weight, `canary_errors`
    (fraction) and `latency` per variant."""

    target: FakeTarget
    rate: float = 100.0
    canary_errors: float = 0.0
    stable_errors: float = 0.0
    canary_latency: float = 10.0
    broken: bool = False
    reads: list[tuple[float, float]] = field(default_factory=list)

    def read(self, cursor: dict[str, Any], start: float, end: float) -> tuple[Window, dict[str, Any]]:
        if self.broken:
            raise SourceError("access log /x.log: permission denied")
        self.reads.append((start, end))
        weight = self.target.weights[-1] if self.target.weights else 0.0
        total = int(self.rate * (end - start))
        n_c = int(total * weight / 100)
        n_s = total - n_c
        canary = VariantSample(n_c, round(n_c * self.canary_errors),
                               [self.canary_latency + (i % 7) for i in range(n_c)])
        stable = VariantSample(n_s, round(n_s * self.stable_errors),
                               [10.0 + (i % 7) for i in range(n_s)])
        return Window(start, end, stable, canary), {"offset": int(end)}


@dataclass
class FakeRegistry:
    stable: str | None = "1"
    champion_is_candidate: bool = False
    canary_alias: str | None = "2"
    events: list[tuple[str, str]] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)

    def queued(self) -> str | None:
        return self.canary_alias

    def uri(self, version: str) -> str:
        return f"models:/m/{version}"

    def plan(self, version: str) -> Plan:
        return Plan(version, self.stable, self.champion_is_candidate)

    def record(self, kind: str, version: str, stable: str | None, summary: str,
               details: dict[str, Any] | None = None) -> None:
        self.events.append((kind, summary))

    def promote(self, plan: Plan, summary: str) -> None:
        self.promoted.append(plan.version)
        self.canary_alias = None

    def roll_back(self, plan: Plan, summary: str) -> None:
        self.rolled_back.append(summary)
        self.canary_alias = None


PROTOCOL = {"interval": 60, "min_requests": 50, "failure_limit": 0, "inconclusive_limit": 2,
            "steps": [{"weight": 10, "pause": 120}, {"weight": 50}, {"weight": 100}],
            "checks": {"error_rate": {"max": 0.2, "max_regression": 0.01},
                       "latency_p99_ms": {"max_regression": "20%"}}}


class Rig:
    def __init__(self, tmp: Path, protocol: dict[str, Any] | None = None, **registry: Any):
        self.clock = Clock()
        self.target = FakeTarget()
        self.source = FakeSource(self.target)
        self.registry = FakeRegistry(**registry)
        self.store = LocalStore(tmp / "state.json")
        self.protocol = Protocol.model_validate(protocol or PROTOCOL)

    def controller(self, *, version: str | None = None, approve: bool = False) -> Controller:
        return Controller(model="m", version=version, protocol=self.protocol,
                          lease=Lease(self.store, me(None, "tester")), registry=self.registry,
                          target=lambda: self.target, source=lambda saved: self.source,
                          approve=approve, approver="alice", clock=self.clock)

    def tick(self, advance: float = 60.0, **kwargs: Any) -> Any:
        self.clock.now += advance
        return self.controller(**kwargs).tick()

    def state(self) -> dict[str, Any]:
        return json.loads(self.store.path.read_text())


def test_a_healthy_candidate_walks_the_steps_and_is_promoted(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    first = rig.tick(0)
    assert first.outcome == IN_PROGRESS and rig.target.weights == [10]
    outcomes = [rig.tick().outcome for _ in range(4)]
    # 10% holds 120 s (two windows), then 50% after one passing window, then 100% (absolute
    # limits only: stable serves nothing), promoted after one passing window there.
    assert rig.target.weights == [10, 50, 100]
    assert outcomes[-1] == PROMOTED
    assert rig.registry.promoted == ["2"] and rig.target.finished == ["promoted"]
    state = rig.state()
    assert state["phase"] == "promoted" and state["holder"] is None
    kinds = [k for k, _ in rig.registry.events]
    assert kinds.count("canary.weight") == 3 and "canary.promoted" in kinds
    assert all(w["status"] == "pass" for w in state["windows"])
    # A later tick changes nothing and says the rollout is over (nothing queued: idle).
    assert rig.tick().outcome == IDLE


def test_a_real_error_regression_rolls_back_in_the_first_window(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0)
    rig.source.canary_errors = 0.15
    result = rig.tick()
    assert result.outcome == ROLLED_BACK
    assert rig.target.finished == ["rolled-back"] and rig.registry.rolled_back
    assert "error_rate" in rig.registry.rolled_back[0]
    assert rig.state()["weight"] == 0


def test_one_error_in_forty_does_not_roll_back(tmp_path: Path) -> None:
    protocol = dict(PROTOCOL, min_requests=40,
                    checks={"error_rate": {"max_regression": 0.0}})
    rig = Rig(tmp_path, protocol)
    rig.source.rate = 40 / 6                      # 10% of 400 requests per minute: 40 canary
    rig.tick(0)
    rig.source.canary_errors = 1 / 40
    result = rig.tick()
    window = rig.state()["windows"][-1]
    assert window["canary_requests"] == 40 and window["checks"][0]["canary"] == 1 / 40
    assert result.outcome == IN_PROGRESS and window["status"] == "pass"


def test_absolute_limit_trips_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, dict(PROTOCOL, checks={"latency_p99_ms": {"max": 50}}))
    rig.tick(0)
    rig.source.canary_latency = 80
    assert rig.tick().outcome == ROLLED_BACK
    assert "above the limit 50" in rig.registry.rolled_back[0]


def test_too_little_traffic_holds_then_rolls_back_at_the_inconclusive_limit(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.source.rate = 1.0                         # 6 canary requests a window at 10%
    rig.tick(0)
    assert [rig.tick().outcome for _ in range(2)] == [IN_PROGRESS, IN_PROGRESS]
    assert rig.target.weights == [10]             # held: never advances on no evidence
    assert rig.tick().outcome == ROLLED_BACK      # the third in a row exceeds the limit of 2
    assert "inconclusive" in rig.registry.rolled_back[0]


def test_an_unreadable_source_fails_the_check(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0)
    rig.source.broken = True
    assert rig.tick().outcome == ROLLED_BACK
    assert "permission denied" in rig.registry.rolled_back[0]


def test_not_enforced_is_reported_not_acted_on(tmp_path: Path) -> None:
    rig = Rig(tmp_path, dict(PROTOCOL, checks={"error_rate": {"max": 0.01, "enforce": False}}))
    rig.tick(0)
    rig.source.canary_errors = 0.5
    assert rig.tick().outcome == IN_PROGRESS
    check = rig.state()["windows"][-1]["checks"][0]
    assert check["status"] == "fail" and check["enforced"] is False


def test_failure_limit_tolerates_that_many_failed_windows(tmp_path: Path) -> None:
    rig = Rig(tmp_path, dict(PROTOCOL, failure_limit=1))
    rig.tick(0)
    rig.source.canary_errors = 0.5
    assert rig.tick().outcome == IN_PROGRESS
    assert rig.tick().outcome == ROLLED_BACK


def test_manual_pause_waits_for_approval(tmp_path: Path) -> None:
    rig = Rig(tmp_path, dict(PROTOCOL, steps=[{"weight": 5, "pause": "manual"},
                                              {"weight": 100}]))
    rig.tick(0)
    assert rig.tick().outcome == WAITING
    assert rig.tick().outcome == WAITING and rig.target.weights == [5]
    approved = rig.tick(1, approve=True)          # not a new window yet: the approval acts
    assert approved.outcome == IN_PROGRESS and rig.target.weights == [5, 100]
    assert rig.state()["approved_by"] == "alice"
    assert rig.tick().outcome == PROMOTED


def test_a_killed_controller_leaves_an_intent_the_next_tick_applies(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0)
    rig.tick()
    rig.target.crash_on_weight = 50
    with pytest.raises(KeyboardInterrupt):
        rig.tick()
    state = rig.state()
    assert state["pending_weight"] == 50 and state["weight"] == 10
    rig.target.crash_on_weight = None
    assert rig.tick(1).outcome == IN_PROGRESS        # resumed: the intent is applied first
    assert rig.target.weights == [10, 50] and rig.state()["pending_weight"] is None


def test_a_live_holder_makes_a_second_tick_exit_cleanly(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0)
    doc = rig.state()
    doc["holder"] = {"id": "other", "pid": os.getpid(), "host": socket.gethostname(),
                     "run": "https://ci.example/run/9", "actor": "bob", "since": rig.clock.now,
                     "until": rig.clock.now + 600}
    rig.store.path.write_text(json.dumps(doc))
    result = rig.tick()
    assert result.outcome == BUSY and "https://ci.example/run/9" in result.message
    assert rig.target.weights == [10] and rig.source.reads == []


def test_a_dead_holder_on_this_host_is_taken_over(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0)
    doc = rig.state()
    doc["holder"] = {"id": "dead", "pid": 2 ** 22 + 12345, "host": socket.gethostname(),
                     "until": rig.clock.now + 600}
    rig.store.path.write_text(json.dumps(doc))
    assert rig.tick().outcome == IN_PROGRESS and rig.source.reads


def test_one_rollout_per_model(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0, version="2")
    with pytest.raises(InputError, match="version 2 is in progress"):
        rig.tick(version="3")


def test_max_duration_rolls_back(tmp_path: Path) -> None:
    rig = Rig(tmp_path, dict(PROTOCOL, max_duration="90s"))
    rig.tick(0)
    rig.tick()
    assert rig.tick().outcome == ROLLED_BACK
    assert "max_duration" in rig.registry.rolled_back[0]


def test_abort_rolls_back_now(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0)
    result = rig.controller().abort("by hand")
    assert result.outcome == ROLLED_BACK and rig.target.finished == ["rolled-back"]
    assert rig.controller().abort("again").outcome == IDLE


def test_a_refused_weight_change_keeps_the_split_and_counts_as_a_failure(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, dict(PROTOCOL, failure_limit=1, steps=[{"weight": 10},
                                                               {"weight": 100}]))
    rig.tick(0)
    rig.target.refuse = True
    assert rig.tick().outcome == IN_PROGRESS
    assert rig.state()["weight"] == 10 and rig.state()["failures"] == 1
    assert rig.tick().outcome == ROLLED_BACK


def test_a_first_model_goes_to_100_percent_with_absolute_checks(tmp_path: Path) -> None:
    rig = Rig(tmp_path, stable=None)
    rig.tick(0)
    assert rig.target.weights == [100]
    assert rig.tick().outcome == PROMOTED
    checks = rig.state()["windows"][-1]["checks"]
    assert all(c["stable"] is None or c["p_value"] is None for c in checks)


def test_a_rollback_interrupted_by_a_failing_target_is_finished_later(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.tick(0)
    rig.source.canary_errors = 0.5

    def broken(outcome: str) -> None:
        raise TargetError("nginx reload failed")

    rig.target.finish = broken  # type: ignore[method-assign]
    from mlci.errors import ServiceError

    with pytest.raises(ServiceError, match="rolling-back"):
        rig.tick()
    assert rig.state()["phase"] == "rolling-back" and rig.state()["holder"] is None
    del rig.target.finish
    assert rig.tick(1).outcome == ROLLED_BACK and rig.target.finished == ["rolled-back"]


def test_two_first_ticks_creating_the_rollout_at_once_one_wins(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    first, second = rig.controller(), rig.controller()
    # both read "no rollout yet"; the first creates it, the second's create is refused
    second.lease.acquire = lambda now: None  # type: ignore[method-assign]
    assert first.tick().outcome == IN_PROGRESS
    result = second.tick()
    assert result.outcome == BUSY and "taken over" in result.message
    assert rig.target.weights == [10]
