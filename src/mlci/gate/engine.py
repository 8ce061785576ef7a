"""Glue: metric sources + prediction files + a spec -> one `GateResult` (the JSON report).

Order of evidence: metric sources first; every metric the gate can compute from prediction
files then replaces the source's value (one dataset, one definition, paired intervals).
The result dict has stable keys; reports (report.py) only render it. Schema
"mlci.gate.report/v1" (non-finite numbers become null, with a `*_problem` string):

    schema, mlci_version, verdict (promote|review|reject), exit_code (0|3|1), reasons [str],
    candidate / baseline (null: first model): {ref, model_version, run_id, predictions, examples}
    significance: null | {confidence, resamples, seed}
    metrics: [{name, greater_is_better, candidate, candidate_problem, baseline,
               baseline_problem, change, relative_change, interval: null | {low, high, method},
               source: "predictions" | "metrics"}]
    rules: [{id, section, metric, check, severity, outcome, message, threshold, candidate,
             baseline, change, interval: null | [low, high], slice, n}]
    counts: {pass, fail, review, skip, not_gated}
    slices: null | {column, min_slice_size, slices: [{value, n, gated, missing, candidate: {},
                                                      baseline: {} | null}]}
    fairness: null | {column, metric, min_group_size, missing, difference, ratio, groups: [...]}
    spec: the validated spec with defaults filled in
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlci import __version__
from mlci.errors import InputError
from mlci.gate import VERDICT_EXIT_CODES
from mlci.gate.decide import Outcome, metric_rules, number, primary_rules, verdict
from mlci.gate.groups import Group, fairness_rules, slice_rules
from mlci.gate.spec import COMPUTABLE, GateSpec

SCHEMA = "mlci.gate.report/v1"


@dataclass
class Side:
    """One model's evidence: its metric source and, optionally, its prediction file."""

    ref: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    model_version: str | None = None
    run_id: str | None = None
    predictions: str | None = None


def _is_interval(found: Any) -> bool:
    """A stats.Interval (not stats.Insufficient, not None); stats imports numpy, this not."""
    return hasattr(found, "low")


def _clean(value: Any) -> float | None:
    number_value, _ = number(value)
    return number_value


def _groups(cand: Any, base: Any, column: str, names: tuple[str, ...],
            expected: list[str] | None) -> tuple[list[Group], int]:
    """Per-value metrics of `column` (codes from the candidate's file); missing-value count."""
    import numpy as np

    from mlci.gate.metrics import by_category

    if column not in cand.categories:
        raise InputError(f"column {column!r} not found", file=cand.path, key=column)
    codes, labels = cand.categories[column]
    k = len(labels)
    missing = int((codes < 0).sum())
    sizes, c_rows = by_category(cand, codes, k, names)
    b_rows = by_category(base, codes, k, names)[1] if base is not None else None
    rows = [Group(labels[i], int(sizes[i]), c_rows[i], b_rows[i] if b_rows else None)
            for i in range(k)]
    if missing:
        extra = np.where(codes < 0, 0, -1).astype(np.int32)
        _, c_miss = by_category(cand, extra, 1, names)
        b_miss = by_category(base, extra, 1, names)[1] if base is not None else None
        rows.append(Group("(missing)", missing, c_miss[0], b_miss[0] if b_miss else None,
                          missing=True))
    for value in expected or []:
        if value not in labels:
            rows.append(Group(value, 0, {}, {} if base is not None else None))
    rows.sort(key=lambda g: g.value)
    return rows, missing


def _slice_intervals(cand: Any, base: Any, column: str, rows: list[Group], names: list[str],
                    min_size: int, sig: Any) -> dict[tuple[str, str], tuple[float, float]]:
    """Paired intervals per gated slice, so a slice's regression shows its uncertainty."""
    from mlci.gate.predictions import subset
    from mlci.gate.stats import Interval, paired_intervals

    codes, labels = cand.categories[column]
    index = {label: i for i, label in enumerate(labels)}
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for row in rows:
        if row.n < min_size:
            continue
        mask = codes < 0 if row.missing else codes == index[row.value]
        found = paired_intervals(subset(cand, mask), subset(base, mask), names, sig)
        for name, interval in found.items():
            if isinstance(interval, Interval):  # too thin (Insufficient) or undefined: none
                out[(row.value, name)] = (interval.low, interval.high)
    return out


def _group_json(rows: list[Group], min_size: int, slices: bool) -> list[dict[str, Any]]:
    """Slices gate a "(missing)" slice like any other; fairness fails on it instead."""
    return [{"value": g.value, "n": g.n, "gated": g.n >= min_size and (slices or not g.missing),
             "missing": g.missing,
             "candidate": {k: _clean(v) for k, v in sorted(g.candidate.items())},
             "baseline": None if g.baseline is None else
             {k: _clean(v) for k, v in sorted(g.baseline.items())}} for g in rows]


