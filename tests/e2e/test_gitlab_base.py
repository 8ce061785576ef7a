"""gitlab-templates/base.yml under real `gitlab-ci-local` (shell executor)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlci

pytestmark = pytest.mark.e2e

# A stage-like template written the way stage templates must be: the common inputs passed
# through to base.yml, the job named <job-prefix>-<stage>, inputs reaching the shell only
# through variables, outputs through a dotenv report.
PROBE_TEMPLATE = """spec:
  inputs:
    image:
      type: string
      default: python:3.12-slim
    mlci-install:
      type: string
      default: mlci==0.1.0
    stage:
      type: string
      default: test
    job-prefix:
      type: string
      default: mlci
      regex: ^[a-z][a-z0-9-]*$
    greeting:
      type: string
      default: hello
---
include:
  - local: gitlab-templates/base.yml
    inputs:
      image: $[[ inputs.image ]]
      mlci-install: $[[ inputs.mlci-install ]]
      stage: $[[ inputs.stage ]]
      job-prefix: $[[ inputs.job-prefix ]]

$[[ inputs.job-prefix ]]-probe:
  extends: .$[[ inputs.job-prefix ]]-base
  variables:
    MLCI_GREETING: $[[ inputs.greeting ]]
  script:
    - v="$(mlci --version)"
    - echo "probe says $MLCI_GREETING with $v"
    - printf 'MLCI_VERSION=%s\\nMLCI_GREETING=%s\\n' "${v##* }" "$MLCI_GREETING" > "$MLCI_DOTENV"
  artifacts:
    reports:
      dotenv: mlci.env
"""


def pipeline(install: str, *, prefix: str = "team-a") -> str:
    return f"""stages: [verify]

include:
  - local: gitlab-templates/base.yml
    inputs:
      mlci-install: "{install}"
      stage: verify
  - local: gitlab-templates/probe.yml
    inputs:
      mlci-install: "{install}"
      stage: verify
      job-prefix: {prefix}
      greeting: "hi there; $(echo injected)"

check:
  extends: .mlci-base
  script:
    - mlci --version
    - 'python3 -c "import importlib.util as u; print(\\"job python sees mlci:\\", bool(u.find_spec(\\"mlci\\")))"'
"""


def test_base_template_installs_mlci_for_extending_jobs(make_repo, gitlab, mlci_wheel: Path) -> None:
    repo = make_repo({"gitlab-templates/probe.yml": PROBE_TEMPLATE,
                      ".gitlab-ci.yml": pipeline(str(mlci_wheel))})
    result = gitlab(repo)
    assert result.ok, result.log
    assert result.jobs == {"check": "PASS", "team-a-probe": "PASS"}, result.log
    check = result.job_log("check")
    assert f"mlci setup: pip install {mlci_wheel}" in check
    assert f"mlci {mlci.__version__}" in check
    assert "job python sees mlci: False" in check           # only `mlci` put on PATH
    assert "starting shell (verify)" in result.log          # the stage input took effect
    probe = result.job_log("team-a-probe")
    # The input reached the shell as data, not as code.
    assert f"probe says hi there; $(echo injected) with mlci {mlci.__version__}" in probe, probe
    assert result.dotenv["team-a-probe"] == {"MLCI_VERSION": mlci.__version__,
                                             "MLCI_GREETING": "hi there; $(echo injected)"}


def test_base_template_rejects_a_job_prefix_that_breaks_its_regex(make_repo, gitlab,
                                                                  mlci_wheel: Path) -> None:
    repo = make_repo({"gitlab-templates/probe.yml": PROBE_TEMPLATE,
                      ".gitlab-ci.yml": pipeline(str(mlci_wheel), prefix="Team_A")})
    result = gitlab(repo)
    assert not result.ok
    assert "`job-prefix` input: `Team_A` does not match required regex: ^[a-z][a-z0-9-]*$" \
        in result.log, result.log
    assert result.jobs == {}                                 # nothing ran


def test_base_template_fails_clearly_on_a_bad_mlci_install(make_repo, gitlab,
                                                           tmp_path: Path) -> None:
    missing = tmp_path / "no-such-mlci"
    repo = make_repo({".gitlab-ci.yml": f"""include:
  - local: gitlab-templates/base.yml
    inputs:
      mlci-install: "{missing}"
check:
  extends: .mlci-base
  script:
    - echo "must not run"
"""})
    result = gitlab(repo)
    assert not result.ok
    assert result.jobs == {"check": "FAIL"}, result.log
    log = result.job_log("check")
    assert f"mlci setup: error: could not pip install '{missing}' (input 'mlci-install')" in log, log
    assert "must not run" not in log.replace('echo "must not run"', "")
