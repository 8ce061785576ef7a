"""Rules -> outcomes -> verdict, exactly as docs/gate.md describes them.

Every rule yields one `Outcome` with its numbers, whatever happens, so every report can show
why. Outcomes:

- `pass` / `fail`  the rule was evaluated (a `fail` of a `block` rule rejects; of a `warn`
                   rule, sends to review)
- `review`         the rule could not be decided on the evidence (baseline lacks the metric,
                   primary interval includes no improvement): the verdict is at best review
- `skip`           not applicable because there is no baseline at all (first model);
                   `on_missing_baseline` then caps the verdict
- `not_gated`      a slice or group below its minimum size: reported, not gated

Fail closed: a candidate value that is missing, NaN, infinite or not a number fails its rule.
This module is pure Python (no numpy): it only sees numbers already computed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

from mlci.gate.spec import MetricRule, PrimaryRule, WorstSliceRule, amount_parts

RANK = {"promote": 0, "review": 1, "reject": 2}


@dataclass
class Outcome:
    id: str
    section: str
    metric: str
    check: str
    severity: str
    outcome: str
    message: str
    threshold: float | str | None = None
    candidate: float | None = None
    baseline: float | None = None
    change: float | None = None
    interval: tuple[float, float] | None = None
    slice: str | None = None
    n: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval) if self.interval else None
        return out


def number(value: Any) -> tuple[float | None, str | None]:
    """(value, None) for a finite real number, else (None, why it is not usable)."""
    if value is None:
        return None, "missing"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None, f"not a number ({type(value).__name__} {value!r})"
    result = float(value)
    if math.isnan(result):
        return None, "NaN"
    if math.isinf(result):
        return None, "infinite"
    return result, None


def _le(a: float, b: float) -> bool:
    """a <= b, forgiving float noise (0.81 - 0.80 is 0.010000000000000009)."""
    return a <= b + 1e-9 * max(1.0, abs(a), abs(b))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def metric_rules(name: str, rule: MetricRule | WorstSliceRule, candidate: Any, baseline: Any, *,
                 greater_is_better: bool, has_baseline: bool, section: str, prefix: str,
                 interval: tuple[float, float] | None = None, slice: str | None = None,
                 n: int | None = None) -> list[Outcome]:
    """Outcomes of a metric's min / max / max_regression rules."""
    cand, cand_problem = number(candidate)
    base, base_problem = number(baseline)
    change = cand - base if cand is not None and base is not None else None
    common: dict[str, Any] = {
        "section": section, "metric": name, "severity": rule.severity, "candidate": cand,
        "baseline": base, "change": change, "interval": interval, "slice": slice, "n": n}
    checks: list[tuple[str, Any]] = [(c, getattr(rule, c, None)) for c in
                                     ("min", "max", "max_regression")]
    out: list[Outcome] = []
    for check, limit in checks:
        if limit is None:
            continue
        rid = f"{prefix}.{check}"
        if cand is None:
            out.append(Outcome(rid, check=check, outcome="fail", threshold=limit,
                               message=f"candidate {name} is {cand_problem}", **common))
            continue
        if check == "min":
            ok = _le(limit, cand)
            msg = f"{_fmt(cand)} {'>=' if ok else '<'} min {_fmt(limit)}"
        elif check == "max":
            ok = _le(cand, limit)
            msg = f"{_fmt(cand)} {'<=' if ok else '>'} max {_fmt(limit)}"
        elif not has_baseline:
            out.append(Outcome(rid, check=check, outcome="skip", threshold=limit,
                               message="no baseline yet: regression not checked", **common))
            continue
        elif base is None:
            out.append(Outcome(rid, check=check, outcome="review", threshold=limit,
                               message=f"baseline {name} is {base_problem}: regression not "
                               "checked", **common))
            continue
        else:
            value, relative = amount_parts(limit)
            allowed = value * abs(base) if relative else value
            regression = (base - cand) if greater_is_better else (cand - base)
            ok = _le(regression, allowed)
            msg = (f"regression {_fmt(regression)} {'<=' if ok else '>'} allowed "
                   f"{_fmt(allowed)}" + (f" ({limit} of |baseline| {_fmt(base)})"
                                         if relative else ""))
        out.append(Outcome(rid, check=check, outcome="pass" if ok else "fail", threshold=limit,
                           message=msg, **common))
    return out


