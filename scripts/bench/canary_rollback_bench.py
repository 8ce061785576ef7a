#!/usr/bin/env python3
"""How fast a failing canary is rolled back, and how many failed requests it serves meanwhile.

Real parts: an `mlflow server`, two registered versions served by `mlflow models serve`
behind Debian's nginx (the `local` target), `mlci canary run` as a subprocess, and a load
generator on 127.0.0.1 at a fixed rate. The candidate answers normally for x < 0 and raises
(HTTP 400) for x >= 0; the generator sends x = -1 until the fault time, chosen at a random
point of a check interval once the rollout is at its first step, then x = 1: from then on
every request routed to the canary fails, none routed to stable does.

Reported, per run, against the bound the protocol implies:
- time from the fault until all traffic is back on stable (the first request after the last
  one the canary served) vs `interval + reload` (the reload measured in the same run: the
  time between the rollback decision and the split at 0% in the state);
- failed requests served meanwhile vs `weight x rate x (interval + reload)`.

    .venv/bin/python scripts/bench/canary_rollback_bench.py [--runs 3] [--interval 4]
        [--weight 20] [--rate 40]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.canary_support import call, payload, register_pyfunc  # noqa: E402
from tests.registry_support import client, mlci_env  # noqa: E402
from tests.services import MlflowServer, free_port  # noqa: E402


class Load:
    """Requests at `rate` per second (4 workers, paced), x=-1 until `fault_at`, then x=1."""

    def __init__(self, url: str, rate: float) -> None:
        self.url, self.rate = url, rate
        self.fault_at = float("inf")
        self.replies: list[tuple[float, int, str | None]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._next = time.monotonic()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(4)]

    def _slot(self) -> float:
        with self._lock:
            self._next = max(self._next + 1 / self.rate, time.monotonic())
            return self._next

    def _work(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(max(0.0, self._slot() - time.monotonic()))
            sent = time.time()
            x = 1.0 if sent >= self.fault_at else -1.0
            try:
                reply = call(self.url, payload(x), timeout=10)
                record = (sent, reply.status, reply.variant)
            except OSError:
                record = (sent, 0, None)
            with self._lock:
                self.replies.append(record)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def one_run(server: MlflowServer, root: Path, listen: str, model: str, args: argparse.Namespace,
            index: int) -> dict[str, Any]:
    version = register_pyfunc(server.url, model, answer=index + 2, fail_at=0.0)
    client(server.url).set_registered_model_alias(model, "canary", version)
    state = root / f"state-{index}.json"
    config = root / f"mlci-{index}.yml"
    config.write_text(yaml.safe_dump({"model": model, "deploy": {
        "target": "local", "state": str(state),
        "local": {"workdir": str(root / "serve"), "listen": listen, "startup_timeout": "300s"},
        "protocol": {"interval": f"{args.interval}s", "min_requests": 5, "failure_limit": 0,
                     "inconclusive_limit": 100,
                     "steps": [{"weight": args.weight, "pause": "1h"}, {"weight": 100}],
                     "checks": {"error_rate": {"max": 0.05, "max_regression": 0.01}}}}}))
    with Load(f"http://{listen}/invocations", args.rate) as load:
        process = subprocess.Popen([sys.executable, "-m", "mlci", "canary", "run", "--config",
                                    str(config), "--json"], env=mlci_env(server.url),
                                   cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        # at the first step with one passing window judged: inject the fault at a random
        # point of the next interval
        while process.poll() is None:
            doc = json.loads(state.read_text()) if state.exists() else {}
            if doc.get("windows"):
                break
            time.sleep(0.05)
        load.fault_at = time.time() + random.uniform(0, args.interval)  # noqa: S311
        _, err = process.communicate(timeout=600)
    doc = json.loads(state.read_text())
    if doc["phase"] != "rolled-back":
        raise SystemExit(f"run {index}: expected a rollback, got {doc['phase']}: {err[-2000:]}")
    fault = load.fault_at
    canary_after = [t for t, _, variant in load.replies if variant == "canary" and t >= fault]
    last_canary = max(canary_after) if canary_after else fault
    back = min((t for t, _, _ in load.replies if t > last_canary), default=last_canary)
    failed = sum(1 for t, status, _ in load.replies if t >= fault and status != 200)
    decided = doc["windows"][-1]["end"]
    zero = next(w["t"] for w in doc["weights"] if w["to"] == 0)
    reload = zero - decided
    bound_time = args.interval + reload
    return {"run": index + 1, "back_on_stable_s": round(back - fault, 3),
            "bound_s": round(bound_time, 3), "reload_s": round(reload, 3),
            "failed_requests": failed,
            "failed_bound": round(args.weight / 100 * args.rate * bound_time, 1),
            "requests_after_fault": sum(1 for t, _, _ in load.replies if t >= fault)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--interval", type=float, default=4.0)
    parser.add_argument("--weight", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="canary-bench-") as tmp:
        root = Path(tmp)
        server = MlflowServer(root / "mlflow")
        server.start()
        listen = f"127.0.0.1:{free_port()}"
        try:
            model = f"bench-canary-{int(time.time())}"
            stable = register_pyfunc(server.url, model, answer=1)
            client(server.url).set_registered_model_alias(model, "champion", stable)
            results = [one_run(server, root, listen, model, args, i) for i in range(args.runs)]
        finally:
            from mlci.canary.targets.config import LocalTarget as LocalConfig
            from mlci.canary.targets.local import LocalTarget

            LocalTarget(LocalConfig(workdir=str(root / "serve"), listen=listen),
                        base_dir=root, tracking_uri=None).stop_all()
            server.stop()
    print(f"canary rollback: interval {args.interval:g}s, weight {args.weight:g}%, "
          f"{args.rate:g} req/s")
    print(f"{'run':>3}  {'back on stable':>14}  {'bound (interval+reload)':>23}  "
          f"{'failed req':>10}  {'bound (w*rate*(i+r))':>20}")
    for r in results:
        print(f"{r['run']:>3}  {r['back_on_stable_s']:>13.2f}s  {r['bound_s']:>22.2f}s  "
              f"{r['failed_requests']:>10}  {r['failed_bound']:>20.1f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
