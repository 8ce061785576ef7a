"""Builds the mlci image (docker/Containerfile) offline, for the tests and the benchmark.

No image can be pulled here, so the image is built FROM the Debian base image the training
tests use (tests/train_support.ensure_base_image), with `PIP_ARGS=--no-index --find-links`
pointing at a wheelhouse made on the host: this checkout's wheel, its runtime dependencies and
pip itself (a bare Debian python3 has no pip). The Containerfile is the release's, unchanged.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.train_support import ensure_base_image

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "localhost/mlci-image-test"


def wheelhouse(dest: Path, extras: str = "s3") -> Path:
    """dest/dist: mlci's wheel, its dependencies' wheels and pip's."""
    dist = dest / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(dist), str(ROOT)], check=True,
                   stdin=subprocess.DEVNULL)
    wheel = next(dist.glob("mlci-*.whl"))
    subprocess.run([*pip, "download", "-d", str(dist), f"mlci[{extras}] @ {wheel.as_uri()}",
                    "pip"], check=True, stdin=subprocess.DEVNULL)
    return dist


def build_image(version: str, *, tag: str = IMAGE, revision: str = "test") -> str:
    """Build the image; returns its reference (`tag:version`)."""
    base = ensure_base_image()
    with tempfile.TemporaryDirectory(prefix="mlci-image-") as tmp:
        context = Path(tmp)
        wheelhouse(context)
        ref = f"{tag}:{version}"
        subprocess.run(["podman", "build", "--quiet", "-f", str(ROOT / "docker" / "Containerfile"),
                        "--build-arg", f"BASE={base}",
                        "--build-arg", "PIP_ARGS=--no-index --find-links /src/dist",
                        "--build-arg", f"VERSION={version}",
                        "--build-arg", f"REVISION={revision}",
                        "-t", ref, str(context)], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
    return ref
