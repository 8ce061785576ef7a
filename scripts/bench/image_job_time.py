#!/usr/bin/env python3
"""Benchmark: a GitLab-style job's time from container start to `mlci gate` answering, with the
mlci image against a fresh install of mlci in a plain Python image; and the image's size.

    .venv/bin/python scripts/bench/image_job_time.py [--runs 3] [--from-index]

image:        `podman run <mlci image> sh -c 'mlci gate ...'`: the job's whole work.
fresh:        `podman run <plain python image> sh -c 'venv; pip install mlci; mlci gate ...'`:
              what the templates did before the image (pip installs mlci and its runtime
              dependencies into a venv, then runs the gate). By default pip installs from a
              local wheelhouse (no download: a lower bound); --from-index lets pip download from
              the package index inside the container, as a fresh runner does.
Both use the Debian base image the tests build (tests/train_support.ensure_base_image), since
no image can be pulled here, and the same gate (a spec, two metric files).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mlci import __version__  # noqa: E402
from tests.image_support import build_image, wheelhouse  # noqa: E402
from tests.train_support import ensure_base_image  # noqa: E402

GATE = ("mlci gate --spec gate.yml --candidate cand.json --baseline base.json "
        "--report-json /tmp/report.json")


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(argv)}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--from-index", action="store_true")
    args = parser.parse_args()
    base = ensure_base_image()
    image = build_image(__version__)
    size = json.loads(subprocess.run(["podman", "image", "inspect", image], capture_output=True,
                                     text=True, check=True).stdout)[0]["Size"]
    base_size = json.loads(subprocess.run(["podman", "image", "inspect", base],
                                          capture_output=True, text=True,
                                          check=True).stdout)[0]["Size"]
    with tempfile.TemporaryDirectory(prefix="mlci-bench-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir(mode=0o755)
        (work / "gate.yml").write_text("metrics:\n  accuracy: {min: 0.8, max_regression: 0.01}\n")
        (work / "cand.json").write_text('{"accuracy": 0.91}')
        (work / "base.json").write_text('{"accuracy": 0.90}')
        dist = wheelhouse(Path(tmp))
        mount = ["-v", f"{work}:/work:ro,Z", "-w", "/work"]
        pip = "python3 $(ls /dist/pip-*.whl)/pip --python /tmp/venv/bin/python install -q"
        source = "--no-index --find-links /dist" if not args.from_index else "--find-links /dist"
        fresh = (f"python3 -m venv --without-pip /tmp/venv && {pip} {source} "
                 f"'mlci[s3] @ file://'$(ls /dist/mlci-*.whl) && /tmp/venv/bin/{GATE}")
        network = [] if args.from_index else ["--network", "none"]
        image_runs = [timed(["podman", "run", "--rm", "--network", "none", *mount, image,
                             "sh", "-c", GATE]) for _ in range(args.runs)]
        fresh_runs = [timed(["podman", "run", "--rm", *network, *mount,
                             "-v", f"{dist}:/dist:ro,Z", base, "sh", "-c", fresh])
                      for _ in range(args.runs)]
    print(f"image {image}: {size / 1e6:.0f} MB ({(size - base_size) / 1e6:.0f} MB above its "
          f"base, {base_size / 1e6:.0f} MB)")
    shown = ", ".join(f"{t:.1f}" for t in image_runs)
    print(f"job start -> gate answers, with the image: median "
          f"{statistics.median(image_runs):.1f} s ({shown})")
    how = "from the index" if args.from_index else "from a local wheelhouse"
    print(f"job start -> gate answers, fresh install ({how}): median "
          f"{statistics.median(fresh_runs):.1f} s ({', '.join(f'{t:.1f}' for t in fresh_runs)})")


if __name__ == "__main__":
    main()
