"""The README is the front door: its tables match the actions and templates they document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_generated_tables_are_fresh() -> None:
    result = subprocess.run([sys.executable, "scripts/readme_tables.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_every_action_and_template_has_a_section() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = {line.split()[3] for line in readme.splitlines()
                  if line.startswith("<!-- generated from ")}
    shipped = {"action.yml"}
    shipped |= {str(p.relative_to(ROOT)) for p in ROOT.glob("actions/*/action.yml")}
    shipped |= {str(p.relative_to(ROOT)) for p in ROOT.glob("gitlab-templates/*.yml")}
    assert documented == shipped


def test_readme_names_the_test_command_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in readme and "scripts/test.sh" in ci_run


def test_readme_contract_example_is_a_valid_contract(tmp_path: Path) -> None:
    import re

    from mlci.data.contract import load_contract

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"# data/contract.yml\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    path = tmp_path / "contract.yml"
    path.write_text(example.group(1))
    assert set(load_contract(path).columns) == {"id", "age", "region", "churned"}


def test_readme_gate_spec_example_is_a_valid_spec(tmp_path: Path) -> None:
    import re

    from mlci.gate.spec import load_gate_spec

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"A complete spec.*?```yaml\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    path = tmp_path / "gate.yml"
    path.write_text(example.group(1))
    spec = load_gate_spec(path)
    assert spec.primary is not None and spec.primary.metric == "f1"
