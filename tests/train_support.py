"""Shared helpers for the training tests: the podman base image and the toy training project.

The base image `localhost/mlci-test-base` (Debian bookworm minbase + python3) is built by
scripts/build-base-image.sh, which caches it (the image, and its rootfs tarball under
~/.cache/mlci-dev), so only the first session on a machine runs debootstrap (about a minute).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "localhost/mlci-test-base"
PROJECT = ROOT / "tests" / "fixtures" / "train" / "project"
BUILD_SCRIPT = ROOT / "scripts" / "build-base-image.sh"


@functools.lru_cache(maxsize=1)
def ensure_base_image() -> str:
    """Build (or find) the base image; returns its image ID. Fails loudly, never skips."""
    proc = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{BUILD_SCRIPT} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout.strip().splitlines()[-1]


def copy_project(dest: Path) -> Path:
    """A fresh copy of the toy project (Containerfile, train.py, data/, mlci.yml)."""
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("__pycache__", "mlruns*"))
    return dest


def podman_containers(name_prefix: str) -> list[str]:
    proc = subprocess.run(["podman", "ps", "-a", "--format", "{{.Names}}"], capture_output=True,
                          text=True, check=True)
    return [n for n in proc.stdout.split() if n.startswith(name_prefix)]
