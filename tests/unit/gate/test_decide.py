"""Rules, outcomes and verdicts on metric values alone (docs/gate.md)."""

from __future__ import annotations

import math

import pytest

from tests.unit.gate.gate_helpers import gate, rule

pytestmark = pytest.mark.unit


def test_all_rules_hold_promotes() -> None:
    spec = {"primary": {"metric": "f1", "min_improvement": 0.01},
            "metrics": {"accuracy": {"min": 0.8, "max_regression": 0.01}, "f1": {"min": 0.7}}}
    report = gate(spec, {"accuracy": 0.85, "f1": 0.75}, {"accuracy": 0.85, "f1": 0.73})
    assert report["verdict"] == "promote" and report["exit_code"] == 0
    assert rule(report, "primary.f1.min_improvement")["outcome"] == "pass"
    assert {r["outcome"] for r in report["rules"]} == {"pass"}
    assert report["reasons"] == ["every rule holds"]


@pytest.mark.parametrize(("value", "outcome"), [(0.79, "fail"), (0.8, "pass"), (0.81, "pass")])
def test_min(value: float, outcome: str) -> None:
    report = gate({"metrics": {"accuracy": {"min": 0.8}}}, {"accuracy": value}, {})
    assert rule(report, "metrics.accuracy.min")["outcome"] == outcome


@pytest.mark.parametrize(("value", "outcome"), [(51, "fail"), (50, "pass")])
def test_max(value: float, outcome: str) -> None:
    report = gate({"metrics": {"latency_ms": {"max": 50}}}, {"latency_ms": value}, {})
    assert rule(report, "metrics.latency_ms.max")["outcome"] == outcome


@pytest.mark.parametrize(("cand", "outcome"), [(0.80, "pass"), (0.7999, "fail"), (0.9, "pass")])
def test_absolute_max_regression(cand: float, outcome: str) -> None:
    report = gate({"metrics": {"accuracy": {"max_regression": 0.01}}}, {"accuracy": cand},
                  {"accuracy": 0.81})
    found = rule(report, "metrics.accuracy.max_regression")
    assert found["outcome"] == outcome
    assert found["baseline"] == 0.81 and found["candidate"] == cand
    assert math.isclose(found["change"], cand - 0.81)


def test_relative_max_regression() -> None:
    spec = {"metrics": {"m": {"max_regression": "10%"}}}
    assert gate(spec, {"m": 0.9}, {"m": 1.0})["verdict"] == "promote"
    assert gate(spec, {"m": 0.89}, {"m": 1.0})["verdict"] == "reject"


def test_relative_regression_against_negative_baseline_uses_abs() -> None:
    spec = {"metrics": {"profit": {"max_regression": "10%"}}}
    # baseline -10: 10% of |-10| = 1 allowed; -11 is a regression of 1 (ok), -11.5 is not
    assert gate(spec, {"profit": -11}, {"profit": -10})["verdict"] == "promote"
    assert gate(spec, {"profit": -11.5}, {"profit": -10})["verdict"] == "reject"


def test_relative_regression_against_zero_baseline_allows_no_regression() -> None:
    spec = {"metrics": {"m": {"max_regression": "10%"}}}
    assert gate(spec, {"m": 0.0}, {"m": 0.0})["verdict"] == "promote"
    assert gate(spec, {"m": 0.5}, {"m": 0.0})["verdict"] == "promote"
    assert gate(spec, {"m": -0.001}, {"m": 0.0})["verdict"] == "reject"


def test_lower_is_better_flips_direction() -> None:
    spec = {"metrics": {"latency_ms": {"greater_is_better": False, "max_regression": "10%"}}}
    assert gate(spec, {"latency_ms": 54}, {"latency_ms": 50})["verdict"] == "promote"
    assert gate(spec, {"latency_ms": 56}, {"latency_ms": 50})["verdict"] == "reject"
    assert gate(spec, {"latency_ms": 10}, {"latency_ms": 50})["verdict"] == "promote"


