#!/usr/bin/env python3
"""Benchmark of `mlci validate-data` (issue 16): 1,000,000 rows x 20 columns checked against
a contract, with drift against a reference of the same size, in CSV and in Parquet; wall
time and peak RSS, against plain pandas + scipy doing the same checks, in the same run.

Each measurement is its own process (start-up and imports included); peak RSS is that
process's ru_maxrss. Measured:
  mlci csv (pure)     the pure CSV reader: what the default install (no pyarrow) runs
  mlci csv (pure, 2 procs)  the same with MLCI_CSV_WORKERS=2: each large file scanned by a
                      child process, so the data and the reference parse at the same time
  mlci csv (arrow)    with the `parquet` extra installed, pyarrow's CSV reader
  mlci parquet        Parquet (needs the `parquet` extra)
  pandas+scipy csv / parquet   the reference: read_csv / read_parquet, then the same rules
                      (types, nulls, ranges, categories, uniqueness; KS for numeric and
                      chi-square for categorical drift, scipy.stats)

Targets (issue 16): faster than the reference and under 1 GB peak on the default install.

Usage: scripts/bench/validate_data_bench.py [--rows 1000000] [--dir .bench/validate-data]
                                            [--repeat 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FLOATS = [f"f{i}" for i in range(12)]
INTS = ["i0", "i1", "i2"]
CATS = {"c0": ["north", "south", "east", "west"], "c1": ["NO", "SE", "DK", "FI", "IS"]}
HOLES = ("f0", "f1", "f2")  # 1% missing


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def generate(path_csv: Path, path_parquet: Path, rows: int, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if path_csv.exists() and path_parquet.exists():
        return
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {"id": pa.array(np.arange(rows) + seed * rows)}
    for i, name in enumerate(FLOATS):
        values = rng.normal(100 + i, 10, rows).round(4)
        mask = rng.random(rows) < 0.01 if name in HOLES else None
        cols[name] = pa.array(values, mask=mask)
    for i, name in enumerate(INTS):
        cols[name] = pa.array(rng.integers(0, 1000 * (i + 1), rows))
    for name, levels in CATS.items():
        cols[name] = pa.array(np.array(levels)[rng.integers(0, len(levels), rows)])
    cols["flag"] = pa.array(rng.random(rows) < 0.3)
    cols["score"] = pa.array(np.where(rng.random(rows) < 0.9, 0.0,
                                      rng.exponential(5, rows)).round(4))
    table = pa.table(cols)
    pq.write_table(table, path_parquet)
    pcsv.write_csv(table, path_csv)


CONTRACT = {
    "rows": {"min": 1000},
    "columns": {
        "id": {"type": "integer", "unique": True, "nullable": False},
        **{f: {"type": "float", "min": -1000, "max": 1000,
               **({"max_null_ratio": 0.05} if f in HOLES else {"nullable": False})}
           for f in FLOATS},
        **{i: {"type": "integer", "min": 0, "max": 100000} for i in INTS},
        **{c: {"type": "category", "allowed": levels} for c, levels in CATS.items()},
        "flag": {"type": "boolean"},
        "score": {"type": "float", "min": 0},
    },
}

REFERENCE = r'''
import sys, json
import numpy as np, pandas as pd
from scipy import stats
fmt, data, ref, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
read = pd.read_csv if fmt == "csv" else pd.read_parquet
df, rf = read(data), read(ref)
violations = []
if len(df) < spec["rows"]["min"]:
    violations.append(("rows", "min"))
for name, rule in spec["columns"].items():
    col = df[name]
    kind = rule["type"]
    ok = {"integer": pd.api.types.is_integer_dtype, "float": pd.api.types.is_numeric_dtype,
          "category": lambda c: c.dtype == object or isinstance(c.dtype, pd.CategoricalDtype)
          or pd.api.types.is_string_dtype(c),
          "boolean": pd.api.types.is_bool_dtype}[kind](col)
    if not ok:
        violations.append((name, "type")); continue
    nulls = int(col.isna().sum())
    if not rule.get("nullable", True) and nulls:
        violations.append((name, "nullable"))
    if "max_null_ratio" in rule and nulls / len(col) > rule["max_null_ratio"]:
        violations.append((name, "max_null_ratio"))
    if "min" in rule and (col.dropna() < rule["min"]).any():
        violations.append((name, "min"))
    if "max" in rule and (col.dropna() > rule["max"]).any():
        violations.append((name, "max"))
    if "allowed" in rule and (~col.dropna().isin(rule["allowed"])).any():
        violations.append((name, "allowed"))
    if rule.get("unique") and not col.dropna().is_unique:
        violations.append((name, "unique"))
    if rule.get("unique"):
        continue
    if kind in ("integer", "float"):
        p = stats.ks_2samp(rf[name].dropna(), col.dropna()).pvalue
        if p < 0.05:
            violations.append((name, "drift"))
    else:
        table = pd.concat([rf[name].value_counts(dropna=False),
                           col.value_counts(dropna=False)], axis=1).fillna(0)
        if stats.chi2_contingency(table.to_numpy().T, correction=False).pvalue < 0.05:
            violations.append((name, "drift"))
print(json.dumps({"violations": violations}))
sys.exit(1 if violations else 0)
'''


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, int, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code, output) of one process; the
    CPU time and the peak are the child's own, from wait4. On a shared machine the CPU time
    (user + system) is the comparable figure: the wall time includes waiting for a core."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024, proc.returncode, output


def main() -> int:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", default=str(REPO / ".bench/validate-data"))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    root = Path(args.dir) / str(args.rows)
    root.mkdir(parents=True, exist_ok=True)
    log(f"generating {args.rows:,} x 20 (current and reference) in {root}")
    generate(root / "cur.csv", root / "cur.parquet", args.rows, 1)
    generate(root / "ref.csv", root / "ref.parquet", args.rows, 2)
    results = []
    mlci = str(Path(sys.executable).with_name("mlci"))
    for fmt in ("csv", "parquet"):
        contract = dict(CONTRACT, drift={"reference": f"ref.{fmt}",
                                         "method": {"numeric": "ks", "categorical": "chi2"}})
        (root / f"contract-{fmt}.yml").write_text(yaml.safe_dump(contract, sort_keys=False))
        cases = [(f"mlci {fmt}" + (" (pure)" if fmt == "csv" else ""), [
            mlci, "validate-data", "--contract", str(root / f"contract-{fmt}.yml"),
            "--data", str(root / f"cur.{fmt}")], {"MLCI_CSV_READER": "pure"})]
        if fmt == "csv":
            cases.append(("mlci csv (pure, 2 procs)", cases[0][1],
                          {"MLCI_CSV_READER": "pure", "MLCI_CSV_WORKERS": "2"}))
            cases.append(("mlci csv (arrow)", cases[0][1], {}))
        cases.append((f"pandas+scipy {fmt}", [
            sys.executable, "-c", REFERENCE, fmt, str(root / f"cur.{fmt}"),
            str(root / f"ref.{fmt}"), json.dumps(CONTRACT)], {}))
        for label, argv, extra in cases:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI",
                                                                             "GITLAB", "MLCI_"))}
            env.update(extra, MLCI_PLATFORM="terminal")
            for _ in range(args.repeat):
                seconds, cpu, peak, code, output = run_measured(argv, env)
                log(f"{label:22s} {seconds:7.2f} s wall {cpu:7.2f} s cpu {peak:8.0f} MB  "
                    f"exit {code}")
                if code not in (0, 1):
                    log(output[-2000:])
                results.append({"case": label, "seconds": round(seconds, 2),
                                "cpu_seconds": round(cpu, 2),
                                "peak_mb": round(peak), "exit": code,
                                "output": output.strip().splitlines()[:3]})
    print(f"\n{'case':24s} {'wall s':>8s} {'cpu s':>8s} {'peak MB':>8s} exit")
    for r in results:
        print(f"{r['case']:24s} {r['seconds']:8.2f} {r['cpu_seconds']:8.2f} "
              f"{r['peak_mb']:8d} {r['exit']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
