"""Slice and fairness rules: where an average can hide a tail, and where groups diverge.

Pure Python over numbers metrics.py computed. A slice or group below its minimum size is
reported (`not_gated`), never silently dropped; a fairness group without a value in the
sensitive column, or with an undefined metric, fails the rule: "we could not measure this
group" must not read as "this group is fine". Likewise a rule under which no slice (or
fewer than two groups) reaches the minimum size gated nothing: it is `review`, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.gate.decide import Outcome, _fmt, _le, metric_rules, number
from mlci.gate.spec import FairnessSpec, GateSpec, SliceSpec


@dataclass
class Group:
    value: str
    n: int
    candidate: dict[str, float]
    baseline: dict[str, float] | None  # None: no baseline predictions
    missing: bool = False  # the rows without a value in the column


def slice_rules(spec: GateSpec, slices: SliceSpec, rows: list[Group], *, has_baseline: bool,
                overall: dict[str, float],
                intervals: dict[tuple[str, str], tuple[float, float]] | None = None,
                ) -> list[Outcome]:
    """Per-slice rules (intervals, when given, are reported per slice, not gated)."""
    out: list[Outcome] = []
    for row in rows:
        for name, rule in slices.metrics.items():
            prefix = f"slices.{slices.column}={row.value}.{name}"
            if row.n < slices.min_slice_size:
                for check in ("min", "max", "max_regression"):
                    if getattr(rule, check) is not None:
                        out.append(Outcome(
                            f"{prefix}.{check}", "slices", name, check, rule.severity,
                            "not_gated", f"{row.n} examples < min_slice_size "
                            f"{slices.min_slice_size}", threshold=getattr(rule, check),
                            candidate=number(row.candidate.get(name))[0],
                            baseline=number((row.baseline or {}).get(name))[0],
                            slice=row.value, n=row.n))
                continue
            out += metric_rules(
                name, rule, row.candidate.get(name), (row.baseline or {}).get(name),
                greater_is_better=spec.greater_is_better(name), has_baseline=has_baseline,
                section="slices", prefix=prefix, slice=row.value, n=row.n,
                interval=(intervals or {}).get((row.value, name)))
    if not any(row.n >= slices.min_slice_size for row in rows):
        out += _gated_nothing(slices, rows)
    if slices.worst is not None:
        out += worst_slice(spec, slices, rows, overall)
    return out


def _nothing_gated(slices: SliceSpec, rows: list[Group]) -> str:
    largest = max((row.n for row in rows), default=0)
    return (f"no slice of {slices.column!r} has >= {slices.min_slice_size} examples (the "
            f"largest has {largest}): the rule gated nothing")


def _gated_nothing(slices: SliceSpec, rows: list[Group]) -> list[Outcome]:
    """One `review` per slice rule when every slice is below min_slice_size."""
    out = []
    for name, rule in slices.metrics.items():
        for check in ("min", "max", "max_regression"):
            if getattr(rule, check) is not None:
                # ".all." keeps the id apart from per-slice ("=") and worst-slice ids
                out.append(Outcome(f"slices.{slices.column}.all.{name}.{check}", "slices", name,
                                   check, rule.severity, "review", _nothing_gated(slices, rows),
                                   threshold=getattr(rule, check)))
    return out


def worst_slice(spec: GateSpec, slices: SliceSpec, rows: list[Group],
                overall: dict[str, float]) -> list[Outcome]:
    rule = slices.worst
    assert rule is not None
    name = rule.metric
    gib = spec.greater_is_better(name)
    gated = [r for r in rows if r.n >= slices.min_slice_size]
    checks = [(c, getattr(rule, c)) for c in ("min", "max", "max_gap") if getattr(rule, c)
              is not None]
    prefix = f"slices.worst.{name}"

    def outcome(check: str, limit: float, result: str, message: str, worst: Group | None,
                value: float | None = None, gap: float | None = None) -> Outcome:
        return Outcome(f"{prefix}.{check}", "slices", name, f"worst_{check}", rule.severity,
                       result, message, threshold=limit, candidate=value, change=gap,
                       slice=worst.value if worst else None, n=worst.n if worst else None)

    if not gated:
        return [outcome(c, v, "review", _nothing_gated(slices, rows), None) for c, v in checks]
    undefined = [r for r in gated if number(r.candidate.get(name))[0] is None]
    if undefined:
        return [outcome(c, v, "fail", f"{name} is undefined on slice(s) "
                        f"{', '.join(repr(r.value) for r in undefined[:5])}", undefined[0])
                for c, v in checks]
    key = (lambda r: r.candidate[name]) if gib else (lambda r: -r.candidate[name])
    worst = min(gated, key=key)
    value = float(worst.candidate[name])
    total, total_problem = number(overall.get(name))
    out = []
    for check, limit in checks:
        if check == "min":
            ok, msg = _le(limit, value), f"worst slice {_fmt(value)} vs min {_fmt(limit)}"
        elif check == "max":
            ok, msg = _le(value, limit), f"worst slice {_fmt(value)} vs max {_fmt(limit)}"
        elif total is None:
            out.append(outcome(check, limit, "fail", f"overall {name} is {total_problem}", worst,
                               value))
            continue
        else:
            gap = (total - value) if gib else (value - total)
            ok = _le(gap, limit)
            msg = f"gap to overall {_fmt(gap)} {'<=' if ok else '>'} max_gap {_fmt(limit)}"
            out.append(outcome(check, limit, "pass" if ok else "fail", msg, worst, value, gap))
            continue
        out.append(outcome(check, limit, "pass" if ok else "fail", msg, worst, value))
    return out


def fairness_rules(fair: FairnessSpec, groups: list[Group], missing: int,
                   min_size: int) -> tuple[list[Outcome], dict[str, float | None]]:
    """Outcomes of max_difference / max_ratio, and the measured gap (difference, ratio)."""
    name = fair.metric
    gated = [g for g in groups if g.n >= min_size]
    values = [number(g.candidate.get(name)) for g in gated]
    defined = [v for v, _ in values if v is not None]
    difference = max(defined) - min(defined) if len(defined) == len(gated) and defined else None
    ratio = None
    if difference is not None:
        high, low = max(defined), min(defined)
        ratio = 1.0 if high == low else (low / high if high > 0 else None)
    checks = []
    if fair.max_difference is not None:
        checks.append(("max_difference", fair.max_difference, difference))
    if fair.max_ratio is not None:
        needed = fair.max_ratio if fair.max_ratio <= 1 else 1.0 / fair.max_ratio
        checks.append(("max_ratio", fair.max_ratio, ratio))
    out = []
    for check, limit, measured in checks:
        rid = f"fairness.{fair.column}.{name}.{check}"
        common: dict[str, Any] = {"threshold": limit, "candidate": measured,
                                  "n": sum(g.n for g in groups) + missing}
        if missing:
            result, msg = "fail", (f"{missing} example(s) have no value in {fair.column!r}: a "
                                   "missing group is never dropped")
        elif len(gated) != len(defined):
            bad = [g.value for g, (v, _) in zip(gated, values, strict=False) if v is None]
            result, msg = "fail", f"{name} is undefined for group(s) {', '.join(map(repr, bad))}"
        elif len(gated) < 2:
            result, msg = "review", (f"fewer than 2 groups of {fair.column!r} have >= "
                                     f"{min_size} examples: the rule compared nothing")
        elif check == "max_difference":
            assert measured is not None
            ok = _le(measured, limit)
            result, msg = ("pass" if ok else "fail"), (
                f"largest difference {_fmt(measured)} {'<=' if ok else '>'} {_fmt(limit)}")
        elif measured is None:
            result, msg = "fail", f"ratio undefined (negative {name} values)"
        else:
            ok = _le(needed, measured)
            result, msg = ("pass" if ok else "fail"), (
                f"min/max ratio {_fmt(measured)} {'>=' if ok else '<'} {_fmt(needed)}")
        out.append(Outcome(rid, "fairness", name, check, fair.severity, result, msg, **common))
    return out, {"difference": difference, "ratio": ratio}
