"""gitlab-templates/promote.yml under real `gitlab-ci-local`, against the session's real
`mlflow server`: the automatic job acting only on a `promote` verdict, and the manual,
approved variant for a `review` verdict."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.registry_support import alias, candidate_runs, client, register, unique
from tests.services import MlflowServer

pytestmark = pytest.mark.e2e


def pipeline(install: str, url: str, model: str) -> str:
    return f"""stages: [deploy]
include:
  - local: gitlab-templates/promote.yml
    inputs:
      mlci-install: "{install}"
      model: {model}
      candidate: "1"
      gate-report: reports/gate.json
      verdicts: promote
      tracking-uri: {url}
  - local: gitlab-templates/promote.yml
    inputs:
      mlci-install: "{install}"
      job-prefix: mlci-reviewed
      model: {model}
      candidate: "1"
      gate-report: reports/gate.json
      verdicts: review
      when: manual
      approved: true
      environment: production
      tracking-uri: {url}
  - local: gitlab-templates/canary-deploy.yml
    inputs:
      mlci-install: "{install}"
      model: {model}
      mode: run
      tracking-uri: {url}

# The rollout job wired as gitlab-templates/pipeline.yml wires it (a unit test pins the same
# variables there): the version and whether anything was promoted, from the promote dotenv.
mlci-canary-deploy:
  needs: [mlci-promote]
  variables:
    MLCI_INPUT_CANARY_VERSION: "$MLCI_VERSION"
    MLCI_INPUT_CANARY_IF_PROMOTED: "$MLCI_PROMOTED"
"""


def test_promote_template_auto_and_manual_approval(
        mlflow_server: MlflowServer, make_repo: Callable[..., Path],
        gitlab: Callable[..., object], mlci_wheel: Path) -> None:
    url, model = mlflow_server.url, unique("gcl")
    register(url, model, candidate_runs(url, 1))
    report = json.dumps({"verdict": "review", "baseline": {"model_version": None},
                         "candidate": {"run_id": None}})
    repo = make_repo({"reports/gate.json": report,
                      ".gitlab-ci.yml": pipeline(str(mlci_wheel), url, model)})

    # A `canary` alias left from an earlier rollout: the rollout job must not start it.
    client(url).set_registered_model_alias(model, "canary", "1")

    # The pipeline: the automatic job sees a review verdict and does nothing, so the rollout
    # job after it starts nothing either; the manual job waits for a person.
    auto = gitlab(repo, job=["mlci-promote", "mlci-canary-deploy"])
    assert auto.jobs == {"mlci-promote": "PASS", "mlci-canary-deploy": "PASS"}, auto.log
    assert "the gate said review, not promote (--verdicts): nothing to do" in \
        auto.job_log("mlci-promote")
    assert "nothing was promoted (--if-promoted false): no rollout" in \
        auto.job_log("mlci-canary-deploy")
    assert auto.dotenv["mlci-canary-deploy"] == {"MLCI_OUTCOME": "idle", "MLCI_WEIGHT": "0"}
    assert alias(url, model, "canary") == "1" and alias(url, model) is None
    assert auto.dotenv["mlci-promote"] == {"MLCI_VERSION": "", "MLCI_PREVIOUS_VERSION": "",
                                           "MLCI_PROMOTED": "false"}
    assert alias(url, model) is None

    # A person starts the manual job (in the protected environment): it promotes, and the
    # approver recorded is GITLAB_USER_LOGIN, the user who started it (for gitlab-ci-local:
    # the local part of the repo's git user.email).
    subprocess.run(["git", "-C", str(repo), "config", "user.email", "alice@example.com"],
                   check=True)
    manual = gitlab(repo, job="mlci-reviewed-promote")
    assert manual.jobs == {"mlci-reviewed-promote": "PASS"}, manual.log
    assert manual.dotenv["mlci-reviewed-promote"] == {"MLCI_VERSION": "1",
                                                      "MLCI_PREVIOUS_VERSION": "",
                                                      "MLCI_PROMOTED": "true"}
    assert alias(url, model) == "1"
    tags = client(url).get_model_version(model, "1").tags
    assert tags["mlci.approved_by"] == "alice" and tags["mlci.gate.verdict"] == "review"
