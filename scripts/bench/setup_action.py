#!/usr/bin/env python3
"""Benchmark: the setup action (`uses: ./`) under real act, cold and warm.

    .venv/bin/python scripts/bench/setup_action.py [--warm-runs N] [--no-pip-cache]

cold: an empty MLCI_CACHE_DIR, so setup-mlci.sh creates the venv and pip-installs mlci and its
      runtime dependencies. By default pip's download cache is allowed (the developer's
      `pip cache dir`: what a runner with actions/cache on ~/.cache/pip sees); --no-pip-cache
      sets PIP_NO_CACHE_DIR=1, so every wheel is downloaded from the index (a bare runner).
warm: the same MLCI_CACHE_DIR again (what a runner with the tool cache restored sees): the
      stamp matches and no pip runs.

Reports, per run, the setup step's own time (from act's JSON log) and act's whole wall time
(act start-up, the job's other steps: checkout is skipped by act, `mlci --version`).
Needs act on PATH or in this venv (scripts/install-test-tools.sh / pip install -e .[test]).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.e2e.clients import make_repo, run_act  # noqa: E402

WORKFLOW = """on: push
permissions: {}
jobs:
  bench:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
      - id: setup
        uses: ./
      - run: mlci --version
"""


def setup_seconds(result) -> float:
    for r in result.records:
        if r.get("stepID") == ["setup"] and r.get("stage") == "Main" and "executionTime" in r:
            return r["executionTime"] / 1e9
    raise RuntimeError("no timing for the setup step:\n" + result.log[-3000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--no-pip-cache", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlci-bench-") as tmp_name:
        tmp = Path(tmp_name)
        repo = make_repo(tmp / "repo")
        env = {"MLCI_CACHE_DIR": str(tmp / "mlci-cache")}
        if args.no_pip_cache:
            env["PIP_NO_CACHE_DIR"] = "1"
        else:
            env["PIP_CACHE_DIR"] = subprocess.run(
                [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True,
                check=True).stdout.strip()

        rows = []
        for i in range(1 + args.warm_runs):
            kind = "cold" if i == 0 else "warm"
            start = time.monotonic()
            result = run_act(repo, ".github/workflows/e2e-0.yml" if i else WORKFLOW, env=env,
                             timeout=1800)
            wall = time.monotonic() - start
            if not result.ok:
                print(result.log, file=sys.stderr)
                return 1
            step_log = result.step_log("setup")
            expected = "installing mlci" if kind == "cold" else "reusing cached venv"
            assert expected in step_log, step_log
            rows.append((kind, setup_seconds(result), wall))

    pip = "no pip cache (PIP_NO_CACHE_DIR=1)" if args.no_pip_cache else "warm pip cache"
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"setup action under act, {pip}, load average {load}")
    print("| run | setup step (s) | act wall (s) |")
    print("|---|---:|---:|")
    for kind, step, wall in rows:
        print(f"| {kind} | {step:.2f} | {wall:.2f} |")
    warm = [r[1] for r in rows if r[0] == "warm"]
    if warm:
        print(f"\ncold setup {rows[0][1]:.1f} s; warm setup median {statistics.median(warm):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
