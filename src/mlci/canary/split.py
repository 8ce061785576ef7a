"""The rollout's hold on the split: the target made ready in this process, the state saved
under the lease, and the three changes of the split -- a new weight, the promotion, the rollback
-- each written as an intent before the target is touched and confirmed after (so a controller
killed at any point leaves a state that says what it was doing). `mlci.canary.controller`
builds the state machine on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import Protocol as TypingProtocol

from mlci.canary.interfaces import MetricSource, ModelRef, Target, TargetError
from mlci.canary.rollout import Lease, Rollout
from mlci.config.model import Protocol
from mlci.errors import ServiceError

PROMOTED, ROLLED_BACK = "promoted", "rolled-back"
IN_PROGRESS, WAITING, IDLE, BUSY = "in-progress", "waiting-approval", "idle", "busy"


class RegistryOps(TypingProtocol):
    def queued(self) -> str | None: ...
    def uri(self, version: str) -> str: ...
    def plan(self, version: str) -> Any: ...
    def record(self, kind: str, version: str, stable: str | None, summary: str,
               details: dict[str, Any] | None = None) -> None: ...
    def promote(self, plan: Any, summary: str) -> None: ...
    def roll_back(self, plan: Any, summary: str) -> None: ...


@dataclass
class Result:
    # promoted | rolled-back | in-progress | waiting-approval | idle | busy
    outcome: str
    message: str
    rollout: Rollout | None = None


def pct(weight: float) -> str:
    return f"{weight:g}%"


class SplitControl:
    def __init__(self, *, model: str, version: str | None, protocol: Protocol, lease: Lease,
                 registry: RegistryOps, target: Callable[[], Target],
                 source: Callable[[dict[str, Any]], MetricSource], approve: bool = False,
                 approver: str | None = None, clock: Callable[[], float] = time.time,
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.model, self.version, self.protocol = model, version, protocol
        self.lease, self.registry = lease, registry
        self._make_target, self._make_source = target, source
        self._target: Target | None = None
        self._rollout: Rollout | None = None
        self.approve, self.approver = approve, approver
        self.clock, self.say = clock, say

    # -- plumbing ---------------------------------------------------------------------------
    def target(self) -> Target:
        """The target, made ready for this process: `prepare` with what an earlier tick saved
        (it reuses what still runs and does not change the split)."""
        if self._target is None:
            r = self._rollout
            target = self._make_target()
            if r is not None:
                r.target_saved = dict(target.prepare(*self.refs(r), r.target_saved))
                self.save(r)
            self._target = target
        return self._target

    def steps(self, r: Rollout) -> list[Any]:
        from mlci.config.model import Step

        # A first model has nothing to compare with: one step at 100%, absolute checks only.
        return [Step(weight=100)] if r.stable_version is None else list(self.protocol.steps)

    def refs(self, r: Rollout) -> tuple[ModelRef, ModelRef]:
        canary = ModelRef(self.model, r.version, self.registry.uri(r.version))
        stable = canary if r.stable_version is None else ModelRef(
            self.model, r.stable_version, self.registry.uri(r.stable_version))
        return stable, canary

    def plan(self, r: Rollout) -> Any:
        from mlci.canary.registry import Plan

        return Plan(r.version, r.stable_version, r.candidate_was_champion)

    def save(self, r: Rollout) -> None:
        self.lease.save(r, self.clock())

    def outcome(self, r: Rollout) -> str:
        if r.terminal:
            return r.phase
        return WAITING if r.phase == WAITING else IN_PROGRESS

    def record(self, r: Rollout, kind: str, summary: str,
               details: dict[str, Any] | None = None) -> None:
        self.say(summary)
        self.registry.record(kind, r.version, r.stable_version, summary, details)

    # -- the split ----------------------------------------------------------------------------
    def apply_weight(self, r: Rollout, weight: float) -> None:
        """Intent first, then the target, then the confirmation."""
        r.pending_weight = weight
        self.save(r)
        self.target().set_weight(weight)
        before, r.weight, r.pending_weight = r.weight, weight, None
        r.weights.append({"t": self.clock(), "from": before, "to": weight})
        self.save(r)
        self.record(r, "canary.weight", f"weight {pct(before)} -> {pct(weight)}",
                    {"weight": weight, "step": r.step + 1})

    def roll_back(self, r: Rollout, reason: str) -> None:
        if r.phase != "rolling-back":
            r.phase, r.reason = "rolling-back", reason
            self.save(r)
        try:
            self.target().finish(ROLLED_BACK)
        except TargetError as error:
            raise ServiceError(f"rolling back {self.model} version {r.version}: the target "
                               f"could not move traffic back to the stable model: {error}. The "
                               "state says rolling-back; the next `mlci canary step` or "
                               "`abort` retries") from None
        r.weights.append({"t": self.clock(), "from": r.weight, "to": 0.0})
        r.weight, r.pending_weight = 0.0, None
        self.save(r)
        self.registry.roll_back(self.plan(r), r.reason or reason)
        r.phase, r.finished_at = ROLLED_BACK, self.clock()
        self.save(r)
        self.record(r, "canary.rolled-back", f"rolled back version {r.version}: {r.reason}",
                    {"outcome": ROLLED_BACK})

    def promote(self, r: Rollout) -> None:
        if r.phase != "promoting":
            r.phase = "promoting"
            r.reason = f"all {len(self.steps(r))} step(s) passed"
            self.save(r)
        self.target().finish(PROMOTED)
        if r.weight != 100:
            r.weights.append({"t": self.clock(), "from": r.weight, "to": 100.0})
        r.weight = 100.0
        self.save(r)
        self.registry.promote(self.plan(r), r.reason or "")
        r.phase, r.finished_at = PROMOTED, self.clock()
        self.save(r)
        self.record(r, "canary.promoted", f"promoted version {r.version}: {r.reason}",
                    {"outcome": PROMOTED})