def primary_rules(rule: PrimaryRule, candidate: Any, baseline: Any, *, greater_is_better: bool,
                  has_baseline: bool, significance: bool, computable: bool,
                  interval: tuple[float, float] | None,
                  insufficient: str | None = None) -> list[Outcome]:
    """The primary target, and (with significance) whether its interval excludes no change.

    `insufficient` says why the paired evidence was too thin for an interval: review."""
    name = rule.metric
    cand, cand_problem = number(candidate)
    base, base_problem = number(baseline)
    change = cand - base if cand is not None and base is not None else None
    common: dict[str, Any] = {
        "section": "primary", "metric": name, "severity": "block", "candidate": cand,
        "baseline": base, "change": change, "interval": interval}
    target, relative = amount_parts(rule.min_improvement)
    rid = f"primary.{name}.min_improvement"
    if cand is None:
        first = Outcome(rid, check="min_improvement", outcome="fail", message=f"candidate {name} "
                        f"is {cand_problem}", threshold=rule.min_improvement, **common)
    elif not has_baseline:
        first = Outcome(rid, check="min_improvement", outcome="skip",
                        threshold=rule.min_improvement,
                        message="no baseline yet: improvement not checked", **common)
    elif base is None:
        first = Outcome(rid, check="min_improvement", outcome="review",
                        threshold=rule.min_improvement,
                        message=f"baseline {name} is {base_problem}: improvement unknown", **common)
    elif relative and base == 0 and target > 0:
        first = Outcome(rid, check="min_improvement", outcome="fail",
                        threshold=rule.min_improvement,
                        message=f"a relative target ({rule.min_improvement}) against a baseline "
                        "of 0 cannot be met", **common)
    else:
        improvement = (cand - base) if greater_is_better else (base - cand)
        required = target * abs(base) if relative else target
        ok = _le(required, improvement)
        first = Outcome(rid, check="min_improvement", outcome="pass" if ok else "fail",
                        threshold=rule.min_improvement, **common,
                        message=f"improvement {_fmt(improvement)} {'>=' if ok else '<'} "
                        f"required {_fmt(required)}")
    if not significance:
        return [first]
    sid = f"primary.{name}.significance"
    if first.outcome != "pass":
        why = "no baseline yet" if first.outcome == "skip" else "the point estimate did not pass"
        second = Outcome(sid, check="significance", outcome="skip", **common,
                         message=f"not evaluated: {why}")
    elif not computable:
        second = Outcome(sid, check="significance", outcome="skip", **common,
                         message=f"{name} is not computed from predictions: point estimate only")
    elif interval is None and insufficient:
        second = Outcome(sid, check="significance", outcome="review", **common,
                         message=f"insufficient evidence for an interval: {insufficient}")
    elif interval is None:
        second = Outcome(sid, check="significance", outcome="review", **common,
                         message="no paired interval (paired predictions missing, or the "
                         "metric is undefined on some resamples)")
    else:
        low = interval[0] if greater_is_better else -interval[1]
        ok = low > 0
        second = Outcome(sid, check="significance", outcome="pass" if ok else "review", **common,
                         message=f"interval [{_fmt(interval[0])}, {_fmt(interval[1])}] "
                         + ("excludes no improvement" if ok else "includes no improvement"))
    return [first, second]


def verdict(outcomes: list[Outcome], *, has_baseline: bool,
            on_missing_baseline: str) -> tuple[str, list[str]]:
    """The verdict and its reasons (the outcomes that decided it), per docs/gate.md."""
    blocking = [o for o in outcomes if o.outcome == "fail" and o.severity == "block"]
    if blocking:
        return "reject", [f"{o.id}: {o.message}" for o in blocking]
    reviewing = [o for o in outcomes if o.outcome == "review" or
                 (o.outcome == "fail" and o.severity == "warn")]
    result = "review" if reviewing else "promote"
    reasons = [f"{o.id}: {o.message}" for o in reviewing]
    if not has_baseline:
        reasons.append(f"no baseline yet (first model): on_missing_baseline is "
                       f"{on_missing_baseline}")
        if RANK[on_missing_baseline] > RANK[result]:
            result = on_missing_baseline
    if result == "promote" and not reasons:
        reasons.append("every rule holds")
    return result, reasons