def test_builtin_losses_default_to_lower_is_better() -> None:
    spec = {"metrics": {"rmse": {"max_regression": 0.1}}}
    assert gate(spec, {"rmse": 1.2}, {"rmse": 1.0})["verdict"] == "reject"
    assert gate(spec, {"rmse": 0.5}, {"rmse": 1.0})["verdict"] == "promote"


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -float("inf"), "0.9", True,
                                 [0.9], {"v": 1}])
def test_bad_candidate_value_fails_closed(bad: object) -> None:
    candidate = {} if bad is None else {"accuracy": bad}
    report = gate({"metrics": {"accuracy": {"min": 0.5}}}, candidate, {"accuracy": 0.9})
    assert report["verdict"] == "reject"
    assert rule(report, "metrics.accuracy.min")["outcome"] == "fail"


def test_bad_candidate_value_with_warn_severity_is_review() -> None:
    report = gate({"metrics": {"m": {"min": 0.5, "severity": "warn"}}}, {"m": float("nan")}, {})
    assert report["verdict"] == "review"


def test_metric_missing_on_baseline_skips_regression_and_caps_at_review() -> None:
    spec = {"metrics": {"accuracy": {"min": 0.5, "max_regression": 0.01}}}
    report = gate(spec, {"accuracy": 0.9}, {"other": 1.0})
    assert rule(report, "metrics.accuracy.min")["outcome"] == "pass"
    assert rule(report, "metrics.accuracy.max_regression")["outcome"] == "review"
    assert report["verdict"] == "review" and report["exit_code"] == 3


@pytest.mark.parametrize("bad", [float("nan"), "x", None])
def test_bad_baseline_value_is_review(bad: object) -> None:
    report = gate({"metrics": {"m": {"max_regression": 0.1}}}, {"m": 1.0}, {"m": bad})
    assert report["verdict"] == "review"


@pytest.mark.parametrize("policy", ["promote", "review", "reject"])
def test_first_model_uses_on_missing_baseline(policy: str) -> None:
    spec = {"primary": {"metric": "f1", "min_improvement": 0.01},
            "metrics": {"f1": {"min": 0.5, "max_regression": 0.01}},
            "on_missing_baseline": policy}
    report = gate(spec, {"f1": 0.8}, None)
    assert report["verdict"] == policy
    assert rule(report, "primary.f1.min_improvement")["outcome"] == "skip"
    assert rule(report, "metrics.f1.max_regression")["outcome"] == "skip"
    assert rule(report, "metrics.f1.min")["outcome"] == "pass"
    assert report["baseline"] is None


def test_first_model_still_rejected_by_absolute_rules() -> None:
    report = gate({"metrics": {"f1": {"min": 0.9}}}, {"f1": 0.8}, None)
    assert report["verdict"] == "reject"


def test_first_model_warn_failure_is_review_even_when_policy_promotes() -> None:
    report = gate({"metrics": {"f1": {"min": 0.9, "severity": "warn"}}}, {"f1": 0.8}, None)
    assert report["verdict"] == "review"


def test_warn_rule_failure_is_review() -> None:
    spec = {"metrics": {"accuracy": {"min": 0.8},
                        "latency_ms": {"max": 50, "greater_is_better": False, "severity": "warn"}}}
    report = gate(spec, {"accuracy": 0.9, "latency_ms": 60}, {})
    assert report["verdict"] == "review"
    assert any("latency_ms" in r for r in report["reasons"])


def test_block_failure_beats_warn() -> None:
    spec = {"metrics": {"accuracy": {"min": 0.95}, "latency_ms": {"max": 50, "severity": "warn"}}}
    assert gate(spec, {"accuracy": 0.9, "latency_ms": 60}, {})["verdict"] == "reject"


@pytest.mark.parametrize(("cand", "verdict"), [(0.80, "reject"), (0.805, "reject"),
                                                (0.81, "promote"), (0.9, "promote")])
