"""The gate spec: which metrics gate a promotion, and how (docs/gate.md).

A pydantic model with `extra="forbid"` everywhere: a misspelt key is an error (exit 2),
never a rule silently not applied. It imports nothing heavy, because mlci.yml's model embeds
it and `mlci schema` publishes its JSON Schema.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from mlci.errors import InputError
from mlci.gate.spec_errors import check_unicode, not_unicode, spec_error

# Metrics the gate computes itself from per-example predictions (metrics.py).
COMPUTABLE = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse")
# Built-in metrics where lower is better: their `greater_is_better` defaults to false.
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse", "mse"})

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_AMOUNT_HELP = 'expected a number or a percentage like "2%"'


def _amount(value: Any) -> float | str:
    """A non-negative absolute amount (a number) or a relative one ("2%", of |baseline|)."""
    if isinstance(value, bool):
        # pydantic reports ValueError (not TypeError) as a validation message
        raise ValueError(f"{_AMOUNT_HELP}, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{_AMOUNT_HELP} (finite, not negative), got {value!r}")
        return float(value)
    if isinstance(value, str) and _PERCENT.match(value):
        return value.strip().replace(" ", "")
    raise ValueError(f"{_AMOUNT_HELP}, got {value!r}")


Amount = Annotated[
    float | str,
    PlainValidator(_amount),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0},
                              {"type": "string", "pattern": r"^\d+(\.\d+)?%$"}]}),
]


def amount_parts(amount: float | str) -> tuple[float, bool]:
    """(value, relative): "2%" -> (0.02, True); 0.01 -> (0.01, False)."""
    if isinstance(amount, str):
        match = _PERCENT.match(amount)
        assert match is not None  # validated by _amount
        return float(match.group(1)) / 100.0, True
    return float(amount), False


class _Strict(BaseModel):
    # inf/nan are never thresholds: `min: inf` would compare through a tolerance of inf
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


Severity = Literal["block", "warn"]


class MetricRule(_Strict):
    """Rules for one metric. Every rule given must hold; none given means report only."""

    min: float | None = Field(None, description="the candidate's value must be >= this")
    max: float | None = Field(None, description="the candidate's value must be <= this")
    max_regression: Amount | None = Field(
        None, description='largest allowed change in the worse direction against the baseline: '
        'absolute, or relative to |baseline| as "2%" (a baseline of 0 then allows no '
        'regression at all)')
    greater_is_better: bool | None = Field(
        None, description="direction of improvement; default true, except for log_loss, mae, "
        "rmse and mse (false)")
    severity: Severity = Field("block", description="block: a failure rejects; warn: a "
                               "failure sends the candidate to review")


class PrimaryRule(_Strict):
    """The metric the candidate is meant to improve."""

    metric: str = Field(description="name of the primary metric")
    min_improvement: Amount = Field(
        0.0, description='required improvement over the baseline: absolute, or relative to '
        '|baseline| as "1%" (a relative target against a baseline of 0 cannot be met: reject)')


class WorstSliceRule(_Strict):
    """A rule on the worst slice (among slices with at least `min_slice_size` examples)."""

    metric: str = Field(description="metric whose worst slice value is checked")
    min: float | None = Field(None, description="the worst slice's value must be >= this")
    max: float | None = Field(None, description="the worst slice's value must be <= this")
    max_gap: float | None = Field(
        None, ge=0, description="largest allowed gap between the overall value and the worst "
        "slice's value (in the worse direction)")
    severity: Severity = "block"


class SliceSpec(_Strict):
    """The same rules per value of a column, so a better average cannot hide a worse tail."""

    column: str = Field(description="column of the prediction files that defines the slices")
    min_slice_size: int = Field(
        30, ge=1, description="slices with fewer examples are reported, not gated")
    values: list[str] | None = Field(
        None, description="slice values expected to exist; a listed value with no rows is "
        "reported as an empty slice (not gated)")
    metrics: dict[str, MetricRule] = Field(
        default_factory=dict, description="per-slice rules; max_regression compares with the "
        "same slice of the baseline's predictions")
    worst: WorstSliceRule | None = Field(None, description="a rule on the worst slice")


class FairnessSpec(_Strict):
    """A metric's largest gap between groups of a sensitive column, on the candidate."""

    column: str = Field(description="sensitive column of the prediction files")
    metric: str = Field(description="metric compared between groups (e.g. recall)")
    max_difference: float | None = Field(
        None, ge=0, description="largest allowed max(group) - min(group)")
    max_ratio: float | None = Field(
        None, gt=0, description="allowed disparity as a ratio: 0.8 and 1.25 both mean "
        "min(group)/max(group) must be >= 0.8 (the four-fifths rule)")
    min_group_size: int | None = Field(
        None, ge=1, description="groups with fewer examples are reported, not gated "
        "(default: slices.min_slice_size, else 30)")
    severity: Severity = "block"

    @model_validator(mode="after")
    def _one_limit(self) -> FairnessSpec:
        if self.max_difference is None and self.max_ratio is None:
            raise ValueError("give max_difference or max_ratio")
        return self


