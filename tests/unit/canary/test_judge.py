"""The judge on hand-made windows; the protocol's validation; the summary's chart; the
command's protocol file errors (exit 2 naming file and key)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlci.canary import report
from mlci.canary.interfaces import VariantSample, Window
from mlci.canary.judge import FAIL, INCONCLUSIVE, PASS, judge
from mlci.canary.rollout import Rollout
from mlci.cli import main
from mlci.config import validate
from mlci.config.model import Protocol
from mlci.errors import ConfigError


def window(canary: VariantSample, stable: VariantSample) -> Window:
    return Window(0, 60, stable, canary)


def protocol(**checks: dict[str, object]) -> Protocol:
    return Protocol.model_validate({"min_requests": 20, "checks": checks})


def test_business_metrics_compare_point_values_in_their_direction() -> None:
    p = protocol(conversion={"max_regression": "10%"},
                 cost={"max_regression": 0.5, "greater_is_better": False})
    good = window(VariantSample(100, business={"conversion": 0.095, "cost": 1.2}),
                  VariantSample(900, business={"conversion": 0.1, "cost": 1.0}))
    assert judge(p, good).status == PASS
    bad = window(VariantSample(100, business={"conversion": 0.08, "cost": 1.6}),
                 VariantSample(900, business={"conversion": 0.1, "cost": 1.0}))
    verdict = judge(p, bad)
    assert verdict.status == FAIL
    assert {c.name for c in verdict.checks if c.status == FAIL} == {"conversion", "cost"}


def test_a_missing_value_fails_and_latency_from_numbers_is_used() -> None:
    p = protocol(conversion={"min": 0.01}, latency_p99_ms={"max": 100})
    verdict = judge(p, window(VariantSample(50, business={"latency_p99_ms": 150.0}),
                              VariantSample(500)))
    by_name = {c.name: c for c in verdict.checks}
    assert by_name["conversion"].status == FAIL and "no value" in by_name["conversion"].reason
    assert by_name["latency_p99_ms"].status == FAIL and by_name["latency_p99_ms"].canary == 150


def test_stable_below_min_requests_makes_a_relative_check_inconclusive() -> None:
    p = protocol(error_rate={"max_regression": 0.01})
    verdict = judge(p, window(VariantSample(100, 0), VariantSample(5, 0)))
    assert verdict.status == INCONCLUSIVE and "stable requests" in verdict.reason


def test_first_model_judges_absolute_limits_only() -> None:
    p = protocol(error_rate={"max": 0.1, "max_regression": 0.0})
    verdict = judge(p, window(VariantSample(100, 5), VariantSample()), compare=False)
    assert verdict.status == PASS and verdict.checks[0].p_value is None


@pytest.mark.parametrize(("data", "key"), [
    ({"steps": [{"weight": 50}, {"weight": 10}]}, "deploy.protocol"),
    ({"steps": [{"weight": 0}]}, "deploy.protocol.steps.0.weight"),
    ({"checks": {"error_rate": {}}}, "deploy.protocol.checks.error_rate"),
    ({"checks": {"error_rate": {"max_regression": "-5%"}}},
     "deploy.protocol.checks.error_rate.max_regression"),
    ({"checks": {"latency_p95_ms": {"max": 1}}}, "deploy.protocol"),
    ({"checks": {"error_rate": {"max": 1, "greater_is_better": True}}}, "deploy.protocol"),
    ({"interval": "soon"}, "deploy.protocol.interval"),
    ({"confidence": 1.5}, "deploy.protocol.confidence"),
    ({"stepz": []}, "deploy.protocol.stepz"),
])
def test_bad_protocols_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate({"deploy": {"target": "local", "protocol": data}}, file="mlci.yml")
    assert caught.value.key == key, str(caught.value)


def test_protocol_file_errors_exit_2_with_file_and_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "protocol.yml"
    path.write_text("interval: 1m\nsteps:\n  - {weight: 150}\n")
    code = main(["canary", "abort", "--model", "m", "--protocol", str(path),
                 "--state", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert code == 2 and str(path) in err and "steps.0.weight" in err


def test_the_chart_starts_at_zero_and_skips_windows_without_canary_traffic() -> None:
    r = Rollout("m", "2", "1", started_at=0.0)
    for end, weight, requests, rate in ((60, 10, 0, None), (120, 10, 50, 0.02),
                                        (180, 50, 200, 0.01)):
        r.add_window({"end": end, "step": 1, "weight": weight, "status": "pass",
                      "canary_requests": requests, "stable_requests": 500,
                      "canary_error_rate": rate,
                      "checks": [{"name": "error_rate", "status": "pass", "canary": rate,
                                  "stable": 0.01, "enforced": True}]})
    text = report.markdown("m", "in-progress", "going", r)
    assert text.count("```mermaid") == 2
    assert 'y-axis "canary weight (%)" 0 --> 100' in text
    assert "line [10, 10, 50]" in text
    error_chart = text.split("```mermaid")[2].split("```")[0]
    assert '"0:02:00", "0:03:00"]' in error_chart and "0:01:00" not in error_chart
    assert "bar [2, 1]" in error_chart and "line [1, 1]" in error_chart
    assert 'y-axis "error rate (%)" 0 -->' in error_chart


def test_hostile_names_stay_inert_in_the_summary() -> None:
    r = Rollout("m", "2", "1")
    text = report.markdown("<img src=x onerror=alert(1)> @team", "idle", "[x](http://e)", r)
    assert "<img" not in text and "@team" not in text.replace("@\u200bteam", "")
    json.dumps(r.as_dict())


def test_the_weight_chart_ends_with_the_rollback() -> None:
    r = Rollout("m", "2", "1", started_at=0.0, phase="rolled-back", weight=0.0)
    r.add_window({"end": 60, "step": 1, "weight": 10, "status": "fail", "canary_requests": 50,
                  "stable_requests": 500, "canary_error_rate": 0.5, "checks": []})
    r.weights = [{"t": 0, "from": 0, "to": 10}, {"t": 61, "from": 10, "to": 0}]
    chart = report.markdown("m", "rolled-back", "x", r).split("```mermaid")[1]
    assert '["0:01:00", "0:01:01 rolled-back"]' in chart and "line [10, 0]" in chart
