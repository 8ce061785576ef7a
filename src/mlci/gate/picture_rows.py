"""The picture's data: the gate report's rules as direction-normalised rows (picture.py draws).

This is the only part of the picture that reads the report; `Row` and `Panel` are all the
drawing sees. Each row's band is the rules' thresholds translated to the row's axis, so a
point outside its brackets is exactly a rule that failed:

    min t / worst_min t             candidate >= t
    max t / worst_max t             candidate <= t
    max_regression a                candidate >= b - a   (<= b + a when lower is better)
    min_improvement r               candidate >= b + r   (<= b - r when lower is better)
    worst_max_gap g                 candidate >= overall - g   (<= overall + g)

with relative amounts ("2%") taken of |baseline|, and then change = (candidate - b) / |b|,
negated when lower is better. Statuses come from the rules' outcomes, never recomputed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlci.gate.spec import LOWER_IS_BETTER, amount_parts

_RANK = {"fail": 3, "review": 2, "pass": 1, "none": 0}


@dataclass(frozen=True)
class Row:
    label: str                    # user text: escaped when drawn
    status: str                   # fail | review | pass | none (not gated, skipped, no rule)
    change: float | None          # direction-normalised: an improvement is > 0
    interval: tuple[float, float] | None = None   # the change's interval, same axis
    lower: float | None = None    # the band the rules allow, same axis
    upper: float | None = None
    note: str = ""                # why nothing is drawn, or what to know about the row


@dataclass(frozen=True)
class Panel:
    title: str
    percent: bool                 # values are fractions shown as % (else the metric's units)
    rows: list[Row] = field(default_factory=list)


def panels(report: dict[str, Any]) -> list[Panel]:
    found = [Panel("Change vs baseline, % of |baseline|; an improvement points right, whatever "
                   "greater_is_better says", True, _change_rows(report))]
    fairness = report.get("fairness")
    if fairness:
        found.append(_fairness_panel(report, fairness))
    return found


def _status(rules: list[dict[str, Any]]) -> str:
    best = "none"
    for r in rules:
        outcome = r["outcome"]
        status = (("fail" if r["severity"] == "block" else "review") if outcome == "fail"
                  else outcome if outcome in ("review", "pass") else "none")
        best = status if _RANK[status] > _RANK[best] else best
    return best


def _gib(report: dict[str, Any], name: str) -> bool:
    for m in report["metrics"]:
        if m["name"] == name:
            return bool(m["greater_is_better"])
    rule = (report.get("spec") or {}).get("metrics", {}).get(name) or {}
    if rule.get("greater_is_better") is not None:
        return bool(rule["greater_is_better"])
    return name not in LOWER_IS_BETTER


def _bound(rule: dict[str, Any], base: float, gib: bool,
           overall: float | None) -> tuple[str, float] | None:
    """The rule as ('>=' | '<=', value) on the row's candidate value, or None."""
    check, threshold = rule["check"], rule["threshold"]
    if threshold is None:
        return None
    if check in ("min", "worst_min"):
        return ">=", float(threshold)
    if check in ("max", "worst_max"):
        return "<=", float(threshold)
    amount, relative = amount_parts(threshold)
    amount = amount * abs(base) if relative else amount
    if check == "max_regression":
        return (">=", base - amount) if gib else ("<=", base + amount)
    if check == "min_improvement":
        return (">=", base + amount) if gib else ("<=", base - amount)
    if check == "worst_max_gap" and overall is not None:
        return (">=", overall - amount) if gib else ("<=", overall + amount)
    return None


def _row(label: str, rules: list[dict[str, Any]], cand: float | None, base: float | None,
         interval: tuple[float, float] | None, gib: bool, overall: float | None,
         why: str) -> Row:
    status = _status(rules)
    flip = "" if gib else "lower is better"
    if cand is None or base is None or base == 0:
        note = why or ("baseline is 0: no relative change" if base == 0 else "no change")
        return Row(label, status, None, note=note)

    def norm(x: float) -> float:
        return ((x - base) if gib else (base - x)) / abs(base)

    lower = upper = None
    for r in rules:
        found = _bound(r, base, gib, overall)
        if found is None:
            continue
        value = norm(found[1])
        if (found[0] == ">=") == gib:
            lower = value if lower is None else max(lower, value)
        else:
            upper = value if upper is None else min(upper, value)
    shown = None
    if interval is not None:
        a, b = norm(base + interval[0]), norm(base + interval[1])
        shown = (min(a, b), max(a, b)) if _drawable(a) and _drawable(b) else None
    change = norm(cand)
    if not _drawable(change):  # a baseline so near 0 that the ratio is meaningless
        return Row(label, status, None, note="baseline too near 0 for a relative change")
    finite = [v if v is not None and _drawable(v) else None for v in (lower, upper)]
    return Row(label, status, change, shown, finite[0], finite[1],
               "; ".join(x for x in (why, flip) if x))


def _drawable(value: float) -> bool:
    """Finite and small enough that axis arithmetic cannot overflow (1e15 = 1e17 %)."""
    return math.isfinite(value) and abs(value) < 1e15


