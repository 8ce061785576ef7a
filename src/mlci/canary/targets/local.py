"""The `local` target: mlci serves both versions itself, for the demo and the tests.

MLflow's scoring server runs the stable and the candidate version on free 127.0.0.1 ports, and
Debian's nginx, unprivileged, with its own prefix under `workdir`, routes between them on
`listen`. `workdir/servers.json` records pids, ports and the current weight, so a later mlci
process (a scheduled `canary step`) finds and reuses what still runs, and the next rollout
reuses the stable server that the last promotion left serving.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from mlci.canary.interfaces import ModelRef, TargetError
from mlci.canary.targets import processes
from mlci.canary.targets.config import LocalTarget as LocalConfig
from mlci.canary.targets.router import Router, render, render_main


class LocalTarget:
    name = "local"

    def __init__(self, config: LocalConfig, *, base_dir: Path, tracking_uri: str | None) -> None:
        self.settings = config
        workdir = Path(config.workdir)
        self.workdir = (workdir if workdir.is_absolute() else base_dir / workdir).resolve()
        self.prefix = self.workdir / "nginx"
        self.main_conf = self.prefix / "nginx.conf"
        self.router_conf = self.prefix / "router.conf"
        self.access_log = self.prefix / "logs" / "access.json.log"
        self.record_file = self.workdir / "servers.json"
        self.tracking_uri = tracking_uri
        nginx = [config.nginx, "-p", f"{self.prefix}/", "-e", str(self.prefix / "logs" /
                                                                  "error.log"),
                 "-c", str(self.main_conf)]
        self.nginx = nginx
        self.router = Router(self.router_conf, config.listen, [*nginx, "-t", "-q"],
                             [*nginx, "-s", "reload"], 30.0)
        self.servers: dict[str, Any] = self._load()

    # -- the record of what runs ----------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.record_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        temporary = self.record_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.servers, indent=2))
        os.replace(temporary, self.record_file)

    def _server(self, label: str, ref: ModelRef, launched: list[processes.Launch],
                keep: dict[str, Any] | None = None) -> dict[str, Any]:
        """The record of the server of `ref` under `label`: the running one, or one launched
        here (added to `launched`; the caller waits for it). A recorded server of another
        model is stopped unless it is `keep` (the one just chosen as stable)."""
        record = self.servers.get(label)
        if processes.running(record, ref.uri):
            return dict(record or {})
        other = self.servers.get("canary")
        if label == "stable" and processes.running(other, ref.uri):
            processes.stop(record)
            return dict(other or {})  # a promotion cut short: the canary's server is stable
        if record and (keep is None or record.get("pid") != keep.get("pid")):
            processes.stop(record)
        launch = processes.launch_model_server(
            ref, workdir=self.workdir, label=label, tracking_uri=self.tracking_uri,
            avoid=frozenset(int(other.record["port"]) for other in launched))
        launched.append(launch)
        return launch.record

    # -- the router -------------------------------------------------------------------------

    def _nginx_pid(self) -> int | None:
        try:
            pid = int((self.prefix / "nginx.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if processes.alive(pid, "nginx") else None

    def _route(self, weight: float) -> None:
        stable = self.servers.get("stable")
        canary = self.servers.get("canary")
        if not stable:
            raise TargetError("no stable model server is recorded; run prepare first")
        if weight > 0 and not canary:
            raise TargetError("the canary's model server is not running")
        text, generation = render(
            stable=f"127.0.0.1:{stable['port']}",
            canary=f"127.0.0.1:{canary['port'] if canary else stable['port']}",
            weight=weight, listen=self.settings.listen, access_log=self.access_log,
            route_by=self.settings.route_by)
        if self._nginx_pid() is None:
            self._start_nginx(text, generation)
        else:
            self.router.apply(text, generation)
        self.servers["weight"] = weight
        self._save()

    def _start_nginx(self, text: str, generation: str) -> None:
        for sub in ("logs", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        self.main_conf.write_text(render_main(prefix=self.prefix, router=self.router_conf))
        self.router_conf.write_text(text)
        try:
            done = subprocess.run(self.nginx, capture_output=True, text=True, timeout=60,
                                  stdin=subprocess.DEVNULL, check=False)
        except FileNotFoundError:
            raise TargetError(f"{self.settings.nginx!r} not found (install Debian's nginx)"
                              ) from None
        if done.returncode != 0:
            raise TargetError(f"nginx did not start on {self.settings.listen} "
                              f"(exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        self.router.wait_for(generation)

    # -- Target -----------------------------------------------------------------------------

    def prepare(self, stable: ModelRef, canary: ModelRef, saved: dict[str, Any]) -> dict[str, Any]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if saved.get("servers"):
            self.servers = {**self.servers, **saved["servers"]}
        resumed = bool(saved)
        launched: list[processes.Launch] = []
        try:
            found = self._server("stable", stable, launched)
            found_canary = self._server("canary", canary, launched, keep=found)
        except BaseException:
            for launch in launched:   # the canary's download or start failed
                processes.stop(launch.record)
            raise
        processes.wait_ready(launched, self.settings.startup_timeout)
        self.servers["stable"], self.servers["canary"] = found, found_canary
        self._save()
        weight = float(self.servers.get("weight", 0.0)) if resumed else 0.0
        self._route(weight)
        return {"target": self.name, "workdir": str(self.workdir),
                "access_log": str(self.access_log), "listen": self.settings.listen,
                "servers": {k: self.servers[k] for k in ("stable", "canary")}}

    def set_weight(self, weight: float) -> None:
        self._route(weight)

    def health(self) -> str | None:
        problems = [f"{label} model server (port {record['port']}) does not answer"
                    for label in ("stable", "canary")
                    if (record := self.servers.get(label)) and
                    not processes.answers(int(record["port"]))]
        if self._nginx_pid() is None:
            problems.append(f"nginx on {self.settings.listen} is not running")
        return "; ".join(problems) or None

    def finish(self, outcome: str) -> None:
        if outcome not in ("promoted", "rolled-back"):
            raise TargetError(f"unknown outcome {outcome!r}")
        stable, canary = self.servers.get("stable"), self.servers.get("canary")
        if canary:  # (None when an earlier finish got this far: idempotent)
            loser = stable if outcome == "promoted" else canary
            self.servers["stable"] = canary if outcome == "promoted" else stable
            self.servers["canary"] = None
            # recorded before it is stopped, so a finish cut short stops it next time
            self.servers["retired"] = [*self.servers.get("retired", []), loser]
            self._save()
        if self.servers.get("stable"):
            # the winner alone is routed to before the loser stops: no request reaches a
            # stopped server
            self._route(0.0)
        for record in self.servers.get("retired", []):
            processes.stop(record)
        self.servers["retired"] = []
        self._save()
        processes.prune_models(self.workdir, [self.servers.get("stable")])
        if self.settings.on_finish == "stop":
            self.stop_all()

    def stop_all(self) -> None:
        """Stop both model servers and nginx (on_finish: stop, and tests)."""
        pid = self._nginx_pid()
        if pid is not None:
            processes.stop({"pid": pid}, marker="nginx")
        for label in ("stable", "canary"):
            processes.stop(self.servers.get(label))
            self.servers[label] = None
        self._save()
        processes.prune_models(self.workdir, [])
