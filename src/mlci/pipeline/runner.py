"""The order of the stages, where a run stops, and its exit code.

data-change decides whether anything runs (`force` runs anyway); a failed or invalid stage
stops the run (exit 1, or 2 for an error); a `review` verdict stops before promotion and
says how to approve (exit 3); `reject` stops (exit 1) with production unchanged.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlci.pipeline import stages
from mlci.pipeline.stages import Context, Stage

ORDER = ("data-change", "validate-data", "train", "gate", "promote", "canary")


def embedded_tracking_uri(base_dir: Path) -> str:
    """The default store: a SQLite file under .mlci/ next to mlci.yml (with its artifacts)."""
    folder = base_dir / ".mlci"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder.resolve() / 'mlflow.db'}"


def tracking_uri_for(flag: str | None, config: Any, base_dir: Path) -> tuple[str, bool]:
    """(URI, embedded?): the flag, mlci.yml or $MLFLOW_TRACKING_URI, else the embedded one."""
    chosen = flag or config.registry.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if chosen:
        return chosen, False
    return embedded_tracking_uri(base_dir), True


def _exit_code(stage: Stage) -> int:
    return {"review": 3}.get(stage.decision, stage.code if stage.code in (1, 2) else 2)


class Run:
    def __init__(self, ctx: Context, *, force: bool, say: Callable[[str], None]) -> None:
        self.ctx = ctx
        self.force = force
        self.say = say
        self.done: list[Stage] = []
        self.next = ""

    def _step(self, fn: Callable[..., Stage], *args: Any) -> Stage:
        number = len(self.done) + 1
        name = ORDER[number - 1]
        self.say(f"[{number}/{len(ORDER)}] {name}: running")
        stage = stages.timed(name, fn, *args)
        self.done.append(stage)
        self.say(f"[{number}/{len(ORDER)}] {name}: {stage.decision} ({stage.seconds:.1f} s) "
                 f"- {stage.why}")
        return stage

    def _skip_rest(self, reason: str) -> None:
        for name in ORDER[len(self.done):]:
            self.done.append(Stage(name, "skipped", reason))

    def go(self) -> int:
        changed = self._step(stages.data_change, self.ctx)
        if changed.code != 0:
            return self._stop(changed)
        if changed.decision == "unchanged" and not self.force:
            self.next = "nothing to do; `mlci pipeline run --force` runs every stage anyway"
            self._skip_rest("data unchanged")
            return 0
        valid = self._step(stages.validate_data, self.ctx)
        if valid.decision not in ("valid", "skipped"):
            return self._stop(valid)
        trained = self._step(stages.train, self.ctx)
        if trained.decision != "trained":
            return self._stop(trained)
        verdict = self._step(stages.gate, self.ctx, trained)
        if verdict.decision == "review":
            candidate = f"runs:/{trained.detail['run_id']}/model"
            where = f"--config {self.ctx.config_path} --tracking-uri {self.ctx.tracking_uri}"
            approve = f"mlci promote {where} --candidate {candidate} --approved"
            if self.ctx.config.deploy is not None:
                approve += f"; then mlci canary run {where}"
            self.next = f"a person decides: to approve, run `{approve}`"
            return self._stop(verdict)
        if verdict.decision != "promote":
            if verdict.decision == "reject":
                self.next = "the candidate was rejected; production is unchanged"
            return self._stop(verdict)
        moved = self._step(stages.promote, self.ctx, trained)
        if moved.decision != "promoted":
            return self._stop(moved)
        rolled = self._step(stages.canary, self.ctx, moved)
        if rolled.decision == "waiting-approval":
            self.next = (f"the rollout waits for an approval: `mlci canary step --config "
                         f"{self.ctx.config_path} --tracking-uri {self.ctx.tracking_uri} "
                         "--approve`")
        if rolled.decision == "busy":
            self.next = "another process holds this model's rollout; it goes on there"
        # in-progress, busy, waiting-approval: the rollout goes on elsewhere (exit 0, as
        # `mlci canary` exits)
        if rolled.decision in ("promoted", "skipped", "waiting-approval", "in-progress",
                               "busy", "idle"):
            return 0
        return self._stop(rolled)

    def _stop(self, stage: Stage) -> int:
        self._skip_rest(f"{stage.name} said {stage.decision}")
        return _exit_code(stage)


def execute(ctx: Context, *, force: bool, model: str,
            say: Callable[[str], None]) -> tuple[int, dict[str, Any]]:
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    run = Run(ctx, force=force, say=say)
    code = run.go()
    last = next((s for s in reversed(run.done) if s.decision != "skipped"), None)
    outcome = {0: "ok", 1: "stopped: a check said no", 3: "review needed"}.get(
        code, "error")
    doc = {"schema": stages_schema(), "model": model, "config": ctx.config_path,
           "tracking_uri": ctx.tracking_uri, "started": started.isoformat(timespec="seconds"),
           "seconds": round(time.monotonic() - clock, 3), "exit_code": code,
           "outcome": outcome, "last_stage": last.name if last else None,
           "next": run.next, "report_dir": str(ctx.run_dir),
           "stages": [s.as_dict() for s in run.done]}
    return code, doc


def stages_schema() -> str:
    from mlci.pipeline.report import SCHEMA

    return SCHEMA


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def eprint(text: str) -> None:
    print(f"mlci pipeline: {text}", file=sys.stderr, flush=True)
