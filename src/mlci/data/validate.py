"""Checking a data snapshot (CSV or Parquet) against a contract (see contract.py).

Every violation names its column, its rule, what was observed and what was expected.
Types: a CSV cell is text, so `integer` means every non-null cell reads as an integer,
`float`/`number` as a number, `boolean` as true/false/1/0/yes/no, `datetime` as ISO 8601;
a Parquet column's own type must match (`number`: integer or floating; `category`: string
or dictionary). Nulls: empty CSV cells and the contract's `csv.null_values`, Parquet nulls,
and NaN in floating columns.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlci.data import drift as drift_stats
from mlci.data.contract import NUMERIC, Contract
from mlci.errors import InputError

_INT = re.compile(r"^[+-]?\d+$")
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
          "t": True, "f": False, "y": True, "n": False}


@dataclass
class Table:
    rows: int
    columns: dict[str, list[Any]]            # values, None for null
    types: dict[str, str] = field(default_factory=dict)   # Parquet: the arrow type
    source: str = ""


@dataclass
class Violation:
    column: str | None
    rule: str
    observed: Any
    expected: Any

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "rule": self.rule, "observed": self.observed,
                "expected": self.expected}

    def message(self) -> str:
        where = f"column {self.column!r}: " if self.column else ""
        return f"{where}{self.rule}: observed {self.observed}, expected {self.expected}"


# -- reading ------------------------------------------------------------------------------
def _format(path: Path, contract: Contract) -> str:
    if contract.format:
        return contract.format
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InputError("cannot tell the format from the extension (.csv or .parquet); set "
                     "format: in the contract", file=str(path), key="format")


def _read_csv(path: Path, contract: Contract) -> Table:
    nulls = set(contract.csv.null_values)
    delimiter = "\t" if path.suffix.lower() == ".tsv" and contract.csv.delimiter == "," \
        else contract.csv.delimiter
    try:
        with open(path, newline="", encoding=contract.csv.encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise InputError("empty CSV file: no header row", file=str(path))
            if len(set(header)) != len(header):
                dup = [h for h, n in Counter(header).items() if n > 1]
                raise InputError(f"duplicate column names in the header: {dup}",
                                 file=str(path), line=1)
            columns: list[list[Any]] = [[] for _ in header]
            width = len(header)
            for lineno, row in enumerate(reader, start=2):
                if len(row) != width:
                    if not row:
                        continue
                    raise InputError(f"row has {len(row)} fields, the header {width}",
                                     file=str(path), line=lineno)
                for values, cell in zip(columns, row):
                    values.append(None if cell in nulls else cell)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=str(path)) from None
    return Table(len(columns[0]) if columns else 0, dict(zip(header, columns)),
                 source=str(path))


def _read_parquet(path: Path) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("Parquet files need pyarrow: pip install 'mlci[parquet]'",
                         file=str(path)) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    types = {name: str(table.schema.field(name).type) for name in table.column_names}
    return Table(table.num_rows, columns, types, source=str(path))


def read_table(paths: list[Path], contract: Contract) -> Table:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                            (".csv", ".tsv", ".parquet", ".pq"))
            if not inside:
                raise InputError("directory holds no .csv or .parquet file", file=str(path))
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("data file not found", file=str(path), key="--data")
    tables = [(_read_csv(p, contract) if _format(p, contract) == "csv" else _read_parquet(p))
              for p in files]
    first = tables[0]
    for other in tables[1:]:
        if list(other.columns) != list(first.columns):
            raise InputError(f"columns {list(other.columns)} differ from {first.source}'s "
                             f"{list(first.columns)}", file=other.source)
        for name, values in other.columns.items():
            first.columns[name].extend(values)
        first.rows += other.rows
    return first


# -- checking -----------------------------------------------------------------------------
def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _arrow_matches(arrow: str, wanted: str) -> bool:
    ints = arrow.startswith(("int", "uint"))
    floats = arrow in ("float", "double", "halffloat") or arrow.startswith(("float", "double"))
    return {
        "integer": ints,
        "float": floats,
        "number": ints or floats or arrow.startswith("decimal"),
        "string": arrow in ("string", "large_string"),
        "category": arrow in ("string", "large_string") or arrow.startswith("dictionary"),
        "boolean": arrow == "bool",
        "datetime": arrow.startswith(("timestamp", "date")),
    }[wanted]


def _parse(value: Any, wanted: str) -> tuple[bool, Any]:
    """(ok, parsed) for a CSV cell."""
    if wanted == "integer":
        return (True, int(value)) if _INT.match(value) else (False, None)
    if wanted in ("float", "number"):
        try:
            parsed = float(value)
        except ValueError:
            return False, None
        return True, parsed
    if wanted == "boolean":
        flag = _BOOLS.get(value.strip().lower())
        return (flag is not None), flag
    if wanted == "datetime":
        try:
            return True, datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return False, None
    return True, value


def _fmt(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(float(value), 6)


@dataclass
class Result:
    rows: int
    violations: list[Violation]
    checks: int
    drift: dict[str, dict[str, float]]

    @property
    def valid(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "rows": self.rows, "checks": self.checks,
                "violations": [v.to_json() for v in self.violations], "drift": self.drift}


def _typed(table: Table, name: str, wanted: str | None,
           out: list[Violation]) -> list[Any] | None:
    """The column's non-null values in the declared type (None: the type check failed)."""
    values = [v for v in table.columns[name] if not _is_null(v)]
    if wanted is None:
        return values
    if name in table.types:  # Parquet: the column's own type
        arrow = table.types[name]
        if not _arrow_matches(arrow, wanted):
            out.append(Violation(name, "type", arrow, wanted))
            return None
        if wanted == "category":
            return [str(v) for v in values]
        return values
    bad = 0
    example = None
    parsed = []
    for value in values:
        ok, result = _parse(value, wanted)
        if ok:
            parsed.append(result)
        else:
            bad += 1
            example = example if example is not None else value
    if bad:
        out.append(Violation(name, "type", f"{bad} value(s) not {wanted} (e.g. {example!r})",
                             wanted))
        return None
    return parsed