class Significance(_Strict):
    """Paired confidence intervals over per-example predictions."""

    confidence: float = Field(0.95, gt=0, lt=1, description="confidence level of intervals")
    resamples: int = Field(1000, ge=100, le=100_000, description="bootstrap resamples")
    seed: int = Field(0, ge=0, description="seed of the bootstrap: reports are reproducible")


class PredictionColumns(_Strict):
    """Column names in the per-example prediction files (CSV or Parquet)."""

    id: str = Field("id", description="example id; candidate and baseline rows join on it")
    label: str = Field("label", description="true label (or target, for regression)")
    prediction: str = Field("prediction", description="predicted class (or value)")
    score: str | None = Field(
        None, description="predicted probability of the positive class (ROC AUC, log loss)")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: classification when every label is 0/1 or positive_label "
        "is set, regression when a label has a fractional part; anything else (e.g. one -1 "
        "among 0/1) is an error until the task is declared")
    positive_label: str | None = Field(
        None, description="label value of the positive class when labels are not 0/1; "
        "labels and predictions may then hold one other class only")


class GateSpec(_Strict):
    """A gate spec (docs/gate.md)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, title="mlci gate spec")

    primary: PrimaryRule | None = Field(None, description="the metric to improve, and by how much")
    metrics: dict[str, MetricRule] = Field(default_factory=dict, description="rules per metric")
    slices: SliceSpec | None = None
    fairness: FairnessSpec | None = None
    significance: Significance | None = Field(
        None, description="paired bootstrap / DeLong intervals; with it, a primary improvement "
        "whose interval includes no improvement goes to review")
    on_missing_baseline: Literal["promote", "review", "reject"] = Field(
        "promote", description="verdict ceiling when there is no baseline yet (first model)")
    predictions: PredictionColumns = Field(
        default_factory=lambda: PredictionColumns.model_validate({}))

    @model_validator(mode="before")
    @classmethod
    def _unicode(cls, data: Any) -> Any:
        # every path (a spec file, mlci.yml's gate:) refuses what no report could be written in
        found = not_unicode(data, "")
        if found:
            raise ValueError(f"{found[0] + ': ' if found[0] else ''}{found[1]} is not valid "
                             "Unicode text (it holds a lone surrogate)")
        return data

    def checks_something(self) -> bool:
        """Whether any rule can say no: a spec without one would promote anything."""
        def limited(rule: MetricRule) -> bool:
            return any(v is not None for v in (rule.min, rule.max, rule.max_regression))

        worst = self.slices.worst if self.slices else None
        return bool(
            self.primary or self.fairness
            or any(limited(r) for r in self.metrics.values())
            or (self.slices and any(limited(r) for r in self.slices.metrics.values()))
            or (worst and any(v is not None for v in (worst.min, worst.max, worst.max_gap))))

    def greater_is_better(self, metric: str) -> bool:
        rule = self.metrics.get(metric)
        if rule is not None and rule.greater_is_better is not None:
            return rule.greater_is_better
        return metric not in LOWER_IS_BETTER


def validate_gate_spec(data: Any, *, file: str, prefix: str = "") -> GateSpec:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping, got {type(data).__name__}", file=file,
                         key=prefix.rstrip(".") or None)
    check_unicode(data, file=file, prefix=prefix)
    try:
        return GateSpec.model_validate(data)
    except ValidationError as exc:
        raise spec_error(exc, file=file, prefix=prefix, root=GateSpec) from None


def load_gate_spec(path: str | Path) -> GateSpec:
    """Read and validate a gate spec file (YAML or JSON)."""
    from mlci import yamlfile

    data = yamlfile.load_file(path, what="gate spec")
    return validate_gate_spec(data, file=str(path))
