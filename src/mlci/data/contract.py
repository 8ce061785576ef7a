"""The data contract read by `mlci validate-data` (YAML; unknown keys are errors).

The full reference, with an example per rule, is docs/data-contract.md. In short:

```yaml
csv: {delimiter: ",", null_values: ["", NA, "null"]}
rows: {min: 1000}
extra_columns: forbid
unique: [[user_id, day]]                 # combinations of columns that must be unique
compare: ["end >= start"]                # row-wise column comparisons
columns:
  age:     {type: integer, min: 0, max: 130, mostly: 0.999}
  country: {type: category, allowed: [NO, SE, DK]}      # strings as written
  email:   {type: string, pattern: "[^@]+@[^@]+", max_length: {value: 254, severity: warn}}
  income:  {type: float, mean: {min: 1000, max: 9000}, quantiles: {0.99: {max: 1.0e6}}}
  signup:  {type: datetime, min: 2015-01-01, max_age: 2d}
drift: {reference: ref.parquet, method: auto, max_drifted_share: 0.3}
```

A scalar rule may be written `{value: V, mostly: 0.99, severity: warn}`: `mostly` is the
share of non-null values that must satisfy it, `severity: warn` reports without failing.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlci.data.contract_drift import (
    CATEGORICAL_METHODS,
    NUMERIC_METHODS,
    Drift,
    Severity,
    parse_duration,
    to_datetime,
)
from mlci.errors import InputError

__all__ = ["CATEGORICAL_METHODS", "NUMERIC_METHODS", "Column", "Compare", "Contract", "Drift",
           "load_contract", "parse_contract", "parse_duration", "to_datetime"]

ColumnType = Literal["integer", "float", "number", "string", "boolean", "datetime",
                     "category"]
NUMERIC = ("integer", "float", "number")
DEFAULT_NULLS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
# Rules that may be written {value: V, mostly: m, severity: s}.
SCALAR_RULES = ("nullable", "max_null_ratio", "min", "max", "allowed", "unique", "pattern",
                "min_length", "max_length", "max_age", "type")
_OPS = (">=", "<=", "!=", "==", ">", "<")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Csv(_Strict):
    delimiter: str = Field(",", min_length=1, max_length=1)
    null_values: list[str] = Field(default_factory=lambda: list(DEFAULT_NULLS))
    encoding: str = "utf-8"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        # Checked when the contract is read, not as a traceback halfway through a scan.
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError("unknown text encoding (e.g. utf-8, latin-1, cp1252)") from None
        return value


class Rows(_Strict):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    severity: Severity = "block"


class Range(_Strict):
    min: float | None = None
    max: float | None = None
    severity: Severity | None = None


class RuleOptions(_Strict):
    mostly: float | None = Field(None, gt=0, le=1)
    severity: Severity | None = None


class Column(_Strict):
    type: ColumnType | None = None
    required: bool = True
    nullable: bool = True
    max_null_ratio: float | None = Field(None, ge=0, le=1)
    min: Any = None
    max: Any = None
    allowed: list[str] | None = None
    unique: bool = False
    pattern: str | None = None
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=0)
    mean: Range | None = None
    std: Range | None = None
    quantiles: dict[float, Range] | None = None
    max_age: str | None = None
    mostly: float = Field(1.0, gt=0, le=1)
    severity: Severity = "block"
    drift: bool | Literal["ks", "wasserstein", "psi", "both", "chi2", "jensenshannon"] = True
    options: dict[str, RuleOptions] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _rule_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        options: dict[str, Any] = {}
        for rule in SCALAR_RULES:
            value = data.get(rule)
            if isinstance(value, dict) and "value" in value:
                rest = dict(value)
                data[rule] = rest.pop("value")
                options[rule] = rest
        if options:
            data["options"] = options
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        bounded = self.min is not None or self.max is not None
        if bounded and self.type not in (*NUMERIC, "datetime", None):
            raise ValueError(f"min/max apply to numeric or datetime columns, not {self.type}")
        dated = self.type == "datetime" or (self.type is None and any(
            isinstance(b, (str, date)) for b in (self.min, self.max)))
        for key in ("min", "max"):
            bound = getattr(self, key)
            if bound is None:
                continue
            if dated:
                try:
                    setattr(self, key, to_datetime(bound))
                except ValueError:
                    raise ValueError(f"{key}: expected a date or datetime such as 2024-01-31 "
                                     f"or 2024-01-31T12:00:00Z, got {bound!r}") from None
            elif isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise ValueError(f"{key}: expected a number, got {bound!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: "
                                 f"{exc}") from None
        if self.max_age is not None:
            parse_duration(self.max_age)
            if self.type not in ("datetime", None):
                raise ValueError(f"max_age applies to datetime columns, not {self.type}")
        if self.quantiles and any(not 0 <= q <= 1 for q in self.quantiles):
            raise ValueError("quantiles: each key is a fraction between 0 and 1 (0.5: median)")
        texty = ("min_length", "max_length", "pattern")
        if self.type in (*NUMERIC, "boolean", "datetime") and any(
                getattr(self, k) is not None for k in texty):
            raise ValueError(f"pattern/min_length/max_length apply to string or category "
                             f"columns, not {self.type}")
        return self

    def rule(self, name: str) -> tuple[float, str]:
        """(mostly, severity) of one of this column's rules."""
        opts = self.options.get(name)
        mostly = opts.mostly if opts and opts.mostly is not None else self.mostly
        severity = opts.severity if opts and opts.severity else self.severity
        return mostly, severity


