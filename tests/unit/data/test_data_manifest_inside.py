"""A baseline manifest kept inside the watched paths is not part of the fingerprint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def data_change(cwd: Path, *argv: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-m", "mlci", "data-change", *argv, "--json"],
                            cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_a_manifest_inside_the_data_reads_as_unchanged(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    first = data_change(tmp_path, "--paths", "data", "--write", "data/manifest.json")
    again = data_change(tmp_path, "--paths", "data", "--against", "data/manifest.json")
    assert again["changed"] is False, again
    assert again["added"] == [] and again["fingerprint"] == first["fingerprint"]
    both = data_change(tmp_path, "--paths", "data", "--against", "data/manifest.json",
                       "--write", "data/manifest.json")
    assert both["changed"] is False and both["fingerprint"] == first["fingerprint"]
