"""The setup action (action.yml + scripts/setup-mlci.sh) under real `act`."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlci
from tests.e2e.clients import commit_all

pytestmark = pytest.mark.e2e

CHECKOUT = """      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
"""

WORKFLOW = """on: push
permissions: {}
jobs:
  setup:
    runs-on: ubuntu-latest
    steps:
""" + CHECKOUT + """      - id: setup
        uses: ./
      - id: version
        run: mlci --version
      - id: report
        env:
          MLCI_VERSION_OUT: ${{ steps.setup.outputs.version }}
        run: |
          echo "output version=$MLCI_VERSION_OUT"
          echo "mlci $MLCI_VERSION_OUT installed" >> "$GITHUB_STEP_SUMMARY"
      - id: caller-python
        run: python3 -c "import importlib.util as u; print('caller sees mlci:', bool(u.find_spec('mlci')))"
"""

# A stage-like composite action: setup-mlci.sh from ../../scripts, then mlci in the same step.
PROBE_ACTION = """name: probe
description: stage-action pattern check
outputs:
  version:
    description: mlci --version
    value: ${{ steps.run.outputs.version }}
runs:
  using: composite
  steps:
    - id: run
      shell: bash
      run: |
        PATH="$("$GITHUB_ACTION_PATH/../../scripts/setup-mlci.sh"):$PATH"
        v="$(mlci --version)"
        echo "probe ran: $v"
        echo "version=$v" >> "$GITHUB_OUTPUT"
"""

STAGE_WORKFLOW = """on: push
permissions: {}
jobs:
  stage:
    runs-on: ubuntu-latest
    steps:
""" + CHECKOUT + """      - id: probe
        uses: ./actions/probe
"""

FAILING_WORKFLOW = """on: push
permissions: {}
jobs:
  bad-python:
    runs-on: ubuntu-latest
    steps:
""" + CHECKOUT + """      - id: setup
        uses: ./
        with:
          python: no-such-python
      - id: after
        run: echo "must not run"
  bad-extras:
    runs-on: ubuntu-latest
    steps:
""" + CHECKOUT + """      - id: setup
        uses: ./
        with:
          extras: s3, no-such-extra
"""


def test_setup_action_installs_mlci_and_sets_version_output(make_repo, act) -> None:
    repo = make_repo()
    result = act(repo, WORKFLOW)
    assert result.ok, result.log
    assert result.job_results == {"setup": "success"}
    assert result.step_outputs("setup") == {"version": mlci.__version__}
    assert result.step_log("version").strip() == f"mlci {mlci.__version__}"
    assert f"output version={mlci.__version__}" in result.step_log("report")
    assert f"mlci {mlci.__version__} installed" in result.summary()
    setup_log = result.step_log("setup")
    assert f"mlci {mlci.__version__} ready:" in setup_log
    # Isolated: the caller's interpreter did not get mlci installed into it.
    assert "caller sees mlci: False" in result.step_log("caller-python")

    # A second run of the same source reuses the venv: no pip at all.
    again = act(repo, WORKFLOW)
    assert again.ok, again.log
    setup_log = again.step_log("setup")
    assert "reusing cached venv" in setup_log, setup_log
    assert "installing" not in setup_log
    assert again.step_outputs("setup") == {"version": mlci.__version__}


def test_stage_action_pattern_gets_mlci_in_the_same_step(make_repo, act) -> None:
    repo = make_repo({"actions/probe/action.yml": PROBE_ACTION})
    result = act(repo, STAGE_WORKFLOW)
    assert result.ok, result.log
    assert f"probe ran: mlci {mlci.__version__}" in result.step_log("probe")
    assert result.step_outputs("probe") == {"version": f"mlci {mlci.__version__}"}


def test_setup_cold_install_then_reuse_then_rebuild_on_source_change(make_repo, act,
                                                                     tmp_path: Path) -> None:
    cache = tmp_path / "private-cache"
    repo = make_repo()
    cold = act(repo, WORKFLOW, env={"MLCI_CACHE_DIR": str(cache)})
    assert cold.ok, cold.log
    assert "installing mlci" in cold.step_log("setup"), cold.log
    venvs = [p.name for p in cache.iterdir() if p.is_dir()]
    assert len(venvs) == 1 and venvs[0].startswith(f"mlci-{mlci.__version__}-py3."), venvs

    warm = act(repo, WORKFLOW, env={"MLCI_CACHE_DIR": str(cache)})
    assert warm.ok, warm.log
    assert "reusing cached venv" in warm.step_log("setup")

    # Same version, different source: the stamp no longer matches, so the venv is rebuilt.
    init = repo / "src" / "mlci" / "__init__.py"
    init.write_text(init.read_text() + "\n# changed by the e2e test\n")
    commit_all(repo, "change source")
    rebuilt = act(repo, WORKFLOW, env={"MLCI_CACHE_DIR": str(cache)})
    assert rebuilt.ok, rebuilt.log
    log = rebuilt.step_log("setup")
    assert "stale or incomplete; rebuilding" in log and "installing mlci" in log, log


def test_setup_action_bad_inputs_fail_with_clear_errors(make_repo, act) -> None:
    repo = make_repo()
    result = act(repo, FAILING_WORKFLOW)
    assert not result.ok
    assert result.job_results == {"bad-python": "failure", "bad-extras": "failure"}
    assert result.step_result("setup", job="bad-python") == "failure"
    assert result.step_result("after", job="bad-python") is None     # never ran
    assert "must not run" not in result.log
    errors = result.errors()
    assert any("python interpreter 'no-such-python' not found" in e for e in errors), errors
    assert any("unknown extra 'no-such-extra'" in e and "parquet" in e for e in errors), errors
    assert "exit status 2" in result.log
    assert all(a.properties.get("title") == "mlci setup" for a in result.annotations
               if a.level == "error")
