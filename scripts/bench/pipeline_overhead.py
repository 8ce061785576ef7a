#!/usr/bin/env python3
"""Benchmark: the pipeline's own overhead in the demo (`scripts/demo.sh`), warm and cold.

Runs the demo on a copy of the repository's tracked files, then reads the
three `mlci pipeline run` reports it wrote (`report.json`: every stage's seconds, the
training command's own seconds from the lineage, the rollout's windows). Per stage:

  wall        the stage's wall time, summed over the three snapshots
  excluded    the time inside the training command (train) and the rollout's configured
              pauses (canary: one `interval` per judged window)
  overhead    wall - excluded

and the demo's total wall time (set-up, three pipeline runs, history). Target (issue 14):
overhead under 10% of the wall time; the warm demo under 5 minutes, the cold one under 12.
The training command's time is the engine's run of it, so the training container's start
counts as training, not overhead.

The floor, measured in the same run on the demo's own registry, image and model: what the
real components the pipeline drives cost at the least, each started the way the pipeline
starts it, however little mlci did around them (median of three):

  registry    importing MLflow, opening the SQLite store and reading the production alias
              and its run, in a process that has loaded what `mlci pipeline run` has when its
              first stage starts: once per pipeline run (each run is a process)
  container   `podman run --rm IMAGE true` in the training image: once per gate that scores
              the production model in the image (the training container's start is excluded
              above already)
  server      MLflow's scoring server for the demo's model, from launch to answering /ping:
              once per rollout (a rollout's servers start together)

The 10% target allows `excluded / 9` seconds of overhead; the floor shows whether any
pipeline built on these components could get there.

  warm   the venv, the base image and the training image exist (a second run on a machine)
  cold   --cold: a fresh machine as far as one process can make it without touching what
         others use: a new venv (the demo creates it and installs mlci from the checkout, its
         dependencies from PyPI with pip's cache off), a new cache directory (the Debian
         base image is debootstrapped from the mirror again) and a new, empty podman store
         (CONTAINERS_STORAGE_CONF), so the base and training images are built from nothing.
         Not included: installing podman and nginx with apt (the demo does it when they are
         absent; they are present here).

    .venv/bin/python scripts/bench/pipeline_overhead.py [--cold] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_repo(dest: Path) -> None:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)


def cold_environment(root: Path) -> dict[str, str]:
    """Variables that give the demo an empty podman store, cache and venv under `root`."""
    storage = root / "storage.conf"
    storage.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{root}/graph"\n'
                       f'runroot = "{root}/run"\n')
    return {"CONTAINERS_STORAGE_CONF": str(storage), "XDG_CACHE_HOME": str(root / "cache"),
            "MLCI_DEV_VENV": str(root / "venv"), "PIP_NO_CACHE_DIR": "1"}


def measure(cold: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mlci-bench-demo-") as tmp:
        repo = Path(tmp) / "mlci"
        copy_repo(repo)
        env = {**os.environ, "MLCI_DEV_VENV": str(Path(sys.executable).parent.parent),
               "MLCI_DEMO_LISTEN": f"127.0.0.1:{free_port()}"}
        env.pop("MLFLOW_TRACKING_URI", None)
        if cold:
            fresh = Path(tmp) / "fresh"
            fresh.mkdir()
            env.update(cold_environment(fresh))
            env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                          if not p.startswith(str(ROOT)))
        start = time.monotonic()
        done = subprocess.run(["scripts/demo.sh"], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=3600, check=False)
        total = time.monotonic() - start
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-4000:])
            raise SystemExit(f"the demo failed (exit {done.returncode})")
        reports = sorted((repo / "examples/churn/.mlci/pipeline").glob("*/report.json"))
        docs = [json.loads(p.read_text()) for p in reports]
        lower = floor(repo / "examples/churn", docs, env)
        if cold:   # the fresh store's images, removed by podman (which owns their layers)
            subprocess.run(["podman", "rmi", "--all", "--force"], env=env,
                           capture_output=True, check=False)
    stages: dict[str, dict[str, float]] = {}
    for doc in docs:
        for stage in doc["stages"]:
            row = stages.setdefault(stage["stage"], {"wall": 0.0, "excluded": 0.0})
            row["wall"] += stage["seconds"]
            detail = stage.get("detail") or {}
            row["excluded"] += float(detail.get("command_seconds") or 0.0)
            row["excluded"] += float(detail.get("pauses_seconds") or 0.0)
    for row in stages.values():
        row["overhead"] = row["wall"] - row["excluded"]
    wall = sum(r["wall"] for r in stages.values())
    overhead = sum(r["overhead"] for r in stages.values())
    excluded = sum(r["excluded"] for r in stages.values())
    return {"mode": "cold" if cold else "warm", "demo_seconds": round(total, 1),
            "pipeline_seconds": round(wall, 1), "overhead_seconds": round(overhead, 1),
            "overhead_share": round(overhead / wall, 3) if wall else None,
            "budget_seconds": round(excluded / 9, 2), "floor": lower,
            "stages": {k: {n: round(v, 1) for n, v in r.items()} for k, r in stages.items()}}


# Reading the production alias and its run from the embedded store, as the data-change
# stage does first, timed from where a pipeline run's first stage starts (the command line,
# the pipeline and the configuration loaded): importing MLflow and opening the store.
REGISTRY_PROBE = """
import sys, time
import mlci.cli, mlci.commands.pipeline, mlci.config.load, mlci.pipeline.runner
start = time.monotonic()
import mlflow
client = mlflow.MlflowClient(sys.argv[1])
client.get_run(client.get_model_version_by_alias(sys.argv[2], sys.argv[3]).run_id)
print(time.monotonic() - start)
"""

# The seconds from launching a model server as the local target does (its own code) to its
# answering /ping; the model is downloaded first, outside the time.
SERVER_PROBE = """
import sys, time
from pathlib import Path
from mlci.canary.interfaces import ModelRef
from mlci.canary.targets import processes
store, version, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
workdir.mkdir(parents=True, exist_ok=True)
ref = ModelRef("churn", version, f"models:/churn/{version}")
processes.download_model(ref, workdir, store)
start = time.monotonic()
launch = processes.launch_model_server(ref, workdir=workdir, label="floor", tracking_uri=store)
try:
    processes.wait_ready([launch], timeout=120)
    print(time.monotonic() - start)
