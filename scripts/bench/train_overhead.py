#!/usr/bin/env python3
"""Benchmark of `mlci train` (issue 7): the overhead mlci adds around a container run.

Same cached image (localhost/mlci-test-base, built by scripts/build-base-image.sh), same
trivial command (write a one-metric metrics.json to /outputs), measured as wall time of
separate processes, median of N runs after one warm-up run each:

  podman bare    podman run --rm IMAGE true
  podman direct  podman run --rm -v OUT:/outputs IMAGE /bin/sh -c CMD   (what mlci runs)
  mlci --version python start-up + mlci's CLI (no MLflow import)
  mlci train     mlci train --image IMAGE --command CMD --engine podman|auto

overhead = median(mlci train) - median(podman direct): everything but the command itself
(Python start-up, engine probe, image resolution, data fingerprint, MLflow run creation,
metrics/artifact/lineage logging, run termination). Target: under 2 s with a cached image.

The tracking store is a real `mlflow server` on 127.0.0.1 (SQLite backend) started here,
unless --tracking-uri is given.

Usage: scripts/bench/train_overhead.py [--runs 5] [--engine podman] [--tracking-uri URI]
                                       [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/mlci-test-base"
COMMAND = "printf '{\"x\": 1}' > /outputs/metrics.json"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False,
                          stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def series(name: str, runs: int, make_argv, env: dict[str, str] | None = None) -> list[float]:
    timed(make_argv(-1), env)  # warm-up: page cache, image layers, MLflow experiment
    times = [timed(make_argv(i), env) for i in range(runs)]
    log(f"{name}: median {statistics.median(times):.3f}s  "
        f"(min {min(times):.3f}, max {max(times):.3f})")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", default="podman", choices=["podman", "docker", "auto"])
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--json", metavar="FILE", default=None)
    args = parser.parse_args()

    subprocess.run([str(REPO / "scripts" / "build-base-image.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    engine = "podman" if args.engine == "auto" else args.engine
    mlci = str(Path(sys.executable).parent / "mlci")
    server = None
    uri = args.tracking_uri
    if uri is None:
        sys.path.insert(0, str(REPO))
        from tests.services import MlflowServer

        server = MlflowServer(Path(tempfile.mkdtemp(prefix="mlci-bench-mlflow-")))
        server.startup_timeout = 300.0
        log("starting mlflow server ...")
        server.start()
        uri = server.url
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITLAB_CI")}
    env["MLFLOW_TRACKING_URI"] = uri
    work = Path(tempfile.mkdtemp(prefix="mlci-bench-"))
    load = os.getloadavg()
    try:
        bare = series("podman bare", args.runs, lambda i: [engine, "run", "--rm", IMAGE, "true"])

        def direct(i: int) -> list[str]:
            out = work / f"direct-{i}"
            out.mkdir(exist_ok=True)
            return [engine, "run", "--rm", "-v", f"{out}:/outputs:rw", "--entrypoint",
                    "/bin/sh", IMAGE, "-c", COMMAND]

        direct_t = series("podman direct", args.runs, direct)
        version = series("mlci --version", args.runs, lambda i: [mlci, "--version"], env)
        train = series("mlci train", args.runs, lambda i: [
            mlci, "train", "--image", IMAGE, "--command", COMMAND, "--engine", args.engine,
            "--experiment", "bench-train-overhead"], env)
    finally:
        if server is not None:
            server.stop()
    result = {
        "runs": args.runs, "engine": args.engine, "tracking_uri": "mlflow server (local)"
        if server else uri, "cpus": os.cpu_count(), "loadavg_at_start": load,
        "loadavg_at_end": os.getloadavg(),
        "median_seconds": {"podman_bare": statistics.median(bare),
                           "podman_direct": statistics.median(direct_t),
                           "mlci_version": statistics.median(version),
                           "mlci_train": statistics.median(train)},
        "all_seconds": {"podman_bare": bare, "podman_direct": direct_t,
                        "mlci_version": version, "mlci_train": train},
    }
    overhead = result["median_seconds"]["mlci_train"] - result["median_seconds"]["podman_direct"]
    result["overhead_seconds"] = overhead
    result["target_seconds"] = 2.0
    result["meets_target"] = overhead < 2.0
    print("| measurement | median (s) |\n|---|---|")
    for key, value in result["median_seconds"].items():
        print(f"| {key.replace('_', ' ')} | {value:.3f} |")
    print(f"| **overhead** (mlci train - podman direct) | **{overhead:.3f}** |")
    print(f"\nload average {load[0]:.1f} -> {result['loadavg_at_end'][0]:.1f} on "
          f"{os.cpu_count()} CPUs; target < 2 s: {'met' if overhead < 2.0 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
