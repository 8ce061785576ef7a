"""`mlci pipeline run`'s pieces that need no service: reading a stage's --json document,
the exit code of a stopped run, and the summary table and Markdown report."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.pipeline import report
from mlci.pipeline.invoke import _last_document
from mlci.pipeline.runner import _exit_code
from mlci.pipeline.stages import Stage

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": 1}', {"a": 1}),
    ('progress\n{"a": 1}\n', {"a": 1}),
    ('{"a": 1}\n{"b": {"c": 2}}', {"b": {"c": 2}}),
    ("", {}),
    ("no json at all", {}),
    ("[1, 2]", {}),
])
def test_last_document(text: str, expected: dict[str, object]) -> None:
    assert _last_document(text) == expected


@pytest.mark.parametrize(("decision", "code", "expected"), [
    ("review", 3, 3), ("reject", 1, 1), ("invalid", 1, 1), ("error", 2, 2),
    ("rolled-back", 1, 1), ("failed", 7, 2),
])
def test_exit_code_of_a_stopped_run(decision: str, code: int, expected: int) -> None:
    assert _exit_code(Stage("x", decision, "", code)) == expected


def test_table_and_markdown(tmp_path: Path) -> None:
    stages = [Stage("gate", "reject", "slices.region=south | accuracy", 1,
                    {"accuracy": 0.8123456, "fingerprint": "sha256:x"},
                    {"report": str(tmp_path / "gate" / "report.md")}, 1.25),
              Stage("promote", "skipped", "gate said reject")]
    text = report.table(stages)
    assert text.splitlines()[0].split()[:3] == ["stage", "decision", "seconds"]
    assert "accuracy 0.8123" in text and "fingerprint" not in text
    doc = {"outcome": "stopped: a check said no", "model": "churn", "config": "mlci.yml",
           "tracking_uri": "sqlite:///x.db", "started": "now", "seconds": 2.0,
           "next": "production is unchanged", "report_dir": str(tmp_path),
           "stages": [s.as_dict() for s in stages]}
    md, js = report.write(doc, tmp_path)
    page = md.read_text()
    assert "| gate | **reject** | slices.region=south \\| accuracy |" in page
    assert "[report](gate/report.md)" in page
    assert "**Next:** production is unchanged" in page
    assert js.read_text().startswith("{")
