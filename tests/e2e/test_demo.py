"""The README's main command, `scripts/demo.sh`, on a clean copy of the repository (the
tracked files only: no data, no registry, no rollout state). The copy shares this
checkout's venv (MLCI_DEV_VENV) so the test does not reinstall the test dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def clean_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if not source.is_file():
            continue            # deleted in the working tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode)
    return dest


def test_demo_on_a_clean_copy(tmp_path: Path) -> None:
    repo = clean_copy(tmp_path / "mlci")
    listen = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "MLCI_DEV_VENV": str(Path(sys.executable).parent.parent),
           "MLCI_DEMO_LISTEN": listen}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(["scripts/demo.sh"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=1500, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-5000:]
    assert "champion is version 2" in log
    # the three snapshots, each as it should end
    outcomes = (repo / "examples/churn/.mlci/demo-outcomes.txt").read_text().split("\n")
    assert outcomes[:3] == ["v1: exit 0, as expected", "v2: exit 0, as expected",
                            "v3: exit 1, as expected"]
    assert "slices.region=south.accuracy" in log      # rejected on the slice it hurts
    assert "canary.promoted" in done.stdout            # mlci history: the rollout's events
    reports = sorted((repo / "examples/churn/.mlci/pipeline").glob("*/report.md"))
    assert len(reports) == 3
    assert "| gate | **reject** |" in reports[-1].read_text()
    # nothing keeps serving after the demo
    served = (repo / "examples/churn/.mlci/serve/servers.json").read_text()
    assert '"stable": null' in served
