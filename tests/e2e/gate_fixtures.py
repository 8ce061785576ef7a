"""Fixture files shared by the gate's e2e tests (act and gitlab-ci-local): one spec, a
baseline, and one candidate per verdict, as JSON metric files."""

from __future__ import annotations

import json

SPEC = """\
primary: {metric: f1, min_improvement: 0.01}
metrics:
  accuracy: {min: 0.80, max_regression: 0.01}
  latency_ms: {max: 50, greater_is_better: false, severity: warn}
"""

BASELINE = {"accuracy": 0.90, "f1": 0.80, "latency_ms": 20}
CANDIDATES = {
    "promote": {"accuracy": 0.91, "f1": 0.85, "latency_ms": 20},
    "review": {"accuracy": 0.91, "f1": 0.85, "latency_ms": 80},   # only a warn rule fails
    "reject": {"accuracy": 0.85, "f1": 0.80, "latency_ms": 20},   # regression + no improvement
}


def files() -> dict[str, str]:
    out = {"gate.yml": SPEC, "metrics/baseline.json": json.dumps(BASELINE)}
    for verdict, metrics in CANDIDATES.items():
        out[f"metrics/{verdict}.json"] = json.dumps(metrics)
    return out
