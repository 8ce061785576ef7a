"""The e2e harness itself (tests/e2e/clients.py): what goes into act and gitlab-ci-local comes
out as the helpers report it. Cheap: no mlci install."""

from __future__ import annotations

import pytest

from tests.e2e.clients import commit_all, run_act, run_gitlab_ci_local

pytestmark = pytest.mark.e2e

TRICKY = "a b $HOME 'q' \"dq\" `x` \\ %"

DISPATCH = {
    "on": {"workflow_dispatch": {"inputs": {"who": {"type": "string", "required": True}}}},
    "permissions": {},
    "jobs": {
        "one": {
            "runs-on": "ubuntu-latest",
            "steps": [
                {"id": "echo", "env": {"WHO": "${{ inputs.who }}", "SEC": "${{ secrets.TOKEN }}",
                                       "VAR": "${{ vars.COLOR }}"},
                 "run": 'echo "who=$WHO var=$VAR tricky=$TRICKY"\n'
                        'echo "dollar=$DOLLAR"; printf "multi=%s|\\n" "$MULTI"\n'
                        'echo "actor=$GITHUB_ACTOR"\n'
                        'test "$SEC" = "s3cr3t" && echo "secret ok"\n'
                        'echo "greeting=hello $WHO" >> "$GITHUB_OUTPUT"\n'
                        'echo "::warning title=w::careful $WHO"\n'
                        'echo "## summary for $WHO" >> "$GITHUB_STEP_SUMMARY"'},
            ],
        },
        "two": {"runs-on": "ubuntu-latest", "steps": [{"run": "echo job two ran"}]},
    },
}


def test_run_act_passes_inputs_env_secrets_vars_and_parses_outputs(make_repo) -> None:
    repo = make_repo()
    result = run_act(repo, DISPATCH, event="workflow_dispatch", job="one",
                     inputs={"who": "ana"},
                     env={"TRICKY": TRICKY, "DOLLAR": "x $HOME y", "MULTI": "l1\nl2"},
                     secrets={"TOKEN": "s3cr3t"}, vars={"COLOR": "blue"}, actor="octo-dev",
                     timeout=120)
    assert result.ok, result.log
    assert result.job_results == {"one": "success"}          # job= selected one job
    log = result.step_log("echo")
    assert f"who=ana var=blue tricky={TRICKY}" in log, log
    assert "dollar=x $HOME y" in log and "multi=l1\nl2|" in log, log
    assert "actor=octo-dev" in log
    assert "secret ok" in log and "s3cr3t" not in result.log
    assert result.step_outputs("echo") == {"greeting": "hello ana"}
    assert result.step_result("echo") == "success"
    assert "## summary for ana" in result.summary()
    assert [(a.level, a.message, a.properties) for a in result.annotations] == \
        [("warning", "careful ana", {"title": "w"})]


def test_run_gitlab_ci_local_passes_variables_and_collects_dotenv_and_artifacts(make_repo) -> None:
    repo = make_repo({".gitlab-ci.yml": """stages: [one, two]
produce:
  stage: one
  script:
    - echo "tricky=$TRICKY"
    - mkdir -p out && echo data > out/file.txt
    - printf 'A=1\\nB=two words\\n' > vars.env
  artifacts:
    paths: [out/]
    reports:
      dotenv: vars.env
consume:
  stage: two
  needs: [produce]
  script:
    - echo "A=$A B=$B"
    - cat out/file.txt
"""})
    # GitLab expands $VAR inside variable values (gitlab-ci-local too): `$$` is a literal `$`.
    result = run_gitlab_ci_local(repo, variables={"TRICKY": TRICKY.replace("$", "$$")},
                                 timeout=120)
    assert result.ok, result.log
    assert result.jobs == {"produce": "PASS", "consume": "PASS"}
    assert f"tricky={TRICKY}" in result.job_log("produce")
    assert "A=1 B=two words" in result.job_log("consume")       # dotenv reached the next job
    assert "data" in result.job_log("consume")                   # so did the artifact
    assert result.dotenv["produce"] == {"A": "1", "B": "two words"}
    assert (result.artifacts_dir("produce") / "out" / "file.txt").read_text() == "data\n"

    # A failing job is reported as such, and only committed files are seen by a job.
    (repo / ".gitlab-ci.yml").write_text("boom:\n  script:\n    - echo failing; exit 3\n")
    commit_all(repo, "failing pipeline")
    failed = run_gitlab_ci_local(repo, timeout=120)
    assert not failed.ok
    assert failed.jobs == {"boom": "FAIL"}
