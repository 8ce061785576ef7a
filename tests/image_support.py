"""Builds the mlci image (docker/Containerfile) offline, for the tests and the benchmark.

No image can be pulled here, so the image is built FROM the Debian base image the training
tests use (tests/train_support.ensure_base_image), with `PIP_ARGS=--no-index --find-links`
pointing at a wheelhouse made on the host: this checkout's wheel, its runtime dependencies and
pip itself (a bare Debian python3 has no pip). The Containerfile is the release's, unchanged.
"""

from __future__ import annotations

import hashlib
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


def source_hash() -> str:
    """What the image is made of: the package's sources and the Containerfile."""
    digest = hashlib.sha256()
    files = [ROOT / "pyproject.toml", ROOT / "docker" / "Containerfile",
             *sorted((ROOT / "src").rglob("*.py")), *sorted((ROOT / "src").rglob("*.j2"))]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def build_image(version: str, *, tag: str = IMAGE, revision: str = "test") -> str:
    """Build the image, or reuse the one built from the same sources; returns its reference
    (`tag:version`, also tagged `tag:version-<source hash>`)."""
    ref = f"{tag}:{version}"
    cached = f"{ref}-{source_hash()}-{revision}"
    if subprocess.run(["podman", "image", "exists", cached], check=False).returncode == 0:
        subprocess.run(["podman", "tag", cached, ref], check=True)
        return ref
    base = ensure_base_image()
    with tempfile.TemporaryDirectory(prefix="mlci-image-") as tmp:
        context = Path(tmp)
        wheelhouse(context)
        subprocess.run(["podman", "build", "--quiet", "-f", str(ROOT / "docker" / "Containerfile"),
                        "--build-arg", f"BASE={base}",
                        "--build-arg", "PIP_ARGS=--no-index --find-links /src/dist",
                        "--build-arg", f"VERSION={version}",
                        "--build-arg", f"REVISION={revision}",
                        "-t", ref, str(context)], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["podman", "tag", ref, cached], check=True)
    return ref