def _change_rows(report: dict[str, Any]) -> list[Row]:
    metrics = {m["name"]: m for m in report["metrics"]}
    slices = report.get("slices") or {}
    by_value = {s["value"]: s for s in slices.get("slices", [])}
    column = slices.get("column", "slice")
    groups: dict[tuple[str, str | None, str], list[dict[str, Any]]] = {}
    for r in report["rules"]:
        if r["section"] in ("primary", "metrics"):
            groups.setdefault(("overall", None, r["metric"]), []).append(r)
        elif r["section"] == "slices":
            kind = ("slice" if r["slice"] is not None and r["slice"] in by_value else
                    "worst" if r["check"].startswith("worst_") else "all")  # all: gated none
            groups.setdefault((kind, r["slice"], r["metric"]), []).append(r)
    for name in metrics:  # metrics without rules: reported, after the gated ones
        groups.setdefault(("overall", None, name), [])
    rows = []
    for (kind, value, name), rules in groups.items():
        gib = _gib(report, name)
        total = metrics.get(name, {}).get("candidate")
        if kind == "overall":
            m = metrics.get(name) or {}
            iv = m.get("interval")
            primary = any(r["section"] == "primary" for r in rules)
            why = (f"candidate {m['candidate_problem']}" if m.get("candidate_problem") else
                   f"baseline {m['baseline_problem']}" if m.get("baseline_problem") else
                   "no baseline" if m.get("baseline") is None else "")
            rows.append(_row(("primary " if primary else "") + name, rules, m.get("candidate"),
                             m.get("baseline"), (iv["low"], iv["high"]) if iv else None, gib,
                             total, why))
        elif kind == "slice":
            s = by_value[value]
            iv = next(((r["interval"][0], r["interval"][1]) for r in rules if r["interval"]),
                      None)
            cand = s["candidate"].get(name)
            base = (s["baseline"] or {}).get(name)
            why = ("not gated: " + rules[0]["message"] if not s["gated"] else
                   "candidate undefined" if cand is None else
                   "no baseline" if base is None else "")
            rows.append(_row(f"{column}={value}: {name}", rules, cand, base,
                             iv, gib, total, why))
        else:
            rows.append(Row(f"{column} ({kind}): {name}", _status(rules), None,
                            note=rules[0]["message"]))
    return rows


def _fairness_panel(report: dict[str, Any], f: dict[str, Any]) -> Panel:
    """Each group's gap to the best gated group, in the metric's units: max_difference d is
    a gap of -d, max_ratio r (or 1/r) a gap of -(1 - r) x best (-(1/r - 1) x best when lower
    is better)."""
    name, gib = f["metric"], _gib(report, f["metric"])
    rules = [r for r in report["rules"] if r["section"] == "fairness"]
    failed = _status([r for r in rules if r["outcome"] == "fail"])
    # a group inside the band passed, if the rule was evaluated at all (not "not gated")
    gated = "pass" if any(r["outcome"] in ("pass", "fail") for r in rules) else "none"
    values = [g["candidate"].get(name) for g in f["groups"] if g["gated"]]
    defined = [v for v in values if v is not None]
    best = (max(defined) if gib else min(defined)) if defined else None
    lower = None
    for r in rules:
        limit = None
        if r["check"] == "max_difference":
            limit = -float(r["threshold"])
        elif r["check"] == "max_ratio" and best is not None and best > 0:
            needed = min(float(r["threshold"]), 1.0 / float(r["threshold"]))
            limit = -(1 - needed) * best if gib else -(1 / needed - 1) * best
        if limit is not None:
            lower = limit if lower is None else max(lower, limit)
    rows = []
    for g in f["groups"]:
        value = g["candidate"].get(name)
        label = f"{f['column']}={g['value']}"
        if g["missing"]:
            rows.append(Row(label, failed, None,
                            note=f"{g['n']} example(s) without a value: never dropped"))
        elif not g["gated"]:
            rows.append(Row(label, "none", None,
                            note=f"not gated: {g['n']} < {f['min_group_size']} examples"))
        elif value is None or best is None or not _drawable(value - best):
            rows.append(Row(label, failed, None, note=f"{name} undefined"))
        else:
            gap = (value - best) if gib else (best - value)
            row = Row(label, gated, gap, lower=lower,
                      note="" if gib else "lower is better")
            outside = lower is not None and gap < lower - 1e-9 * max(1.0, abs(lower))
            rows.append(Row(label, failed, gap, lower=lower, note=row.note)
                        if outside and failed != "none" else row)
    for r in rules:  # a rule that failed or went to review with no group to blame
        status = _status([r])
        if status in ("fail", "review") and not any(x.status == status for x in rows):
            rows.append(Row(f"{f['column']}: {r['check']}", status, None, note=r["message"]))
    title = (f"Fairness: {name} of each {f['column']} group minus the best group's ({name} "
             "units); the best is at 0, worse to the left")
    return Panel(title, False, rows)
