"""The rollout state machine. `tick()` is one step of it; `run()` ticks every interval.

One tick, holding the rollout's lease (`mlci.canary.rollout`):
  starting       -> prepare the target (both variants reachable, canary at 0%), apply the
                    first step's weight                                       -> running
  running        -> when an interval has passed: read the window, judge it, then
                    fail beyond failure_limit / inconclusive beyond inconclusive_limit /
                    max_duration exceeded                                     -> rolling-back
                    passed and the step's pause is over: next step, or        -> promoting
                    passed, pause `manual`, not approved                      -> waiting-approval
  promoting      -> target.finish("promoted"), registry: production alias -> candidate -> promoted
  rolling-back   -> target.finish("rolled-back"), registry: canary alias removed -> rolled-back

Crash safety: every change of the split is written to the state as an intent
(`pending_weight`, or the phase `promoting`/`rolling-back`) *before* the target is touched,
and confirmed after. A controller killed at any point leaves a state that says what it was
doing; the next tick (any process) re-applies the intent (targets are idempotent), so no
split is ever left without an owner. `abort` rolls back from any phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlci.canary.interfaces import SourceError, TargetError
from mlci.canary.judge import FAIL, INCONCLUSIVE, PASS, Verdict, judge
from mlci.canary.rollout import Busy, Rollout
from mlci.canary.split import (
    BUSY,
    IDLE,
    IN_PROGRESS,
    PROMOTED,
    ROLLED_BACK,
    WAITING,
    RegistryOps,
    Result,
    SplitControl,
    pct,
)
from mlci.errors import InputError, ServiceError

__all__ = ["BUSY", "IDLE", "IN_PROGRESS", "PROMOTED", "ROLLED_BACK", "WAITING", "Controller",
           "RegistryOps", "Result"]


class Controller(SplitControl):
    """The state machine (see the module's docstring); `tick`, `run`, `abort`."""

    # -- one tick -------------------------------------------------------------------------------
    def tick(self) -> Result:
        now = self.clock()
        try:
            current = self.lease.acquire(now)
        except Busy as busy:
            return Result(BUSY, f"the rollout of {self.model} is being advanced by "
                          f"{busy}; this run changed nothing")
        try:
            result = self._tick(current)
            if result.rollout is not None and self.lease.held:
                self.lease.save(result.rollout, self.clock(), release=True)
            return result
        except Busy as busy:     # another process created or took the rollout meanwhile
            return Result(BUSY, f"the rollout of {self.model} was taken over by {busy}; "
                          "this run stopped there")
        finally:
            self.lease.release()

    def _start(self, current: Rollout | None) -> Result | Rollout:
        version = self.version or self.registry.queued()
        if current is not None and not current.terminal:
            if version is not None and version != current.version:
                raise InputError(
                    f"a rollout of {self.model} version {current.version} is in progress "
                    f"(step {current.step + 1}, weight {pct(current.weight)}, phase "
                    f"{current.phase}): one rollout per model at a time. Let it finish, or "
                    f"`mlci canary abort --model {self.model}` first", key="--version")
            return current
        if version is None:
            last = (f"; last rollout: version {current.version} {current.phase}"
                    if current is not None else "")
            return Result(IDLE, f"nothing to roll out for {self.model}: no --version and no "
                          f"`canary` alias{last}", None)
        if current is not None and current.version == version:
            return Result(current.phase, f"the rollout of {self.model} version {version} has "
                          f"already finished: {current.phase} ({current.reason})", current)
        plan = self.registry.plan(version)
        now = self.clock()
        r = Rollout(self.model, version, plan.stable, plan.candidate_was_champion,
                    started_at=now, step_started_at=now, last_window_end=now)
        self.save(r)
        self.record(r, "canary.start", f"rollout of version {version} started against "
                    + (f"version {plan.stable}" if plan.stable else "no stable model (first "
                       "model: one step at 100%, absolute checks only)"))
        return r

    def _tick(self, current: Rollout | None) -> Result:
        started = self._start(current)
        if isinstance(started, Result):
            return started
        r = self._rollout = started
        if r.phase == "promoting":
            self.promote(r)
        elif r.phase == "rolling-back":
            self.roll_back(r, r.reason or "resumed")
        elif r.phase == "starting":
            self.target()
            self.apply_weight(r, self.steps(r)[0].weight)
            now = self.clock()
            r.phase, r.step_started_at, r.last_window_end = "running", now, now
        else:
            self.advance_or_hold(r)
        return Result(self.outcome(r), self.describe(r), r)

    def advance_or_hold(self, r: Rollout) -> None:
        self.target()
        if r.pending_weight is not None:      # a change that may not have landed: redo it
            self.apply_weight(r, r.pending_weight)
        now = self.clock()
        if self.protocol.max_duration is not None and \
                now - r.started_at > self.protocol.max_duration:
            self.roll_back(r, f"max_duration {self.protocol.max_duration:g}s exceeded")
            return
        steps = self.steps(r)
        if self.approve:
            self._approve(r, steps)
        if now - r.last_window_end < self.protocol.interval:
            if r.phase == WAITING and r.approved_step == r.step and r.last_status == PASS:
                self.next_step(r, steps)
            return
        verdict = self.read_and_judge(r, now)
        if verdict.status == FAIL:
            r.failures += 1
            if r.failures > self.protocol.failure_limit:
                self.roll_back(r, verdict.reason)
            return
        if verdict.status == INCONCLUSIVE:
            r.inconclusive_streak += 1
            if r.inconclusive_streak > self.protocol.inconclusive_limit:
                self.roll_back(r, f"{r.inconclusive_streak} inconclusive windows in a row "
                               f"(inconclusive_limit {self.protocol.inconclusive_limit}): "
                               f"{verdict.reason}")
            return
        r.inconclusive_streak = 0
        r.passes_in_step += 1
        pause = steps[r.step].pause
        if pause == "manual":
            if r.approved_step == r.step:
                self.next_step(r, steps)
            elif r.phase != WAITING:
                r.phase = WAITING
                self.record(r, "canary.waiting", f"step {r.step + 1} at {pct(r.weight)} "
                            "passed its checks; waiting for approval (mlci canary step "
                            "--approve)")
        elif now - r.step_started_at >= float(pause or 0):
            self.next_step(r, steps)

    def _approve(self, r: Rollout, steps: list[Any]) -> None:
        if steps[r.step].pause != "manual":
            self.say(f"--approve: step {r.step + 1} has no manual pause; nothing to approve")
            return
        if r.approved_step != r.step:
            r.approved_step, r.approved_by = r.step, self.approver
            self.record(r, "canary.approved", f"step {r.step + 1} at {pct(r.weight)} "
                        f"approved by {self.approver or 'unknown'}", {"step": r.step + 1})

    def next_step(self, r: Rollout, steps: list[Any]) -> None:
        if r.step + 1 >= len(steps):
            self.promote(r)
            return
        r.phase = "running"
        r.step += 1
        r.passes_in_step = 0
        try:
            self.apply_weight(r, steps[r.step].weight)
        except TargetError as error:
            r.step -= 1
            r.pending_weight = None
            r.failures += 1
            self.say(f"the target refused the new weight: {error}")
            if r.failures > self.protocol.failure_limit:
                self.roll_back(r, f"the target refused weight {pct(steps[r.step + 1].weight)}:"
                               f" {error}")
            return
        r.step_started_at = self.clock()

    def read_and_judge(self, r: Rollout, now: float) -> Verdict:
        start, error = r.last_window_end, None
        window = None
        try:
            window, cursor = self._make_source(r.target_saved).read(r.source_cursor, start, now)
            r.source_cursor = dict(cursor)
        except SourceError as failure:
            error = str(failure) or "unreadable"
        try:
            health = self.target().health()
        except TargetError as failure:
            health = str(failure)
        # At 100% the stable model serves nothing to compare with: absolute limits only.
        compare = r.stable_version is not None and r.weight < 100
        verdict = judge(self.protocol, window, compare=compare, source_error=error,
                        health=health)
        r.last_window_end, r.last_status = now, verdict.status
        entry = {"start": start, "end": now, "step": r.step + 1, "weight": r.weight,
                 **verdict.as_dict()}
        r.add_window(entry)
        details: dict[str, Any] = {f"check.{c.name}": _check_text(c.as_dict())
                                   for c in verdict.checks}
        details.update({"window": verdict.status, "weight": r.weight, "step": r.step + 1,
                        "canary_requests": verdict.canary_requests,
                        "stable_requests": verdict.stable_requests})
        self.record(r, "canary.check", f"window {verdict.status} at {pct(r.weight)}"
                    + (f": {verdict.reason}" if verdict.reason else ""), details)
        return verdict

    # -- what a person reads ----------------------------------------------------------------
    def describe(self, r: Rollout) -> str:
        steps = self.steps(r)
        if r.terminal:
            return f"{self.model} version {r.version}: {r.phase} ({r.reason})"
        return (f"{self.model} version {r.version}: step {r.step + 1}/{len(steps)} at "
                f"{pct(r.weight)}, {r.phase}, {r.failures} failed window(s), last window "
                f"{r.last_status or 'none yet'}")

    def run(self, sleep: Callable[[float], None] = time.sleep) -> Result:
        """Tick every interval until the rollout ends or waits for an approval."""
        while True:
            result = self.tick()
            self.approve = False          # an approval applies to the first tick only
            self._target = self._target if result.rollout is not None else None
            if result.outcome != IN_PROGRESS or result.rollout is None:
                return result
            self.say(result.message)
            due = result.rollout.last_window_end + self.protocol.interval - self.clock()
            sleep(max(0.05, due))

    def abort(self, reason: str) -> Result:
        now = self.clock()
        deadline = now + 60
        while True:
            try:
                current = self.lease.acquire(self.clock())
                break
            except Busy as busy:
                if self.clock() > deadline:
                    raise ServiceError(f"cannot abort: the rollout is held by {busy}") from None
                time.sleep(0.5)
        self._rollout = current
        try:
            if current is None or current.terminal:
                last = f" (last: version {current.version} {current.phase})" if current else ""
                return Result(IDLE, f"no rollout of {self.model} in progress{last}", current)
            self.roll_back(current, reason)
            self.lease.save(current, self.clock(), release=True)
            return Result(ROLLED_BACK, self.describe(current), current)
        finally:
            self.lease.release()


def _check_text(check: dict[str, Any]) -> str:
    parts = [check["status"] + ("" if check.get("enforced", True) else " (not enforced)")]
    for key in ("canary", "stable", "p_value"):
        if check.get(key) is not None:
            parts.append(f"{key} {check[key]:.4g}")
    if check.get("limit"):
        parts.append(str(check["limit"]))
    if check.get("reason"):
        parts.append(str(check["reason"]))
    return "; ".join(parts)
