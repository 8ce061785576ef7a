#!/usr/bin/env python3
"""Benchmark of `mlci data-change` (issue 6): a generated tree of 100,000 files (~2 GB) and
one 4 GB file, against raw read throughput and `dvc status` on the same data.

Measured, each as a separate `mlci` process (start-up included):
  raw read      find | xargs cat > /dev/null  (and cat of the big file)
  cold          fingerprint with no stat cache, after dropping the page cache when allowed
  hot           the same with the data in the page cache (hashing speed, not the disk)
  warm          with a filled stat cache, nothing changed (median of 5), plain and with
                --against the committed manifest
  warm+1        with a filled stat cache after changing one file
  dvc status    on the same tree after `dvc add` (DVC in its own venv, .bench/venv)

Targets: cold within 1.5x of raw read; warm unchanged under 1 s for 100k files and at least
10x faster than `dvc status`.

Usage: scripts/bench/data_change_bench.py [--scale 0.1] [--dir .bench/data-change]
                                          [--no-dvc] [--json FILE]
Dropping the page cache (`echo 3 > /proc/sys/vm/drop_caches`) needs root and affects the
whole machine; without it "cold" means whatever the page cache holds (reported).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def generate(root: Path, files: int, small_bytes: int, big_bytes: int, seed: int = 0) -> None:
    marker = root / f".generated-{files}-{small_bytes}-{big_bytes}"
    if marker.exists():
        log(f"reusing generated data in {root}")
        return
    shutil.rmtree(root, ignore_errors=True)
    tree = root / "tree"
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    mean = small_bytes // max(files, 1)
    block = os.urandom(8 << 20)
    per_dir = 100
    log(f"generating {files:,} files (~{small_bytes / 1e9:.2f} GB) in {tree}")
    written = 0
    for i in range(files):
        if i % per_dir == 0:
            directory = tree / f"part-{i // per_dir:05d}"
            directory.mkdir(parents=True)
        size = rng.randint(mean // 2, mean * 3 // 2) if mean > 1 else 1
        offset = rng.randrange(0, len(block) - size) if size < len(block) else 0
        with open(directory / f"f{i:06d}.bin", "wb") as out:
            out.write(i.to_bytes(8, "little") + block[offset:offset + max(size - 8, 0)])
        written += size
    big = root / "big" / "big.bin"
    big.parent.mkdir(parents=True)
    log(f"generating one {big_bytes / 1e9:.2f} GB file")
    with open(big, "wb") as out:
        remaining, counter = big_bytes, 0
        while remaining > 0:
            chunk = counter.to_bytes(8, "little") + block[8:min(len(block), remaining)]
            out.write(chunk[:remaining])
            remaining -= len(chunk[:remaining])
            counter += 1
    # Back-date everything: the stat cache never trusts files modified in the last 2 s.
    past = time.time() - 3600
    for dirpath, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(dirpath, name), (past, past))
    marker.touch()


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
        return True
    except OSError:
        return False


def timed(cmd: list[str] | str, cwd: Path, env: dict[str, str] | None = None,
          shell: bool = False) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, shell=shell, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {cmd}\n{proc.stdout[-2000:]}\n"
                         f"{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def mlci(args: list[str], cwd: Path) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "GITLAB", "MLCI_"))}
    elapsed, out = timed([str(REPO / ".venv/bin/mlci"), "data-change", *args, "--json"], cwd,
                         env)
    return elapsed, json.loads(out)


def median_of(n: int, fn) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(fn() for _ in range(n))


def ensure_dvc(venv: Path) -> Path:
    dvc = venv / "bin" / "dvc"
    if not dvc.exists():
        log(f"installing dvc into {venv} (the benchmark's own environment)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", "dvc"], check=True)
    return dvc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="1.0: 100,000 files / 2 GB + a 4 GB file; 0.1: a tenth")
    parser.add_argument("--dir", type=Path, default=REPO / ".bench" / "data-change")
    parser.add_argument("--no-dvc", action="store_true", help="skip the dvc comparison")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--clean", action="store_true", help="delete the data afterwards")
    args = parser.parse_args()

    files = int(100_000 * args.scale)
    small = int(2e9 * args.scale)
    big = int(4e9 * args.scale)
    root = args.dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    generate(root, files, small, big)
    cpus = len(os.sched_getaffinity(0))
    load = os.getloadavg()
    results: dict[str, object] = {"files": files, "small_bytes": small, "big_bytes": big,
                                  "cpus": cpus, "loadavg_at_start": load}
    can_drop = drop_caches()
    results["page_cache_dropped"] = can_drop
    log(f"{cpus} CPUs, load {load}, page cache drop {'allowed' if can_drop else 'NOT allowed'}")

    for name, target in (("tree", "tree"), ("big", "big/big.bin")):
        raw_cmd = ("find tree -type f -print0 | xargs -0 cat > /dev/null" if name == "tree"
                   else "cat big/big.bin > /dev/null")
        drop_caches()
        # The reference is a shell pipeline of the standard tools, run as written.
        raw_cold, _ = timed(raw_cmd, root, shell=True)  # noqa: S604
        raw_hot = median_of(3, lambda cmd=raw_cmd: timed(cmd, root, shell=True)[0])  # noqa: S604
        drop_caches()
        cold, report = mlci(["--paths", target], root)
        hot = median_of(3, lambda t=target: mlci(["--paths", t], root)[0])
        results[name] = {"raw_read_cold_s": round(raw_cold, 3), "raw_read_hot_s": round(raw_hot, 3),
                         "fingerprint_cold_s": round(cold, 3),
                         "fingerprint_hot_s": round(hot, 3),
                         "cold_vs_raw": round(cold / raw_cold, 2),
                         "hot_vs_raw_hot": round(hot / raw_hot, 2),
                         "bytes": report["bytes"], "entries": report["files"]}
        log(f"{name}: raw read {raw_cold:.2f}s cold / {raw_hot:.2f}s hot; fingerprint "
            f"{cold:.2f}s cold / {hot:.2f}s hot")

    cache = root / "stat-cache"
    shutil.rmtree(cache, ignore_errors=True)
    fill, report = mlci(["--paths", "tree", "--cache", str(cache), "--write",
                         str(root / "manifest.json")], root)
    warm = median_of(5, lambda: mlci(["--paths", "tree", "--cache", str(cache)], root)[0])
    warm_against = median_of(5, lambda: mlci(["--paths", "tree", "--cache", str(cache),
                                              "--against", str(root / "manifest.json")],
                                             root)[0])
    _, check = mlci(["--paths", "tree", "--cache", str(cache)], root)
    assert check["hashed"]["files"] == 0, check["hashed"]
    one = next((root / "tree").rglob("*.bin"))
    original = one.read_bytes()
    one.write_bytes(original + b"changed")
    changed_s, changed = mlci(["--paths", "tree", "--cache", str(cache), "--against",
                               str(root / "manifest.json")], root)
    assert changed["changed"] and changed["counts"]["modified"] == 1, changed["counts"]
    results["warm"] = {"fill_cache_s": round(fill, 3), "unchanged_s": round(warm, 3),
                       "unchanged_against_manifest_s": round(warm_against, 3),
                       "one_file_changed_s": round(changed_s, 3),
                       "hashed_after_change": changed["hashed"]["files"]}
    log(f"warm: unchanged {warm:.3f}s ({warm_against:.3f}s with --against); one file "
        f"changed {changed_s:.3f}s")

    if not args.no_dvc:
        dvc = ensure_dvc(REPO / ".bench" / "venv")
        one.write_bytes(original)
        dvc_root = root
        env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
        if not (dvc_root / ".dvc").exists():
            timed([str(dvc), "init", "--no-scm", "-q"], dvc_root, env)
            timed([str(dvc), "config", "cache.type", "hardlink"], dvc_root, env)
        if not (dvc_root / "tree.dvc").exists():
            log("dvc add tree (hashes and links the whole tree once)")
            add_s, _ = timed([str(dvc), "add", "-q", "tree"], dvc_root, env)
            results["dvc_add_s"] = round(add_s, 3)
        timed([str(dvc), "status"], dvc_root, env)  # let dvc fill its own state db
        dvc_status = median_of(3, lambda: timed([str(dvc), "status"], dvc_root, env)[0])
        one.write_bytes(original + b"changed")
        dvc_changed, _ = timed([str(dvc), "status"], dvc_root, env)
        one.write_bytes(original)
        results["dvc"] = {"status_unchanged_s": round(dvc_status, 3),
                          "status_one_changed_s": round(dvc_changed, 3),
                          "version": timed([str(dvc), "--version"], dvc_root, env)[1].strip()}
        results["warm_vs_dvc_status"] = round(dvc_status / warm, 1)
        log(f"dvc status: {dvc_status:.3f}s unchanged, {dvc_changed:.3f}s after one change; "
            f"mlci warm is {dvc_status / warm:.1f}x faster")
    else:
        one.write_bytes(original)

    tree_r = results["tree"]
    big_r = results["big"]
    assert isinstance(tree_r, dict) and isinstance(big_r, dict)
    targets = {
        "cold_within_1.5x_raw_tree": tree_r["cold_vs_raw"] <= 1.5,
        "cold_within_1.5x_raw_big": big_r["cold_vs_raw"] <= 1.5,
        "warm_unchanged_under_1s": warm < 1.0 * max(1.0, files / 100_000),
    }
    if "warm_vs_dvc_status" in results:
        targets["warm_10x_faster_than_dvc_status"] = results["warm_vs_dvc_status"] >= 10
    results["targets_met"] = targets
    results["loadavg_at_end"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.clean:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
