"""Property: no input with a missing or non-finite (or non-numeric) value of a gated candidate
metric is ever promoted, whatever the rest of the spec, the baseline and the policy say."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlci.errors import InputError
from mlci.gate.report import to_json, to_junit, to_markdown, to_openmetrics
from tests.unit.gate.gate_helpers import gate

pytestmark = pytest.mark.unit

NAMES = st.sampled_from(["accuracy", "f1", "latency_ms", "rmse", "m|<&\n", "x"])
FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
BAD = st.one_of(st.just(None), st.just(float("nan")), st.just(float("inf")),
                st.just(float("-inf")), st.text(max_size=5), st.booleans(),
                st.lists(FINITE, max_size=2), st.dictionaries(st.text(max_size=2), FINITE,
                                                            max_size=1))
AMOUNT = st.one_of(st.floats(min_value=0, max_value=10, allow_nan=False),
                   st.integers(0, 50).map(lambda p: f"{p}%"))


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    for key, strategy in (("min", FINITE), ("max", FINITE), ("max_regression", AMOUNT)):
        if draw(st.booleans()):
            rule[key] = draw(strategy)
    if draw(st.booleans()):
        rule["greater_is_better"] = draw(st.booleans())
    rule["severity"] = draw(st.sampled_from(["block", "warn"]))
    return rule


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, str]:
    bad_name = draw(NAMES)
    metrics = draw(st.dictionaries(NAMES, rules(), max_size=4))
    as_primary = draw(st.booleans())
    spec: dict[str, Any] = {"metrics": metrics,
                            "on_missing_baseline": draw(st.sampled_from(
                                ["promote", "review", "reject"]))}
    if as_primary:
        spec["primary"] = {"metric": bad_name, "min_improvement": draw(AMOUNT)}
    else:
        rule = draw(rules())
        if not any(k in rule for k in ("min", "max", "max_regression")):
            rule["min"] = draw(FINITE)
        metrics[bad_name] = rule
    if draw(st.booleans()):
        spec["significance"] = {"resamples": 100}
    candidate = draw(st.dictionaries(NAMES, FINITE, max_size=6))
    bad = draw(BAD)
    if bad is None:
        candidate.pop(bad_name, None)
    else:
        candidate[bad_name] = bad
    baseline = draw(st.one_of(st.none(), st.dictionaries(NAMES, st.one_of(FINITE, BAD),
                                                         max_size=6)))
    severity = "block" if as_primary else metrics[bad_name]["severity"]
    return spec, candidate, baseline, severity


@settings(max_examples=150, deadline=None)
@given(cases())
def test_bad_candidate_metric_is_never_promoted(case: tuple[Any, ...]) -> None:
    spec, candidate, baseline, severity = case
    report = gate(spec, candidate, baseline)
    assert report["verdict"] != "promote"
    if severity == "block":
        assert report["verdict"] == "reject"
    for render in (to_json, to_markdown, to_junit, to_openmetrics):
        assert render(report)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(NAMES, rules(), min_size=1, max_size=4),
       st.dictionaries(NAMES, st.one_of(FINITE, BAD), max_size=6),
       st.one_of(st.none(), st.dictionaries(NAMES, st.one_of(FINITE, BAD), max_size=6)))
def test_promote_only_when_every_gated_value_is_a_finite_number(
        metrics: dict[str, Any], candidate: dict[str, Any],
        baseline: dict[str, Any] | None) -> None:
    if not any(k in rule for rule in metrics.values() for k in ("min", "max", "max_regression")):
        with pytest.raises(InputError, match="checks nothing"):  # it would promote anything
            gate({"metrics": metrics}, candidate, baseline)
        return
    report = gate({"metrics": metrics}, candidate, baseline)
    if report["verdict"] == "promote":
        for name, rule in metrics.items():
            if any(k in rule for k in ("min", "max", "max_regression")):
                value = candidate.get(name)
                assert isinstance(value, float) and math.isfinite(value)