def check(table: Table, contract: Contract, reference: Table | None = None) -> Result:
    violations: list[Violation] = []
    checks = 0
    n = table.rows
    if contract.rows.min is not None:
        checks += 1
        if n < contract.rows.min:
            violations.append(Violation(None, "rows.min", n, f">= {contract.rows.min}"))
    if contract.rows.max is not None:
        checks += 1
        if n > contract.rows.max:
            violations.append(Violation(None, "rows.max", n, f"<= {contract.rows.max}"))
    if contract.extra_columns == "forbid":
        checks += 1
        extra = [c for c in table.columns if c not in contract.columns]
        if extra:
            violations.append(Violation(None, "extra_columns", extra,
                                        "only the contract's columns"))
    typed: dict[str, list[Any]] = {}
    for name, spec in contract.columns.items():
        checks += 1
        if name not in table.columns:
            if spec.required:
                violations.append(Violation(name, "required", "missing", "present"))
            continue
        values = table.columns[name]
        nulls = sum(1 for v in values if _is_null(v))
        ratio = nulls / n if n else 0.0
        if not spec.nullable:
            checks += 1
            if nulls:
                violations.append(Violation(name, "nullable", f"{nulls} null(s)", "no nulls"))
        if spec.max_null_ratio is not None:
            checks += 1
            if ratio > spec.max_null_ratio:
                violations.append(Violation(name, "max_null_ratio", round(ratio, 6),
                                            f"<= {spec.max_null_ratio}"))
        checks += 1 if spec.type else 0
        got = _typed(table, name, spec.type, violations)
        if got is None:
            continue
        typed[name] = got
        numeric = spec.type in NUMERIC or (spec.type is None and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in got))
        if spec.min is not None or spec.max is not None:
            if not numeric:
                checks += 1
                violations.append(Violation(name, "type", "non-numeric values", "number"))
            else:
                for rule, limit in (("min", spec.min), ("max", spec.max)):
                    if limit is None:
                        continue
                    checks += 1
                    beyond = [v for v in got if (v < limit if rule == "min" else v > limit)]
                    if beyond:
                        worst = min(beyond) if rule == "min" else max(beyond)
                        violations.append(Violation(
                            name, rule, f"{_fmt(worst)} ({len(beyond)} value(s) "
                            f"{'below' if rule == 'min' else 'above'})",
                            f"{'>=' if rule == 'min' else '<='} {_fmt(limit)}"))
        if spec.allowed is not None:
            checks += 1
            allowed = {_key(a) for a in spec.allowed}
            outside = Counter(_key(v) for v in got if _key(v) not in allowed)
            if outside:
                shown = ", ".join(f"{k!r} x{c}" for k, c in outside.most_common(5))
                more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
                violations.append(Violation(name, "allowed", shown + more,
                                            sorted(allowed)))
        if spec.unique:
            checks += 1
            dups = len(got) - len({_key(v) for v in got})
            if dups:
                violations.append(Violation(name, "unique", f"{dups} duplicate(s)", "unique"))
    drift_report: dict[str, dict[str, float]] = {}
    if contract.drift is not None and reference is not None:
        checks += _check_drift(contract, typed, reference, violations, drift_report)
    return Result(n, violations, checks, drift_report)