def test_primary_absolute_target(cand: float, verdict: str) -> None:
    spec = {"primary": {"metric": "f1", "min_improvement": 0.01}}
    assert gate(spec, {"f1": cand}, {"f1": 0.80})["verdict"] == verdict


def test_primary_relative_target() -> None:
    spec = {"primary": {"metric": "f1", "min_improvement": "5%"}}
    assert gate(spec, {"f1": 0.84}, {"f1": 0.80})["verdict"] == "promote"
    assert gate(spec, {"f1": 0.83}, {"f1": 0.80})["verdict"] == "reject"


def test_primary_relative_target_against_zero_baseline_rejects() -> None:
    report = gate({"primary": {"metric": "m", "min_improvement": "1%"}}, {"m": 5.0}, {"m": 0.0})
    assert report["verdict"] == "reject"
    assert "baseline of 0" in rule(report, "primary.m.min_improvement")["message"]


def test_primary_zero_relative_target_against_zero_baseline() -> None:
    spec = {"primary": {"metric": "m", "min_improvement": "0%"}}
    assert gate(spec, {"m": 0.0}, {"m": 0.0})["verdict"] == "promote"


def test_primary_lower_is_better() -> None:
    spec = {"primary": {"metric": "log_loss", "min_improvement": 0.01}}
    assert gate(spec, {"log_loss": 0.30}, {"log_loss": 0.32})["verdict"] == "promote"
    assert gate(spec, {"log_loss": 0.32}, {"log_loss": 0.30})["verdict"] == "reject"


def test_primary_missing_on_candidate_rejects_and_on_baseline_reviews() -> None:
    spec = {"primary": {"metric": "f1", "min_improvement": 0.0}}
    assert gate(spec, {}, {"f1": 0.8})["verdict"] == "reject"
    assert gate(spec, {"f1": 0.9}, {})["verdict"] == "review"


def test_primary_significance_without_predictions_is_review() -> None:
    spec = {"primary": {"metric": "f1", "min_improvement": 0.0}, "significance": {}}
    report = gate(spec, {"f1": 0.9}, {"f1": 0.8})
    assert report["verdict"] == "review"
    assert rule(report, "primary.f1.significance")["outcome"] == "review"


def test_primary_significance_on_a_metric_not_computable_is_point_only() -> None:
    spec = {"primary": {"metric": "ctr", "min_improvement": 0.0}, "significance": {}}
    report = gate(spec, {"ctr": 0.2}, {"ctr": 0.1})
    assert report["verdict"] == "promote"
    assert rule(report, "primary.ctr.significance")["outcome"] == "skip"


def test_every_rule_reported_with_numbers() -> None:
    spec = {"primary": {"metric": "f1", "min_improvement": 0.01},
            "metrics": {"accuracy": {"min": 0.8, "max": 1.0, "max_regression": "1%"}}}
    report = gate(spec, {"accuracy": 0.85, "f1": 0.75}, {"accuracy": 0.86, "f1": 0.73})
    ids = [r["id"] for r in report["rules"]]
    assert ids == ["primary.f1.min_improvement", "metrics.accuracy.min", "metrics.accuracy.max",
                   "metrics.accuracy.max_regression"]
    for found in report["rules"]:
        assert found["candidate"] is not None and found["baseline"] is not None
        assert found["threshold"] is not None and found["message"]


def test_primary_relative_target_against_negative_baseline_uses_abs() -> None:
    spec = {"primary": {"metric": "profit", "min_improvement": "10%"}}
    assert gate(spec, {"profit": -9.0}, {"profit": -10.0})["verdict"] == "promote"
    assert gate(spec, {"profit": -9.5}, {"profit": -10.0})["verdict"] == "reject"


def test_no_baseline_reason_is_reported() -> None:
    report = gate({"metrics": {"f1": {"min": 0.5}}}, {"f1": 0.8}, None)
    assert report["verdict"] == "promote"
    assert any("on_missing_baseline is promote" in r for r in report["reasons"])
