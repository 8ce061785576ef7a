"""Reports: every rule in every format, user-supplied names escaped, deterministic output."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlci.gate import report as R
from tests.unit.gate.gate_helpers import gate, write_predictions

pytestmark = pytest.mark.unit

EVIL = "acc|<b>&amp;\nDROP`*_"


def evil_report() -> dict[str, object]:
    spec = {"primary": {"metric": EVIL, "min_improvement": 0.01},
            "metrics": {EVIL: {"min": 0.5, "max_regression": "2%"},
                        'q"uote\\': {"max": 1.0, "severity": "warn"}}}
    return gate(spec, {EVIL: 0.9, 'q"uote\\': 2.0}, {EVIL: 0.8, 'q"uote\\': 0.5})


def outside_code_blocks(text: str) -> str:
    """The Markdown outside fenced code blocks (inside one, `<b>` is shown, not parsed)."""
    return re.sub(r"^(`{3,})text\n.*?^\1$", "", text, flags=re.MULTILINE | re.DOTALL)


def test_markdown_escapes_user_names() -> None:
    text = outside_code_blocks(R.to_markdown(evil_report()))
    assert "<b>" not in text and "&amp;amp;" in text and "\nDROP" not in text
    header_cells = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header_cells = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))  # an escaped pipe adds no cell
        header_cells = header_cells or cells
        assert cells == header_cells, line


def test_markdown_verdict_and_reasons_first() -> None:
    report = evil_report()
    text = R.to_markdown(report)
    lines = text.splitlines()
    assert lines[0].startswith("## ⚠️ mlci gate: **review**")
    assert text.index("**Why:**") < text.index("### Primary metric") < text.index("### Metrics")
    assert "Baseline | Candidate | Change | Interval | Rule | Outcome" in text


def test_picture_code_block_cannot_be_closed_by_names() -> None:
    text = R.to_markdown(evil_report())
    fence = re.search(r"^(`{3,})text$", text, flags=re.MULTILINE)
    assert fence is not None and len(outside_code_blocks(text)) < len(text)
    assert "<b>" in text[fence.end():text.index(fence.group(1) + "\n", fence.end())]


def test_junit_parses_one_case_per_rule() -> None:
    report = evil_report()
    root = ET.fromstring(R.to_junit(report))
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == [r["id"] for r in report["rules"]]  # type: ignore[index]
    failures = root.findall(".//failure")
    assert len(failures) == 1 and failures[0].get("type") == "warn"
    assert root.get("tests") == str(len(cases)) and root.get("failures") == "1"


def test_junit_survives_control_characters() -> None:
    bad = "m\x01\x1b"
    report = gate({"metrics": {bad: {"min": 1}}}, {bad: 0.5}, {})
    root = ET.fromstring(R.to_junit(report))
    assert root.find(".//failure") is not None


def test_openmetrics_escapes_labels() -> None:
    text = R.to_openmetrics(evil_report())
    assert text.endswith("# EOF\n")
    assert 'metric="q\\"uote\\\\"' in text
    assert 'metric="acc|<b>&amp;\\nDROP`*_"' in text
    for line in text.splitlines():
        if not line.startswith("#"):
            assert re.fullmatch(r'[a-z_]+\{.*\} [-0-9.e+]+|[a-z_]+\{.*\} (nan|inf)', line), line


def test_json_has_stable_keys_and_no_nan(tmp_path: Path) -> None:
    report = gate({"metrics": {"m": {"min": 0.5}}}, {"m": float("nan")}, {"m": float("inf")})
    data = json.loads(R.to_json(report))
    assert list(data) == ["schema", "mlci_version", "verdict", "exit_code", "reasons",
                          "candidate", "baseline", "significance", "metrics", "rules", "counts",
                          "slices", "fairness", "spec"]
    assert data["metrics"][0]["candidate"] is None
    assert data["metrics"][0]["candidate_problem"] == "NaN"
    assert data["metrics"][0]["baseline_problem"] == "infinite"
    assert set(data["rules"][0]) == {"id", "section", "metric", "check", "severity", "outcome",
                                     "message", "threshold", "candidate", "baseline", "change",
                                     "interval", "slice", "n"}


def test_reports_are_deterministic(tmp_path: Path) -> None:
    ids = list(range(300))
    labels = [i % 2 for i in ids]
    cand = write_predictions(tmp_path / "c.csv", ids, labels, [(i // 3) % 2 for i in ids],
                             [((i * 7) % 10) / 10 for i in ids], g=["a", "b", "c"] * 100)
    base = write_predictions(tmp_path / "b.csv", ids, labels, [(i // 2) % 2 for i in ids],
                             [((i * 3) % 10) / 10 for i in ids])
    spec = {"primary": {"metric": "f1"}, "metrics": {"roc_auc": {"min": 0.1}},
            "significance": {"resamples": 300}, "predictions": {"score": "score"},
            "slices": {"column": "g", "min_slice_size": 10, "metrics": {"f1": {"min": 0}}}}
    renders = []
    for _ in range(2):
        report = gate(spec, {}, {}, cand_pred=str(cand), base_pred=str(base))
        renders.append((R.to_json(report), R.to_markdown(report), R.to_junit(report),
                        R.to_openmetrics(report)))
    assert renders[0] == renders[1]
