"""Violations, the result, and how numbers are shown (exactly: no rounding that would make
"observed 1.0, expected <= 1" out of 1.0000001)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def show(value: Any) -> Any:
    """A number as the shortest text that reads back as the same value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return int(value)
    return value


def json_safe(value: Any) -> Any:
    """NaN and infinities become null: `--json` output is always valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass
class Violation:
    column: str | None
    rule: str
    observed: Any
    expected: Any
    severity: str = "block"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = json_safe({"column": self.column, "rule": self.rule,
                                         "observed": self.observed,
                          "expected": self.expected, "severity": self.severity})
        return out

    def message(self) -> str:
        where = f"column {self.column!r}: " if self.column else ""
        return f"{where}{self.rule}: observed {self.observed}, expected {self.expected}"


@dataclass
class Result:
    rows: int
    violations: list[Violation] = field(default_factory=list)
    warnings: list[Violation] = field(default_factory=list)
    checks: int = 0
    drift: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.violations

    def add(self, violation: Violation) -> None:
        (self.warnings if violation.severity == "warn" else self.violations).append(violation)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = json_safe({"valid": self.valid, "rows": self.rows,
                                         "checks": self.checks,
                          "violations": [v.to_json() for v in self.violations],
                          "warnings": [v.to_json() for v in self.warnings],
                          "drift": self.drift})
        return out


def share_text(count: int, total: int) -> str:
    return f"{count} of {total}"


def tolerance(mostly: float) -> str:
    return "" if mostly >= 1 else f" for at least {show(mostly)} of the values"
