"""actions/gate under real `act`: one job per verdict and `fail-on` combination, asserting on
the action's outputs, the job's status, the job summary and the error annotations."""

from __future__ import annotations

import pytest

from tests.e2e.gate_fixtures import files

pytestmark = pytest.mark.e2e

CHECKOUT = """      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
"""


def job(name: str, candidate: str, fail_on: str) -> str:
    # one job also asks for a PR comment: on a push event that is a warning, not a failure
    comment = '          comment: "true"\n' if name == "promote" else ""
    return f"""  {name}:
    runs-on: ubuntu-latest
    steps:
{CHECKOUT}      - id: gate
        uses: ./actions/gate
        with:
          spec: gate.yml
          candidate: metrics/{candidate}.json
          baseline: metrics/baseline.json
          fail-on: {fail_on}
{comment}      - id: after
        if: always()
        env:
          MLCI_T_VERDICT: ${{{{ steps.gate.outputs.verdict }}}}
          MLCI_T_JSON: ${{{{ steps.gate.outputs.report-json }}}}
          MLCI_T_MD: ${{{{ steps.gate.outputs.report-md }}}}
        run: |
          echo "verdict=$MLCI_T_VERDICT"
          echo "json-verdict=$(python3 -c 'import json,os; print(json.load(open(os.environ["MLCI_T_JSON"]))["verdict"])')"
          test -s "$MLCI_T_MD" && echo "md=present"
          test -s mlci-gate/junit.xml && echo "junit=present"
          test -s mlci-gate/metrics.txt && echo "openmetrics=present"
"""


CASES = {
    # job id: (candidate, fail-on, expected verdict, expected job result)
    "promote": ("promote", "reject", "promote", "success"),
    "review-passes": ("review", "reject", "review", "success"),
    "review-fails": ("review", "review", "review", "failure"),
    "reject-fails": ("reject", "reject", "reject", "failure"),
    "reject-never": ("reject", "never", "reject", "success"),
}

WORKFLOW = "on: push\npermissions: {}\njobs:\n" + "".join(
    job(name, cand, fail_on) for name, (cand, fail_on, _, _) in CASES.items()) + f"""  bad-fail-on:
    runs-on: ubuntu-latest
    steps:
{CHECKOUT}      - id: gate
        uses: ./actions/gate
        with:
          spec: gate.yml
          candidate: metrics/promote.json
          fail-on: sometimes
"""


def test_gate_action_verdicts_outputs_and_exit_status(make_repo, act) -> None:
    repo = make_repo(files())
    result = act(repo, WORKFLOW)
    expected_jobs = {name: status for name, (_, _, _, status) in CASES.items()}
    expected_jobs["bad-fail-on"] = "failure"
    assert result.job_results == expected_jobs, result.log

    for name, (_, _fail_on, verdict, status) in CASES.items():
        log = result.step_log("after", job=name)
        # the action's outputs, read by a later step through steps.gate.outputs.*
        assert f"verdict={verdict}" in log, (name, log)
        assert f"json-verdict={verdict}" in log, (name, log)
        assert "md=present" in log and "junit=present" in log and "openmetrics=present" in log
        assert result.step_result("gate", job=name) == status
        # the Markdown report is the job summary
        summary = result.summary(job=name)
        assert f"mlci gate: **{verdict}**" in summary, (name, summary)
        assert "| accuracy |" in summary

    warnings = [a for a in result.annotations if a.level == "warning"]
    assert any(a.job == "promote" and "not for a pull request" in a.message for a in warnings)
    assert any(a.job == "review-passes" and "fail-on is reject" in a.message for a in warnings)
    assert any(a.job == "reject-never" and "fail-on is never" in a.message for a in warnings)
    errors = [a for a in result.annotations if a.level == "error"]
    assert any(a.job == "reject-fails" and "verdict reject" in a.message for a in errors)
    assert any(a.job == "review-fails" and "verdict review fails (--fail-on review)" in a.message
               for a in errors)
    # a bad input is refused by mlci itself, naming the flag, the variable and the value
    assert any(a.job == "bad-fail-on" and "--fail-on: expected one of reject, review, never, "
               "got 'sometimes' (from $MLCI_INPUT_GATE_FAIL_ON)" in a.message
               for a in errors), (errors, result.log)
    assert not result.summary(job="bad-fail-on")


CRASH_WORKFLOW = f"""on: push
permissions: {{}}
jobs:
  crash:
    runs-on: ubuntu-latest
    steps:
{CHECKOUT}      - id: gate
        continue-on-error: true
        uses: ./actions/gate
        with:
          spec: gate.yml
          candidate: metrics/reject.json
          baseline: metrics/baseline.json
          fail-on: never
      - id: after
        env:
          MLCI_T_OUTCOME: ${{{{ steps.gate.outcome }}}}
          MLCI_T_VERDICT: ${{{{ steps.gate.outputs.verdict }}}}
        run: echo "outcome=$MLCI_T_OUTCOME verdict=[$MLCI_T_VERDICT]"
"""


def broken_gate_files() -> dict[str, object]:
    """An mlci whose `gate` cannot even be imported: `mlci --version` works (the setup
    passes), `mlci gate` crashes before it could decide anything."""
    return {**files(), "src/mlci/commands/gate.py": "import mlci_no_such_module  # broken\n"}


def test_a_crash_is_never_a_verdict_even_with_fail_on_never(make_repo, act) -> None:
    repo = make_repo(broken_gate_files())
    result = act(repo, CRASH_WORKFLOW)
    log = result.step_log("after", job="crash")
    assert "outcome=failure verdict=[]" in log, result.log
    assert "No module named 'mlci_no_such_module'" in result.log
    assert not any("passing because" in a.message for a in result.annotations)