def _key(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_drift(contract: Contract, typed: dict[str, list[Any]], reference: Table,
                 violations: list[Violation], report: dict[str, dict[str, float]]) -> int:
    assert contract.drift is not None
    spec = contract.drift
    checks = 0
    for name in contract.drift_columns():
        if name not in typed:
            continue  # missing or mistyped: already a violation
        if name not in reference.columns:
            violations.append(Violation(name, "drift", "column missing from the reference",
                                        "present in the reference"))
            continue
        col_type = contract.columns[name].type
        ref_problems: list[Violation] = []
        ref_values = _typed(reference, name, col_type, ref_problems)
        if ref_values is None:
            violations.append(Violation(name, "drift", f"reference {ref_problems[0].message()}",
                                        f"reference column of type {col_type}"))
            continue
        cur_values = typed[name]
        stats: dict[str, float] = {}
        numeric = col_type in NUMERIC
        if not numeric:
            ref_values = [_key(v) for v in ref_values]
            cur_values = [_key(v) for v in cur_values]
        if spec.method in ("psi", "both") or not numeric:
            psi = (drift_stats.psi_numeric(ref_values, cur_values, spec.bins) if numeric
                   else drift_stats.psi_categorical(ref_values, cur_values))
            stats["psi"] = round(psi, 6)
            checks += 1
            if math.isnan(psi) or psi > spec.psi_max:
                violations.append(Violation(name, "drift.psi", round(psi, 4),
                                            f"<= {spec.psi_max}"))
        if numeric and spec.method in ("ks", "both"):
            statistic, pvalue = drift_stats.ks_2samp(ref_values, cur_values)
            stats["ks_statistic"] = round(statistic, 6)
            stats["ks_pvalue"] = pvalue
            if spec.ks_statistic_max is not None:
                checks += 1
                if math.isnan(statistic) or statistic > spec.ks_statistic_max:
                    violations.append(Violation(name, "drift.ks_statistic", round(statistic, 4),
                                                f"<= {spec.ks_statistic_max}"))
            if spec.ks_pvalue_min is not None:
                checks += 1
                if math.isnan(pvalue) or pvalue < spec.ks_pvalue_min:
                    violations.append(Violation(name, "drift.ks_pvalue", pvalue,
                                                f">= {spec.ks_pvalue_min}"))
        report[name] = stats
    return checks
