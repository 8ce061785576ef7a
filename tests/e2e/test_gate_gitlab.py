"""gitlab-templates/gate.yml under real `gitlab-ci-local`: the template included once per
verdict/fail-on case (distinct job-prefix values), asserting on job status, the dotenv
MLCI_VERDICT handed to a later job, the JUnit/OpenMetrics artifacts and the summary."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e import clients
from tests.e2e.gate_fixtures import files
from tests.e2e.test_gate_action import broken_gate_files

pytestmark = pytest.mark.e2e

CASES = {
    # job-prefix: (candidate, fail-on, expected verdict, expected job status)
    "promote": ("promote", "reject", "promote", "PASS"),
    "review-passes": ("review", "reject", "review", "PASS"),
    "review-fails": ("review", "review", "review", "FAIL"),
    "reject-fails": ("reject", "reject", "reject", "FAIL"),
}


def pipeline(wheel: str) -> str:
    includes = "".join(f"""  - local: gitlab-templates/gate.yml
    inputs:
      job-prefix: {prefix}
      stage: gate
      mlci-install: {wheel}
      spec: gate.yml
      candidate: metrics/{candidate}.json
      baseline: metrics/baseline.json
      fail-on: {fail_on}
""" for prefix, (candidate, fail_on, _, _) in CASES.items())
    return f"""stages: [gate, approve]
include:
{includes}
# A later job sees the verdict through the gate's dotenv report.
after-review:
  stage: approve
  needs: [review-passes-gate]
  script:
    - echo "verdict seen downstream=$MLCI_VERDICT"
"""


def test_gate_template_verdicts_dotenv_and_reports(make_repo, gitlab, mlci_wheel) -> None:
    repo = make_repo({**files(), ".gitlab-ci.yml": pipeline(str(mlci_wheel))})
    result = gitlab(repo)
    expected = {f"{prefix}-gate": status for prefix, (_, _, _, status) in CASES.items()}
    for job, status in expected.items():
        assert result.jobs.get(job) == status, (job, result.jobs, result.log[-4000:])
    assert result.jobs.get("after-review") == "PASS", result.log[-4000:]
    assert "verdict seen downstream=review" in result.job_log("after-review")

    for prefix, (_, fail_on, verdict, _) in CASES.items():
        job = f"{prefix}-gate"
        assert result.dotenv[job]["MLCI_VERDICT"] == verdict, (job, result.dotenv)
        assert result.dotenv[job]["MLCI_REPORT_JSON"].endswith("mlci-gate/report.json")
        artifacts = result.artifacts_dir(job)
        # kept `when: always`, also for the failed jobs
        junit = ET.parse(artifacts / "mlci-gate" / "junit.xml").getroot()
        cases = junit.findall(".//testcase")
        assert cases, job
        failed = [c for c in cases if c.find("failure") is not None]
        assert (verdict == "promote") == (not failed), (job, [c.get("name") for c in failed])
        metrics = (artifacts / "mlci-gate" / "metrics.txt").read_text()
        assert f'mlci_gate_verdict{{verdict="{verdict}"}} 1' in metrics
        summary = (artifacts / "mlci-summary.md").read_text()
        assert f"mlci gate: **{verdict}**" in summary
        log = result.job_log(job)
        if verdict == "review" and fail_on == "reject":
            assert "passing because --fail-on is reject" in log
        if expected[job] == "FAIL":
            assert f"verdict {verdict} fails (--fail-on {fail_on})" in log


def test_gate_template_rejects_a_bad_fail_on_option(make_repo, gitlab, mlci_wheel) -> None:
    repo = make_repo({**files(), ".gitlab-ci.yml": f"""include:
  - local: gitlab-templates/gate.yml
    inputs:
      mlci-install: {mlci_wheel}
      candidate: metrics/promote.json
      fail-on: sometimes
"""})
    result = gitlab(repo)
    assert not result.ok
    assert "fail-on" in result.log and "sometimes" in result.log, result.log[-3000:]
    assert "mlci-gate" not in result.jobs  # the pipeline was refused before any job ran


def broken_wheel(tmp_path: Path) -> Path:
    """A wheel of an mlci whose `gate` cannot be imported (`mlci --version` still works)."""
    tree = tmp_path / "broken-src"
    for rel in ("pyproject.toml", "README.md", "src"):
        src = clients.PROJECT_ROOT / rel
        if src.is_dir():
            shutil.copytree(src, tree / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            tree.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tree / rel)
    (tree / "src/mlci/commands/gate.py").write_text(
        str(broken_gate_files()["src/mlci/commands/gate.py"]))
    out = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "-w", str(out), str(tree)], check=True,
                   stdin=subprocess.DEVNULL)
    return next(out.glob("mlci-*.whl"))


def test_a_crash_is_never_a_verdict_even_with_fail_on_never(make_repo, gitlab,
                                                            tmp_path: Path) -> None:
    wheel = broken_wheel(tmp_path)
    repo = make_repo({**files(), ".gitlab-ci.yml": f"""stages: [gate, after]
include:
  - local: gitlab-templates/gate.yml
    inputs:
      stage: gate
      mlci-install: {wheel}
      spec: gate.yml
      candidate: metrics/reject.json
      baseline: metrics/baseline.json
      fail-on: never
after:
  stage: after
  needs: [mlci-gate]
  when: always
  script:
    - echo "verdict seen downstream=[${{MLCI_VERDICT:-}}]"
"""})
    result = gitlab(repo)
    assert result.jobs.get("mlci-gate") == "FAIL", (result.jobs, result.log[-4000:])
    log = result.job_log("mlci-gate")
    assert "No module named 'mlci_no_such_module'" in log, log[-3000:]
    assert "passing because" not in log
    assert "MLCI_VERDICT" not in result.dotenv.get("mlci-gate", {})
    assert "verdict seen downstream=[]" in result.job_log("after")
