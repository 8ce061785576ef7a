"""The README's own examples, run as written: the GitHub workflow (train -> gate -> promote,
three jobs wired by outputs and the registry) under real `act`, and the GitLab pipeline
under real `gitlab-ci-local`, against a real `mlflow server` with podman as the engine.

The snippets are read from README.md, so the test runs what is documented. The only
changes are the ones a reader makes to use a copy of mlci: `<owner>/mlci/actions/X@<sha>`
becomes the local `./actions/X` (GitHub), and a `project:` include becomes a `local:` one
installing this checkout's wheel (GitLab). The tracking URI is the variable the README
says to set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.clients import PROJECT_ROOT
from tests.registry_support import alias, client, unique
from tests.services import MlflowServer
from tests.train_support import PROJECT, ensure_base_image

pytestmark = pytest.mark.e2e

GATE_SPEC = "metrics:\n  accuracy: {min: 0.5}\n"


def readme_snippet(heading: str) -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(f"## {heading}\n", 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert found, f"no yaml example under '## {heading}'"
    return found.group(1)


def project(model: str) -> dict[str, Any]:
    """What the README's examples expect in the repository: mlci.yml naming the model and
    the training command, gate.yml, train/Containerfile, and data/ (nested, for the glob)."""
    return {
        "mlci.yml": f"model: {model}\ntrain:\n  command: python3 /app/train.py\n"
                    "  seed: 42\n  network: none\n",
        "gate.yml": GATE_SPEC,
        "train/Containerfile": PROJECT / "Containerfile",
        "train/train.py": PROJECT / "train.py",
        "data/train.csv": PROJECT / "data" / "train.csv",
        "data/holdout/holdout.csv": PROJECT / "data" / "holdout.csv",
    }


def check_promoted(url: str, model: str, run_id: str) -> None:
    assert alias(url, model) == "1"
    version = client(url).get_model_version(model, "1")
    assert version.run_id == run_id
    assert version.tags["mlci.gate.verdict"] == "promote"


def test_readme_github_example_under_act(make_repo: Callable[..., Path],
                                         act: Callable[..., Any],
                                         mlflow_server: MlflowServer) -> None:
    ensure_base_image()
    workflow = re.sub(r"<owner>/mlci/(actions/[a-z-]+)@<sha>", r"./\1",
                      readme_snippet("Use it in GitHub Actions"))
    assert "./actions/train" in workflow and "./actions/promote" in workflow
    model = unique("readme-gh")
    repo = make_repo({**project(model), ".github/workflows/ml.yml": workflow})
    result = act(repo, ".github/workflows/ml.yml",
                 vars={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.job_results == {"train": "success", "gate": "success",
                                  "promote": "success"}, result.log[-8000:]
    run_id = result.step_outputs("train", job="train")["run-id"]
    assert result.step_outputs("gate", job="gate")["verdict"] == "promote"
    check_promoted(mlflow_server.url, model, run_id)


def gitlab_pipeline(wheel: Path) -> str:
    doc = yaml.safe_load(readme_snippet("Use it in GitLab CI"))
    for entry in doc["include"]:
        assert entry.pop("project") == "org/mlci" and entry.pop("ref") == "<sha>"
        entry["local"] = entry.pop("file")
        entry["inputs"]["mlci-install"] = str(wheel)
    return yaml.safe_dump(doc, sort_keys=False)


def test_readme_gitlab_example_under_gitlab_ci_local(make_repo: Callable[..., Path],
                                                     gitlab: Callable[..., Any],
                                                     mlci_wheel: Path,
                                                     mlflow_server: MlflowServer) -> None:
    ensure_base_image()
    model = unique("readme-gl")
    repo = make_repo({**project(model), ".gitlab-ci.yml": gitlab_pipeline(mlci_wheel)})
    result = gitlab(repo, variables={"MLFLOW_TRACKING_URI": mlflow_server.url})
    assert result.jobs == {"mlci-train": "PASS", "mlci-gate": "PASS",
                           "mlci-promote": "PASS"}, (result.jobs, result.log[-8000:])
    run_id = result.dotenv["mlci-train"]["MLCI_RUN_ID"]
    assert result.dotenv["mlci-gate"]["MLCI_VERDICT"] == "promote"
    assert result.dotenv["mlci-promote"]["MLCI_VERSION"] == "1"
    check_promoted(mlflow_server.url, model, run_id)