def run_gate(spec: GateSpec, candidate: Side, baseline: Side | None) -> dict[str, Any]:
    """Evaluate the spec; return the report dict (verdict, reasons, rules, metrics, ...)."""
    from mlci.gate.checks import check_computable, check_inputs

    check_inputs(spec, candidate, baseline)
    has_baseline = baseline is not None
    c_metrics = dict(candidate.metrics)
    b_metrics = dict(baseline.metrics) if baseline else {}
    source = dict.fromkeys(c_metrics, "metrics")
    cand_pred = base_pred = None
    intervals: dict[str, Any] = {}
    if candidate.predictions:
        from mlci.gate import metrics as M
        from mlci.gate.predictions import align, load_predictions

        extra = [c for c in (spec.slices.column if spec.slices else None,
                             spec.fairness.column if spec.fairness else None) if c]
        cols = spec.predictions
        cand_pred = load_predictions(candidate.predictions, cols, extra)
        check_computable(spec, cand_pred, M.applicable(cand_pred))
        for name, value in M.compute(cand_pred).items():
            c_metrics[name], source[name] = value, "predictions"
        if baseline is not None and baseline.predictions:
            raw = load_predictions(baseline.predictions, cols, [], task=cand_pred.task)
            base_pred = align(cand_pred, raw, cols.id)
            b_metrics.update(M.compute(base_pred))
            if spec.significance:
                from mlci.gate.stats import paired_intervals

                wanted = [m for m in dict.fromkeys(
                    ([spec.primary.metric] if spec.primary else []) + list(spec.metrics))
                    if m in COMPUTABLE]
                intervals = paired_intervals(cand_pred, base_pred, wanted, spec.significance)

    def interval(name: str) -> tuple[float, float] | None:
        found: Any = intervals.get(name)
        return (found.low, found.high) if _is_interval(found) else None

    def insufficient(name: str) -> str | None:
        return getattr(intervals.get(name), "reason", None)  # stats.Insufficient

    outcomes: list[Outcome] = []
    if spec.primary:
        name = spec.primary.metric
        outcomes += primary_rules(
            spec.primary, c_metrics.get(name), b_metrics.get(name),
            greater_is_better=spec.greater_is_better(name), has_baseline=has_baseline,
            significance=spec.significance is not None, computable=name in COMPUTABLE,
            interval=interval(name), insufficient=insufficient(name))
    for name, rule in spec.metrics.items():
        outcomes += metric_rules(
            name, rule, c_metrics.get(name), b_metrics.get(name),
            greater_is_better=spec.greater_is_better(name), has_baseline=has_baseline,
            section="metrics", prefix=f"metrics.{name}", interval=interval(name))
    slices_json = fairness_json = None
    if spec.slices and cand_pred is not None:
        s = spec.slices
        names = tuple(dict.fromkeys(list(s.metrics) + ([s.worst.metric] if s.worst else [])))
        rows, _ = _groups(cand_pred, base_pred, s.column, names, s.values)
        slice_intervals = {}
        if spec.significance and base_pred is not None and s.metrics:
            slice_intervals = _slice_intervals(cand_pred, base_pred, s.column, rows,
                                               list(s.metrics), s.min_slice_size,
                                               spec.significance)
        outcomes += slice_rules(spec, s, rows, has_baseline=has_baseline, overall=c_metrics,
                                intervals=slice_intervals)
        slices_json = {"column": s.column, "min_slice_size": s.min_slice_size,
                       "slices": _group_json(rows, s.min_slice_size, True)}
    if spec.fairness and cand_pred is not None:
        f = spec.fairness
        min_size = f.min_group_size or (spec.slices.min_slice_size if spec.slices else 30)
        rows, missing = _groups(cand_pred, base_pred, f.column, (f.metric,), None)
        found, gap = fairness_rules(f, [g for g in rows if not g.missing], missing,
                                    min_size)
        outcomes += found
        fairness_json = {"column": f.column, "metric": f.metric, "min_group_size": min_size,
                         "missing": missing, **{k: _clean(v) for k, v in gap.items()},
                         "groups": _group_json(rows, min_size, False)}
    result, reasons = verdict(outcomes, has_baseline=has_baseline,
                              on_missing_baseline=spec.on_missing_baseline)
    return {
        "schema": SCHEMA,
        "mlci_version": __version__,
        "verdict": result,
        "exit_code": VERDICT_EXIT_CODES[result],
        "reasons": reasons,
        "candidate": _side_json(candidate, cand_pred),
        "baseline": _side_json(baseline, base_pred) if baseline else None,
        "significance": spec.significance.model_dump() if spec.significance else None,
        "metrics": _metric_rows(spec, c_metrics, b_metrics, has_baseline, source, intervals),
        "rules": [o.as_dict() for o in outcomes],
        "counts": {k: sum(o.outcome == k for o in outcomes)
                   for k in ("pass", "fail", "review", "skip", "not_gated")},
        "slices": slices_json,
        "fairness": fairness_json,
        "spec": spec.model_dump(mode="json"),
    }


def _side_json(side: Side, pred: Any) -> dict[str, Any]:
    return {"ref": side.ref, "model_version": side.model_version, "run_id": side.run_id,
            "predictions": side.predictions, "examples": len(pred) if pred is not None else None}


def _metric_rows(spec: GateSpec, cand: dict[str, Any], base: dict[str, Any], has_baseline: bool,
                 source: dict[str, str], intervals: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(dict.fromkeys(([spec.primary.metric] if spec.primary else []) +
                               list(spec.metrics) + sorted(cand) + sorted(base)))
    rows = []
    for name in names:
        c, c_problem = number(cand.get(name))
        b, b_problem = number(base.get(name))
        change = c - b if c is not None and b is not None else None
        rel = change / abs(b) if change is not None and b else None
        found = intervals.get(name)
        found = found if _is_interval(found) else None
        rows.append({
            "name": name, "greater_is_better": spec.greater_is_better(name),
            "candidate": c, "candidate_problem": c_problem,
            "baseline": b, "baseline_problem": b_problem if has_baseline else None,
            "change": change, "relative_change": rel if rel is None or math.isfinite(rel)
            else None,
            "interval": {"low": found.low, "high": found.high, "method": found.method}
            if found else None,
            "source": source.get(name, "metrics" if name in cand else None),
        })
    return rows
