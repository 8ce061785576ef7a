"""The README is the front door and docs/ the reference: their tables match the actions and
templates they document, and their examples are valid input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def _pages() -> dict[str, str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in pages}


def test_generated_tables_are_fresh() -> None:
    result = subprocess.run([sys.executable, "scripts/readme_tables.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_every_action_and_template_has_a_generated_table() -> None:
    documented = {line.split()[3] for text in _pages().values() for line in text.splitlines()
                  if line.startswith("<!-- generated from ")}
    shipped = {"action.yml"}
    shipped |= {str(p.relative_to(ROOT)) for p in ROOT.glob("actions/*/action.yml")}
    shipped |= {str(p.relative_to(ROOT)) for p in ROOT.glob("gitlab-templates/*.yml")}
    assert shipped <= documented, f"no generated table for {sorted(shipped - documented)}"


def test_readme_names_the_test_command_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in readme and "scripts/test.sh" in ci_run


def test_readme_stays_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200, "reference material belongs in docs/"
    for heading in ("## The two commands", "## Use it in GitHub Actions",
                    "## Use it in GitLab CI"):
        assert heading in readme


def test_the_user_facing_files_cite_nothing_outside_the_repository() -> None:
    """README, docs/, the actions, the templates, the code and its tests explain themselves."""
    files = [ROOT / "README.md", ROOT / "action.yml", *ROOT.glob("docs/*.md"),
             *ROOT.glob("actions/*/action.yml"), *ROOT.glob("gitlab-templates/*.yml"),
             *ROOT.glob("src/**/*.py"), *ROOT.glob("scripts/**/*.sh"),
             *ROOT.glob("scripts/**/*.py"), *ROOT.glob("examples/**/*"),
             *ROOT.glob(".github/**/*.yml"), ROOT / "CHANGELOG.md",
             *(f for f in ROOT.glob("tests/**/*.py") if f.resolve() != Path(__file__).resolve())]
    citing = [str(f.relative_to(ROOT)) for f in files
              if f.is_file() and "DESIGN.md" in f.read_text(encoding="utf-8", errors="replace")]
    assert citing == []


def test_contract_example_is_a_valid_contract(tmp_path: Path) -> None:
    from mlci.data.contract import load_contract

    page = (ROOT / "docs" / "validate-data.md").read_text(encoding="utf-8")
    example = re.search(r"# data/contract.yml\n(.*?)```", page, re.DOTALL)
    assert example is not None
    path = tmp_path / "contract.yml"
    path.write_text(example.group(1))
    assert set(load_contract(path).columns) == {"id", "age", "region", "churned"}


def test_gate_spec_example_is_a_valid_spec(tmp_path: Path) -> None:
    from mlci.gate.spec import load_gate_spec

    page = (ROOT / "docs" / "gate.md").read_text(encoding="utf-8")
    example = re.search(r"A complete spec.*?```yaml\n(.*?)```", page, re.DOTALL)
    assert example is not None
    path = tmp_path / "gate.yml"
    path.write_text(example.group(1))
    spec = load_gate_spec(path)
    assert spec.primary is not None and spec.primary.metric == "f1"


def test_relative_links_resolve() -> None:
    """A link from the README or a docs page to a file of the repository points at one."""
    broken = []
    for name, text in _pages().items():
        base = (ROOT / name).parent
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            if path and not (base / path).exists():
                broken.append(f"{name}: {target}")
    assert broken == []
