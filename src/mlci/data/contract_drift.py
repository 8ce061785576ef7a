"""The `drift:` section of a data contract, and the value types the contract reads (dates,
durations). See contract.py and docs/data-contract.md."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["block", "warn"]
NUMERIC_METHODS = ("auto", "ks", "wasserstein", "psi", "both")
CATEGORICAL_METHODS = ("auto", "chi2", "jensenshannon", "psi")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def to_datetime(value: Any) -> datetime:
    """A bound or a cell as an aware UTC datetime (naive values are read as UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"expected a date or datetime, got {value!r}")
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else \
        parsed.astimezone(timezone.utc)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"duration {text!r}: expected a number and a unit s, m, h, d or w "
                         "(e.g. 36h, 2d)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


class Drift(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str | None = None
    method: Literal["auto", "psi", "ks", "both"] | dict[
        Literal["numeric", "categorical"], str] = "auto"
    psi_max: float = Field(0.2, gt=0)
    ks_statistic_max: float | None = Field(None, gt=0, le=1)
    ks_pvalue_min: float | None = Field(None, gt=0, lt=1)
    wasserstein_max: float = Field(0.1, gt=0)
    chi2_pvalue_min: float = Field(0.05, gt=0, lt=1)
    jensenshannon_max: float = Field(0.1, gt=0, le=1)
    bins: int = Field(10, ge=2, le=1000)
    small_sample: int = Field(1000, ge=1)
    max_drifted_share: float | None = Field(None, ge=0, le=1)
    severity: Severity | None = None
    columns: list[str] | None = None

    @model_validator(mode="after")
    def _methods(self) -> Drift:
        if isinstance(self.method, dict):
            for kind, allowed in (("numeric", NUMERIC_METHODS),
                                  ("categorical", CATEGORICAL_METHODS)):
                chosen = self.method.get(kind, "auto")  # type: ignore[call-overload]
                if chosen not in allowed:
                    raise ValueError(f"method.{kind}: {chosen!r} is not one of "
                                     f"{', '.join(allowed)}")
        return self

    def methods(self, numeric: bool, reference_rows: int, override: str | bool) -> list[str]:
        """The drift statistics for one column (`auto`: a test on small samples, a distance
        on large ones, where a test would flag differences too small to matter)."""
        if isinstance(override, str):
            chosen = override
        elif isinstance(self.method, dict):
            chosen = self.method.get("numeric" if numeric else "categorical", "auto")
        elif self.method in ("ks", "both"):
            chosen = self.method if numeric else "psi"
        else:
            chosen = self.method
        if chosen == "auto":
            small = reference_rows <= self.small_sample
            chosen = ("ks" if small else "wasserstein") if numeric else \
                ("chi2" if small else "jensenshannon")
        if chosen == "both":
            return ["ks", "psi"] if numeric else ["psi"]
        if not numeric and chosen in ("ks", "wasserstein"):
            return ["psi"]
        if numeric and chosen in ("chi2", "jensenshannon"):
            return ["psi"]
        return [chosen]

    def column_severity(self) -> str:
        if self.severity:
            return self.severity
        # With a share rule, one drifted column is news, not a failure.
        return "warn" if self.max_drifted_share is not None else "block"
