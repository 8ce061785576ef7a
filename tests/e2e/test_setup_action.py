"""The setup action (action.yml + scripts/setup-mlci.sh) under real `act`, and its cache
(immutable venvs) under concurrent setups."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import mlci
from tests.e2e.clients import PROJECT_ROOT, _clean_env, commit_all

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

    # Same version, different source: a new venv beside the old one, which stays as it was
    # (a job may still be using it).
    old = cache / venvs[0]
    stamp = (old / ".mlci-stamp").stat().st_ino
    init = repo / "src" / "mlci" / "__init__.py"
    init.write_text(init.read_text() + "\n# changed by the e2e test\n")
    commit_all(repo, "change source")
    rebuilt = act(repo, WORKFLOW, env={"MLCI_CACHE_DIR": str(cache)})
    assert rebuilt.ok, rebuilt.log
    log = rebuilt.step_log("setup")
    assert "installing mlci" in log, log
    after = sorted(p.name for p in cache.iterdir() if p.is_dir())
    assert len(after) == 2 and venvs[0] in after, after
    assert (old / ".mlci-stamp").stat().st_ino == stamp


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


def _source_tree(dest: Path, marker: str) -> Path:
    """A copy of this mlci checkout, same version, its source marked (a different hash)."""
    for rel in ("pyproject.toml", "README.md", "scripts", "src"):
        src = PROJECT_ROOT / rel
        if src.is_dir():
            shutil.copytree(src, dest / rel, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    init = dest / "src" / "mlci" / "__init__.py"
    init.write_text(init.read_text() + f"\n# {marker}\n")
    return dest


def _setup(tree: Path, cache: Path) -> subprocess.Popen[str]:
    env = _clean_env({"MLCI_CACHE_DIR": str(cache)})
    return subprocess.Popen([str(tree / "scripts" / "setup-mlci.sh")], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[str]) -> tuple[Path, str]:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    return Path(out.strip()), err


def test_concurrent_setups_with_different_sources_never_break_each_other(tmp_path: Path) -> None:
    cache = tmp_path / "tool-cache"
    first = _source_tree(tmp_path / "a", "source A")
    second = _source_tree(tmp_path / "b", "source B")
    bin_a, _ = _finish(_setup(first, cache))

    # A job is using A's venv: an interpreter from it, holding until the other setups ran,
    # then importing what `mlci gate` imports (lazily, from the venv's files).
    python_a = Path(os.path.realpath(bin_a / "mlci")).parent / "python"
    go = tmp_path / "go"
    user = subprocess.Popen(
        [str(python_a), "-c",
         ("import os, time\n"
          f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\n"
          "import mlci.commands.gate, mlci.gate.engine\n"
          "print('A still works', mlci.__file__)")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # Two jobs set up B at once (the same new venv: one rename wins), one sets up A again.
    racers = [_setup(second, cache), _setup(second, cache), _setup(first, cache)]
    results = [_finish(proc) for proc in racers]
    go.touch()
    out, err = user.communicate(timeout=120)
    assert user.returncode == 0, err
    assert "A still works" in out

    (bin_b1, _), (bin_b2, _), (bin_a2, log_a2) = results
    assert bin_b1 == bin_b2 != bin_a == bin_a2
    assert "reusing cached venv" in log_a2 and "installing" not in log_a2
    for bin_dir in (bin_a, bin_b1):
        version = subprocess.run([str(bin_dir / "mlci"), "--version"], capture_output=True,
                                 text=True, check=True).stdout
        assert version.strip() == f"mlci {mlci.__version__}"
    venvs = sorted(p.name for p in cache.iterdir())
    assert len(venvs) == 2 and all(v.startswith(f"mlci-{mlci.__version__}-py") for v in venvs), \
        venvs     # no half-built or temporary directory left behind
