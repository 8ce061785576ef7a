"""actions/data-change and actions/validate-data under real `act`, in one workflow run.

- data-stable -> train-stable: the data matches its committed manifest baseline, so
  `changed` is "false" and the train job (`if: needs.data-stable.outputs.changed == 'true'`)
  is skipped;
- data-fresh -> train-fresh: a file was modified and one added since the baseline, so the
  train job runs and sees the fingerprint and counts; this job also writes the new manifest
  and a stat cache;
- data-broken -> train-broken: the check fails on a path that matches nothing, so its job
  fails and the train job is skipped (nothing fails open);
  a `report` job reads the train jobs' results (skipped / success / skipped);
- validate-good passes on data that meets the contract (drift reference included);
  validate-bad fails with one error annotation per violation, outputs still set.
"""

from __future__ import annotations

import pytest

from tests.e2e.data_fixtures import FRESH_BASELINE, STABLE_BASELINE, data_repo

pytestmark = pytest.mark.e2e

CHECKOUT = """      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
"""


def data_jobs(name: str, with_: str, extra_steps: str = "") -> str:
    return f"""  data-{name}:
    runs-on: ubuntu-latest
    outputs:
      changed: ${{{{ steps.data.outputs.changed }}}}
      fingerprint: ${{{{ steps.data.outputs.fingerprint }}}}
      added: ${{{{ steps.data.outputs.added }}}}
      modified: ${{{{ steps.data.outputs.modified }}}}
    steps:
{CHECKOUT}      - id: data
        uses: ./actions/data-change
        with:
{with_}{extra_steps}
  train-{name}:
    needs: data-{name}
    if: needs.data-{name}.outputs.changed == 'true'
    runs-on: ubuntu-latest
    steps:
      - id: train
        env:
          FINGERPRINT: ${{{{ needs.data-{name}.outputs.fingerprint }}}}
          ADDED: ${{{{ needs.data-{name}.outputs.added }}}}
          MODIFIED: ${{{{ needs.data-{name}.outputs.modified }}}}
        run: echo "training {name} on $FINGERPRINT (added $ADDED, modified $MODIFIED)"
"""


WORKFLOW = "on: push\npermissions: {}\njobs:\n" + data_jobs("stable", f"""\
          paths: data/stable
          against: {STABLE_BASELINE}
""") + data_jobs("fresh", f"""\
          paths: |
            data/fresh/part-0.csv
            data/fresh/**/part-[1-9].csv
          against: {FRESH_BASELINE}
          write: out/manifest.json
          cache: .mlci-data-cache
""", """      - id: after
        env:
          CHANGED: ${{ steps.data.outputs.changed }}
          FILES: ${{ steps.data.outputs.files }}
          REMOVED: ${{ steps.data.outputs.removed }}
          RENAMED: ${{ steps.data.outputs.renamed }}
          BASELINE: ${{ steps.data.outputs.baseline-fingerprint }}
        run: |
          echo "changed=$CHANGED files=$FILES removed=$REMOVED renamed=$RENAMED baseline=$BASELINE"
          python3 -c 'import json; m = json.load(open("out/manifest.json")); print("manifest", m["fingerprint"], len(m["entries"]))'
          test -s .mlci-data-cache/mlci-data-cache-v1.tsv && echo "stat cache written"
""") + data_jobs("broken", f"""\
          paths: data/no-such-dir
          against: {STABLE_BASELINE}
""") + f"""  validate-good:
    runs-on: ubuntu-latest
    steps:
{CHECKOUT}      - id: validate
        uses: ./actions/validate-data
        with:
          contract: contract.yml
          data: data/stable/train.csv
          reference: data/reference.csv
  validate-bad:
    runs-on: ubuntu-latest
    steps:
{CHECKOUT}      - id: validate
        uses: ./actions/validate-data
        with:
          contract: contract.yml
          data: data/bad
      - id: after
        if: failure()
        env:
          VALID: ${{{{ steps.validate.outputs.valid }}}}
          VIOLATIONS: ${{{{ steps.validate.outputs.violations }}}}
        run: echo "valid=$VALID violations=$VIOLATIONS"
  report:
    needs: [train-stable, train-fresh, train-broken]
    if: always()
    runs-on: ubuntu-latest
    steps:
      - id: results
        env:
          STABLE: ${{{{ needs.train-stable.result }}}}
          FRESH: ${{{{ needs.train-fresh.result }}}}
          BROKEN: ${{{{ needs.train-broken.result }}}}
        run: echo "train-stable=$STABLE train-fresh=$FRESH train-broken=$BROKEN"
"""


