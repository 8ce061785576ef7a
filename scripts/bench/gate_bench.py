#!/usr/bin/env python3
"""Benchmark `mlci gate` on 1,000,000 paired predictions (issue 4, "Performance").

Workload: 10 slices, a 2-group fairness rule, accuracy/F1/recall/ROC AUC, 1,000 paired
resamples. Runs `mlci gate` in a subprocess per file format (CSV, Parquet) and reports wall
time and that process's peak RSS (os.wait4), then splits loading from computing in-process,
then times a straightforward reference -- a Python loop of scikit-learn metric calls per
bootstrap resample, on a subsample, scaled linearly to the full size -- and prints the ratio.

Targets: < 10 s wall, < 2 GiB peak on a 2-core machine. Never run by the test suite.

    .venv/bin/python scripts/bench/gate_bench.py [--rows 1000000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SPEC = """\
primary: {metric: f1, min_improvement: 0.0}
metrics:
  accuracy: {min: 0.5, max_regression: 0.01}
  f1:       {min: 0.5, max_regression: 0.01}
  recall:   {min: 0.5, max_regression: 0.01}
  roc_auc:  {min: 0.5, max_regression: 0.01}
slices:
  column: region
  min_slice_size: 100
  metrics:
    accuracy: {min: 0.5, max_regression: 0.03}
    f1:       {min: 0.5}
    recall:   {min: 0.5}
    roc_auc:  {min: 0.5}
  worst: {metric: accuracy, max_gap: 0.1}
fairness: {column: group, metric: recall, max_difference: 0.05}
significance: {confidence: 0.95, resamples: RESAMPLES, seed: 0}
predictions: {id: id, label: label, prediction: prediction, score: score}
"""


def generate(rows: int, out: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(42)
    label = rng.integers(0, 2, rows)
    region = np.array([f"region-{i}" for i in range(10)])[rng.integers(0, 10, rows)]
    group = np.array(["a", "b"])[rng.integers(0, 2, rows)]
    files = {}
    for side, signal in (("candidate", 0.32), ("baseline", 0.30)):
        score = np.clip(label * signal + rng.random(rows) * (1 - signal), 0, 1).round(6)
        table = pa.table({"id": np.arange(rows), "label": label,
                          "prediction": (score > 0.5).astype(np.int8), "score": score,
                          "region": region, "group": group})
        pq.write_table(table, out / f"{side}.parquet")
        pacsv.write_csv(table, out / f"{side}.csv")
        files[side] = out / side
    return files


def run_cli(out: Path, ext: str) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one `mlci gate` process.

    CPU time is reported too because wall time on a shared (loaded) machine is noisy."""
    mlci = Path(sys.executable).with_name("mlci")
    cmd = [str(mlci), "gate", "--spec", str(out / "gate.yml"), "--candidate",
           str(out / "c.json"), "--baseline", str(out / "b.json"),
           "--candidate-predictions", str(out / f"candidate.{ext}"),
           "--baseline-predictions", str(out / f"baseline.{ext}"),
           "--report-json", str(out / f"report-{ext}.json"), "--junit", str(out / "j.xml"),
           "--report-md", str(out / "r.md"), "--openmetrics", str(out / "m.txt")]
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "GITLAB_CI")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    verdict = json.loads((out / f"report-{ext}.json").read_text())["verdict"]
    if code not in (0, 1, 3):
        raise SystemExit(f"mlci gate failed (exit {code}): {proc.stderr.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, verdict


def split_timing(out: Path, ext: str) -> tuple[float, float]:
    """In-process: seconds loading+joining the files, seconds computing everything else."""
    from mlci.gate.engine import Side, run_gate
    from mlci.gate.predictions import align, load_predictions
    from mlci.gate.spec import load_gate_spec

    spec = load_gate_spec(out / "gate.yml")
    start = time.perf_counter()
    cand = load_predictions(str(out / f"candidate.{ext}"), spec.predictions, ["region", "group"])
    align(cand, load_predictions(str(out / f"baseline.{ext}"), spec.predictions, [],
                                 task=cand.task), "id")
    load = time.perf_counter() - start
    start = time.perf_counter()
    run_gate(spec, Side("c", {}, predictions=str(out / f"candidate.{ext}")),
             Side("b", {}, predictions=str(out / f"baseline.{ext}")))
    return load, time.perf_counter() - start - load


def reference(out: Path, rows: int, resamples: int, sub_rows: int, sub_resamples: int) -> float:
    """A straightforward paired bootstrap with scikit-learn, scaled to rows x resamples."""
    import pyarrow.parquet as pq
    from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

    c = pq.read_table(out / "candidate.parquet").to_pandas()
    b = pq.read_table(out / "baseline.parquet").to_pandas()
    y, pc, pb = c["label"].to_numpy(), c["prediction"].to_numpy(), b["prediction"].to_numpy()
    sc, sb = c["score"].to_numpy(), b["score"].to_numpy()
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(sub_resamples):
        idx = rng.integers(0, sub_rows, sub_rows)
        for fn in (accuracy_score, f1_score, recall_score):
            fn(y[idx], pc[idx]) - fn(y[idx], pb[idx])
        roc_auc_score(y[idx], sc[idx]) - roc_auc_score(y[idx], sb[idx])
    elapsed = time.perf_counter() - start
    return elapsed * (resamples / sub_resamples) * (rows / sub_rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--ref-rows", type=int, default=100_000)
    parser.add_argument("--ref-resamples", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlci-gate-bench-") as tmp:
        out = Path(tmp)
        print(f"generating {args.rows:,} paired predictions ...", flush=True)
        generate(args.rows, out)
        (out / "gate.yml").write_text(SPEC.replace("RESAMPLES", str(args.resamples)))
        (out / "c.json").write_text("{}")
        (out / "b.json").write_text("{}")
        results = {}
        for ext in ("parquet", "csv"):
            wall, cpu, peak, verdict = run_cli(out, ext)
            load, compute = split_timing(out, ext)
            results[ext] = wall
            print(f"mlci gate ({ext}): {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak:.0f} "
                  f"MiB, verdict "
                  f"{verdict}; in-process: load+join {load:.2f} s, compute {compute:.2f} s")
        ref = reference(out, args.rows, args.resamples, args.ref_rows, args.ref_resamples)
        print(f"reference (scikit-learn loop, {args.ref_resamples} resamples x "
              f"{args.ref_rows:,} rows, scaled to {args.resamples} x {args.rows:,}): {ref:.0f} s")
        print(f"ratio reference / mlci gate: parquet {ref / results['parquet']:.0f}x, "
              f"csv {ref / results['csv']:.0f}x")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
              "(wall times grow with other load; CPU times much less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
