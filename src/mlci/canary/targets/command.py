"""The `command` target: the user's own commands set the split (KServe, Istio, Seldon, or
anything scriptable). Each command is an argument list; placeholders are substituted per
argument: {weight} {stable_weight} (percent, e.g. 0.5 and 99.5), {model} {stable_version}
{canary_version} {stable_uri} {canary_uri} and, for `finish`, {outcome}. A command that
exits non-zero is a refused change (TargetError, with its output)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from mlci.canary.interfaces import ModelRef, TargetError
from mlci.canary.targets.argv import run_checked, substitute, unknown_placeholders
from mlci.canary.targets.config import CommandTarget as CommandConfig
from mlci.errors import ConfigError

PLACEHOLDERS = {"weight", "stable_weight", "model", "stable_version", "canary_version",
                "stable_uri", "canary_uri", "outcome"}


def percent(weight: float) -> str:
    return f"{weight:.4f}".rstrip("0").rstrip(".")


class CommandTarget:
    name = "command"

    def __init__(self, config: CommandConfig, *, base_dir: Path) -> None:
        self.settings = config
        self.base_dir = base_dir
        for key in ("set_weight", "prepare", "health", "finish"):
            argv = getattr(config, key)
            unknown = unknown_placeholders(argv or [], PLACEHOLDERS)
            if unknown:
                raise ConfigError(f"unknown placeholder(s) {', '.join(unknown)}; known: "
                                  f"{', '.join(sorted(PLACEHOLDERS))}",
                                  key=f"deploy.command.{key}")
        self.values: dict[str, str] = {}

    def _run(self, key: str, **values: str) -> subprocess.CompletedProcess[str]:
        argv = substitute(getattr(self.settings, key), {**self.values, **values})
        return run_checked(argv, cwd=self.base_dir, timeout=self.settings.timeout,
                           what=f"deploy.command.{key}", error=TargetError)

    def prepare(self, stable: ModelRef, canary: ModelRef, saved: dict[str, Any]) -> dict[str, Any]:
        self.values = {"model": canary.model, "stable_version": stable.version,
                       "canary_version": canary.version, "stable_uri": stable.uri,
                       "canary_uri": canary.uri, "weight": "0", "stable_weight": "100",
                       "outcome": ""}
        if not saved:
            if self.settings.prepare:
                self._run("prepare")
            self.set_weight(0.0)
        return {"target": self.name, "stable": stable.uri, "canary": canary.uri}

    def set_weight(self, weight: float) -> None:
        self._run("set_weight", weight=percent(weight), stable_weight=percent(100 - weight))

    def health(self) -> str | None:
        if not self.settings.health:
            return None
        try:
            self._run("health")
        except TargetError as error:
            return str(error)
        return None

    def finish(self, outcome: str) -> None:
        if outcome not in ("promoted", "rolled-back"):
            raise TargetError(f"unknown outcome {outcome!r}")
        weight = 100.0 if outcome == "promoted" else 0.0
        if self.settings.finish:
            self._run("finish", outcome=outcome, weight=percent(weight),
                      stable_weight=percent(100 - weight))
        else:
            self.set_weight(weight)
