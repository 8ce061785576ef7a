"""Rules over several columns: uniqueness of a combination, and row-wise comparisons.
Rows where any of the columns is null are skipped (a null is not a value)."""

from __future__ import annotations

import operator

import numpy as np

from mlci.data.contract import Compare
from mlci.data.validate.columns import ColumnData
from mlci.data.validate.result import Result, Violation, show, tolerance

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
        "==": operator.eq, "!=": operator.ne}
ORDERED = ("number", "integer", "datetime")


def unique_rule(group: list[str], columns: list[ColumnData], result: Result) -> None:
    result.checks += 1
    present = ~np.logical_or.reduce([c.null for c in columns])
    keys = np.column_stack([np.unique(c.values[present], return_inverse=True)[1].ravel()
                            for c in columns]) if present.any() else np.zeros((0, 1))
    total = int(keys.shape[0])
    distinct = int(np.unique(keys, axis=0).shape[0]) if total else 0
    if total > distinct:
        result.add(Violation(", ".join(group), "unique", f"{total - distinct} duplicate "
                             f"combination(s) in {total} row(s)", "unique combinations"))


def compare_rule(rule: Compare, left: ColumnData, right: ColumnData, result: Result) -> None:
    result.checks += 1
    name = rule.text()
    kinds = {left.kind, right.kind}
    if not kinds <= set(ORDERED) or ("datetime" in kinds and len(kinds) > 1):
        result.add(Violation(name, "compare", f"{left.kind} and {right.kind} columns",
                             "two numeric or two datetime columns", rule.severity))
        return
    present = ~(left.null | right.null)
    a, b = left.values[present], right.values[present]
    if left.kind != right.kind:
        a, b = a.astype(float), b.astype(float)
    holds = _OPS[rule.op](a, b)
    total, failing = int(holds.size), int((~holds).sum())
    if failing and (total - failing) / total < rule.mostly:
        first = int(np.argmax(~holds))
        example = f"{show(a[first].item())} vs {show(b[first].item())}"
        result.add(Violation(name, "compare", f"{failing} of {total} row(s) not {rule.op} "
                             f"(e.g. {example})", f"{name}{tolerance(rule.mostly)}",
                             rule.severity))
