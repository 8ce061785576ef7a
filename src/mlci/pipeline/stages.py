"""The stages of `mlci pipeline run`: each runs one stage command and says what it decided.

A stage returns a `Stage`: its decision (a word), why (one line a person reads), the key
numbers, links to what it wrote, and the exit code `mlci <stage>` would have returned.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.pipeline.invoke import Invocation, invoke


@dataclass
class Context:
    config: Any                      # mlci.config.model.Config
    config_path: str
    tracking_uri: str
    run_dir: Path                    # this run's reports and outputs
    holdout: str | None = None
    engine: str | None = None        # forced engine ("local" when no container engine)

    def common(self) -> list[str]:
        return ["--config", self.config_path, "--tracking-uri", self.tracking_uri, "--json"]


@dataclass
class Stage:
    name: str
    decision: str
    why: str
    code: int = 0
    numbers: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "decision": self.decision, "why": self.why,
                "exit_code": self.code, "numbers": self.numbers, "links": self.links,
                "seconds": round(self.seconds, 3), "detail": self.detail}


def _failed(name: str, found: Invocation) -> Stage:
    decision = {1: "failed", 3: "review"}.get(found.code, "error")
    return Stage(name, decision, found.error or f"exit {found.code}", found.code)


def timed(name: str, fn: Any, *args: Any) -> Stage:
    """Run one stage; an error of the pipeline's own (e.g. a missing --holdout) is that
    stage's decision, so the run still ends with its summary and report."""
    from mlci import ci
    from mlci.errors import MlciError

    start = time.monotonic()
    try:
        stage: Stage = fn(*args)
    except MlciError as error:
        ci.current().error(f"{name}: {error}", file=error.file, line=error.line)
        stage = Stage(name, "error", str(error), error.exit_code)
    stage.seconds = time.monotonic() - start
    return stage


def data_change(ctx: Context) -> Stage:
    found = invoke(["data-change", *ctx.common()])
    if found.code != 0:
        return _failed("data-change", found)
    doc = found.doc
    base = doc.get("baseline") or {}
    counts = doc.get("counts") or {}
    detail = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    against = base.get("ref") or "no baseline"
    if doc.get("changed"):
        why = (f"{detail or 'changed'} since {against}" if base.get("fingerprint")
               else f"no data recorded for {against}: a first run")
    else:
        why = f"same fingerprint as {against}"
    return Stage("data-change", "changed" if doc.get("changed") else "unchanged", why,
                 numbers={"files": doc.get("files"), "fingerprint": doc.get("fingerprint")},
                 detail={"baseline": base, "counts": counts})


def validate_data(ctx: Context) -> Stage:
    if not ctx.config.data.contract:
        return Stage("validate-data", "skipped", "no data.contract in mlci.yml")
    found = invoke(["validate-data", *ctx.common()])
    doc = found.doc
    if found.code not in (0, 1) or not doc:
        return _failed("validate-data", found)
    violations = doc.get("violations") or []
    numbers = {"rows": doc.get("rows"), "violations": len(violations),
               "warnings": len(doc.get("warnings") or [])}
    if found.code == 1:
        first = violations[0] if violations else {}
        why = (f"{len(violations)} violation(s), first: {first.get('column') or '(table)'} "
               f"{first.get('rule')}: observed {first.get('observed')}, expected "
               f"{first.get('expected')}")
        return Stage("validate-data", "invalid", why, 1, numbers)
    return Stage("validate-data", "valid",
                 f"{doc.get('rows')} rows, {doc.get('checks')} rules hold", 0, numbers)


def train(ctx: Context) -> Stage:
    outputs = ctx.run_dir / "train"
    argv = ["train", *ctx.common(), "--outputs", str(outputs)]
    if ctx.engine:
        argv += ["--engine", ctx.engine]
    found = invoke(argv)
    doc = found.doc
    if found.code != 0:
        stage = _failed("train", found)
        stage.detail = {"run_id": doc.get("run_id")}
        return stage
    metrics = doc.get("metrics") or {}
    predicate = (doc.get("lineage") or {}).get("predicate") or {}
    engine = predicate.get("engine") if isinstance(predicate.get("engine"), dict) else {}
    shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())[:4])
    return Stage("train", "trained", f"run {doc.get('run_id')}: {shown}", 0,
                 numbers=metrics,
                 links={"run": f"runs:/{doc.get('run_id')}", "outputs": str(outputs)},
                 detail={"run_id": doc.get("run_id"), "model_uri": doc.get("model_uri"),
                         "image_digest": doc.get("image_digest"), "engine": engine,
                         "outputs": str(outputs),
                         "command_seconds": _command_seconds(predicate)})