finally:
    processes.stop(launch.record)
"""


def probe(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"floor probe {argv[0]} failed (exit {done.returncode}):\n"
                         f"{done.stderr[-2000:]}")
    return done


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    probe(argv, env)
    return time.monotonic() - start


def reported(argv: list[str], env: dict[str, str]) -> float:
    """The seconds a probe script prints last."""
    return float(probe(argv, env).stdout.split()[-1])


def floor(example: Path, docs: list[dict[str, Any]], env: dict[str, str]) -> dict[str, Any]:
    """The components' least cost (module docstring), and how often the demo needs each."""
    store = f"sqlite:///{example}/.mlci/mlflow.db"
    stages = [s for doc in docs for s in doc["stages"]]
    image = next(s["detail"]["image_digest"] for s in reversed(stages) if s["stage"] == "train")
    served = next(s["detail"]["version"] for s in reversed(stages)    # the last promoted
                  if s["stage"] == "promote" and s.get("detail", {}).get("version"))
    counts = {"registry": len(docs),
              "container": sum(1 for s in stages if s["stage"] == "gate"
                               and (s.get("detail") or {}).get("baseline_version")),
              "server": sum(1 for s in stages if s["stage"] == "canary"
                            and (s.get("detail") or {}).get("pauses_seconds"))}
    python = str(Path(env["MLCI_DEV_VENV"]) / "bin" / "python")    # the demo's own venv
    probes = {
        "registry": lambda: reported([python, "-c", REGISTRY_PROBE, store, "churn",
                                      "champion"], env),
        "container": lambda: timed(["podman", "run", "--rm", "--network", "none",
                                    image.removeprefix("sha256:"), "true"], env),
        "server": lambda: reported([python, "-c", SERVER_PROBE, store, str(served),
                                    str(example / ".mlci/floor")], env),
    }
    each = {name: statistics.median(run() for _ in range(3)) for name, run in probes.items()}
    total = sum(counts[name] * each[name] for name in each)
    return {"seconds": round(total, 1), "each": {k: round(v, 2) for k, v in each.items()},
            "counts": counts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="a fresh venv, cache and podman store")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.cold)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['mode']} demo: {result['demo_seconds']} s in all; the three pipeline runs "
          f"{result['pipeline_seconds']} s, of which overhead {result['overhead_seconds']} s "
          f"({100 * (result['overhead_share'] or 0):.1f}%)")
    print(f"{'stage':<14}{'wall s':>9}{'excluded s':>12}{'overhead s':>12}")
    for name, row in result["stages"].items():
        print(f"{name:<14}{row['wall']:>9.1f}{row['excluded']:>12.1f}{row['overhead']:>12.1f}")
    lower = result["floor"]
    parts = ", ".join(f"{lower['counts'][k]} x {k} {v:.2f} s" for k, v in lower["each"].items())
    print(f"floor of the real components: {lower['seconds']} s ({parts}); "
          f"the 10% target allows {result['budget_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
