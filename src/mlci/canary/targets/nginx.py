"""The `nginx` target: an nginx the user runs, where mlci owns one included file.

mlci renders upstreams for the two model servers, the split (`split_clients`, sticky on a
header or cookie when `route_by` is set), a JSON access log with per-upstream status and
latency, and the server block; every change goes through `Router.apply` (validate, reload,
verify, else keep the last good file). After promotion the canary's address serves all
traffic; the next rollout names it as `stable` in mlci.yml.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from mlci.canary.interfaces import ModelRef, TargetError
from mlci.canary.targets.config import NginxTarget as NginxConfig
from mlci.canary.targets.router import Router, render, serving_generation


def default_access_log(config: Path) -> Path:
    return config.with_name(config.name.removesuffix(".conf") + ".access.log")


class NginxTarget:
    name = "nginx"

    def __init__(self, config: NginxConfig, *, base_dir: Path) -> None:
        self.settings = config
        self.config_path = _resolve(base_dir, config.config)
        self.access_log = (_resolve(base_dir, config.access_log) if config.access_log
                           else default_access_log(self.config_path))
        self.router = Router(self.config_path, config.listen, config.test, config.reload,
                             config.reload_timeout)

    def _apply(self, weight: float) -> None:
        text, generation = render(stable=self.settings.stable, canary=self.settings.canary,
                                  weight=weight, listen=self.settings.listen,
                                  access_log=self.access_log, route_by=self.settings.route_by)
        self.router.apply(text, generation)

    def prepare(self, stable: ModelRef, canary: ModelRef, saved: dict[str, Any]) -> dict[str, Any]:
        if not saved:
            self._apply(0.0)
        return {"target": self.name, "config": str(self.config_path),
                "access_log": str(self.access_log), "stable": self.settings.stable,
                "canary": self.settings.canary}

    def set_weight(self, weight: float) -> None:
        self._apply(weight)

    def health(self) -> str | None:
        problems = [f"the {label} model server {address} refuses connections"
                    for label, address in (("stable", self.settings.stable),
                                           ("canary", self.settings.canary))
                    if not _accepts(address)]
        if serving_generation(self.settings.listen) is None:
            problems.append(f"the router does not answer on {self.settings.listen}")
        return "; ".join(problems) or None

    def finish(self, outcome: str) -> None:
        if outcome not in ("promoted", "rolled-back"):
            raise TargetError(f"unknown outcome {outcome!r}")
        self._apply(100.0 if outcome == "promoted" else 0.0)


def _accepts(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            return True
    except OSError:
        return False


def _resolve(base_dir: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else base_dir / candidate