def test_data_change_gates_training_and_validate_data_under_act(make_repo, act) -> None:
    repo, baselines = data_repo(make_repo, {})
    result = act(repo, WORKFLOW)
    log = result.log[-8000:]

    # unchanged data: the check passes, says "false", and the train job does not run
    assert result.job_results.get("data-stable") == "success", log
    stable = result.step_outputs("data", job="data-stable")
    assert stable["changed"] == "false", stable
    assert stable["fingerprint"] == stable["baseline-fingerprint"] == baselines["stable"]
    assert (stable["added"], stable["removed"], stable["modified"]) == ("0", "0", "0")
    assert "train-stable" not in result.job_results, result.job_results
    assert "train-stable=skipped" in result.step_log("results", job="report"), log
    assert "training stable" not in result.log
    assert "data unchanged" in result.summary(job="data-stable")

    # changed data: the train job runs with the new fingerprint and the counts
    assert result.job_results.get("data-fresh") == "success", log
    fresh = result.step_outputs("data", job="data-fresh")
    assert fresh["changed"] == "true", fresh
    assert fresh["baseline-fingerprint"] == baselines["fresh"] != fresh["fingerprint"]
    assert fresh["fingerprint"].startswith("sha256:")
    assert (fresh["files"], fresh["added"], fresh["removed"], fresh["modified"],
            fresh["renamed"]) == ("3", "1", "0", "1", "0"), fresh
    after = result.step_log("after", job="data-fresh")
    assert f"manifest {fresh['fingerprint']} 3" in after, after
    assert "stat cache written" in after, after
    assert result.job_results.get("train-fresh") == "success", log
    assert (f"training fresh on {fresh['fingerprint']} (added 1, modified 1)"
            in result.step_log("train", job="train-fresh"))
    summary = result.summary(job="data-fresh")
    assert "data changed" in summary and "data/fresh/part-2.csv" in summary, summary

    # a check that could not run fails its job and never lets training through
    assert result.job_results.get("data-broken") == "failure", log
    assert result.step_outputs("data", job="data-broken").get("changed", "") == ""
    assert any("'data/no-such-dir' matches no file or directory" in a.message
               for a in result.annotations if a.job == "data-broken"), result.annotations
    assert "train-broken" not in result.job_results, result.job_results
    assert "train-broken=skipped" in result.step_log("results", job="report"), log

    # validate-data: good data passes (drift against the reference included) ...
    assert result.job_results.get("validate-good") == "success", log
    good = result.step_outputs("validate", job="validate-good")
    assert (good["valid"], good["violations"]) == ("true", "0"), good
    # ... bad data fails the step, each violation named, outputs still set
    assert result.job_results.get("validate-bad") == "failure", log
    assert result.step_result("validate", job="validate-bad") == "failure"
    # the negative age and the unknown country break their rules and shift the distributions
    assert "valid=false violations=4" in result.step_log("after", job="validate-bad")
    errors = [a.message for a in result.annotations
              if a.level == "error" and a.job == "validate-bad"]
    assert any("column 'age': min: observed -5" in e and "expected >= 0" in e
               for e in errors), errors
    assert any("column 'country': allowed: observed 'XX'" in e for e in errors), errors
    assert any("column 'age': drift.psi: observed" in e and "expected <= 0.2" in e
               for e in errors), errors
    summary = result.summary(job="validate-bad")
    assert "4 violation(s)" in summary and "| age | min | -5" in summary, summary
