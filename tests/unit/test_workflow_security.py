"""The CI surface stays safe: zizmor finds nothing, no `${{ }}` (or GitLab `$[[ ]]`) in shell
text, every remote action pinned by full commit SHA, least privilege in workflows."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = sorted([ROOT / "action.yml", *ROOT.glob("actions/*/action.yml"),
                  *ROOT.glob("actions/*/action.yaml")])
WORKFLOWS = sorted([*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob(".github/workflows/*.yaml")])
TEMPLATES = sorted(ROOT.glob("gitlab-templates/*.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def steps_of(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, step) for every step of an action or a workflow."""
    doc = load(path)
    found: list[tuple[str, dict[str, Any]]] = []
    if "runs" in doc:
        for i, step in enumerate(doc["runs"].get("steps") or []):
            found.append((f"{path.relative_to(ROOT)} step {i}", step))
    for job_id, job in (doc.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            found.append((f"{path.relative_to(ROOT)} job {job_id} step {i}", step))
    return found


def zizmor() -> str:
    exe = Path(sys.executable).parent / "zizmor"
    found = str(exe) if exe.exists() else shutil.which("zizmor")
    assert found, "zizmor not installed: pip install -e .[test] (scripts/test.sh does)"
    return found


def test_zizmor_reports_nothing() -> None:
    proc = subprocess.run([zizmor(), "--offline", "--no-progress", "--format", "plain", "."],
                          cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=300, check=False)
    assert proc.returncode == 0, f"zizmor findings:\n{proc.stdout}\n{proc.stderr}"
    assert "No findings to report" in proc.stdout, proc.stdout


def test_the_surface_exists() -> None:
    assert ROOT / "action.yml" in ACTIONS
    assert ROOT / ".github" / "workflows" / "ci.yml" in WORKFLOWS
    assert ROOT / "gitlab-templates" / "base.yml" in TEMPLATES


@pytest.mark.parametrize("path", ACTIONS + WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expressions_inside_run_and_remote_actions_pinned(path: Path) -> None:
    for where, step in steps_of(path):
        run = step.get("run")
        if run is not None:
            assert "${{" not in str(run), f"{where}: `${{{{ }}}}` inside run: pass it via env:"
        uses = step.get("uses")
        if uses and not uses.startswith(("./", "$/", "docker://")):   # $/: this repository
            assert SHA_PIN.match(uses), f"{where}: {uses} is not pinned to a full commit SHA"
        if uses and uses.startswith("actions/checkout@"):
            assert (step.get("with") or {}).get("persist-credentials") is False, \
                f"{where}: actions/checkout without persist-credentials: false"


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_composite_actions_run_only_bash_through_env(path: Path) -> None:
    doc = load(path)
    assert doc["runs"]["using"] == "composite", f"{path}: only composite actions"
    for where, step in steps_of(path):
        if "run" in step:
            assert step.get("shell") == "bash", f"{where}: composite run steps use shell: bash"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_workflows_grant_least_privilege(path: Path) -> None:
    doc = load(path)
    assert "permissions" in doc, f"{path}: no top-level permissions: (use permissions: {{}})"
    top = doc["permissions"]
    assert top in ({}, "read-all") or all(v in ("read", "none") for v in top.values()), \
        f"{path}: top-level permissions grant writes; grant them per job"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_gitlab_templates_keep_inputs_out_of_scripts(path: Path) -> None:
    """The GitLab analog of no `${{ }}` in run: inputs reach scripts only via variables."""
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert len(docs) == 2 and "spec" in docs[0], f"{path}: expected a spec: header and a body"
    body = docs[1] or {}
    global_keywords = {"default", "workflow", "stages", "variables"}
    assert not (global_keywords & set(body)), f"{path}: template sets global keywords"
    for name, job in body.items():
        if not isinstance(job, dict):
            continue
        for key in ("script", "before_script", "after_script"):
            lines = job.get(key) or []
            lines = [lines] if isinstance(lines, str) else lines
            for line in lines:
                assert "$[[" not in str(line), f"{path}: {name}.{key} interpolates an input"
    for name, spec in (docs[0]["spec"].get("inputs") or {}).items():
        assert spec and spec.get("description"), f"{path}: input {name} has no description"
