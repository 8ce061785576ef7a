"""gitlab-templates/data-change.yml and validate-data.yml under real `gitlab-ci-local`, in one
pipeline run.

- stable-data-change -> train-stable: the data matches its committed manifest baseline; the
  dotenv says MLCI_DATA_CHANGED=false and the train job (a later stage, `needs:` the check)
  reads it in its script and exits early;
- fresh-data-change -> train-fresh: a file was modified and one added; MLCI_DATA_CHANGED=true
  and the train job does its work with the fingerprint and counts. The manifest written by
  the job is kept as an artifact;
- good-validate-data passes; bad-validate-data fails, each violation named in the log, the
  dotenv (kept `when: always`) saying MLCI_VALID=false.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.data_fixtures import FRESH_BASELINE, STABLE_BASELINE, data_repo

pytestmark = pytest.mark.e2e


def pipeline(wheel: str) -> str:
    return f"""stages: [data, train]
include:
  - local: gitlab-templates/data-change.yml
    inputs:
      job-prefix: stable
      stage: data
      mlci-install: {wheel}
      paths: data/stable
      against: {STABLE_BASELINE}
  - local: gitlab-templates/data-change.yml
    inputs:
      job-prefix: fresh
      stage: data
      mlci-install: {wheel}
      paths: |
        data/fresh/part-0.csv
        data/fresh/**/part-[1-9].csv
      against: {FRESH_BASELINE}
      cache: .mlci-data-cache
  - local: gitlab-templates/validate-data.yml
    inputs:
      job-prefix: good
      stage: data
      mlci-install: {wheel}
      contract: contract.yml
      data: data/stable/train.csv
      reference: data/reference.csv
  - local: gitlab-templates/validate-data.yml
    inputs:
      job-prefix: bad
      stage: data
      mlci-install: {wheel}
      contract: contract.yml
      data: data/bad

# A later job reads the dotenv in its script (rules: cannot: they are evaluated when the
# pipeline is created) and exits early on unchanged data.
.train:
  stage: train
  script:
    - '[ "$MLCI_DATA_CHANGED" = true ] || {{ echo "data unchanged ($MLCI_DATA_FINGERPRINT): nothing to train"; exit 0; }}'
    - echo "training on $MLCI_DATA_FINGERPRINT (added $MLCI_ADDED, modified $MLCI_MODIFIED)"
train-stable:
  extends: .train
  needs: [stable-data-change]
train-fresh:
  extends: .train
  needs: [fresh-data-change]
"""


def test_data_change_dotenv_drives_later_jobs_and_validate_data(make_repo, gitlab,
                                                                mlci_wheel) -> None:
    repo, baselines = data_repo(make_repo, {".gitlab-ci.yml": pipeline(str(mlci_wheel))})
    result = gitlab(repo)
    log = result.log[-6000:]
    assert result.jobs == {"stable-data-change": "PASS", "fresh-data-change": "PASS",
                           "good-validate-data": "PASS", "bad-validate-data": "FAIL",
                           "train-stable": "PASS", "train-fresh": "PASS"}, log

    # unchanged data: exported as false, the later job exits early
    stable = result.dotenv["stable-data-change"]
    assert stable["MLCI_DATA_CHANGED"] == stable["MLCI_CHANGED"] == "false", stable
    assert stable["MLCI_DATA_FINGERPRINT"] == stable["MLCI_BASELINE_FINGERPRINT"] \
        == baselines["stable"]
    train_stable = result.job_log("train-stable")
    assert f"data unchanged ({baselines['stable']}): nothing to train" in train_stable
    assert "training on" not in train_stable.replace('echo "training on', "")

    # changed data: exported as true with the fingerprint and counts; the later job works
    fresh = result.dotenv["fresh-data-change"]
    assert fresh["MLCI_DATA_CHANGED"] == "true", fresh
    assert fresh["MLCI_BASELINE_FINGERPRINT"] == baselines["fresh"] \
        != fresh["MLCI_DATA_FINGERPRINT"]
    assert (fresh["MLCI_FILES"], fresh["MLCI_ADDED"], fresh["MLCI_REMOVED"],
            fresh["MLCI_MODIFIED"], fresh["MLCI_RENAMED"]) == ("3", "1", "0", "1", "0"), fresh
    assert (f"training on {fresh['MLCI_DATA_FINGERPRINT']} (added 1, modified 1)"
            in result.job_log("train-fresh"))
    assert "nothing to train" not in result.job_log("train-fresh").replace(
        "nothing to train\"; exit 0", "")
    manifest = json.loads((result.artifacts_dir("fresh-data-change")
                           / "mlci-data-manifest.json").read_text())
    assert manifest["fingerprint"] == fresh["MLCI_DATA_FINGERPRINT"]
    assert sorted(e["path"] for e in manifest["entries"]) == [
        "data/fresh/part-0.csv", "data/fresh/part-1.csv", "data/fresh/part-2.csv"]
    summary = (result.artifacts_dir("fresh-data-change") / "mlci-summary.md").read_text()
    assert "data changed" in summary and "data/fresh/part-2.csv" in summary, summary

    # validate-data: good data passes, bad data fails with each violation named
    assert result.dotenv["good-validate-data"]["MLCI_VALID"] == "true"
    assert {"MLCI_VALID": "false", "MLCI_DATA_VALID": "false", "MLCI_VIOLATIONS": "4"}.items() \
        <= result.dotenv["bad-validate-data"].items()
    bad = result.job_log("bad-validate-data")
    assert "age: min: observed -5 (1 value(s) below); expected >= 0" in bad, bad[-3000:]
    assert "country: allowed: observed 'XX' x1; expected ['DE', 'FR', 'US']" in bad
    assert "age: drift.psi: observed" in bad
    bad_summary = (result.artifacts_dir("bad-validate-data") / "mlci-summary.md").read_text()
    assert "4 violation(s)" in bad_summary and "| country | allowed |" in bad_summary
