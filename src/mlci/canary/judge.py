"""The judge: one window of evidence and the protocol's checks -> pass, fail or inconclusive.

Rules (docs/canary.md):
- a window whose canary served fewer than `min_requests` is inconclusive: nothing in it is
  judged, the rollout holds (it never advances on no evidence);
- an absolute limit (`min`/`max`) trips at once: the canary's value in one judged window;
- a relative limit (`max_regression`) trips only on evidence: the one-sided tests of
  `mlci.canary.stats` at the protocol's confidence; the stable side must also have
  `min_requests`, else that check is inconclusive. Business metrics come as one value per
  variant (no per-request samples), so theirs is a point comparison;
- a source that cannot be read, or a value it did not report (or NaN), fails the check:
  never a pass on no data;
- `enforce: false`: computed and reported, never acted on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from mlci.canary import stats
from mlci.canary.interfaces import VariantSample, Window
from mlci.config.model import Check, Protocol

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
_PERCENTILES = {"latency_p50_ms": 50.0, "latency_p90_ms": 90.0, "latency_p99_ms": 99.0}


@dataclass
class CheckResult:
    name: str
    status: str                   # pass | fail | inconclusive
    canary: float | None = None
    stable: float | None = None
    p_value: float | None = None
    limit: str = ""
    enforced: bool = True
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    status: str
    checks: list[CheckResult] = field(default_factory=list)
    canary_requests: int = 0
    stable_requests: int = 0
    canary_error_rate: float | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["checks"] = [c.as_dict() for c in self.checks]
        return out


def value_of(name: str, sample: VariantSample) -> float | None:
    if name == "error_rate":
        return sample.errors / sample.requests if sample.requests else None
    if name in _PERCENTILES and sample.latencies_ms:
        return stats.percentile(sample.latencies_ms, _PERCENTILES[name])
    # sources without per-request latencies report the percentiles as numbers
    value = sample.business.get(name)
    return float(value) if value is not None else None


def _margin(check: Check) -> tuple[float, bool]:
    """(margin, relative): `"20%"` -> (0.2, True); 0.005 -> (0.005, False)."""
    raw = check.max_regression
    if isinstance(raw, str):
        return float(raw.rstrip("%")) / 100, True
    return float(raw or 0.0), False


def _absolute(name: str, check: Check, value: float) -> CheckResult | None:
    if check.max is not None and value > check.max:
        return CheckResult(name, FAIL, value, limit=f"max {check.max:g}",
                           reason=f"{value:.4g} is above the limit {check.max:g}")
    if check.min is not None and value < check.min:
        return CheckResult(name, FAIL, value, limit=f"min {check.min:g}",
                           reason=f"{value:.4g} is below the limit {check.min:g}")
    return None


def _relative(name: str, check: Check, window: Window, canary: float, stable: float,
              confidence: float) -> CheckResult:
    margin, relative = _margin(check)
    limit = f"max_regression {check.max_regression}"
    c, s = window.canary, window.stable
    if name == "error_rate":
        allowed = margin * stable if relative else margin
        p = stats.proportion_worse(c.errors, c.requests, s.errors, s.requests, allowed)
    elif name in _PERCENTILES and c.latencies_ms and s.latencies_ms:
        p = stats.latency_worse(c.latencies_ms, s.latencies_ms, margin=margin, relative=relative)
    else:
        greater_is_better = check.greater_is_better is not False and \
            name not in _PERCENTILES
        worse = (stable - canary) if greater_is_better else (canary - stable)
        allowed = margin * abs(stable) if relative else margin
        if worse > allowed:
            return CheckResult(name, FAIL, canary, stable, None, limit,
                               reason=f"{canary:.4g} vs stable {stable:.4g}: worse by "
                               f"{worse:.4g}, allowed {allowed:.4g} (point values)")
        return CheckResult(name, PASS, canary, stable, None, limit)
    alpha = 1 - confidence
    if p < alpha:
        return CheckResult(name, FAIL, canary, stable, p, limit,
                           reason=f"{canary:.4g} vs stable {stable:.4g}: worse beyond "
                           f"{check.max_regression} (p={p:.2g} < {alpha:.2g})")
    return CheckResult(name, PASS, canary, stable, p, limit)


def judge_check(name: str, check: Check, window: Window, protocol: Protocol,
                *, compare: bool) -> CheckResult:
    limits = ", ".join(part for part in (
        f"min {check.min:g}" if check.min is not None else "",
        f"max {check.max:g}" if check.max is not None else "",
        f"max_regression {check.max_regression}" if check.max_regression is not None and compare
        else "") if part)
    if window.canary.requests < protocol.min_requests:
        return CheckResult(name, INCONCLUSIVE, limit=limits, reason=(
            f"{window.canary.requests} canary requests, fewer than min_requests "
            f"{protocol.min_requests}"))
    canary = value_of(name, window.canary)
    if canary is None or math.isnan(canary):
        return CheckResult(name, FAIL, limit=limits,
                           reason="the metric source reported no value for the canary")
    failed = _absolute(name, check, canary)
    stable = value_of(name, window.stable)
    if failed is not None:
        failed.stable = stable
        return failed
    if check.max_regression is None or not compare:
        return CheckResult(name, PASS, canary, stable, limit=limits)
    if window.stable.requests < protocol.min_requests:
        return CheckResult(name, INCONCLUSIVE, canary, stable, limit=limits, reason=(
            f"{window.stable.requests} stable requests, fewer than min_requests "
            f"{protocol.min_requests}: no comparison"))
    if stable is None or math.isnan(stable):
        return CheckResult(name, FAIL, canary, limit=limits,
                           reason="the metric source reported no value for the stable model")
    result = _relative(name, check, window, canary, stable, protocol.confidence)
    result.limit = limits
    return result


def judge(protocol: Protocol, window: Window | None, *, compare: bool = True,
          source_error: str | None = None, health: str | None = None) -> Verdict:
    """The verdict of one window. `compare=False` (a first model: no stable model) judges
    absolute limits only."""
    checks: list[CheckResult] = []
    if health:
        checks.append(CheckResult("health", FAIL, reason=health))
    if window is None or source_error:
        reason = f"metric source unreadable: {source_error or 'no window'}"
        checks += [CheckResult(name, FAIL, reason=reason, enforced=check.enforce)
                   for name, check in protocol.checks.items()]
        checks.append(CheckResult("metrics", FAIL, reason=reason))
        return Verdict(FAIL, checks, reason=reason)
    for name, check in protocol.checks.items():
        result = judge_check(name, check, window, protocol, compare=compare)
        result.enforced = check.enforce
        checks.append(result)
    verdict = Verdict(PASS, checks, window.canary.requests, window.stable.requests,
                      value_of("error_rate", window.canary))
    acting = [c for c in checks if c.enforced]
    failed = [c for c in acting if c.status == FAIL]
    if failed:
        verdict.status = FAIL
        verdict.reason = "; ".join(f"{c.name}: {c.reason}" for c in failed)
    elif window.canary.requests < protocol.min_requests or \
            any(c.status == INCONCLUSIVE for c in acting):
        verdict.status = INCONCLUSIVE
        verdict.reason = (f"{window.canary.requests} canary requests (min_requests "
                          f"{protocol.min_requests})" if window.canary.requests <
                          protocol.min_requests else "; ".join(
                              f"{c.name}: {c.reason}" for c in acting
                              if c.status == INCONCLUSIVE))
    return verdict
