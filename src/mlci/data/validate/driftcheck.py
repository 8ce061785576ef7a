"""Drift rules: one statistic per column chosen by its type (see contract.Drift.methods), a
column drifts when any of its statistics passes its limit, and the share of drifted
columns is a rule of its own (`max_drifted_share`)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from mlci.data import drift as stats
from mlci.data.contract import Drift
from mlci.data.validate.columns import ColumnData
from mlci.data.validate.result import Result, Violation, show

NUMERIC_KINDS = ("number", "integer", "datetime")


def _counts(data: ColumnData) -> Counter[Any]:
    counts: Counter[Any] = Counter()
    valid = data.valid()
    if data.kind == "text":
        for cat, n in zip(data.categories, np.bincount(valid, minlength=len(data.categories)),
                          strict=True):
            if n:
                counts[cat] = int(n)
    else:
        values, freq = np.unique(valid, return_counts=True)
        for v, n in zip(values.tolist(), freq.tolist(), strict=True):
            counts[str(v).lower() if isinstance(v, bool) else str(v)] = int(n)
    missing = int(data.null.sum())
    if missing:
        counts[None] = missing
    return counts


def column_drift(name: str, spec: Drift, override: str | bool, current: ColumnData,
                 reference: ColumnData, result: Result) -> bool:
    """Measure one column; record its figures; True when it drifted."""
    numeric = current.kind in NUMERIC_KINDS and reference.kind in NUMERIC_KINDS
    methods = spec.methods(numeric, reference.rows, override)
    figures: dict[str, Any] = {"method": "+".join(methods)}
    limits: list[tuple[str, float, str, float]] = []  # (rule, value, op, limit)
    if numeric:
        # as stored (integers stay integers: KS counts them instead of sorting)
        ref, cur = reference.valid(), current.valid()
    else:
        ref_counts, cur_counts = _counts(reference), _counts(current)
    for method in methods:
        if method == "ks":
            d, p = stats.ks_2samp(ref, cur)
            figures.update(ks_statistic=d, ks_pvalue=p)
            pmin = spec.ks_pvalue_min if spec.ks_pvalue_min is not None else (
                0.05 if spec.ks_statistic_max is None else None)
            if spec.ks_statistic_max is not None:
                limits.append(("drift.ks_statistic", d, "<=", spec.ks_statistic_max))
            if pmin is not None:
                limits.append(("drift.ks_pvalue", p, ">=", pmin))
        elif method == "wasserstein":
            w = stats.wasserstein(ref, cur)
            figures["wasserstein"] = w
            limits.append(("drift.wasserstein", w, "<=", spec.wasserstein_max))
        elif method == "psi":
            psi = stats.psi_numeric(ref, cur, spec.bins, int(reference.null.sum()),
                                    int(current.null.sum())) if numeric else \
                stats.psi_categorical(ref_counts, cur_counts)
            figures["psi"] = psi
            limits.append(("drift.psi", psi, "<=", spec.psi_max))
        elif method == "chi2":
            chi, p = stats.chi2(ref_counts, cur_counts)
            figures.update(chi2_statistic=chi, chi2_pvalue=p)
            limits.append(("drift.chi2_pvalue", p, ">=", spec.chi2_pvalue_min))
        elif method == "jensenshannon":
            js = stats.jensenshannon(ref_counts, cur_counts)
            figures["jensenshannon"] = js
            limits.append(("drift.jensenshannon", js, "<=", spec.jensenshannon_max))
    drifted = False
    severity = spec.column_severity()
    for rule, value, op, limit in limits:
        result.checks += 1
        if math.isnan(value):
            drifted = True
            result.add(Violation(name, rule, "no values to compare (an empty column)",
                                 f"{op} {limit}", severity))
        elif (value > limit) if op == "<=" else (value < limit):
            drifted = True
            result.add(Violation(name, rule, show(value), f"{op} {show(limit)}", severity))
    figures["drifted"] = drifted
    result.drift[name] = figures
    return drifted


def share_rule(spec: Drift, drifted: list[str], compared: int, result: Result) -> None:
    if spec.max_drifted_share is None or not compared:
        return
    result.checks += 1
    share = len(drifted) / compared
    if share > spec.max_drifted_share:
        result.add(Violation(None, "drift.max_drifted_share",
                             f"{show(share)} ({len(drifted)} of {compared} columns: "
                             f"{', '.join(drifted)})", f"<= {show(spec.max_drifted_share)}"))
