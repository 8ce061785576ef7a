"""actions/promote and actions/rollback under real `act`, against the session's real
`mlflow server` (its URL passed as the `tracking-uri` input; act runs jobs on this host)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.registry_support import alias, candidate_runs, client, register, unique
from tests.services import MlflowServer

pytestmark = pytest.mark.e2e

CHECKOUT = """      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
"""


def report(verdict: str, baseline: str | None) -> str:
    return json.dumps({"verdict": verdict, "baseline": {"model_version": baseline},
                       "candidate": {"run_id": None}})


def workflow(url: str, gated: str, reviewed: str) -> str:
    # Jobs run one after the other (needs + always()), each on its own model.
    return f"""on: push
permissions: {{}}
jobs:
  promote:
    runs-on: ubuntu-latest
    steps:
{CHECKOUT}      - id: promote
        uses: ./actions/promote
        with:
          model: {gated}
          candidate: "1"
          gate-report: reports/promote.json
          tracking-uri: {url}
      - id: again
        uses: ./actions/promote
        with:
          model: {gated}
          candidate: "2"
          expect-current: "1"
          approved: "true"
          tracking-uri: {url}
      - id: rollback
        uses: ./actions/rollback
        with:
          model: {gated}
          reason: canary error rate too high
          tracking-uri: {url}
      - env:
          T_V1: ${{{{ steps.promote.outputs.version }}}}
          T_P1: ${{{{ steps.promote.outputs.previous-version }}}}
          T_V2: ${{{{ steps.again.outputs.version }}}}
          T_P2: ${{{{ steps.again.outputs.previous-version }}}}
          T_V3: ${{{{ steps.rollback.outputs.version }}}}
          T_P3: ${{{{ steps.rollback.outputs.previous-version }}}}
        run: echo "outputs [$T_V1|$T_P1] [$T_V2|$T_P2] [$T_V3|$T_P3]"
  review-unapproved:
    needs: promote
    if: always()
    runs-on: ubuntu-latest
    steps:
{CHECKOUT}      - id: promote
        uses: ./actions/promote
        with:
          model: {reviewed}
          candidate: "1"
          gate-report: reports/review.json
          tracking-uri: {url}
  review-approved:
    needs: review-unapproved
    if: always()
    runs-on: ubuntu-latest
    environment: production
    steps:
{CHECKOUT}      - id: promote
        uses: ./actions/promote
        with:
          model: {reviewed}
          candidate: "1"
          gate-report: reports/review.json
          approved: "true"
          tracking-uri: {url}
"""


def test_promote_and_rollback_actions(mlflow_server: MlflowServer, make_repo: Callable[..., Path],
                                      act: Callable[..., object]) -> None:
    url = mlflow_server.url
    gated, reviewed = unique("act-gated"), unique("act-reviewed")
    register(url, gated, candidate_runs(url, 2))
    register(url, reviewed, candidate_runs(url, 1))
    repo = make_repo({"reports/promote.json": report("promote", None),
                      "reports/review.json": report("review", None)})
    result = act(repo, workflow(url, gated, reviewed))
    assert result.job_results == {"promote": "success", "review-unapproved": "failure",
                                  "review-approved": "success"}, result.log

    assert result.step_outputs("promote", job="promote") == {"version": "1",
                                                             "previous-version": "",
                                                             "promoted": "true"}
    assert result.step_outputs("again", job="promote") == {"version": "2",
                                                           "previous-version": "1",
                                                           "promoted": "true"}
    assert result.step_outputs("rollback", job="promote") == {"version": "1",
                                                              "previous-version": "2"}
    assert "promoted version 1" in result.summary("promote")
    assert "rolled back to version 1" in result.summary("promote")
    assert alias(url, gated) == "1"

    assert any("the gate said review" in message
               for message in result.errors()), result.annotations
    assert result.step_outputs("promote", job="review-approved")["version"] == "1"
    assert alias(url, reviewed) == "1"
    tags = client(url).get_model_version(reviewed, "1").tags
    assert tags["mlci.gate.verdict"] == "review"
    # The approver is the run's actor (GITHUB_TRIGGERING_ACTOR / GITHUB_ACTOR): act's default.
    assert tags["mlci.approved_by"] == "nektos/act"
    assert tags["mlci.gate.report"].startswith("https://github.com/")   # the run's page


FAILING = f"""on: push
permissions: {{}}
jobs:
  fails:
    runs-on: ubuntu-latest
    env:
      MLCI_REGISTRY_TIMEOUT: "2"
    steps:
{CHECKOUT}      - id: promote
        continue-on-error: true
        uses: ./actions/promote
        with:
          model: churn
          candidate: "1"
          approved: "true"
          tracking-uri: http://127.0.0.1:9
      - id: rollback
        continue-on-error: true
        uses: ./actions/rollback
        with:
          model: churn
          tracking-uri: http://127.0.0.1:9
      - id: after
        env:
          T_OUT: ${{{{ steps.promote.outcome }}}}/${{{{ steps.rollback.outcome }}}}
          T_V: ${{{{ steps.promote.outputs.version }}}}|${{{{ steps.rollback.outputs.version }}}}
        run: echo "outcomes=$T_OUT versions=[$T_V]"
"""


def test_a_failed_promote_or_rollback_outputs_no_version(make_repo: Callable[..., Path],
                                                         act: Callable[..., object]) -> None:
    """The setup step's own `version` output (mlci's version) never reads as the model's."""
    result = act(make_repo(), FAILING)
    log = result.step_log("after", job="fails")
    assert "outcomes=failure/failure versions=[|]" in log, result.log