def _command_seconds(predicate: dict[str, Any]) -> float | None:
    """How long the training command itself ran (the lineage's run facts)."""
    run = predicate.get("run") if isinstance(predicate.get("run"), dict) else {}
    value = (run or {}).get("duration_seconds")
    return float(value) if isinstance(value, (int, float)) else None


def _champion(ctx: Context) -> str | None:
    from mlci.registry.client import Registry

    registry = Registry(ctx.tracking_uri)
    return registry.alias_version(ctx.config.model, ctx.config.registry.alias)


def gate(ctx: Context, trained: Stage) -> Stage:
    from mlci.commands.gate import _spec

    class _Args:
        spec = None

    spec = _spec(_Args(), ctx.config)   # type: ignore[arg-type]
    run_id = trained.detail["run_id"]
    argv = ["gate", *ctx.common(), "--candidate", f"runs:/{run_id}",
            "--report-dir", str(ctx.run_dir / "gate")]
    predictions = Path(trained.detail["outputs"]) / "predictions.csv"
    champion = _champion(ctx)
    if predictions.is_file():
        argv += ["--candidate-predictions", str(predictions)]
        if champion is not None:
            argv += ["--baseline-predictions", _score_champion(ctx, spec)]
    found = invoke(argv)
    doc = found.doc
    verdict = doc.get("verdict")
    if found.code not in (0, 1, 3) or not verdict:
        return _failed("gate", found)
    failing = [r for r in doc.get("rules", []) if r.get("outcome") in ("fail", "review")]
    reasons = list(doc.get("reasons") or [])
    why = "; ".join(reasons[:2]) or ("first model: absolute rules only" if champion is None
                                     else "every rule holds")
    numbers = {row["name"]: row.get("candidate") for row in doc.get("metrics", [])
               if isinstance(row, dict) and "name" in row}
    return Stage("gate", verdict, why, found.code, numbers,
                 links={"report": str(ctx.run_dir / "gate" / "report.md")},
                 detail={"baseline_version": champion, "failing_rules": failing[:10],
                         "reasons": reasons})


def _score_champion(ctx: Context, spec: Any) -> str:
    """The production model's predictions on today's holdout: the gate compares both models
    on the same examples (slices, fairness, paired intervals). The scoring is the gate's own
    (`mlci gate --holdout`): one implementation."""
    from mlci.errors import InputError
    from mlci.gate.holdout import BASELINE_FILE, score_model

    if not ctx.holdout:
        raise InputError("the gate compares per-example predictions and a production model "
                         "exists: give --holdout FILE (the examples the training command "
                         "scored) so that mlci evaluate can score the production model on them",
                         key="--holdout")
    out = ctx.run_dir / "gate" / BASELINE_FILE
    return score_model(f"models:/{ctx.config.model}@{ctx.config.registry.alias}", ctx.holdout,
                       out, spec, tracking_uri=ctx.tracking_uri, role="production")


def promote(ctx: Context, trained: Stage) -> Stage:
    found = invoke(["promote", *ctx.common(), "--candidate",
                    f"runs:/{trained.detail['run_id']}/model"])
    doc = found.doc
    if found.code != 0:
        return _failed("promote", found)
    alias = doc.get("alias")
    what = "moved" if doc.get("moved") else "already there"
    return Stage("promote", "promoted",
                 f"{doc.get('model')}@{alias}: {doc.get('previous_version') or 'unset'} -> "
                 f"{doc.get('version')} ({what})", 0,
                 numbers={"version": doc.get("version"),
                          "previous_version": doc.get("previous_version")},
                 detail={"alias": alias, "version": doc.get("version"),
                         "event_id": doc.get("event_id")})


def canary(ctx: Context, promoted: Stage) -> Stage:
    if ctx.config.deploy is None:
        return Stage("canary", "skipped", "no deploy: section: promote moved the production "
                     "alias itself")
    found = invoke(["canary", "run", *ctx.common(), "--version",
                    str(promoted.detail["version"])])
    doc = found.doc
    if found.code not in (0, 1) or not doc:
        return _failed("canary", found)
    rollout = doc.get("rollout") or {}
    windows = rollout.get("windows") or []
    numbers = {"weight": doc.get("weight"), "windows": len(windows)}
    return Stage("canary", str(doc.get("outcome")), str(doc.get("message") or ""), found.code,
                 numbers, links={"state": str(rollout.get("state") or "")},
                 detail={"pauses_seconds": _pauses(ctx, windows)})


def _pauses(ctx: Context, windows: list[Any]) -> float:
    """The rollout's configured waiting: one interval per judged window."""
    interval = float(ctx.config.deploy.protocol.interval)
    return interval * len(windows)


def container_engine(configured: str) -> str | None:
    """None: let `mlci train` pick; "local" when auto finds neither podman nor docker."""
    if configured != "auto":
        return None
    if shutil.which("podman") or shutil.which("docker"):
        return None
    return "local"
