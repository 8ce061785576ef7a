"""A GitLab job in the mlci image (the templates' default `image`) skips the install and
answers at once: gitlab-ci-local runs the gate template in a real podman container."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mlci import __version__
from tests.e2e import clients
from tests.image_support import build_image
from tests.train_support import ensure_base_image

pytestmark = pytest.mark.e2e

CI = """include:
  - local: gitlab-templates/gate.yml
    inputs:
      image: {image}
      spec: gate.yml
      candidate: cand.json
      baseline: base.json
"""


def test_the_gate_template_in_the_mlci_image_installs_nothing(
        make_repo: Callable[..., Path]) -> None:
    image = build_image(__version__)
    repo = make_repo({".gitlab-ci.yml": CI.format(image=image),
                      "gate.yml": "metrics:\n  accuracy: {min: 0.8, max_regression: 0.01}\n",
                      "cand.json": '{"accuracy": 0.91}', "base.json": '{"accuracy": 0.90}'})
    with tempfile.TemporaryDirectory(prefix="gcl-home-") as home:
        # The docker executor's helper image would be pulled; any local image with a shell
        # serves (it only copies files), so the harness's Debian base is named.
        cmd = [clients.which("gitlab-ci-local"), "--no-color", "--home", home,
               "--container-executable", "podman", "--pull-policy", "if-not-present",
               "--helper-image", ensure_base_image(), "mlci-gate"]
        result = subprocess.run(cmd, cwd=repo, env=clients._clean_env(), capture_output=True,
                                text=True, timeout=600, check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert f"the image holds mlci=={__version__}; nothing to install" in log
    assert "pip install" not in log
    assert "mlci gate: promote" in log and "PASS" in log
