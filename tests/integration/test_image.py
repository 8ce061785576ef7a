"""The mlci image: built from docker/Containerfile with podman, it answers as the version it
claims, runs a gate as a non-root user, holds no build tools, and carries its OCI labels."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlci import __version__
from tests.image_support import build_image

pytestmark = pytest.mark.integration

SPEC = "metrics:\n  accuracy: {min: 0.8, max_regression: 0.01}\n"


@pytest.fixture(scope="module")
def image() -> str:
    return build_image(__version__, revision="0123abc")


def run(image: str, *argv: str, mount: Path | None = None) -> subprocess.CompletedProcess[str]:
    volume = ["-v", f"{mount}:/work:ro,Z", "-w", "/work"] if mount else []
    return subprocess.run(["podman", "run", "--rm", "--network", "none", *volume, image, *argv],
                          capture_output=True, text=True, timeout=300, check=False)


def test_the_image_answers_with_its_version(image: str) -> None:
    result = run(image, "mlci", "--version")
    assert (result.returncode, result.stdout) == (0, f"mlci {__version__}\n"), result.stderr


def test_a_gate_runs_inside_as_a_non_root_user(image: str, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)   # the image's user (uid 10001) reads the mounted files
    (tmp_path / "gate.yml").write_text(SPEC)
    (tmp_path / "cand.json").write_text('{"accuracy": 0.91}')
    (tmp_path / "base.json").write_text('{"accuracy": 0.90}')
    result = run(image, "sh", "-c", "id -u; mlci gate --spec gate.yml --candidate cand.json "
                 "--baseline base.json --json", mount=tmp_path)
    assert result.returncode == 0, result.stderr
    uid, _, report = result.stdout.partition("\n")
    assert uid != "0"
    assert json.loads(report)["verdict"] == "promote"
    (tmp_path / "worse.json").write_text('{"accuracy": 0.85}')
    rejected = run(image, "mlci", "gate", "--spec", "gate.yml", "--candidate", "worse.json",
                   "--baseline", "base.json", mount=tmp_path)
    assert rejected.returncode == 1, rejected.stderr


def test_no_build_tools_and_the_labels(image: str) -> None:
    tools = run(image, "sh", "-c", "for t in gcc cc make pip pip3; do command -v $t; done; true")
    assert tools.stdout.strip() == ""
    inspect = subprocess.run(["podman", "image", "inspect", image], capture_output=True,
                             text=True, check=True)
    labels = json.loads(inspect.stdout)[0]["Labels"]
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.revision"] == "0123abc"
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_an_unreadable_working_directory_is_a_clear_error(image: str, tmp_path: Path) -> None:
    """A job whose checkout the image's user cannot read (uid 10001, a 0700 directory of
    root's): exit 2 naming what could not be read, not a traceback."""
    tmp_path.chmod(0o700)
    result = run(image, "mlci", "gate", "--spec", "gate.yml", "--candidate", "c.json",
                 mount=tmp_path)
    assert result.returncode == 2
    assert "cannot look for mlci.yml" in result.stderr and "Traceback" not in result.stderr