class Compare(_Strict):
    left: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    right: str
    mostly: float = Field(1.0, gt=0, le=1)
    severity: Severity = "block"

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        for op in _OPS:
            left, sep, right = data.partition(f" {op} ")
            if sep and left.strip() and right.strip():
                return {"left": left.strip(), "op": op, "right": right.strip()}
        raise ValueError(f"{data!r}: expected 'column_a OP column_b' with OP one of "
                         f"{', '.join(_OPS)} surrounded by spaces")

    def text(self) -> str:
        return f"{self.left} {self.op} {self.right}"


class Contract(_Strict):
    format: Literal["csv", "parquet"] | None = None
    csv: Csv = Field(default_factory=Csv)
    rows: Rows = Field(default_factory=Rows)
    extra_columns: Literal["allow", "forbid"] = "allow"
    unique: list[list[str]] = Field(default_factory=list)
    compare: list[Compare] = Field(default_factory=list)
    columns: dict[str, Column] = Field(default_factory=dict)
    drift: Drift | None = None

    @model_validator(mode="after")
    def _known_columns(self) -> Contract:
        named: list[tuple[str, list[str]]] = [("unique", [c for g in self.unique for c in g]),
                                              ("compare", [n for c in self.compare
                                                           for n in (c.left, c.right)])]
        if self.drift and self.drift.columns:
            named.append(("drift.columns", self.drift.columns))
        for key, names in named:
            unknown = [c for c in names if c not in self.columns]
            if unknown:
                raise ValueError(f"{key} lists {unknown}, which are not under columns")
        if any(not group for group in self.unique):
            raise ValueError("unique: each entry is a non-empty list of columns")
        return self

    def drift_columns(self) -> list[str]:
        if self.drift is None:
            return []
        if self.drift.columns is not None:
            return list(self.drift.columns)
        return [name for name, col in self.columns.items()
                if col.drift is not False and not col.unique
                and col.type in (*NUMERIC, "boolean", "category", None)]


def _as_written(node: Any, in_sequence: bool = False) -> None:
    """Plain scalars in lists and mapping keys stay strings as written: `[NO, SE]` is two
    country codes, not a boolean and a string; `null_values: [null]` is the text "null"."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        if in_sequence and node.style is None:
            node.tag = "tag:yaml.org,2002:str"
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _as_written(item, in_sequence=True)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.style is None:
                key.tag = "tag:yaml.org,2002:str"
            _as_written(value)


def parse_contract(text: str, shown: str) -> Contract:
    from mlci import yamlfile

    # The safe loader (alias budget, depth limits), with lists kept as written in between.
    node = yamlfile.compose(text, file=shown)
    if node is not None:
        _as_written(node)
    data = yamlfile.construct(node, text, file=shown)
    if not isinstance(data, dict):
        raise InputError("expected a mapping with columns:, rows:, drift: ...", file=shown)
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"] if not str(p).startswith(
            ("function-", "literal[", "dict["))) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key (not part of the contract schema; check its spelling)"
        elif "input" in first and not isinstance(first["input"], (dict, list)):
            message += f" (got {first['input']!r})"
        more = len(exc.errors()) - 1
        raise InputError(message + (f" (and {more} more problem(s))" if more else ""),
                         file=shown, key=key) from None


def load_contract(path: Path) -> Contract:
    from mlci import yamlfile

    if not path.exists():
        raise InputError("contract file not found", file=str(path), key="--contract")
    return parse_contract(yamlfile.read_text(path, what="contract"), str(path))
