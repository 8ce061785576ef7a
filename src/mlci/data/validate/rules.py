"""The rules of one column, on its compact `ColumnData`.

A row-wise rule (type, nullable, min/max, allowed, unique, pattern, lengths) holds when
the share of non-null values that satisfy it is at least its `mostly` (default 1: all).
Bounds are inclusive. Aggregates (mean, std, quantiles, max_age) are over non-null values.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import numpy as np

from mlci.data.contract import Column, parse_duration, to_datetime
from mlci.data.validate.columns import BOOLS, ColumnData, parse_number
from mlci.data.validate.result import Result, Violation, show, tolerance

NUMBERS = ("number", "integer")


class ColumnCheck:
    def __init__(self, name: str, spec: Column, data: ColumnData, result: Result) -> None:
        self.name, self.spec, self.data, self.result = name, spec, data, result
        self.valid = data.valid()
        self.total = int(self.valid.size)

    def fail(self, rule: str, observed: Any, expected: Any, severity: str | None = None) -> None:
        sev = severity or self.spec.rule(rule.split(".")[0])[1]
        self.result.add(Violation(self.name, rule, observed, expected, sev))

    def row_rule(self, rule: str, failing: int, observed: str, expected: Any) -> None:
        """Count the rule; a violation when more than 1 - mostly of the values fail it.
        `observed` may hold `{n}`: the failing count ("3", or "3 of 100" with a tolerance)."""
        self.result.checks += 1
        mostly, severity = self.spec.rule(rule)
        if failing and (self.total == 0 or (self.total - failing) / self.total < mostly):
            count = f"{failing}" if mostly >= 1 else f"{failing} of {self.total}"
            self.fail(rule, observed.replace("{n}", count),
                      f"{expected}{tolerance(mostly)}" if mostly < 1 else expected, severity)

    # -- the rules ------------------------------------------------------------------------
    def run(self) -> bool:
        """All rules; False when the type is wrong (the values are not checked then)."""
        if not self.type_ok():
            return False
        self.nulls()
        kind = self.data.kind
        if self.spec.min is not None or self.spec.max is not None:
            if kind in NUMBERS or kind == "datetime":
                self.bounds()
            else:
                self.result.checks += 1
                self.fail("type", f"{kind} values", "numbers (the column has min/max)")
        if self.spec.allowed is not None:
            self.allowed()
        if self.spec.unique:
            self.unique()
        if kind == "text":
            self.text_rules()
        if kind in NUMBERS:
            self.moments()
        if self.spec.max_age is not None:
            self.freshness()
        return True

    def type_ok(self) -> bool:
        data = self.data
        if data.mixed:
            self.result.checks += 1
            self.fail("type", data.mixed, self.spec.type or "one type in every file")
            return False
        if self.spec.type is None and not data.bad:
            return True
        self.result.checks += 1
        mostly, severity = self.spec.rule("type")
        seen = self.total + data.bad
        if data.bad and (seen - data.bad) / seen < mostly:
            self.fail("type", f"{data.bad} value(s) not {self.spec.type} (e.g. "
                      f"{data.bad_example})", f"{self.spec.type}{tolerance(mostly)}", severity)
            return severity == "warn"
        return True

    def nulls(self) -> None:
        rows = self.data.rows
        nulls = int(self.data.null.sum()) - self.data.bad
        if not self.spec.nullable:
            self.result.checks += 1
            mostly, severity = self.spec.rule("nullable")
            if nulls and (rows - nulls) / rows < mostly:
                self.fail("nullable", f"{nulls} null(s) in {rows} row(s)",
                          "no nulls" + tolerance(mostly), severity)
        if self.spec.max_null_ratio is not None:
            self.result.checks += 1
            ratio = nulls / rows if rows else 0.0
            if ratio > self.spec.max_null_ratio:
                self.fail("max_null_ratio", f"{show(ratio)} ({nulls} of {rows} rows null)",
                          f"<= {show(self.spec.max_null_ratio)}")

    def _number(self, value: Any) -> Any:
        if self.data.kind == "datetime":
            return round(to_datetime(value).timestamp() * 1_000_000)
        return value

    def _text_of(self, raw: Any) -> str:
        if self.data.kind == "datetime":
            moment = datetime.fromtimestamp(int(raw) / 1_000_000, tz=timezone.utc)
            return moment.isoformat().replace("+00:00", "Z")
        return str(show(raw.item() if hasattr(raw, "item") else raw))

    def bounds(self) -> None:
        for rule, limit in (("min", self.spec.min), ("max", self.spec.max)):
            if limit is None:
                continue
            edge = self._number(limit)
            beyond = self.valid[self.valid < edge] if rule == "min" else \
                self.valid[self.valid > edge]
            worst = (beyond.min() if rule == "min" else beyond.max()) if beyond.size else None
            shown_limit = self._text_of(edge) if self.data.kind == "datetime" else show(limit)
            verb = "below" if rule == "min" else "above"
            self.row_rule(rule, int(beyond.size),
                          f"{self._text_of(worst)} ({{n}} value(s) {verb})" if worst is not None
                          else "", f"{'>=' if rule == 'min' else '<='} {shown_limit}")

    def _counts(self) -> np.ndarray:
        return np.bincount(self.valid, minlength=len(self.data.categories))

    def allowed(self) -> None:
        allowed = self.spec.allowed or []
        kind = self.data.kind
        if kind == "text":
            keep = set(allowed)
            counts = self._counts()
            outside = {c: int(n) for c, n in zip(self.data.categories, counts, strict=True)
                       if n and c not in keep}
        else:
            wanted = np.array([self._allowed_value(a) for a in allowed])
            values, counts = np.unique(self.valid[~np.isin(self.valid, wanted)],
                                       return_counts=True)
            outside = {self._text_of(v): int(n) for v, n in zip(values, counts, strict=True)}
        top = sorted(outside.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{k!r} x{n}" for k, n in top[:5]) + \
            (f" and {len(top) - 5} more" if len(top) > 5 else "")
        tolerant = self.spec.rule("allowed")[0] < 1
        self.row_rule("allowed", sum(outside.values()),
                      shown + (" ({n} value(s))" if tolerant else ""), sorted(allowed))

    def _allowed_value(self, text: str) -> Any:
        kind = self.data.kind
        if kind == "boolean":
            return BOOLS.get(text.strip().lower())
        if kind == "datetime":
            return self._number(text)
        number = parse_number(text)
        return number if number is not None else np.nan

    def unique(self) -> None:
        ordered = np.sort(self.valid)
        dups = int(np.count_nonzero(ordered[1:] == ordered[:-1]))
        self.row_rule("unique", dups, "{n} duplicate(s)", "unique")

    def text_rules(self) -> None:
        counts = self._counts()
        used = [(c, int(n)) for c, n in zip(self.data.categories, counts, strict=True) if n]
        if self.spec.pattern is not None:
            regex = re.compile(self.spec.pattern)
            bad = [(c, n) for c, n in used if not regex.fullmatch(c)]
            self.row_rule("pattern", sum(n for _, n in bad), "{n} value(s), e.g. " + ", ".join(
                repr(c) for c, _ in bad[:3]) if bad else "", f"matches {self.spec.pattern!r}")
        for rule, limit in (("min_length", self.spec.min_length),
                            ("max_length", self.spec.max_length)):
            if limit is None:
                continue
            bad = [(c, n) for c, n in used
                   if (len(c) < limit if rule == "min_length" else len(c) > limit)]
            worst = (min if rule == "min_length" else max)((len(c) for c, _ in bad), default=0)
            self.row_rule(rule, sum(n for _, n in bad),
                          f"length {worst} ({{n}} value(s))" if bad else "",
                          f"{'>=' if rule == 'min_length' else '<='} {limit} characters")

    def moments(self) -> None:
        values = self.valid.astype(float)
        aggregates: list[tuple[str, Any, Any]] = []
        if self.spec.mean is not None:
            aggregates.append(("mean", self.spec.mean, np.mean))
        if self.spec.std is not None:
            aggregates.append(("std", self.spec.std,
                               lambda v: np.std(v, ddof=1) if v.size > 1 else np.nan))
        for q, limits in sorted((self.spec.quantiles or {}).items()):
            aggregates.append((f"quantile {show(q)}", limits,
                               lambda v, q=q: np.quantile(v, q)))
        for label, limits, fn in aggregates:
            self.result.checks += 1
            observed = float(fn(values)) if values.size else float("nan")
            low = limits.min is not None and not observed >= limits.min
            high = limits.max is not None and not observed <= limits.max
            if low or high or observed != observed:
                bounds = " and ".join(f"{op} {show(v)}" for op, v in
                                      ((">=", limits.min), ("<=", limits.max)) if v is not None)
                rule = "quantile" if label.startswith("quantile") else label
                self.fail(label if rule != "quantile" else f"quantiles.{label[9:]}",
                          show(observed) if observed == observed else "no values", bounds,
                          limits.severity or self.spec.severity)

    def freshness(self) -> None:
        self.result.checks += 1
        age = parse_duration(self.spec.max_age or "")
        _, severity = self.spec.rule("max_age")
        if self.data.kind != "datetime":
            self.fail("max_age", f"{self.data.kind} values", "datetime values", severity)
            return
        if not self.total:
            self.fail("max_age", "no values", f"newest within {self.spec.max_age}", severity)
            return
        newest = datetime.fromtimestamp(int(self.valid.max()) / 1e6, tz=timezone.utc)
        now = datetime.now(timezone.utc)
        if now - newest > age:
            self.fail("max_age", f"newest {newest.isoformat().replace('+00:00', 'Z')} "
                      f"({now - newest} old)", f"newest within {self.spec.max_age}", severity)
