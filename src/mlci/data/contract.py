"""The data contract read by `mlci validate-data` (YAML; unknown keys are errors).

```yaml
format: csv                  # csv | parquet; default: from the data file's extension
csv: {delimiter: ",", null_values: ["", NA, "null"]}
rows: {min: 1000, max: 5000000}
extra_columns: allow         # allow | forbid columns the contract does not list
columns:
  age:     {type: integer, min: 0, max: 130, max_null_ratio: 0.01}
  income:  {type: float, min: 0, nullable: false}
  country: {type: category, allowed: [DE, FR, US]}
  id:      {type: string, unique: true}
  churned: {type: boolean}
  signup:  {type: datetime, required: false}
drift:
  reference: data/reference.parquet   # relative to this file; --reference overrides
  method: psi                # psi | ks | both
  psi_max: 0.2
  ks_statistic_max: 0.1      # and/or ks_pvalue_min: 0.01
  bins: 10
  columns: [age, income, country]     # default: every listed column of a numeric,
                                       # boolean or category type, except unique ones
                                       # (ids) and those with `drift: false`
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlci.errors import InputError

ColumnType = Literal["integer", "float", "number", "string", "boolean", "datetime",
                     "category"]
NUMERIC = ("integer", "float", "number")
DEFAULT_NULLS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Csv(_Strict):
    delimiter: str = Field(",", min_length=1, max_length=1)
    null_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NULLS))
    encoding: str = "utf-8"


class Rows(_Strict):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class Column(_Strict):
    type: ColumnType | None = None
    required: bool = True
    nullable: bool = True
    max_null_ratio: float | None = Field(None, ge=0, le=1)
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None
    unique: bool = False
    drift: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if (self.min is not None or self.max is not None) and self.type not in (*NUMERIC, None):
            raise ValueError(f"min/max apply to numeric columns, not type {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class Drift(_Strict):
    reference: str | None = None
    method: Literal["psi", "ks", "both"] = "psi"
    psi_max: float = Field(0.2, gt=0)
    ks_statistic_max: float | None = Field(0.1, gt=0, le=1)
    ks_pvalue_min: float | None = Field(None, gt=0, lt=1)
    bins: int = Field(10, ge=2, le=1000)
    columns: list[str] | None = None


class Contract(_Strict):
    format: Literal["csv", "parquet"] | None = None
    csv: Csv = Field(default_factory=Csv)
    rows: Rows = Field(default_factory=Rows)
    extra_columns: Literal["allow", "forbid"] = "allow"
    columns: dict[str, Column] = Field(default_factory=dict)
    drift: Drift | None = None

    @model_validator(mode="after")
    def _drift_columns_known(self) -> Contract:
        if self.drift and self.drift.columns:
            unknown = [c for c in self.drift.columns if c not in self.columns]
            if unknown:
                raise ValueError(f"drift.columns lists {unknown}, which are not under columns")
        return self

    def drift_columns(self) -> list[str]:
        if self.drift is None:
            return []
        if self.drift.columns is not None:
            return list(self.drift.columns)
        return [name for name, col in self.columns.items()
                if col.drift and not col.unique
                and col.type in (*NUMERIC, "boolean", "category")]


def load_contract(path: Path) -> Contract:
    import yaml

    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("contract file not found", file=shown, key="--contract") from None
    except OSError as exc:
        raise InputError(f"cannot read contract: {exc.strerror}", file=shown) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=shown,
                         line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping with columns:, rows:, drift: ...", file=shown)
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key (not part of the contract schema; check its spelling)"
        elif "input" in first and not isinstance(first["input"], (dict, list)):
            message += f" (got {first['input']!r})"
        more = len(exc.errors()) - 1
        raise InputError(message + (f" (and {more} more problem(s))" if more else ""),
                         file=shown, key=key) from None
