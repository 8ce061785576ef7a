#!/usr/bin/env python3
"""Benchmark: one canary tick's read of the nginx JSON access log when the log is already
large (default 1 GB) and consumed: the source reads only what was appended since the cursor.

Steps, in one run:
  build      write a --size log of realistic JSON lines (one 1 MiB block repeated: seconds,
             not minutes), with timestamps before the rollout's window
  cold       the first read without a cursor: the window's start is found by bisection on the
             timestamps (bytes read ~ a few lines per probe, not the file)
  tick       append one window of --lines requests (stable/canary, a few errors), then one
             read from the saved cursor: time, bytes read (the bytes appended, plus the log's
             first 64 bytes: the cursor's check that the log was not truncated) and counts
  reference  the same window read from offset 0 (what re-reading the whole file would cost),
             measured in the same run; --no-reference skips it

The log is deleted at the end (also on failure).

    .venv/bin/python scripts/bench/canary_tick_cost.py [--size-gb 1] [--lines 6000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from mlci.canary.sources.nginx_log import HEAD, NginxLogSource  # noqa: E402


def entry(moment: float, variant: str, status: int, latency: float) -> str:
    return json.dumps({"time": round(moment, 3), "variant": variant, "status": status,
                       "upstream_addr": "127.0.0.1:40001", "upstream_status": str(status),
                       "upstream_response_time": f"{latency:.3f}",
                       "request_time": round(latency + 0.0004, 3)}, separators=(",", ":")) + "\n"


def build(path: Path, size: int, before: float) -> float:
    rng = random.Random(1)  # noqa: S311 - test data
    lines, length = [], 0
    while length < 1 << 20:
        line = entry(before - 3600 + length / 1e6, rng.choice(("stable", "canary")),
                     rng.choice((200,) * 49 + (400,)), rng.uniform(0.002, 0.040))
        lines.append(line)
        length += len(line)
    block = "".join(lines).encode()
    started = time.perf_counter()
    with open(path, "wb") as log:
        log.writelines(block for _ in range(max(1, size // len(block))))
    return time.perf_counter() - started


def append_window(path: Path, count: int, start: float, end: float) -> int:
    rng = random.Random(2)  # noqa: S311 - test data
    step = (end - start) / count
    text = "".join(entry(start + i * step, "canary" if rng.random() < 0.05 else "stable",
                         400 if rng.random() < 0.01 else 200, rng.uniform(0.002, 0.040))
                   for i in range(count))
    with open(path, "a") as log:
        log.write(text)
    return len(text.encode())


def timed_read(source: NginxLogSource, cursor: dict[str, object], start: float,
               end: float) -> tuple[float, float, dict[str, object], dict[str, int]]:
    began, cpu = time.perf_counter(), time.process_time()
    window, after = source.read(cursor, start, end)
    elapsed = time.perf_counter() - began
    cpu = time.process_time() - cpu
    counts = {"stable": window.stable.requests, "canary": window.canary.requests,
              "errors": window.stable.errors + window.canary.errors}
    return elapsed, cpu, after, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--lines", type=int, default=6000, help="requests in the window")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mlci-tick-bench-"))
    try:
        log = folder / "access.json.log"
        window_start = float(int(time.time()))  # whole seconds: no line rounds below it
        build_s = build(log, int(args.size_gb * (1 << 30)), window_start)
        size = log.stat().st_size
        source = NginxLogSource(log)

        cold_s, _, cursor, _ = timed_read(source, {}, window_start, window_start + 60)
        cold_bytes = source.bytes_read
        appended = append_window(log, args.lines, window_start, window_start + 60)
        window_end = window_start + 60
        tick_s, tick_cpu, cursor, counts = timed_read(source, cursor, window_start, window_end)
        tick_bytes = source.bytes_read
        result: dict[str, object] = {
            "log_bytes": size, "build_s": round(build_s, 2),
            "cold_start_bisection": {"seconds": round(cold_s, 4), "bytes_read": cold_bytes},
            "tick": {"seconds": round(tick_s, 4), "cpu_seconds": round(tick_cpu, 4),
                     "bytes_read": tick_bytes,
                     "bytes_appended": appended, "requests": counts},
        }
        if not args.no_reference:
            whole = {"offset": 0, "inode": cursor["inode"]}
            full_s, full_cpu, _, full_counts = timed_read(source, whole, window_start,
                                                          window_end)
            result["reference_full_read"] = {"seconds": round(full_s, 2),
                                             "cpu_seconds": round(full_cpu, 2),
                                             "bytes_read": source.bytes_read,
                                             "requests": full_counts}
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"access log: {size / (1 << 30):.2f} GiB (built in {build_s:.1f}s)")
            print(f"cold start (no cursor, bisection): {cold_s * 1000:.2f} ms, "
                  f"{cold_bytes} bytes read")
            print(f"tick ({args.lines} new lines): {tick_s * 1000:.2f} ms "
                  f"({tick_cpu * 1000:.2f} ms CPU), {tick_bytes} bytes read for {appended} "
                  f"appended; {counts}")
            if "reference_full_read" in result:
                ref = result["reference_full_read"]
                assert isinstance(ref, dict)
                print(f"reference, whole file re-read: {ref['seconds']} s "
                      f"({ref['cpu_seconds']} s CPU), {ref['bytes_read']} bytes")
        # what was appended, plus the log's first bytes (the cursor's truncation check)
        return 0 if tick_bytes <= appended + HEAD else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
