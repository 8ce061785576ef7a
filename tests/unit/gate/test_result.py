"""The gate report as one typed object (`mlci.gate.result`): what the gate writes is what
promote reads, the JSON form is unchanged, and a malformed report is bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.gate import report
from mlci.gate.result import GateReport, ReportSide
from mlci.registry.promote import read_gate_report
from tests.unit.gate.gate_helpers import gate

pytestmark = pytest.mark.unit

SPEC = {"metrics": {"accuracy": {"min": 0.7, "max_regression": 0.02}}}


def test_the_engine_report_types_and_round_trips_unchanged() -> None:
    data = gate(SPEC, {"accuracy": 0.81}, {"accuracy": 0.80})
    typed = GateReport.from_dict(json.loads(report.to_json(data)))
    assert typed.verdict == "promote" and typed.exit_code == 0
    assert typed.candidate == ReportSide(ref="cand.json")
    assert typed.baseline is not None and typed.baseline.ref == "base.json"
    assert typed.baseline_stated and typed.baseline_version is None
    assert [r["metric"] for r in typed.rules] == [r["metric"] for r in data["rules"]]
    # every rendering of the typed report is the rendering of the dict
    assert typed.to_json() == report.to_json(data)
    assert report.to_markdown(typed) == report.to_markdown(data)
    assert report.to_junit(typed) == report.to_junit(data)
    assert report.to_openmetrics(typed) == report.to_openmetrics(data)


def test_an_older_minimal_report_still_reads() -> None:
    typed = GateReport.from_dict({"verdict": "review", "baseline": {"model_version": 7},
                                  "candidate": {"run_id": "abc"}})
    assert (typed.verdict, typed.baseline_version, typed.candidate.run_id) == \
        ("review", "7", "abc")
    first = GateReport.from_dict({"verdict": "promote", "baseline": None})
    assert first.baseline is None and first.baseline_stated


@pytest.mark.parametrize("data, key", [
    ({"verdict": "promote", "baseline": "version 3"}, "baseline"),
    ({"verdict": "promote", "baseline": ["3"]}, "baseline"),
    ({"verdict": "promote", "baseline": {"model_version": 3.5}}, "baseline.model_version"),
    ({"verdict": "promote", "baseline": {"model_version": True}}, "baseline.model_version"),
    ({"verdict": "promote", "candidate": "abc"}, "candidate"),
    ({"verdict": "promote", "reasons": "ok"}, "reasons"),
    ({"verdict": "promote", "rules": {}}, "rules"),
    ({"verdict": "maybe"}, "verdict"),
])
def test_a_malformed_report_is_bad_input_never_a_verdict(data: object, key: str) -> None:
    with pytest.raises(InputError) as caught:
        GateReport.from_dict(data, origin="gate.json")
    assert caught.value.exit_code == 2 and caught.value.key == key


def test_promote_reads_a_malformed_baseline_as_exit_2(tmp_path: Path) -> None:
    """Issue 12.11: it exited 1 (a refused move) instead of 2 (bad input)."""
    path = tmp_path / "gate.json"
    path.write_text(json.dumps({"verdict": "promote", "baseline": "v3"}))
    with pytest.raises(InputError) as caught:
        read_gate_report(str(path))
    assert caught.value.exit_code == 2 and caught.value.key == "baseline"
